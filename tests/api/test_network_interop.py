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
