"""Live migration through openstacksdk and the ``openstack`` CLI on a fake-driver cloud with
two compute hosts (``--fake-hosts 1``): the server moves to the other host and stays ACTIVE,
its claim with it, its ports bound there; the instance action's events; the Migration row
``completed``; admin only (403); 409 in the wrong state; 400 for an unknown host or the
server's own; abort (``DELETE /servers/{id}/migrations/{mid}``: cancelled, the server
stays) and force-complete of a running migration (the fake copy made slow by the image
property ``fake_live_migration_seconds``), their 400/404/409 shapes; a destination that
fails rolls back (ACTIVE on the source, no claim left for the migration)."""

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
    state = tmp_path_factory.mktemp("lm") / "state"
    with launch_cloud(state, extra=["--fake-hosts", "1"]) as made:
        admin = made.sdk(ADMIN)
        wait_until(
            lambda: len([s for s in admin.compute.services() if s.state == "up"]) >= 2,
            60,
            "two compute services up",
            interval=0.5,
        )
        yield made


@pytest.fixture
def server(cloud):
    made = cloud.create_server(_name("lm"), wait=True)
    yield made
    admin = cloud.sdk(ADMIN)
    admin.compute.delete_server(made["id"], ignore_missing=True)
    try:
        admin.compute.wait_for_delete(admin.compute.get_server(made["id"]), wait=60)
    except openstack.exceptions.NotFoundException:
        pass


def _image(cloud, **properties) -> str:
    admin = cloud.sdk(ADMIN)
    image = admin.image.create_image(
        name=_name("lm-img"),
        data=os.urandom(4096),
        disk_format="raw",
        container_format="bare",
        visibility="public",
        allow_duplicates=True,
        validate_checksum=False,
        **{k: str(v) for k, v in properties.items()},
    )
    return image.id


def _settled(conn, server_id: str):
    def done():
        shown = conn.compute.get_server(server_id)
        assert shown.status != "ERROR", shown.fault
        return shown if shown.task_state is None and shown.status == "ACTIVE" else None

    return wait_until(done, 60, "the server to settle ACTIVE", interval=0.2)


def _other_host(admin, host: str) -> str:
    hosts = {s.host for s in admin.compute.services() if s.binary == "nova-compute"}
    (other,) = hosts - {host}
    return other


def _migrations(admin, server_id: str, version: str = "2.80") -> list[dict]:
    resp = admin.compute.get(
        f"/os-migrations?instance_uuid={server_id}",
        headers={"OpenStack-API-Version": f"compute {version}"},
    )
    return resp.json()["migrations"]


def _events(admin, server_id: str) -> list[tuple[str, str]]:
    found = [a for a in admin.compute.server_actions(server_id) if a.action == "live-migration"]
    assert found
    resp = admin.compute.get(f"/servers/{server_id}/os-instance-actions/{found[0].request_id}")
    return sorted((e["event"], e["result"]) for e in resp.json()["instanceAction"]["events"])


def _allocations(admin, consumer: str) -> dict:
    return admin.placement.get(f"/allocations/{consumer}", microversion="1.28").json()[
        "allocations"
    ]


def test_sdk_live_migration_moves_the_server_its_claim_and_its_ports(cloud, server):
    admin = cloud.sdk(ADMIN)
    before = admin.compute.get_server(server["id"])
    source = before.compute_host
    dest = _other_host(admin, source)
    admin.compute.live_migrate_server(server["id"], host=dest, block_migration="auto")
    after = _settled(admin, server["id"])
    assert after.compute_host == dest and after.addresses == before.addresses
    ports = list(admin.network.ports(device_id=server["id"]))
    assert ports and all(p.binding_host_id == dest for p in ports)
    (mig,) = _migrations(admin, server["id"])
    assert mig["migration_type"] == "live-migration" and mig["status"] == "completed"
    assert (mig["source_compute"], mig["dest_compute"]) == (source, dest)
    assert _allocations(admin, mig["uuid"]) == {}  # the migration's claim became the server's
    (provider,) = _allocations(admin, server["id"]).values()
    assert provider["resources"]["MEMORY_MB"] == after.flavor["ram"]
    events = dict(_events(admin, server["id"]))
    for name in (
        "conductor_live_migrate_instance",
        "compute_pre_live_migration",
        "compute_live_migration",
        "compute_post_live_migration_at_source",
        "compute_post_live_migration_at_destination",
    ):
        assert events[name] == "Success", events


def test_cli_live_migration_lets_the_scheduler_pick_and_shows_the_new_host(cloud, server):
    admin = cloud.sdk(ADMIN)
    source = admin.compute.get_server(server["id"]).compute_host
    cloud.openstack(
        "server", "migrate", "--live-migration", "--wait", server["id"],
        cloud=ADMIN, json_output=False,
    )  # fmt: skip
    _settled(admin, server["id"])
    shown = cloud.openstack("server", "show", server["id"], cloud=ADMIN)
    assert shown["OS-EXT-SRV-ATTR:host"] == _other_host(admin, source)
    assert shown["status"] == "ACTIVE"


def _live(conn, server_id: str, body: dict, version: str = "2.68"):
    return conn.compute.post(
        f"/servers/{server_id}/action",
        json={"os-migrateLive": body},
        headers={"OpenStack-API-Version": f"compute {version}"},
        raise_exc=False,
    )


def test_errors_non_admin_wrong_state_bad_host_and_bodies(cloud, server):
    conn, admin = cloud.sdk(), cloud.sdk(ADMIN)
    body = {"host": None, "block_migration": "auto"}
    assert _live(conn, server["id"], body).status_code == 403
    bad = _live(admin, server["id"], {"host": "nowhere", "block_migration": "auto"})
    assert bad.status_code == 400 and "nowhere" in bad.json()["badRequest"]["message"]
    own = admin.compute.get_server(server["id"]).compute_host
    assert _live(admin, server["id"], {"host": own, "block_migration": False}).status_code == 400
    # force is gone in 2.68, disk_over_commit in 2.25; 'auto' needs 2.25
    forced = {"host": None, "block_migration": "auto", "force": True}
    assert _live(admin, server["id"], forced).status_code == 400
    assert _live(admin, server["id"], forced, "2.30").status_code == 202
    _settled(admin, server["id"])
    old = {"host": None, "block_migration": "auto", "disk_over_commit": False}
    assert _live(admin, server["id"], old, "2.24").status_code == 400
    assert _live(admin, server["id"], {"block_migration": True}).status_code == 400
    admin.compute.stop_server(server["id"])
    wait_until(lambda: admin.compute.get_server(server["id"]).status == "SHUTOFF", 60, "SHUTOFF")
    stopped = _live(admin, server["id"], body)
    assert stopped.status_code == 409 and "vm_state stopped" in stopped.text


def _running_migration(admin, server_id: str) -> dict:
    def running():
        resp = admin.compute.get(
            f"/servers/{server_id}/migrations", headers={"OpenStack-API-Version": "compute 2.80"}
        )
        found = [m for m in resp.json()["migrations"] if m["status"] == "running"]
        return found[0] if found and found[0]["memory_processed_bytes"] else None

    return wait_until(running, 30, "a running live migration with progress", interval=0.2)


def test_abort_cancels_and_the_server_stays_on_its_host(cloud):
    admin = cloud.sdk(ADMIN)
    image = _image(cloud, fake_live_migration_seconds=30)
    made = cloud.create_server(_name("lm-abort"), image=image, wait=True)
    try:
        source = admin.compute.get_server(made["id"]).compute_host
        admin.compute.live_migrate_server(made["id"], host=None, block_migration="auto")
        mig = _running_migration(admin, made["id"])
        assert mig["memory_total_bytes"] > 0
        shown = cloud.openstack("server", "migration", "list", "--server", made["id"], cloud=ADMIN)
        assert [m["Status"] for m in shown] == ["running"]
        url = f"/servers/{made['id']}/migrations/{mig['id']}"
        v = {"OpenStack-API-Version": "compute 2.24"}
        assert admin.compute.delete(url + "0", headers=v, raise_exc=False).status_code == 404
        assert admin.compute.delete(url, headers=v, raise_exc=False).status_code == 202
        after = _settled(admin, made["id"])
        assert after.compute_host == source
        (row,) = _migrations(admin, made["id"])
        assert row["status"] == "cancelled"
        assert _allocations(admin, row["uuid"]) == {}
        # not migrating any more: 409
        assert admin.compute.delete(url, headers=v, raise_exc=False).status_code == 409
        assert dict(_events(admin, made["id"]))["compute_live_migration"] == "Error"
    finally:
        admin.compute.delete_server(made["id"], ignore_missing=True)


def test_force_complete_ends_a_running_migration_on_the_destination(cloud):
    admin = cloud.sdk(ADMIN)
    image = _image(cloud, fake_live_migration_seconds=60)
    made = cloud.create_server(_name("lm-force"), image=image, wait=True)
    try:
        source = admin.compute.get_server(made["id"]).compute_host
        admin.compute.live_migrate_server(made["id"], host=None, block_migration=True)
        mig = _running_migration(admin, made["id"])
        url = f"/servers/{made['id']}/migrations/{mig['id']}/action"
        v = {"OpenStack-API-Version": "compute 2.22"}
        bad = admin.compute.post(url, json={"force_complete": 1}, headers=v, raise_exc=False)
        assert bad.status_code == 400
        assert (
            cloud.sdk()
            .compute.post(url, json={"force_complete": None}, headers=v, raise_exc=False)
            .status_code
            == 403
        )
        ok = admin.compute.post(url, json={"force_complete": None}, headers=v, raise_exc=False)
        assert ok.status_code == 202
        after = _settled(admin, made["id"])
        assert after.compute_host == _other_host(admin, source)
        assert _migrations(admin, made["id"])[0]["status"] == "completed"
        again = admin.compute.post(url, json={"force_complete": None}, headers=v, raise_exc=False)
        assert again.status_code == 409
    finally:
        admin.compute.delete_server(made["id"], ignore_missing=True)


def test_a_failing_destination_rolls_back(cloud):
    admin = cloud.sdk(ADMIN)
    image = _image(cloud, fake_live_migration_error="destination refuses")
    made = cloud.create_server(_name("lm-fail"), image=image, wait=True)
    try:
        source = admin.compute.get_server(made["id"]).compute_host
        admin.compute.live_migrate_server(made["id"], host=None, block_migration="auto")

        def failed():
            rows = _migrations(admin, made["id"])
            return rows if rows and rows[0]["status"] == "error" else None

        (row,) = wait_until(failed, 30, "the migration to fail")
        after = _settled(admin, made["id"])
        assert after.compute_host == source and after.status == "ACTIVE"
        assert _allocations(admin, row["uuid"]) == {}
        ports = list(admin.network.ports(device_id=made["id"]))
        assert all(p.binding_host_id == source for p in ports)
        events = dict(_events(admin, made["id"]))
        assert events["compute_pre_live_migration"] == "Error"
        assert events["compute__bind_ports_rollback"] == "Success"
    finally:
        admin.compute.delete_server(made["id"], ignore_missing=True)
