"""The Networking API's routers and floating IPs through the real clients (``openstack``
CLI and openstacksdk), on the session's cloud (fake hypervisor, noop network driver)."""

from __future__ import annotations

import uuid

import openstack.exceptions
import pytest


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _fails(cloud, *args: str, cloud_name: str = "pocketstack-demo") -> str:
    """Run a CLI command that must fail; returns its stderr."""
    proc = cloud.openstack(*args, cloud=cloud_name, check=False, json_output=False)
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def _private_network(cloud, made, cidr: str) -> tuple[dict, dict]:
    """A new network of demo's with one subnet on ``cidr`` (CLI)."""
    net = cloud.openstack("network", "create", _name("l3net"))
    made["networks"].append(net["id"])
    subnet = cloud.openstack(
        "subnet", "create", "--network", net["id"], "--subnet-range", cidr, _name("l3sub")
    )
    return net, subnet


def test_router_lifecycle_with_the_cli(running_cloud, made):
    cloud = running_cloud
    net, subnet = _private_network(cloud, made, "10.60.0.0/24")
    name = _name("router")
    router = cloud.openstack("router", "create", name)
    made["routers"].append(router["id"])
    assert router["status"] == "ACTIVE" and router["external_gateway_info"] is None
    cloud.openstack("router", "set", "--external-gateway", "public", name, json_output=False)
    shown = cloud.openstack("router", "show", name)
    public = cloud.openstack("network", "show", "public")
    gateway = shown["external_gateway_info"]
    assert gateway["network_id"] == public["id"] and gateway["enable_snat"] is True
    assert gateway["external_fixed_ips"][0]["ip_address"].startswith("172.24.4.")
    # only an admin may choose enable_snat (Neutron's policy)
    err = _fails(cloud, "router", "set", "--external-gateway", "public", "--disable-snat", name)
    assert "403" in err or "disallowed by policy" in err.lower() or "Forbidden" in err
    cloud.openstack("router", "add", "subnet", name, subnet["id"], json_output=False)
    shown = cloud.openstack("router", "show", name)
    assert shown["interfaces_info"] == [
        {
            "port_id": shown["interfaces_info"][0]["port_id"],
            "ip_address": "10.60.0.1",
            "subnet_id": subnet["id"],
        }
    ]
    # a router with an interface cannot go; its subnet and network are in use too
    assert "still has ports" in _fails(cloud, "router", "delete", name)
    demo = cloud.sdk()
    with pytest.raises(openstack.exceptions.ConflictException):
        demo.network.delete_subnet(subnet["id"])
    with pytest.raises(openstack.exceptions.ConflictException) as err_port:
        demo.network.delete_port(shown["interfaces_info"][0]["port_id"])
    assert "ServicePortInUse" in str(err_port.value.details) or "port API" in str(err_port.value)
    err = _fails(cloud, "router", "add", "subnet", name, subnet["id"])
    assert "already has a port on subnet" in err
    cloud.openstack("router", "remove", "subnet", name, subnet["id"], json_output=False)
    assert cloud.openstack("router", "show", name)["interfaces_info"] == []
    cloud.openstack("router", "unset", "--external-gateway", name, json_output=False)
    assert cloud.openstack("router", "show", name)["external_gateway_info"] is None
    listed = cloud.openstack("router", "list")
    assert name in [r["Name"] for r in listed]
    cloud.openstack("router", "delete", name, json_output=False)
    assert "No Router found" in _fails(cloud, "router", "show", router["id"])


def test_routes_and_errors_with_the_sdk(running_cloud, made):
    demo = running_cloud.sdk()
    net, subnet = _private_network(running_cloud, made, "10.61.0.0/24")
    router = demo.network.create_router(name=_name("rt"))
    made["routers"].append(router.id)
    with pytest.raises(openstack.exceptions.BadRequestException) as bad:
        demo.network.create_router(
            name=_name("bad"), external_gateway_info={"network_id": net["id"]}
        )
    assert "is not an external network" in str(bad.value)
    info = demo.network.add_interface_to_router(router, subnet_id=subnet["id"])
    assert info["subnet_id"] == subnet["id"] and info["id"] == router.id
    route = {"destination": "192.168.50.0/24", "nexthop": "10.61.0.20"}
    updated = demo.network.update_router(router, routes=[route])
    assert updated.routes == [route]
    with pytest.raises(openstack.exceptions.BadRequestException) as bad:
        demo.network.update_router(
            router, routes=[{"destination": "10.9.9.0/24", "nexthop": "192.0.2.1"}]
        )
    assert "not connected with router" in str(bad.value)
    extra = {"destination": "192.168.60.0/24", "nexthop": "10.61.0.21"}
    added = demo.network.add_extra_routes_to_router(router, body={"router": {"routes": [extra]}})
    assert sorted(r["destination"] for r in added.routes) == [
        "192.168.50.0/24",
        "192.168.60.0/24",
    ]
    with pytest.raises(openstack.exceptions.ConflictException):
        demo.network.remove_interface_from_router(router, subnet_id=subnet["id"])
    left = demo.network.remove_extra_routes_from_router(
        router, body={"router": {"routes": [route, extra]}}
    )
    assert left.routes == []
    with pytest.raises(openstack.exceptions.NotFoundException):
        demo.network.remove_interface_from_router(router, port_id=str(uuid.uuid4()))
    demo.network.remove_interface_from_router(router, subnet_id=subnet["id"])
    # another project's router is 404; paging and sorting as other lists
    other = running_cloud.sdk("pocketstack-admin")
    admins = other.network.create_router(name=_name("adm"))
    made["routers"].append(admins.id)
    with pytest.raises(openstack.exceptions.NotFoundException):
        demo.network.get_router(admins.id)
    made["routers"].append(demo.network.create_router(name=_name("rt2")).id)
    body = demo.network.get("/routers?fields=id&fields=name&limit=1&sort_key=name").json()
    assert set(body["routers"][0]) == {"id", "name"} and body["routers_links"][0]["rel"] == "next"


def test_floating_ips_with_the_cli_and_a_server(running_cloud, made):
    cloud = running_cloud
    net, subnet = _private_network(cloud, made, "10.62.0.0/24")
    fip = cloud.openstack("floating", "ip", "create", "public")
    made["fips"].append(fip["id"])
    assert fip["status"] == "DOWN" and fip["floating_ip_address"].startswith("172.24.4.")
    assert fip["port_id"] is None and fip["router_id"] is None
    # a port on a subnet no router connects to public: 404 as Neutron
    port = cloud.openstack("port", "create", "--network", net["id"], _name("p"))
    err = _fails(cloud, "floating", "ip", "set", "--port", port["id"], fip["id"])
    assert "is not reachable from subnet" in err
    router = cloud.openstack("router", "create", _name("fiprt"))
    made["routers"].append(router["id"])
    cloud.openstack(
        "router", "set", "--external-gateway", "public", router["id"], json_output=False
    )
    cloud.openstack("router", "add", "subnet", router["id"], subnet["id"], json_output=False)
    cloud.openstack("floating", "ip", "set", "--port", port["id"], fip["id"], json_output=False)
    shown = cloud.openstack("floating", "ip", "show", fip["id"])
    assert shown["port_id"] == port["id"] and shown["router_id"] == router["id"]
    assert shown["fixed_ip_address"] == port["fixed_ips"][0]["ip_address"]
    assert shown["status"] == "ACTIVE"
    # a second floating IP on the same fixed IP: 409
    demo = cloud.sdk()
    second = demo.network.create_ip(floating_network_id=fip["floating_network_id"])
    made["fips"].append(second.id)
    with pytest.raises(openstack.exceptions.ConflictException) as conflict:
        demo.network.update_ip(second, port_id=port["id"])
    assert "already has a floating IP" in str(conflict.value)
    # the interface and the gateway are needed by the floating IP
    assert "required by one or more floating IPs" in _fails(
        cloud, "router", "remove", "subnet", router["id"], subnet["id"]
    )
    listed = cloud.openstack("floating", "ip", "list", "--port", port["id"])
    assert [f["ID"] for f in listed] == [fip["id"]]
    cloud.openstack("floating", "ip", "unset", "--port", fip["id"], json_output=False)
    shown = cloud.openstack("floating", "ip", "show", fip["id"])
    assert shown["port_id"] is None and shown["status"] == "DOWN"
    # the server's port: `server add floating ip`, and deleting the server disassociates
    server = cloud.create_server(_name("fipvm"), network=net["id"], wait=True)
    made["servers"].append(server["id"])
    cloud.openstack(
        "server",
        "add",
        "floating",
        "ip",
        server["id"],
        fip["floating_ip_address"],
        json_output=False,
    )
    shown = cloud.openstack("floating", "ip", "show", fip["id"])
    assert shown["port_details"]["device_id"] == server["id"]
    cloud.openstack("server", "delete", "--wait", server["id"], json_output=False)
    shown = cloud.openstack("floating", "ip", "show", fip["id"])
    assert shown["port_id"] is None and shown["status"] == "DOWN"
    cloud.openstack("floating", "ip", "delete", fip["id"], json_output=False)
    assert "Failed to delete" in _fails(cloud, "floating", "ip", "delete", fip["id"])


def test_floating_ip_errors(running_cloud, made):
    demo = running_cloud.sdk()
    net, _ = _private_network(running_cloud, made, "10.63.0.0/24")
    with pytest.raises(openstack.exceptions.BadRequestException) as bad:
        demo.network.create_ip(floating_network_id=net["id"])
    assert "is not a valid external network" in str(bad.value)
    with pytest.raises(openstack.exceptions.NotFoundException):
        demo.network.create_ip(floating_network_id=str(uuid.uuid4()))
    public = demo.network.find_network("public")
    # only an admin picks the address (Neutron's create_floatingip:floating_ip_address)
    with pytest.raises(openstack.exceptions.ForbiddenException):
        demo.network.create_ip(floating_network_id=public.id, floating_ip_address="172.24.4.200")
    admin = running_cloud.sdk("pocketstack-admin")
    picked = admin.network.create_ip(
        floating_network_id=public.id, floating_ip_address="172.24.4.200"
    )
    made["fips"].append(picked.id)
    assert picked.floating_ip_address == "172.24.4.200"
    with pytest.raises(openstack.exceptions.ConflictException):
        admin.network.create_ip(floating_network_id=public.id, floating_ip_address="172.24.4.200")
    # the floating IP's port belongs to it: not deletable through /ports
    fip_port = next(admin.network.ports(device_id=picked.id))
    assert fip_port.device_owner == "network:floatingip"
    with pytest.raises(openstack.exceptions.ConflictException):
        admin.network.delete_port(fip_port.id)
    with pytest.raises(openstack.exceptions.NotFoundException):
        demo.network.get_ip(picked.id)
