"""Pause, suspend, lock, rescue, changePassword, os-resetState, resetNetwork and
trigger_crash_dump through the ``openstack`` CLI and openstacksdk (fake driver): the states
each action needs (409 otherwise, as Nova's), a lock that refuses a member's actions but not
an admin's, admin-only resets, the action events, and the 2.17 gate of crash dumps."""

from __future__ import annotations

import uuid

import openstack.exceptions
import pytest

ADMIN = "pocketstack-admin"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def server(running_cloud):
    """A demo server, ACTIVE; deleted (as admin, whatever its lock) afterwards."""
    made = running_cloud.create_server(_name("state"), wait=True)
    yield made
    admin = running_cloud.sdk(ADMIN)
    admin.compute.delete_server(made["id"], ignore_missing=True)
    try:
        admin.compute.wait_for_delete(admin.compute.get_server(made["id"]), wait=60)
    except openstack.exceptions.NotFoundException:
        pass


def _cli(cloud, *args: str, as_cloud: str = "pocketstack-demo") -> None:
    cloud.openstack(*args, cloud=as_cloud, json_output=False)


def _fails(cloud, *args: str, as_cloud: str = "pocketstack-demo") -> str:
    proc = cloud.openstack(*args, cloud=as_cloud, check=False, json_output=False)
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def _action(conn, server_id: str, body: dict, version: str | None = None):
    headers = {"OpenStack-API-Version": f"compute {version}"} if version else {}
    return conn.compute.post(
        f"/servers/{server_id}/action", json=body, headers=headers, raise_exc=False
    )


def _events(cloud, server_id: str, action: str) -> list[tuple[str, str]]:
    """The (event, result) of the newest instance action named ``action``."""
    conn = cloud.sdk(ADMIN)
    found = [a for a in conn.compute.server_actions(server_id) if a.action == action]
    assert found, f"no {action} action"
    detail = conn.compute.get_server_action(found[0].request_id, server_id)
    return [(e["event"], e["result"]) for e in detail.events]


def test_pause_and_suspend_follow_nova_states(running_cloud, server):
    cloud, name = running_cloud, server["name"]
    _cli(cloud, "server", "pause", name)
    shown = cloud.wait_for_server(name, "PAUSED")
    assert shown["OS-EXT-STS:vm_state"] == "paused" and shown["OS-EXT-STS:power_state"] in (
        3,
        "Paused",
    )
    err = _fails(cloud, "server", "pause", name)
    assert "Cannot 'pause' instance" in err and "vm_state paused" in err and "409" in err
    assert "vm_state paused" in _fails(cloud, "server", "suspend", name)
    _cli(cloud, "server", "unpause", name)
    cloud.wait_for_server(name, "ACTIVE")
    assert "vm_state active" in _fails(cloud, "server", "resume", name)
    _cli(cloud, "server", "suspend", name)
    shown = cloud.wait_for_server(name, "SUSPENDED")
    assert shown["OS-EXT-STS:vm_state"] == "suspended"
    assert "vm_state suspended" in _fails(cloud, "server", "stop", name)
    _cli(cloud, "server", "resume", name)
    cloud.wait_for_server(name, "ACTIVE")
    _cli(cloud, "server", "pause", name)
    cloud.wait_for_server(name, "PAUSED")
    _cli(cloud, "server", "reboot", "--hard", name)  # Nova's hard reboot takes PAUSED too
    cloud.wait_for_server(name, "ACTIVE")
    assert _events(cloud, server["id"], "suspend") == [("compute_suspend_instance", "Success")]
    assert _events(cloud, server["id"], "unpause") == [("compute_unpause_instance", "Success")]


def test_lock_refuses_members_not_admins(running_cloud, server):
    cloud, name = running_cloud, server["name"]
    _cli(cloud, "server", "lock", name)
    err = _fails(cloud, "server", "stop", name)
    assert f"Instance {server['id']} is locked" in err and "409" in err
    assert "is locked" in _fails(cloud, "server", "pause", name)
    assert "is locked" in _fails(cloud, "server", "delete", name)
    demo = cloud.sdk()
    net = demo.network.find_network("private")
    attach = {"interfaceAttachment": {"net_id": net.id}}
    resp = demo.compute.post(f"/servers/{server['id']}/os-interface", json=attach, raise_exc=False)
    assert resp.status_code == 409 and "is locked" in resp.text
    volume = {"volumeAttachment": {"volumeId": str(uuid.uuid4())}}
    path = f"/servers/{server['id']}/os-volume_attachments"
    resp = demo.compute.post(path, json=volume, raise_exc=False)
    assert resp.status_code == 409 and "is locked" in resp.text
    _cli(cloud, "server", "stop", server["id"], as_cloud=ADMIN)  # an admin's action goes through
    cloud.wait_for_server(name, "SHUTOFF")
    _cli(cloud, "server", "unlock", name)  # the owner's own lock
    _cli(cloud, "server", "start", name)
    cloud.wait_for_server(name, "ACTIVE")

    admin = cloud.sdk(ADMIN)
    assert _action(admin, server["id"], {"lock": None}).status_code == 202
    resp = _action(cloud.sdk(), server["id"], {"unlock": None})
    assert resp.status_code == 403 and "unlock_override" in resp.text
    assert _action(admin, server["id"], {"unlock": None}).status_code == 202

    # locked_reason came with 2.73: refused before it
    reason = {"lock": {"locked_reason": "maintenance"}}
    assert _action(demo, server["id"], reason, "2.72").status_code == 400
    assert _action(demo, server["id"], reason, "2.73").status_code == 202
    headers = {"OpenStack-API-Version": "compute 2.73"}
    shown = demo.compute.get(f"/servers/{server['id']}", headers=headers).json()["server"]
    assert shown["locked"] is True and shown["locked_reason"] == "maintenance"
    assert _action(demo, server["id"], {"os-stop": None}).status_code == 409
    assert _action(demo, server["id"], {"unlock": None}).status_code == 202
    assert _action(demo, server["id"], {"os-stop": None}).status_code == 202
    cloud.wait_for_server(name, "SHUTOFF")


def test_rescue_and_unrescue(running_cloud, server):
    cloud, name = running_cloud, server["name"]
    demo = cloud.sdk()
    image = demo.image.find_image("cirros")
    resp = _action(demo, server["id"], {"rescue": {"rescue_image_ref": image.id}})
    assert resp.status_code == 200 and resp.json()["adminPass"]
    shown = cloud.wait_for_server(name, "RESCUE")
    assert shown["OS-EXT-STS:vm_state"] == "rescued"
    console = cloud.openstack("console", "log", "show", name, json_output=False)
    assert f"rescue boot from {image.id}" in console
    assert "vm_state rescued" in _fails(cloud, "server", "rescue", name)
    assert "vm_state rescued" in _fails(cloud, "server", "reboot", name)
    _cli(cloud, "server", "unrescue", name)
    cloud.wait_for_server(name, "ACTIVE")
    assert _events(cloud, server["id"], "rescue") == [("compute_rescue_instance", "Success")]
    _cli(cloud, "server", "pause", name)
    cloud.wait_for_server(name, "PAUSED")
    assert "vm_state paused" in _fails(cloud, "server", "rescue", name)
    resp = _action(demo, server["id"], {"rescue": {"rescue_image_ref": str(uuid.uuid4())}})
    assert resp.status_code in (404, 409)


def test_change_password_needs_a_guest_agent(running_cloud, server):
    # the default image (cirros, the project's guest) declares hw_qemu_guest_agent=yes
    cloud = running_cloud
    demo = cloud.sdk()
    resp = _action(demo, server["id"], {"changePassword": {"adminPass": "s3cret"}})
    assert resp.status_code == 202, resp.text
    assert _events(cloud, server["id"], "changePassword") == [
        ("compute_set_admin_password", "Success")
    ]
    assert cloud.openstack("server", "show", server["id"])["status"] == "ACTIVE"
    assert _action(demo, server["id"], {"changePassword": {}}).status_code == 400

    image = demo.image.create_image(
        name=_name("noqga"),
        data=b"\0" * 4096,
        disk_format="raw",
        container_format="bare",
        allow_duplicates=True,
    )
    try:
        made = cloud.create_server(_name("noqga"), image=image.id, wait=True)
        try:
            resp = _action(demo, made["id"], {"changePassword": {"adminPass": "s3cret"}})
            assert resp.status_code == 409 and "QEMU guest agent is not enabled" in resp.text
        finally:
            found = demo.compute.get_server(made["id"])  # before: the fake deletes at once
            demo.compute.delete_server(found)
            demo.compute.wait_for_delete(found, wait=60)
    finally:
        demo.image.delete_image(image.id)


def test_reset_state_and_network_are_for_admins(running_cloud, server):
    cloud, name = running_cloud, server["name"]
    err = _fails(cloud, "server", "set", "--auto-approve", "--state", "error", name)
    assert "403" in err
    assert _action(cloud.sdk(), server["id"], {"resetNetwork": None}).status_code == 403
    _cli(cloud, "server", "set", "--auto-approve", "--state", "error", server["id"], as_cloud=ADMIN)
    assert cloud.openstack("server", "show", name)["status"] == "ERROR"
    _cli(
        cloud, "server", "set", "--auto-approve", "--state", "active", server["id"], as_cloud=ADMIN
    )
    assert cloud.openstack("server", "show", name)["status"] == "ACTIVE"
    admin = cloud.sdk(ADMIN)
    assert _action(admin, server["id"], {"resetNetwork": None}).status_code == 202
    bad = _action(admin, server["id"], {"os-resetState": {"state": "paused"}})
    assert bad.status_code == 400
    actions = {a.action for a in admin.compute.server_actions(server["id"])}
    assert {"resetState", "resetNetwork"} <= actions


def test_trigger_crash_dump_from_2_17(running_cloud, server):
    demo = running_cloud.sdk()
    body = {"trigger_crash_dump": None}
    assert _action(demo, server["id"], body, "2.16").status_code == 404
    running_cloud.openstack(
        "--os-compute-api-version",
        "2.17",
        "server",
        "dump",
        "create",
        server["name"],
        json_output=False,
    )
    console = running_cloud.openstack("console", "log", "show", server["name"], json_output=False)
    assert "Kernel panic - not syncing: NMI" in console
    running_cloud.openstack("server", "stop", server["name"], json_output=False)
    running_cloud.wait_for_server(server["name"], "SHUTOFF")
    resp = _action(demo, server["id"], body, "2.17")
    assert resp.status_code == 409 and "vm_state stopped" in resp.text


def test_unknown_action_is_400(running_cloud, server):
    resp = _action(running_cloud.sdk(), server["id"], {"fly": None})
    assert resp.status_code == 400 and "There is no such action: fly" in resp.text
