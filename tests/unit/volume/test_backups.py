"""The backups family end to end in one process: the controller's ``cloud.volume.backups``,
the in-process bus, a real ``VolumeAgent`` with the file driver and the chunked backup
service writing to ``<state-dir>/backups``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.volume import exceptions as exc
from pocketstack.volume import rpcapi
from pocketstack.volume.backups import BackupCreate, BackupFilters, BackupNotFound, InvalidBackup
from pocketstack.volume.volumes import VolumeCreate

DEMO = RequestContext(user_id="u-demo", project_id="p-demo", roles=("member", "reader"))
ALT = RequestContext(user_id="u-alt", project_id="p-alt", roles=("member", "reader"))
ADMIN = RequestContext(user_id="u-admin", project_id="p-admin", roles=("admin", "member", "reader"))


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def storage(cloud, bus, tmp_path):
    """The controller side on the bus and one storage host with the file driver."""
    from pocketstack.volume.agent import VolumeAgent
    from pocketstack.volume.drivers.file import FileDriver

    cloud.volume.bootstrap()
    bus.serve(rpcapi.SERVER_TOPIC, cloud.volume.agent_reports, rpcapi.SERVER_MESSAGES)
    driver = FileDriver(cloud.conf, cloud.conf.path("volumes"))
    agent = VolumeAgent(cloud.conf, bus, driver)
    agent.report_state()
    bus.serve(agent.target, agent, rpcapi.AGENT_MESSAGES)
    # the report is a cast: a volume created before it lands finds no backend
    wait_for(
        lambda: cloud.volume.services.list(ADMIN, binary="cinder-volume"), "the backend's report"
    )
    yield agent
    bus.unserve(agent.target)


def status_of(cloud, kind: str, row_id: str) -> str:
    if kind == "volume":
        return cloud.volume.volumes.get(ADMIN, row_id).volume.status
    return cloud.volume.backups.get(ADMIN, row_id).status


def wait_status(cloud, kind: str, row_id: str, *wanted: str) -> str:
    wait_for(lambda: status_of(cloud, kind, row_id) in wanted, f"{kind} {row_id} in {wanted}")
    return status_of(cloud, kind, row_id)


def new_volume(cloud, storage, size: int = 1, ctx: RequestContext = DEMO) -> str:
    volume = cloud.volume.volumes.create(ctx, VolumeCreate(size=size, name="v")).volume
    wait_status(cloud, "volume", volume.id, "available")
    return volume.id


def write(storage, volume_id: str, offset: int, data: bytes) -> None:
    with open(storage.driver.volume_path(volume_id), "r+b") as f:
        f.seek(offset)
        f.write(data)


def backup(cloud, volume_id: str, **kwargs: Any) -> str:
    made = cloud.volume.backups.create(DEMO, BackupCreate(volume_id=volume_id, **kwargs))
    assert made.status == "creating"
    assert wait_status(cloud, "backup", made.id, "available", "error") == "available"
    return made.id


def test_full_and_incremental_backups_then_restore_to_a_new_volume(cloud, storage):
    volume_id = new_volume(cloud, storage)
    write(storage, volume_id, 0, b"first" * 1000)
    full = backup(cloud, volume_id, name="full")
    assert status_of(cloud, "volume", volume_id) == "available"
    write(storage, volume_id, 40 * 1024 * 1024, b"second")
    incr = backup(cloud, volume_id, name="incr", incremental=True)

    rows = {b.id: b for b in cloud.volume.backups.list(DEMO, BackupFilters(volume_id=volume_id))}
    assert rows[full].has_dependent_backups and not rows[full].is_incremental
    assert rows[incr].is_incremental and rows[incr].parent_id == full
    assert rows[full].object_count == 1 and rows[incr].object_count == 1
    assert rows[incr].size == 1

    done = cloud.volume.backups.restore(DEMO, incr, None, "restored")
    assert done.volume_name == "restored"
    wait_status(cloud, "backup", incr, "available")
    wait_status(cloud, "volume", done.volume_id, "available")
    restored = storage.driver.volume_path(done.volume_id)
    with open(restored, "rb") as f:
        assert f.read(5000) == b"first" * 1000
        f.seek(40 * 1024 * 1024)
        assert f.read(7) == b"second\0"
    assert os.path.getsize(restored) == 1024**3
    assert os.stat(restored).st_blocks * 512 < 64 * 1024 * 1024  # still thin


def test_incremental_needs_an_available_backup(cloud, storage):
    volume_id = new_volume(cloud, storage)
    with pytest.raises(InvalidBackup, match="No backups available"):
        cloud.volume.backups.create(DEMO, BackupCreate(volume_id=volume_id, incremental=True))


def test_in_use_volume_needs_force(cloud, storage):
    volume_id = new_volume(cloud, storage)
    with cloud.db.transaction() as s:
        from pocketstack.volume.models import Volume

        s.get(Volume, volume_id).status = "in-use"
    with pytest.raises(exc.InvalidVolume, match="force"):
        cloud.volume.backups.create(DEMO, BackupCreate(volume_id=volume_id))
    made = backup(cloud, volume_id, force=True)
    assert status_of(cloud, "volume", volume_id) == "in-use"
    assert made


def test_parent_with_dependents_cannot_be_deleted_until_they_go(cloud, storage):
    volume_id = new_volume(cloud, storage)
    full = backup(cloud, volume_id)
    incr = backup(cloud, volume_id, incremental=True)
    with pytest.raises(InvalidBackup, match="Incremental backups exist"):
        cloud.volume.backups.delete(DEMO, full)

    cloud.volume.backups.delete(DEMO, incr)
    wait_for(
        lambda: [b.id for b in cloud.volume.backups.list(DEMO, BackupFilters())] == [full],
        "the incremental gone",
    )
    assert not cloud.volume.backups.get(DEMO, full).has_dependent_backups
    cloud.volume.backups.delete(DEMO, full)
    wait_for(lambda: cloud.volume.backups.list(DEMO, BackupFilters()) == [], "no backups")
    assert not any(f for _, _, f in os.walk(cloud.conf.path("backups")) if f)


def test_restore_to_an_existing_volume_checks_status_and_size(cloud, storage):
    big = new_volume(cloud, storage, size=2)
    small = new_volume(cloud, storage, size=1)
    made = backup(cloud, big)
    with pytest.raises(exc.InvalidVolume, match="too small"):
        cloud.volume.backups.restore(DEMO, made, small)

    other = new_volume(cloud, storage, size=2)
    done = cloud.volume.backups.restore(DEMO, made, other)
    assert done.volume_id == other
    wait_status(cloud, "volume", other, "available")
    wait_status(cloud, "backup", made, "available")


def test_a_corrupt_backup_leaves_the_volume_error_restoring(cloud, storage):
    volume_id = new_volume(cloud, storage)
    write(storage, volume_id, 0, os.urandom(1024 * 1024))
    made = backup(cloud, volume_id)
    root = cloud.conf.path("backups")
    chunk = next(p for p in root.rglob("backup_00001"))
    chunk.write_bytes(chunk.read_bytes()[:100])

    target = new_volume(cloud, storage)
    cloud.volume.backups.restore(DEMO, made, target)
    assert wait_status(cloud, "volume", target, "available", "error_restoring") == (
        "error_restoring"
    )
    row = cloud.volume.backups.get(DEMO, made)
    assert row.status == "available" and "corrupt" in (row.fail_reason or "")


def test_quota_backups_413(cloud, storage):
    volume_id = new_volume(cloud, storage)
    cloud.volume.quotas.update(ADMIN, DEMO.project_id, {"backups": 1})
    backup(cloud, volume_id)
    with pytest.raises(errors.PocketError) as raised:
        cloud.volume.backups.create(DEMO, BackupCreate(volume_id=volume_id))
    assert raised.value.status == 413


def test_other_projects_backups_are_404_and_reset_status(cloud, storage):
    volume_id = new_volume(cloud, storage)
    made = backup(cloud, volume_id)
    with pytest.raises(BackupNotFound):
        cloud.volume.backups.get(ALT, made)
    cloud.volume.backups.reset_status(ADMIN, made, "error")
    assert status_of(cloud, "backup", made) == "error"
    with pytest.raises(InvalidBackup):
        cloud.volume.backups.reset_status(ADMIN, made, "creating")


def test_an_interrupted_restore_reported_by_the_backup_volume_fails_the_target(cloud, bus, storage):
    source = new_volume(cloud, storage)
    made = backup(cloud, source)
    target = new_volume(cloud, storage)
    bus.unserve(storage.target)  # the agent is gone: the restore cast is not handled
    cloud.volume.backups.restore(DEMO, made, target)
    assert status_of(cloud, "volume", target) == "restoring-backup"

    # what the agent's convergence casts at its restart: the backup's own volume id
    cloud.volume.backups.finished(
        ADMIN, made, source, "restore", "error", {}, "interrupted by an agent restart"
    )
    assert status_of(cloud, "volume", target) == "error_restoring"
    assert status_of(cloud, "volume", source) == "available"
    assert status_of(cloud, "backup", made) == "available"
    bus.serve(storage.target, storage, rpcapi.AGENT_MESSAGES)
