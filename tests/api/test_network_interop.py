"""Regression tests for Networking API failures the interop guideline's tempest tests found
(``make interop``, README "Interop")."""

from __future__ import annotations

import uuid


def test_router_interface_port_is_active_without_agents(running_cloud, made):
    """With the noop driver no agent ever wires a router's interface port; it stayed
    ``DOWN`` and tempest's RoutersTest (which waits for it to be ``ACTIVE`` before removing
    the interface) timed out. It is ``ACTIVE`` at once, as a bound port without agents,
    whether the interface is made from a subnet or from a port."""
    demo = running_cloud.sdk()
    suffix = uuid.uuid4().hex[:8]
    router = demo.network.create_router(name=f"rt-{suffix}")
    made["routers"].append(router.id)
    for i, how in enumerate(("subnet_id", "port_id")):
        net = demo.network.create_network(name=f"net-{suffix}-{i}")
        made["networks"].append(net.id)
        subnet = demo.network.create_subnet(
            network_id=net.id, ip_version=4, cidr=f"10.77.{i}.0/24", name=f"sn-{suffix}-{i}"
        )
        if how == "subnet_id":
            info = demo.network.add_interface_to_router(router, subnet_id=subnet.id)
        else:
            port = demo.network.create_port(network_id=net.id)
            assert port.status == "DOWN"
            info = demo.network.add_interface_to_router(router, port_id=port.id)
        port = demo.network.get_port(info["port_id"])
        assert port.device_owner == "network:router_interface"
        assert port.status == "ACTIVE"
        demo.network.remove_interface_from_router(router, subnet_id=subnet.id)


def test_host_route_to_one_address(running_cloud, made):
    """A host route's destination may be a /32 (one host), as in Neutron; it was 400 "the
    prefix length must be at most 30" (tempest's NetworksTest subnet tests with all
    attributes), on create and on update."""
    demo = running_cloud.sdk()
    net = demo.network.create_network(name=f"net-{uuid.uuid4().hex[:8]}")
    made["networks"].append(net.id)
    route = {"destination": "10.20.0.0/32", "nexthop": "10.78.0.9"}
    subnet = demo.network.create_subnet(
        network_id=net.id,
        ip_version=4,
        cidr="10.78.0.0/24",
        host_routes=[route],
        dns_nameservers=["10.78.0.2"],
    )
    assert subnet.host_routes == [route]
    other = {"destination": "10.21.0.7/32", "nexthop": "10.78.0.10"}
    updated = demo.network.update_subnet(subnet, host_routes=[route, other])
    assert updated.host_routes == [route, other]


def test_subnets_of_an_external_network_say_so(running_cloud, made):
    """A project sees the subnets of an external network it does not own, as in Neutron,
    and the cloud lists ``subnet-external-network`` with ``router:external`` on each
    subnet, which tempest's test_external_network_visibility needs to expect them; it
    failed when the extension was missing."""
    admin = running_cloud.sdk("pocketstack-admin")
    demo = running_cloud.sdk()
    suffix = uuid.uuid4().hex[:8]
    ext = admin.network.create_network(name=f"ext-{suffix}", is_router_external=True)
    made["networks"].append(ext.id)
    admin.network.create_subnet(
        network_id=ext.id, ip_version=4, cidr="10.79.0.0/24", name=f"ext-sn-{suffix}"
    )
    own = demo.network.create_network(name=f"own-{suffix}")
    made["networks"].append(own.id)
    demo.network.create_subnet(network_id=own.id, ip_version=4, cidr="10.79.1.0/24")
    aliases = {e.alias for e in demo.network.extensions()}
    assert "subnet-external-network" in aliases
    for net, external in ((ext, True), (own, False)):
        body = demo.network.get(f"/subnets?network_id={net.id}").json()
        assert len(body["subnets"]) == 1, body
        assert body["subnets"][0]["router:external"] is external
        subnet_id = body["subnets"][0]["id"]
        shown = demo.network.get(f"/subnets/{subnet_id}").json()["subnet"]
        assert shown["router:external"] is external


def test_bulk_create_ports(running_cloud, made):
    """``POST /v2.0/ports`` with ``{"ports": [...]}`` (openstacksdk's create_ports,
    tempest's test_create_bulk_port) creates every port, in the order given, or none: one
    bad port (an unknown network) leaves no port on the good network."""
    demo = running_cloud.sdk()
    suffix = uuid.uuid4().hex[:8]
    nets = []
    for i in range(2):
        net = demo.network.create_network(name=f"bulk-{suffix}-{i}")
        made["networks"].append(net.id)
        demo.network.create_subnet(network_id=net.id, ip_version=4, cidr=f"10.80.{i}.0/24")
        nets.append(net)
    ports = list(demo.network.create_ports([{"network_id": n.id} for n in nets]))
    assert [p.network_id for p in ports] == [n.id for n in nets]
    assert all(p.is_admin_state_up and p.fixed_ips for p in ports)
    r = demo.network.post(
        "/ports",
        json={"ports": [{"network_id": nets[0].id}, {"network_id": str(uuid.uuid4())}]},
    )
    assert r.status_code == 404, r.text
    assert len(list(demo.network.ports(network_id=nets[0].id))) == 1
    r = demo.network.post("/ports", json={"ports": []})
    assert r.status_code == 400, r.text
