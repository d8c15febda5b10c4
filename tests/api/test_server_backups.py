"""Server backups (``createBackup``) through the ``openstack`` CLI and openstacksdk on the
fake-driver cloud: a backup image (``image_type=backup``, ``backup_type``), the rotation
keeping the newest ``rotation`` backups of the server and type (0: none), the answer's
shape below and from microversion 2.45, 400 for a bad body, 409 in a wrong state, and the
instance action ``createBackup`` with its ``compute_backup_instance`` event."""

from __future__ import annotations

import uuid

import openstack.exceptions
import pytest

from tests.helpers import wait_until

ADMIN = "pocketstack-admin"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def server(running_cloud):
    """A demo server, ACTIVE; deleted afterwards, with the images made from it."""
    made = running_cloud.create_server(_name("bak"), wait=True)
    yield made
    admin = running_cloud.sdk(ADMIN)
    for image in admin.image.images(owner=None):
        if image.instance_uuid == made["id"]:
            admin.image.delete_image(image.id, ignore_missing=True)
    admin.compute.delete_server(made["id"], ignore_missing=True)
    try:
        admin.compute.wait_for_delete(admin.compute.get_server(made["id"]), wait=60)
    except openstack.exceptions.NotFoundException:
        pass


def _action(conn, server_id: str, body: dict, version: str | None = None):
    headers = {"OpenStack-API-Version": f"compute {version}"} if version else {}
    return conn.compute.post(
        f"/servers/{server_id}/action", json=body, headers=headers, raise_exc=False
    )


def _backups(conn, server_id: str, backup_type: str) -> list:
    """The server's backups of ``backup_type`` as Glance's flat dicts, oldest first."""
    found = conn.image.get("/images?image_type=backup&sort=created_at:asc").json()["images"]
    return [
        i
        for i in found
        if i.get("instance_uuid") == server_id and i.get("backup_type") == backup_type
    ]


def _settled(cloud, server_id: str) -> dict:
    def no_task():
        shown = cloud.openstack("server", "show", server_id)
        return shown if shown.get("OS-EXT-STS:task_state") is None else None

    return wait_until(no_task, 60, "the backup task to end", interval=0.3)


def _backup(conn, cloud, server_id: str, name: str, kind: str, rotation: int) -> str:
    body = {"createBackup": {"name": name, "backup_type": kind, "rotation": rotation}}
    resp = _action(conn, server_id, body, "2.45")
    assert resp.status_code == 202, resp.text
    _settled(cloud, server_id)
    return str(resp.json()["image_id"])


def test_cli_server_backup_create_rotates(running_cloud, server):
    cloud = running_cloud
    conn = cloud.sdk()
    names = [_name("daily") for _ in range(3)]
    for name in names:
        made = cloud.openstack(
            "server",
            "backup",
            "create",
            "--name",
            name,
            "--type",
            "daily",
            "--rotate",
            "2",
            "--wait",
            server["id"],
        )
        assert made["name"] == name
        _settled(cloud, server["id"])
    kept = _backups(conn, server["id"], "daily")
    assert [i["name"] for i in kept] == names[1:]  # the oldest rotated out
    first = kept[0]
    assert first["status"] == "active" and first["disk_format"] == "qcow2"
    assert first["image_type"] == "backup" and first["backup_type"] == "daily"
    assert first["owner"] == conn.current_project_id
    # another type is rotated on its own
    weekly = _backup(conn, cloud, server["id"], _name("weekly"), "weekly", 1)
    assert [i["id"] for i in _backups(conn, server["id"], "weekly")] == [weekly]
    assert len(_backups(conn, server["id"], "daily")) == 2
    # rotation 0: every daily backup goes, the new one too
    _backup(conn, cloud, server["id"], _name("gone"), "daily", 0)
    wait_until(lambda: not _backups(conn, server["id"], "daily"), 30, "rotation 0")
    assert len(_backups(conn, server["id"], "weekly")) == 1
    # the instance actions and their events
    admin = cloud.sdk(ADMIN)
    acts = [a for a in admin.compute.server_actions(server["id"]) if a.action == "createBackup"]
    assert len(acts) == 5
    resp = admin.compute.get(
        f"/servers/{server['id']}/os-instance-actions/{acts[0].request_id}",
        headers={"OpenStack-API-Version": "compute 2.84"},
    )
    events = resp.json()["instanceAction"]["events"]
    assert [(e["event"], e["result"]) for e in events] == [("compute_backup_instance", "Success")]


def test_answer_shapes_and_errors(running_cloud, server):
    cloud = running_cloud
    conn = cloud.sdk()
    body = {"createBackup": {"name": _name("b"), "backup_type": "daily", "rotation": "1"}}
    old = _action(conn, server["id"], body)
    assert old.status_code == 202, old.text
    assert not old.content
    assert "/image/v2/images/" in old.headers["Location"]
    _settled(cloud, server["id"])
    body["createBackup"]["metadata"] = {"purpose": "test"}
    new = _action(conn, server["id"], body, "2.45")
    assert new.status_code == 202 and "Location" not in new.headers
    image_id = new.json()["image_id"]
    _settled(cloud, server["id"])
    assert conn.image.get(f"/images/{image_id}").json()["purpose"] == "test"
    # Nova's: rotation 0 below 2.45 answers no Location
    zero = {"createBackup": {"name": _name("z"), "backup_type": "zero", "rotation": 0}}
    resp = _action(conn, server["id"], zero)
    assert resp.status_code == 202 and "Location" not in resp.headers
    _settled(cloud, server["id"])
    for bad in (
        {"name": "x", "backup_type": "daily"},
        {"name": "x", "rotation": 1},
        {"backup_type": "daily", "rotation": 1},
        {"name": "x", "backup_type": "daily", "rotation": -1},
        {"name": "x", "backup_type": "daily", "rotation": "-1"},
        {"name": "x", "backup_type": "daily", "rotation": 1, "extra": 1},
    ):
        resp = _action(conn, server["id"], {"createBackup": bad})
        assert resp.status_code == 400, (bad, resp.text)
    missing = _action(conn, str(uuid.uuid4()), {"createBackup": zero["createBackup"]})
    assert missing.status_code == 404
    # a server in a state no backup begins in: 409, and no image left behind
    before = {i.id for i in conn.image.images() if i.instance_uuid == server["id"]}
    cloud.openstack("server", "rescue", server["id"], json_output=False)
    cloud.wait_for_server(server["id"], "RESCUE")
    resp = _action(conn, server["id"], zero)
    assert resp.status_code == 409, resp.text
    assert resp.json()["conflictingRequest"]["message"] == (
        f"Cannot 'createBackup' instance {server['id']} while it is in vm_state rescued"
    )
    after = {i.id for i in conn.image.images() if i.instance_uuid == server["id"]}
    assert after == before
