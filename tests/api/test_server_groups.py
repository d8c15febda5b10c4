"""Server groups through the ``openstack`` CLI and openstacksdk (issue 11 item 5 and the
item 6 bug): create/list/show/delete at 2.1 (``policies`` list), the ``--hint group=``
membership a server keeps, a non-UUID or unknown group hint refused with 400 before
anything is made, another project's group 404. Session cloud, fake hypervisor."""

from __future__ import annotations

import uuid

import pytest

ADMIN = "pocketstack-admin"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def server_groups(running_cloud):
    made: list[str] = []
    yield made
    admin = running_cloud.sdk(ADMIN)
    for group_id in made:
        admin.compute.delete_server_group(group_id, ignore_missing=True)


def test_server_group_crud_and_membership(running_cloud, made, server_groups):
    cloud = running_cloud
    # the CLI negotiates 2.64 or later: one policy and its rules
    group = cloud.openstack(
        "server",
        "group",
        "create",
        "--policy",
        "anti-affinity",
        "--rule",
        "max_server_per_host=2",
        _name("sg"),
    )
    server_groups.append(group["id"])
    assert (group["policy"], group["rules"], group["members"]) == (
        "anti-affinity",
        {"max_server_per_host": 2},
        [],
    )
    demo = cloud.sdk()
    path = f"/os-server-groups/{group['id']}"
    old = demo.compute.get(path, microversion="2.1").json()["server_group"]
    assert old == {
        "id": group["id"],
        "name": group["name"],
        "policies": ["anti-affinity"],
        "members": [],
        "metadata": {},
    }
    new = demo.compute.get(path, microversion="2.64").json()["server_group"]
    assert new == {
        "id": group["id"],
        "name": group["name"],
        "policy": "anti-affinity",
        "rules": {"max_server_per_host": 2},
        "members": [],
        "project_id": group["project_id"],
        "user_id": group["user_id"],
    }
    # 2.1's create body at 2.1, 2.64's at 2.64; each refused at the other
    body21 = {"server_group": {"name": "x", "policies": ["affinity"]}}
    body264 = {"server_group": {"name": "x", "policy": "affinity"}}
    assert (
        demo.compute.post("/os-server-groups", json=body21, microversion="2.64").status_code == 400
    )
    assert (
        demo.compute.post("/os-server-groups", json=body264, microversion="2.1").status_code == 400
    )
    rules_wrong = {
        "server_group": {"name": "x", "policy": "affinity", "rules": {"max_server_per_host": 2}}
    }
    assert (
        demo.compute.post("/os-server-groups", json=rules_wrong, microversion="2.64").status_code
        == 400
    )
    server = cloud.create_server(_name("sgm"), "--hint", f"group={group['id']}", wait=True)
    made["servers"].append(server["id"])
    shown = cloud.openstack("server", "group", "show", group["id"])
    assert shown["members"] == [server["id"]]
    listed = cloud.openstack("server", "group", "list")
    assert group["id"] in [g["ID"] for g in listed]
    # another project's group: not even visible to an admin's own listing, 404 for others
    alt = cloud.sdk(ADMIN)
    assert group["id"] not in [g.id for g in alt.compute.server_groups()]
    assert group["id"] in [g.id for g in alt.compute.server_groups(all_projects=True)]

    cloud.openstack("server", "group", "delete", group["id"], json_output=False)
    gone = cloud.sdk().compute.get(f"/os-server-groups/{group['id']}")
    assert gone.status_code == 404
    assert "itemNotFound" in gone.json()


def test_server_group_bad_requests(running_cloud):
    demo = running_cloud.sdk()
    for body in (
        {"server_group": {"name": "x", "policies": ["bogus"]}},
        {"server_group": {"name": "x", "policies": []}},
        {"server_group": {"name": "x"}},
        {"server_group": {"name": "x", "policy": "affinity"}},  # 2.64's shape at 2.1
    ):
        answer = demo.compute.post("/os-server-groups", json=body)
        assert answer.status_code == 400, body
        assert "badRequest" in answer.json()
    assert demo.compute.delete(f"/os-server-groups/{uuid.uuid4()}").status_code == 404


def test_group_hint_must_name_a_group(running_cloud):
    cloud = running_cloud
    before = {s["ID"] for s in cloud.openstack("server", "list")}
    for hint in ("not-a-uuid", str(uuid.uuid4())):
        proc = cloud.create_server(_name("badhint"), "--hint", f"group={hint}", check=False)
        assert proc.returncode != 0
        assert "400" in proc.stderr, proc.stderr
    assert {s["ID"] for s in cloud.openstack("server", "list")} == before


def test_anti_affinity_refuses_a_second_member_on_the_only_host(running_cloud, made, server_groups):
    cloud = running_cloud
    group = cloud.openstack("server", "group", "create", "--policy", "anti-affinity", _name("aa"))
    server_groups.append(group["id"])
    hint = f"group={group['id']}"
    first = cloud.create_server(_name("aa1"), "--hint", hint, wait=True)
    made["servers"].append(first["id"])
    second = cloud.create_server(_name("aa2"), "--hint", hint)
    made["servers"].append(second["id"])
    failed = cloud.wait_for_server(second["id"], "ERROR")
    assert "No valid host" in failed["fault"]["message"]
    assert "ServerGroupAntiAffinityFilter (start: 1, end: 0)" in failed["fault"]["message"]
    # an affinity group's members all land on the first one's host
    together = cloud.openstack("server", "group", "create", "--policy", "affinity", _name("af"))
    server_groups.append(together["id"])
    for n in range(2):
        server = cloud.create_server(
            _name(f"af{n}"), "--hint", f"group={together['id']}", wait=True
        )
        made["servers"].append(server["id"])
    shown = cloud.openstack("server", "group", "show", together["id"])
    assert len(shown["members"]) == 2
