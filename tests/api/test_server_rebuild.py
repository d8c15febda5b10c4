"""Rebuild through the ``openstack`` CLI and openstacksdk on the fake-driver cloud (issue
10): ``server rebuild --image <other> --name --property --wait`` keeps the id, host, ports
and fixed IPs and shows the new image, name and metadata; the step
``compute_rebuild_instance``; a stopped server is rebuilt stopped; the answer's shape before
and from 2.75; microversioned fields (2.19 description, 2.54 key_name, 2.57 user_data, 2.63
trusted certificates); 400 for an unknown image, 409 when paused, 404
for an unknown server; evacuate
(admin) is refused while the server's host is up, and its microversioned fields."""

from __future__ import annotations

import base64
import uuid

import openstack.exceptions
import pytest

from tests.helpers import wait_until

ADMIN = "pocketstack-admin"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def server(running_cloud):
    made = running_cloud.create_server(_name("rb"), wait=True)
    yield made
    admin = running_cloud.sdk(ADMIN)
    admin.compute.delete_server(made["id"], ignore_missing=True)
    try:
        admin.compute.wait_for_delete(admin.compute.get_server(made["id"]), wait=60)
    except openstack.exceptions.NotFoundException:
        pass


@pytest.fixture(scope="module")
def other_image(running_cloud, tmp_path_factory):
    disk = tmp_path_factory.mktemp("rebuild") / "other.img"
    disk.write_bytes(b"\0" * 65536)
    name = _name("other")
    image = running_cloud.openstack(
        "image",
        "create",
        "--file",
        str(disk),
        "--disk-format",
        "raw",
        "--public",
        name,
        cloud=ADMIN,
    )
    yield image
    running_cloud.sdk(ADMIN).image.delete_image(image["id"], ignore_missing=True)


def _action(conn, server_id: str, body: dict, version: str | None = None):
    headers = {"OpenStack-API-Version": f"compute {version}"} if version else {}
    return conn.compute.post(
        f"/servers/{server_id}/action", json=body, headers=headers, raise_exc=False
    )


def _settled(conn, server_id: str, status: str):
    def reached():
        shown = conn.compute.get_server(server_id)
        if shown.status == "ERROR":
            raise AssertionError(f"server went ERROR: {shown.fault}")
        return shown if shown.status == status and shown.task_state is None else None

    return wait_until(reached, 60, f"the server to be {status}", interval=0.2)


def _events(admin, server_id: str, action: str) -> list[tuple[str, str]]:
    found = [a for a in admin.compute.server_actions(server_id) if a.action == action]
    assert found, action
    resp = admin.compute.get(f"/servers/{server_id}/os-instance-actions/{found[0].request_id}")
    return sorted((e["event"], e["result"]) for e in resp.json()["instanceAction"]["events"])


def test_cli_rebuild_keeps_id_host_and_ips_and_shows_the_new_image(
    running_cloud, server, other_image
):
    cloud = running_cloud
    admin = cloud.sdk(ADMIN)
    before = admin.compute.get_server(server["id"])
    ports = sorted(p.id for p in admin.network.ports(device_id=server["id"]))
    new_name = _name("rebuilt")
    cloud.openstack(
        "server",
        "rebuild",
        "--image",
        other_image["name"],
        "--name",
        new_name,
        "--property",
        "role=db",
        "--wait",
        server["id"],
        json_output=False,
    )
    shown = cloud.openstack("server", "show", server["id"])
    assert shown["status"] == "ACTIVE"
    assert shown["id"] == server["id"] and shown["name"] == new_name
    assert other_image["name"] in shown["image"] and other_image["id"] in shown["image"]
    assert shown["properties"] == {"role": "db"}
    after = admin.compute.get_server(server["id"])
    assert after.addresses == before.addresses
    assert after.compute_host == before.compute_host
    assert sorted(p.id for p in admin.network.ports(device_id=server["id"])) == ports
    assert _events(admin, server["id"], "rebuild") == [("compute_rebuild_instance", "Success")]


def test_rebuild_answer_and_microversioned_fields(running_cloud, server, other_image):
    conn = running_cloud.sdk()
    user_data = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    body = {"rebuild": {"imageRef": other_image["id"], "description": "d", "user_data": user_data}}
    for field, version in (("description", "2.18"), ("user_data", "2.56")):
        refused = _action(conn, server["id"], body, version)
        assert refused.status_code == 400 and field in refused.text, refused.text
    answer = _action(conn, server["id"], body, "2.75")
    assert answer.status_code == 202, answer.text
    view = answer.json()["server"]
    assert view["status"] == "REBUILD" and view["adminPass"]
    assert view["description"] == "d" and view["id"] == server["id"]
    assert "OS-EXT-STS:task_state" in view and view["OS-EXT-STS:task_state"] == "rebuilding"
    _settled(conn, server["id"], "ACTIVE")
    old = _action(conn, server["id"], {"rebuild": {"imageRef": other_image["id"]}}, "2.1")
    assert old.status_code == 202, old.text
    assert "OS-EXT-STS:task_state" not in old.json()["server"]
    assert old.json()["server"]["status"] == "REBUILD"
    _settled(conn, server["id"], "ACTIVE")
    # 2.63: trusted certificates accepted (and not verified); 2.54: key_name null removes it
    later = {
        "rebuild": {
            "imageRef": other_image["id"],
            "key_name": None,
            "trusted_image_certificates": None,
        }
    }
    assert _action(conn, server["id"], later, "2.53").status_code == 400
    assert _action(conn, server["id"], later, "2.63").status_code == 202
    assert _settled(conn, server["id"], "ACTIVE").key_name is None


def test_a_stopped_server_is_rebuilt_stopped(running_cloud, server, other_image):
    cloud = running_cloud
    conn = cloud.sdk()
    cloud.openstack("server", "stop", server["id"], json_output=False)
    _settled(conn, server["id"], "SHUTOFF")
    answer = _action(conn, server["id"], {"rebuild": {"imageRef": other_image["id"]}})
    assert answer.status_code == 202, answer.text
    stopped = _settled(conn, server["id"], "SHUTOFF")
    assert stopped.image.id == other_image["id"]


def test_rebuild_refusals(running_cloud, server):
    cloud = running_cloud
    conn = cloud.sdk()
    unknown = _action(conn, server["id"], {"rebuild": {"imageRef": str(uuid.uuid4())}})
    assert unknown.status_code == 400 and "Cannot find requested image" in unknown.text
    assert _action(conn, server["id"], {"rebuild": {}}).status_code == 400
    cloud.openstack("server", "pause", server["id"], json_output=False)
    _settled(conn, server["id"], "PAUSED")
    image = conn.compute.get_server(server["id"]).image.id
    paused = _action(conn, server["id"], {"rebuild": {"imageRef": image}})
    assert paused.status_code == 409 and "vm_state paused" in paused.text
    other = cloud.sdk(ADMIN).compute.post(
        f"/servers/{uuid.uuid4()}/action", json={"rebuild": {"imageRef": image}}, raise_exc=False
    )
    assert other.status_code == 404


def test_evacuate_is_admin_only_and_refused_while_the_host_is_up(running_cloud, server):
    cloud = running_cloud
    proc = cloud.openstack(
        "server", "evacuate", server["id"], cloud=ADMIN, check=False, json_output=False
    )
    assert proc.returncode != 0 and "still in use" in proc.stderr, proc.stderr
    admin, demo = cloud.sdk(ADMIN), cloud.sdk()
    assert _action(demo, server["id"], {"evacuate": {}}, "2.14").status_code == 403
    missing = _action(admin, server["id"], {"evacuate": {}}, "2.13")
    assert missing.status_code == 400 and "onSharedStorage" in missing.text
    late = _action(admin, server["id"], {"evacuate": {"onSharedStorage": False}}, "2.14")
    assert late.status_code == 400 and "onSharedStorage" in late.text
    forced = _action(admin, server["id"], {"evacuate": {"force": True}}, "2.68")
    assert forced.status_code == 400 and "force" in forced.text
    assert _settled(admin, server["id"], "ACTIVE").task_state is None
