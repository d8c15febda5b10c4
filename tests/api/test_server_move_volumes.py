"""Volumes follow a moved server (issue 10), through openstacksdk and the ``openstack`` CLI
on a fake-driver cloud with two compute hosts (``--fake-hosts 1``): cold migration and
resize (confirm: the source's attachment gone, the destination's kept; revert: the original
attachment back), live migration (the attachment on the new host, the old one gone; a
failing destination leaves the attachments as they were) and evacuation of a volume-backed
server (the same boot volume, now attached on the new host), each seen as a user sees it:
``openstack volume attachment list``, the volume's ``attachments[].host_name``."""

from __future__ import annotations

import os
import uuid

import openstack.exceptions
import pytest

from tests.conftest import launch_cloud
from tests.helpers import wait_until

ADMIN = "pocketstack-admin"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    """A fake-driver cloud with two compute hosts."""
    state = tmp_path_factory.mktemp("mv") / "state"
    with launch_cloud(state, extra=["--fake-hosts", "1"]) as made:
        admin = made.sdk(ADMIN)
        wait_until(
            lambda: len([s for s in admin.compute.services() if s.state == "up"]) >= 2,
            60,
            "two compute services up",
            interval=0.5,
        )
        yield made


def _delete(cloud, server_id: str) -> None:
    admin = cloud.sdk(ADMIN)
    admin.compute.delete_server(server_id, ignore_missing=True)
    try:
        admin.compute.wait_for_delete(admin.compute.get_server(server_id), wait=60)
    except openstack.exceptions.NotFoundException:
        pass


@pytest.fixture
def volume_server(cloud):
    """A server with a 1 GiB volume attached: (server id, volume id)."""
    conn = cloud.sdk()
    server = cloud.create_server(_name("mv"), wait=True)
    volume = conn.block_storage.create_volume(size=1, name=_name("mv-vol"))
    conn.block_storage.wait_for_status(volume, "available", wait=60)
    conn.compute.create_volume_attachment(server["id"], volume_id=volume.id)
    wait_until(lambda: conn.block_storage.get_volume(volume.id).status == "in-use", 60, "in-use")
    yield server["id"], volume.id
    _delete(cloud, server["id"])
    conn.block_storage.delete_volume(volume.id, ignore_missing=True)


def _attachments(cloud, volume_id: str) -> list[tuple[str, str]]:
    """(attachment id, status) of the volume, from ``openstack volume attachment list``."""
    rows = cloud.openstack(
        "--os-volume-api-version", "3.27", "volume", "attachment", "list",
        "--volume-id", volume_id,
    )  # fmt: skip
    return sorted((r["ID"], r["Status"]) for r in rows)


def _hosts(cloud, volume_id: str) -> list[str]:
    """The ``host_name`` of each of the volume's attachments (``openstack volume show``)."""
    shown = cloud.openstack("volume", "show", volume_id, cloud=ADMIN)
    return sorted(a["host_name"] for a in shown["attachments"])


def _status(conn, server_id: str, status: str):
    def reached():
        shown = conn.compute.get_server(server_id)
        assert shown.status != "ERROR", shown.fault
        return shown if shown.status == status and shown.task_state is None else None

    def seen() -> str:
        shown = conn.compute.get_server(server_id)
        return f"{shown.status} {shown.task_state} {shown.compute_host} {shown.fault}"

    return wait_until(reached, 60, f"the server to be {status}", interval=0.2, detail=seen)


def _other_host(admin, host: str) -> str:
    hosts = {s.host for s in admin.compute.services() if s.binary == "nova-compute"}
    (other,) = hosts - {host}
    return other


def test_cold_migration_moves_the_attachment_and_confirm_drops_the_source_one(cloud, volume_server):
    server_id, volume_id = volume_server
    admin = cloud.sdk(ADMIN)
    source = admin.compute.get_server(server_id).compute_host
    dest = _other_host(admin, source)
    ((old_id, _),) = _attachments(cloud, volume_id)
    assert _hosts(cloud, volume_id) == [source]
    admin.compute.migrate_server(server_id)
    _status(admin, server_id, "VERIFY_RESIZE")
    # both hosts have it while the move waits for its confirm (Nova keeps the source's)
    assert _hosts(cloud, volume_id) == sorted([source, dest])
    assert len(_attachments(cloud, volume_id)) == 2
    cloud.openstack("server", "migrate", "confirm", server_id, cloud=ADMIN, json_output=False)
    shown = _status(admin, server_id, "ACTIVE")
    assert shown.compute_host == dest
    ((new_id, status),) = _attachments(cloud, volume_id)
    assert new_id != old_id and status == "attached"
    assert _hosts(cloud, volume_id) == [dest]
    volume = cloud.sdk().block_storage.get_volume(volume_id)
    assert volume.status == "in-use" and volume.attachments[0]["server_id"] == server_id
    (attached,) = cloud.sdk().compute.volume_attachments(server_id)
    assert attached.volume_id == volume_id


def test_resize_revert_restores_the_original_attachment(cloud, volume_server):
    server_id, volume_id = volume_server
    conn, admin = cloud.sdk(), cloud.sdk(ADMIN)
    source = admin.compute.get_server(server_id).compute_host
    before = _attachments(cloud, volume_id)
    conn.compute.resize_server(server_id, conn.compute.find_flavor("m1.small").id)
    _status(conn, server_id, "VERIFY_RESIZE")
    assert _hosts(cloud, volume_id) == sorted([source, _other_host(admin, source)])
    cloud.openstack("server", "resize", "revert", server_id, json_output=False)
    shown = _status(admin, server_id, "ACTIVE")
    assert shown.compute_host == source
    assert _attachments(cloud, volume_id) == before
    assert _hosts(cloud, volume_id) == [source]


def test_live_migration_moves_the_attachment(cloud, volume_server):
    server_id, volume_id = volume_server
    admin = cloud.sdk(ADMIN)
    source = admin.compute.get_server(server_id).compute_host
    ((old_id, _),) = _attachments(cloud, volume_id)
    cloud.openstack(
        "server", "migrate", "--live-migration", "--wait", server_id,
        cloud=ADMIN, json_output=False,
    )  # fmt: skip
    shown = _status(admin, server_id, "ACTIVE")
    dest = _other_host(admin, source)
    assert shown.compute_host == dest
    # the source's attachment goes once the server is the destination's
    wait_until(lambda: len(_attachments(cloud, volume_id)) == 1, 30, "one attachment left")
    ((new_id, status),) = _attachments(cloud, volume_id)
    assert new_id != old_id and status == "attached"
    assert _hosts(cloud, volume_id) == [dest]


def _image(cloud, **properties) -> str:
    image = cloud.sdk(ADMIN).image.create_image(
        name=_name("mv-img"),
        data=os.urandom(4096),
        disk_format="raw",
        container_format="bare",
        visibility="public",
        allow_duplicates=True,
        validate_checksum=False,
        **{k: str(v) for k, v in properties.items()},
    )
    return image.id


def test_a_failed_live_migration_leaves_the_attachments_as_they_were(cloud):
    conn, admin = cloud.sdk(), cloud.sdk(ADMIN)
    image = _image(cloud, fake_live_migration_error="destination refuses")
    server = cloud.create_server(_name("mv-fail"), image=image, wait=True)
    volume = conn.block_storage.create_volume(size=1, name=_name("mv-vol"))
    try:
        conn.block_storage.wait_for_status(volume, "available", wait=60)
        conn.compute.create_volume_attachment(server["id"], volume_id=volume.id)
        wait_until(lambda: conn.block_storage.get_volume(volume.id).status == "in-use", 60, "")
        source = admin.compute.get_server(server["id"]).compute_host
        before = _attachments(cloud, volume.id)
        admin.compute.live_migrate_server(server["id"], host=None, block_migration="auto")

        def failed():
            resp = admin.compute.get(
                f"/os-migrations?instance_uuid={server['id']}",
                headers={"OpenStack-API-Version": "compute 2.80"},
            )
            return [m for m in resp.json()["migrations"] if m["status"] == "error"]

        wait_until(failed, 30, "the migration to fail")
        shown = _status(admin, server["id"], "ACTIVE")
        assert shown.compute_host == source
        assert _attachments(cloud, volume.id) == before
        assert _hosts(cloud, volume.id) == [source]
    finally:
        _delete(cloud, server["id"])
        conn.block_storage.delete_volume(volume.id, ignore_missing=True)


def test_evacuate_keeps_the_boot_volume_and_attaches_it_on_the_new_host(cloud):
    conn, admin = cloud.sdk(), cloud.sdk(ADMIN)
    made = cloud.create_server(_name("mv-bfv"), "--boot-from-volume", "1", wait=True)
    server_id = made["id"]
    (attached,) = conn.compute.volume_attachments(server_id)
    volume_id = attached.volume_id
    source = admin.compute.get_server(server_id).compute_host
    (service,) = [
        s for s in admin.compute.services() if s.host == source and s.binary == "nova-compute"
    ]
    ((old_id, _),) = _attachments(cloud, volume_id)
    admin.compute.update_service_forced_down(service, source, "nova-compute", True)
    try:
        # the CLI asks for 2.95 and later: the evacuated server ends SHUTOFF (Nova's)
        cloud.openstack("server", "evacuate", server_id, cloud=ADMIN, json_output=False)
        shown = _status(admin, server_id, "SHUTOFF")
    finally:
        admin.compute.update_service_forced_down(service, source, "nova-compute", False)
    dest = _other_host(admin, source)
    assert shown.compute_host == dest
    assert [a.volume_id for a in conn.compute.volume_attachments(server_id)] == [volume_id]
    ((new_id, status),) = _attachments(cloud, volume_id)
    assert new_id != old_id and status == "attached"
    assert _hosts(cloud, volume_id) == [dest]
    (action,) = [a for a in admin.compute.server_actions(server_id) if a.action == "evacuate"]
    resp = admin.compute.get(
        f"/servers/{server_id}/os-instance-actions/{action.request_id}",
        headers={"OpenStack-API-Version": "compute 2.84"},
    )
    details = {e["event"]: e.get("details") for e in resp.json()["instanceAction"]["events"]}
    assert "its data is kept" in details["rebuild_server"], details
    _delete(cloud, server_id)
    conn.block_storage.delete_volume(volume_id, ignore_missing=True)


def test_a_volume_backed_server_resizes_and_confirm_keeps_its_boot_volume(cloud):
    conn, admin = cloud.sdk(), cloud.sdk(ADMIN)
    made = cloud.create_server(_name("mv-bfv-resize"), "--boot-from-volume", "1", wait=True)
    server_id = made["id"]
    try:
        (attached,) = conn.compute.volume_attachments(server_id)
        source = admin.compute.get_server(server_id).compute_host
        cloud.openstack("server", "resize", "--flavor", "m1.small", server_id, json_output=False)
        _status(conn, server_id, "VERIFY_RESIZE")
        dest = _other_host(admin, source)
        assert _hosts(cloud, attached.volume_id) == sorted([source, dest])
        cloud.openstack("server", "resize", "confirm", server_id, json_output=False)
        shown = _status(admin, server_id, "ACTIVE")
        assert shown.compute_host == dest and shown.flavor["original_name"] == "m1.small"
        assert _hosts(cloud, attached.volume_id) == [dest]
        assert [a.volume_id for a in conn.compute.volume_attachments(server_id)] == [
            attached.volume_id
        ]
    finally:
        _delete(cloud, server_id)
        conn.block_storage.delete_volume(attached.volume_id, ignore_missing=True)


def test_deleting_a_server_waiting_for_its_confirm_frees_the_volume(cloud, volume_server):
    server_id, volume_id = volume_server
    conn, admin = cloud.sdk(), cloud.sdk(ADMIN)
    admin.compute.migrate_server(server_id)
    _status(admin, server_id, "VERIFY_RESIZE")
    assert len(_attachments(cloud, volume_id)) == 2
    _delete(cloud, server_id)
    volume = conn.block_storage.get_volume(volume_id)
    assert volume.status == "available" and volume.attachments == []
    assert _attachments(cloud, volume_id) == []


def test_a_volume_backed_server_live_migrates_memory_only(cloud):
    conn, admin = cloud.sdk(), cloud.sdk(ADMIN)
    made = cloud.create_server(_name("mv-bfv-live"), "--boot-from-volume", "1", wait=True)
    server_id = made["id"]
    try:
        (attached,) = conn.compute.volume_attachments(server_id)
        source = admin.compute.get_server(server_id).compute_host
        dest = _other_host(admin, source)
        # no local disk: the volume counts as shared storage, so block migration is refused
        refused = admin.compute.post(
            f"/servers/{server_id}/action",
            json={"os-migrateLive": {"host": dest, "block_migration": True}},
            headers={"OpenStack-API-Version": "compute 2.30"},
            raise_exc=False,
        )
        assert refused.status_code == 400, refused.text
        admin.compute.live_migrate_server(server_id, host=dest, block_migration="auto")
        shown = _status(admin, server_id, "ACTIVE")
        assert shown.compute_host == dest
        wait_until(lambda: _hosts(cloud, attached.volume_id) == [dest], 30, "the attachment")
    finally:
        _delete(cloud, server_id)
        conn.block_storage.delete_volume(attached.volume_id, ignore_missing=True)
