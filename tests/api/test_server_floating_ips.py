"""A floating IP on a server as the clients see it: ``openstack server add floating ip``
makes the Network service tell Compute (``os-server-external-events``
``network-changed``), so ``server show``/``server list`` list the floating address beside
the fixed one; ``server remove floating ip`` takes it away. And the external events API
itself through openstacksdk (admin only, per-event codes). Session cloud: fake hypervisor,
noop network driver."""

from __future__ import annotations

import uuid

ADMIN = "pocketstack-admin"
EVENTS = "/os-server-external-events"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _routed_network(cloud, made, cidr: str) -> dict:
    """A network of demo's on ``cidr`` behind a router with its gateway on ``public``."""
    net = cloud.openstack("network", "create", _name("fipnet"))
    made["networks"].append(net["id"])
    subnet = cloud.openstack(
        "subnet", "create", "--network", net["id"], "--subnet-range", cidr, _name("fipsub")
    )
    router = cloud.openstack("router", "create", _name("fiprt"))
    made["routers"].append(router["id"])
    cloud.openstack(
        "router", "set", "--external-gateway", "public", router["id"], json_output=False
    )
    cloud.openstack("router", "add", "subnet", router["id"], subnet["id"], json_output=False)
    return net


def _addresses(cloud, server_id: str) -> dict:
    return cloud.openstack("server", "show", server_id)["addresses"]


def test_server_add_and_remove_floating_ip_show_on_the_server(running_cloud, made):
    cloud = running_cloud
    net = _routed_network(cloud, made, "10.64.0.0/24")
    server = cloud.create_server(_name("fipvm"), network=net["id"], wait=True)
    made["servers"].append(server["id"])
    [fixed] = server["addresses"][net["name"]]
    fip = cloud.openstack("floating", "ip", "create", "public")
    made["fips"].append(fip["id"])
    floating = fip["floating_ip_address"]

    cloud.openstack("server", "add", "floating", "ip", server["id"], floating, json_output=False)
    assert _addresses(cloud, server["id"]) == {net["name"]: [fixed, floating]}
    listed = cloud.openstack("server", "list", "--name", server["name"])
    assert listed[0]["Networks"] == {net["name"]: [fixed, floating]}
    # the API's own shape: types and the port's MAC on both
    demo = cloud.sdk()
    ips = demo.compute.get(f"/servers/{server['id']}/ips").json()["addresses"][net["name"]]
    [port] = demo.network.ports(device_id=server["id"])
    assert [(a["addr"], a["OS-EXT-IPS:type"], a["OS-EXT-IPS-MAC:mac_addr"]) for a in ips] == [
        (fixed, "fixed", port.mac_address),
        (floating, "floating", port.mac_address),
    ]

    cloud.openstack("server", "remove", "floating", "ip", server["id"], floating, json_output=False)
    assert _addresses(cloud, server["id"]) == {net["name"]: [fixed]}
    # associated again, then the floating IP deleted: gone from the server too
    cloud.openstack("server", "add", "floating", "ip", server["id"], floating, json_output=False)
    assert _addresses(cloud, server["id"]) == {net["name"]: [fixed, floating]}
    cloud.openstack("floating", "ip", "delete", fip["id"], json_output=False)
    assert _addresses(cloud, server["id"]) == {net["name"]: [fixed]}


def test_external_events_api_with_openstacksdk(running_cloud, made):
    cloud = running_cloud
    server = cloud.create_server(_name("evvm"), wait=True)
    made["servers"].append(server["id"])
    admin = cloud.sdk(ADMIN)
    port = next(admin.network.ports(device_id=server["id"]))
    unknown = str(uuid.uuid4())
    events = [
        {"name": "network-changed", "server_uuid": server["id"], "tag": port.id},
        {"name": "network-vif-plugged", "server_uuid": unknown},
    ]
    answer = admin.compute.post(EVENTS, json={"events": events})
    assert answer.status_code == 207
    assert answer.json()["events"] == [
        {
            "name": "network-changed",
            "server_uuid": server["id"],
            "tag": port.id,
            "status": "completed",
            "code": 200,
        },
        {"name": "network-vif-plugged", "server_uuid": unknown, "status": "failed", "code": 404},
    ]
    answer = admin.compute.post(EVENTS, json={"events": events[:1]})
    assert answer.status_code == 200 and answer.json()["events"][0]["code"] == 200
    assert _addresses(cloud, server["id"]) == server["addresses"]  # refreshed, the same
    # none found: 404; a member: 403; a bad event name: 400 (Nova's error bodies)
    missing = admin.compute.post(EVENTS, json={"events": events[1:]})
    assert missing.status_code == 404
    assert missing.json() == {
        "itemNotFound": {"code": 404, "message": "No instances found for any event"}
    }
    demo = cloud.sdk()
    assert demo.compute.post(EVENTS, json={"events": events[:1]}).status_code == 403
    bad = [{"name": "reboot", "server_uuid": server["id"]}]
    answer = admin.compute.post(EVENTS, json={"events": bad})
    assert answer.status_code == 400 and "badRequest" in answer.json()
