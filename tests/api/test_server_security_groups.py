"""A server's security groups as the clients see them (issue 11 item 3 and the item 6 bug):
``GET /servers/{id}/os-security-groups`` (openstacksdk's and Ansible's server task read
it), ``openstack server add/remove security group`` applied to the server's ports in the
Network service, and a server created with ``--security-group <uuid>`` showing the group's
name. Session cloud: fake hypervisor, noop network driver."""

from __future__ import annotations

import uuid

import openstack.exceptions
import pytest

ADMIN = "pocketstack-admin"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def groups(running_cloud):
    made: list[str] = []
    yield made
    for group_id in made:
        running_cloud.openstack("security", "group", "delete", group_id, json_output=False)


def _port_groups(cloud, server_id: str) -> set[str]:
    [port] = cloud.sdk().network.ports(device_id=server_id)
    return set(port.security_group_ids)


def test_server_security_groups_list_add_remove(running_cloud, made, groups):
    cloud = running_cloud
    web = cloud.openstack("security", "group", "create", _name("web"))
    groups.append(web["id"])
    cloud.openstack(
        "security",
        "group",
        "rule",
        "create",
        "--protocol",
        "tcp",
        "--dst-port",
        "80",
        web["id"],
    )
    server = cloud.create_server(_name("sgvm"), "--security-group", web["id"], wait=True)
    made["servers"].append(server["id"])
    # the bug: the view showed the group's id where Nova shows its name
    assert cloud.openstack("server", "show", server["id"])["security_groups"] == [
        {"name": web["name"]}
    ]
    assert _port_groups(cloud, server["id"]) == {web["id"]}

    demo = cloud.sdk()
    listed = demo.compute.get(f"/servers/{server['id']}/os-security-groups").json()
    [group] = listed["security_groups"]
    assert (group["id"], group["name"], group["tenant_id"]) == (
        web["id"],
        web["name"],
        web["project_id"],
    )
    [rule] = group["rules"]  # ingress only, as Nova's proxy shows them
    assert (rule["ip_protocol"], rule["from_port"], rule["to_port"], rule["parent_group_id"]) == (
        "tcp",
        80,
        80,
        web["id"],
    )
    assert rule["ip_range"] == {"cidr": "0.0.0.0/0"}

    cloud.openstack(
        "server", "add", "security", "group", server["id"], "default", json_output=False
    )
    default_id = cloud.openstack("security", "group", "show", "default")["id"]
    assert _port_groups(cloud, server["id"]) == {web["id"], default_id}
    names = {g["name"] for g in cloud.openstack("server", "show", server["id"])["security_groups"]}
    assert names == {web["name"], "default"}
    # openstacksdk's view of the same
    sdk_names = {
        g["name"]
        for g in demo.compute.fetch_server_security_groups(
            demo.compute.get_server(server["id"])
        ).security_groups
    }
    assert sdk_names == {web["name"], "default"}

    cloud.openstack(
        "server", "remove", "security", "group", server["id"], web["name"], json_output=False
    )
    assert _port_groups(cloud, server["id"]) == {default_id}
    assert cloud.openstack("server", "show", server["id"])["security_groups"] == [
        {"name": "default"}
    ]


def test_server_security_group_errors(running_cloud, made):
    cloud = running_cloud
    server = cloud.create_server(_name("sgerr"), wait=True)
    made["servers"].append(server["id"])
    demo = cloud.sdk()
    action = f"/servers/{server['id']}/action"
    missing = demo.compute.post(action, json={"addSecurityGroup": {"name": "no-such-group"}})
    assert missing.status_code == 404
    assert "itemNotFound" in missing.json()
    # not on the server: 400, as Nova
    web = cloud.openstack("security", "group", "create", _name("unused"))
    try:
        absent = demo.compute.post(action, json={"removeSecurityGroup": {"name": web["id"]}})
        assert absent.status_code == 400
        assert "badRequest" in absent.json()
    finally:
        cloud.openstack("security", "group", "delete", web["id"], json_output=False)
    bad = demo.compute.post(action, json={"addSecurityGroup": {}})
    assert bad.status_code == 400
    unknown = str(uuid.uuid4())
    gone = demo.compute.get(f"/servers/{unknown}/os-security-groups")
    assert gone.status_code == 404
    with pytest.raises(openstack.exceptions.NotFoundException):
        demo.compute.add_security_group_to_server(unknown, {"name": "default"})
