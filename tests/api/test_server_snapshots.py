"""Server snapshots (``createImage``) through the ``openstack`` CLI and openstacksdk on the
fake-driver cloud: the image Nova's way (queued first, then active qcow2 with
``image_type=snapshot``, ``instance_uuid``, ``base_image_ref``, ``user_id``, owned by the
server's project), the answer's shape below and from microversion 2.45, the states it needs
(409 otherwise), 404 for an unknown or another project's server, 400 for a bad body, and the
instance action with its ``compute_snapshot_instance`` event and details."""

from __future__ import annotations

import uuid

import openstack.exceptions
import pytest

ADMIN = "pocketstack-admin"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def server(running_cloud):
    """A demo server, ACTIVE; deleted afterwards, with the images made from it."""
    made = running_cloud.create_server(_name("snap"), wait=True)
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


def _wait_image(conn, image_id: str, status: str = "active"):
    return conn.image.wait_for_status(
        conn.image.get_image(image_id), status=status, failures=["killed"], wait=60
    )


def _wait_no_task(cloud, server_id: str) -> dict:
    from tests.helpers import wait_until

    def settled():
        shown = cloud.openstack("server", "show", server_id)
        return shown if shown.get("OS-EXT-STS:task_state") is None else None

    return wait_until(settled, 60, "the snapshot task to end", interval=0.3)


def test_cli_server_image_create_wait_makes_an_active_snapshot(running_cloud, server):
    cloud = running_cloud
    image_name = _name("snapshot")
    made = cloud.openstack(
        "server", "image", "create", "--wait", "--name", image_name, server["id"]
    )
    assert made["name"] == image_name
    conn = cloud.sdk()
    image = _wait_image(conn, made["id"])
    assert image.disk_format == "qcow2" and image.container_format == "bare"
    assert image.visibility == "private"
    assert image.size and image.size > 0
    props = conn.image.get(f"/images/{image.id}").json()  # Glance's flat properties
    assert props["image_type"] == "snapshot"
    assert props["instance_uuid"] == server["id"]
    cirros = conn.image.find_image("cirros")
    assert props["base_image_ref"] == cirros.id
    assert props["user_id"] == conn.current_user_id
    assert image.owner == conn.current_project_id
    assert image.min_disk >= 1  # m1.tiny's root disk
    shown = _wait_no_task(cloud, server["id"])
    assert shown["status"] == "ACTIVE"
    # the instance action and its event, with the details (2.84)
    admin = cloud.sdk(ADMIN)
    actions = [a for a in admin.compute.server_actions(server["id"]) if a.action == "createImage"]
    assert actions
    resp = admin.compute.get(
        f"/servers/{server['id']}/os-instance-actions/{actions[0].request_id}",
        headers={"OpenStack-API-Version": "compute 2.84"},
    )
    events = resp.json()["instanceAction"]["events"]
    assert [(e["event"], e["result"]) for e in events] == [("compute_snapshot_instance", "Success")]
    # the default image declares hw_qemu_guest_agent=yes: the (fake) agent froze the guest
    assert "running guest, quiesced" in events[0]["details"]


def test_answer_shape_below_and_from_245(running_cloud, server):
    conn = running_cloud.sdk()
    old = _action(
        conn, server["id"], {"createImage": {"name": _name("old"), "metadata": {"purpose": "test"}}}
    )
    assert old.status_code == 202, old.text
    assert not old.content
    location = old.headers["Location"]
    assert "/image/v2/images/" in location
    old_id = location.rsplit("/", 1)[1]
    image = _wait_image(conn, old_id)
    assert conn.image.get(f"/images/{image.id}").json()["purpose"] == "test"
    _wait_no_task(running_cloud, server["id"])
    new = _action(conn, server["id"], {"createImage": {"name": _name("new")}}, "2.45")
    assert new.status_code == 202, new.text
    assert "Location" not in new.headers
    new_id = new.json()["image_id"]
    _wait_image(conn, new_id)
    assert conn.image.get(f"/images/{new_id}").json()["image_type"] == "snapshot"
    # the SDK negotiates past 2.45 and reads the body
    _wait_no_task(running_cloud, server["id"])
    sdk_image = conn.compute.create_server_image(server["id"], _name("sdk"), wait=True)
    assert sdk_image.status == "active"


def test_stopped_paused_and_suspended_servers_snapshot(running_cloud, server):
    cloud, conn = running_cloud, running_cloud.sdk()
    for verb, status in (("stop", "SHUTOFF"), ("pause", "PAUSED")):
        if verb == "pause":
            cloud.openstack("server", "start", server["id"], json_output=False)
            cloud.wait_for_server(server["id"], "ACTIVE")
        cloud.openstack("server", verb, server["id"], json_output=False)
        cloud.wait_for_server(server["id"], status)
        resp = _action(conn, server["id"], {"createImage": {"name": _name(verb)}}, "2.45")
        assert resp.status_code == 202, resp.text
        _wait_image(conn, resp.json()["image_id"])
        assert _wait_no_task(cloud, server["id"])["status"] == status


def test_wrong_state_is_409_and_bad_requests(running_cloud, server):
    cloud, conn = running_cloud, running_cloud.sdk()
    cloud.openstack("server", "rescue", server["id"], json_output=False)
    cloud.wait_for_server(server["id"], "RESCUE")
    resp = _action(conn, server["id"], {"createImage": {"name": "x"}})
    assert resp.status_code == 409
    assert resp.json()["conflictingRequest"]["message"] == (
        f"Cannot 'createImage' instance {server['id']} while it is in vm_state rescued"
    )
    # no image was left behind
    mine = [i for i in conn.image.images() if i.instance_uuid == server["id"]]
    assert mine == []
    for body in (
        {"createImage": {}},
        {"createImage": {"name": ""}},
        {"createImage": {"name": "x", "metadata": {"k": 1}}},
        {"createImage": {"name": "x", "other": 1}},
    ):
        assert _action(conn, server["id"], body).status_code == 400, body
    missing = _action(conn, str(uuid.uuid4()), {"createImage": {"name": "x"}})
    assert missing.status_code == 404


def test_another_projects_server_is_404(running_cloud):
    admin = running_cloud.sdk(ADMIN)
    made = running_cloud.create_server(_name("admin-snap"), wait=True, cloud=ADMIN)
    try:
        resp = _action(running_cloud.sdk(), made["id"], {"createImage": {"name": "x"}})
        assert resp.status_code == 404
        # the admin may snapshot it: the image belongs to the server's project
        done = _action(admin, made["id"], {"createImage": {"name": _name("a")}}, "2.45")
        assert done.status_code == 202, done.text
        image = _wait_image(admin, done.json()["image_id"])
        assert image.owner == admin.current_project_id
        admin.image.delete_image(image.id)
    finally:
        admin.compute.delete_server(made["id"], ignore_missing=True)
