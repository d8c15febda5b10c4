"""A server's interfaces and diagnostics through the clients (issue 11 items 3 and 5):
``openstack server add port / add network / remove port / remove network`` over
``os-interface`` (the fake driver's guest gains and loses the port's NIC), the list and
show shapes, the 404s and 409s; ``openstack server show --diagnostics`` (admin) in the
2.1 shape from the fake driver's figures. Session cloud: fake hypervisor, noop network."""

from __future__ import annotations

import uuid

ADMIN = "pocketstack-admin"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _interfaces(conn, server_id: str) -> list[dict]:
    answer = conn.compute.get(f"/servers/{server_id}/os-interface")
    assert answer.status_code == 200, answer.text
    return answer.json()["interfaceAttachments"]


def test_add_and_remove_port_and_network(running_cloud, made):
    cloud = running_cloud
    net = cloud.openstack("network", "create", _name("ifnet"))
    made["networks"].append(net["id"])
    subnet = cloud.openstack(
        "subnet",
        "create",
        "--network",
        net["id"],
        "--subnet-range",
        "10.77.0.0/24",
        _name("ifsub"),
    )
    server = cloud.create_server(_name("ifvm"), wait=True)
    made["servers"].append(server["id"])
    demo = cloud.sdk()
    [first] = _interfaces(demo, server["id"])

    port = cloud.openstack("port", "create", "--network", net["id"], _name("ifport"))
    cloud.openstack("server", "add", "port", server["id"], port["id"], json_output=False)
    found = _interfaces(demo, server["id"])
    assert [i["port_id"] for i in found] == [first["port_id"], port["id"]]
    added = found[1]
    assert added == {
        "port_id": port["id"],
        "net_id": net["id"],
        "mac_addr": port["mac_address"],
        "port_state": "ACTIVE",
        "fixed_ips": [
            {"subnet_id": subnet["id"], "ip_address": port["fixed_ips"][0]["ip_address"]}
        ],
    }
    one = demo.compute.get(f"/servers/{server['id']}/os-interface/{port['id']}").json()
    assert one == {"interfaceAttachment": added}
    tagged = demo.compute.get(
        f"/servers/{server['id']}/os-interface/{port['id']}", microversion="2.70"
    ).json()["interfaceAttachment"]
    assert tagged == {**added, "tag": None}  # 2.70's shape
    shown = cloud.openstack("port", "show", port["id"])
    assert (shown["device_id"], shown["device_owner"]) == (server["id"], "compute:nova")
    addresses = cloud.openstack("server", "show", server["id"])["addresses"]
    assert addresses[net["name"]] == [port["fixed_ips"][0]["ip_address"]]

    # a port in use elsewhere: 409; the same port again: 409
    again = demo.compute.post(
        f"/servers/{server['id']}/os-interface",
        json={"interfaceAttachment": {"port_id": port["id"]}},
    )
    assert again.status_code == 409

    cloud.openstack("server", "remove", "port", server["id"], port["id"], json_output=False)
    assert [i["port_id"] for i in _interfaces(demo, server["id"])] == [first["port_id"]]
    kept = cloud.openstack("port", "show", port["id"])  # the user's port is only unbound
    assert (kept["device_id"], kept["status"]) == ("", "DOWN")
    cloud.openstack("port", "delete", port["id"], json_output=False)

    # a network: Compute makes the port, and deletes it on remove
    cloud.openstack("server", "add", "network", server["id"], net["id"], json_output=False)
    [made_port] = [i for i in _interfaces(demo, server["id"]) if i["net_id"] == net["id"]]
    assert made_port["fixed_ips"][0]["ip_address"].startswith("10.77.0.")
    cloud.openstack("server", "remove", "network", server["id"], net["id"], json_output=False)
    assert [i["port_id"] for i in _interfaces(demo, server["id"])] == [first["port_id"]]
    assert list(demo.network.ports(network_id=net["id"], device_owner="compute:nova")) == []


def test_interface_errors(running_cloud, made):
    cloud = running_cloud
    server = cloud.create_server(_name("iferr"), wait=True)
    made["servers"].append(server["id"])
    demo = cloud.sdk()
    path = f"/servers/{server['id']}/os-interface"
    unknown = str(uuid.uuid4())
    assert demo.compute.get(f"{path}/{unknown}").status_code == 404
    assert demo.compute.delete(f"{path}/{unknown}").status_code == 404
    missing = demo.compute.post(path, json={"interfaceAttachment": {"port_id": unknown}})
    assert missing.status_code == 404
    assert demo.compute.post(path, json={"interfaceAttachment": {"net_id": "x"}}).status_code == 400
    assert demo.compute.get(f"/servers/{unknown}/os-interface").status_code == 404


def test_server_diagnostics_admin_only(running_cloud, made):
    cloud = running_cloud
    server = cloud.create_server(_name("diag"), wait=True)
    made["servers"].append(server["id"])
    admin = cloud.sdk(ADMIN)
    path = f"/servers/{server['id']}/diagnostics"
    legacy = admin.compute.get(path, microversion="2.1").json()
    assert legacy["cpu0_time"] > 0 and legacy["memory"] == 256 * 1024
    assert {"vda_read", "vda_write_req", "nic0_rx", "nic0_tx_packets"} <= set(legacy)
    # the CLI negotiates 2.48 or later: the standard shape
    shown = cloud.openstack("server", "show", "--diagnostics", server["id"], cloud=ADMIN)
    assert (shown["server_id"], shown["num_cpus"], shown["state"]) == (server["id"], 1, "running")
    body = admin.compute.get(path, microversion="2.48").json()
    assert (body["hypervisor"], body["num_cpus"], body["num_nics"]) == ("fake", 1, 1)
    assert (body["driver"], body["state"]) == ("libvirt", "running")  # Nova's enum
    assert body["memory_details"]["maximum"] == 256
    assert body["nic_details"][0]["mac_address"] == server_mac(admin, server["id"])
    denied = cloud.sdk().compute.get(path)
    assert denied.status_code == 403
    gone = admin.compute.get(f"/servers/{uuid.uuid4()}/diagnostics")
    assert gone.status_code == 404


def server_mac(conn, server_id: str) -> str:
    [port] = conn.network.ports(device_id=server_id)
    return port.mac_address
