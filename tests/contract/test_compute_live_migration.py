"""The live-migration operations of the driver contract (``compute.live_migration_agent``)
against every driver, between two drivers on two state directories (two "hosts" on
loopback): prepare on the destination, migrate from the source with progress, clean the
source, finish on the destination: the guest runs there only, never on both; a refused
prepare leaves nothing; a rolled-back prepare leaves nothing on the destination and the
source guest running. ``qemu`` boots a real guest (slow): after the move its QEMU runs from
the destination's directory, none from the source's, and it has not rebooted (its uptime
read through QMP-free means: the ready line does not come again on the new console)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from pocketstack.common.drivers import COMPUTE_DRIVERS
from pocketstack.compute.drivers import qemu_process as qp
from pocketstack.compute.drivers.base import DriverError, PowerState
from tests.contract.test_compute_drivers import (  # noqa: F401  (guest_image: a fixture)
    DRIVERS,
    Harness,
    _processes_of,
    guest_image,
)


@pytest.fixture(params=DRIVERS)
def pair(request, tmp_path):
    src = Harness(request.param, tmp_path / "src" / "state", request)
    dst = Harness(request.param, tmp_path / "dst" / "state", request)
    try:
        yield src, dst
    finally:
        dst.uuids |= src.uuids
        for uuid in dst.uuids:  # the guest may be on either host
            dst.driver.destroy(uuid)
        src.cleanup()
        dst.cleanup()


@pytest.fixture(params=DRIVERS)
def shared_pair(request, tmp_path):
    """Two hosts (``host1``, ``host2``) on one shared instances directory."""
    shared = {"instances_path": str(tmp_path / "shared"), "instances_shared_storage": True}
    src = Harness(request.param, tmp_path / "src" / "state", request, "host1", **shared)
    dst = Harness(request.param, tmp_path / "dst" / "state", request, "host2", **shared)
    try:
        yield src, dst
    finally:
        dst.uuids |= src.uuids
        for uuid in dst.uuids:
            dst.driver.destroy(uuid)
        src.cleanup()
        dst.cleanup()


def _boot(h: Harness) -> dict:
    spec = h.spec(network_info=[])
    h.driver.spawn(spec)
    if h.real:
        h.wait_console(spec["uuid"], h.ready_line(spec))
    return spec


def test_a_guest_moves_and_runs_on_the_destination_only(pair):
    src, dst = pair
    spec = _boot(src)
    uuid = spec["uuid"]
    data = dst.driver.live_migration_prepare(spec, None, "127.0.0.1")
    assert data["block_migration"] is True and data["uri"]
    assert uuid not in dst.driver.list_instances()  # incoming: not the host's yet
    seen: list[dict] = []
    stats = src.driver.live_migration(uuid, data, seen.append)
    assert stats["status"] == "completed"
    assert stats["memory_total"] > 0 and stats["downtime_ms"] is not None
    src.driver.live_migration_cleanup_source(uuid, False)
    dst.driver.live_migration_finish(spec, True)
    assert uuid in dst.driver.list_instances() and uuid not in src.driver.list_instances()
    assert dst.driver.get_power_state(uuid) == PowerState.RUNNING
    assert src.driver.get_power_state(uuid) == PowerState.NOSTATE
    if dst.real:
        (pid,) = _processes_of({uuid})
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
        assert str(Path(dst.conf.state_dir)) in cmdline
        log = dst.driver.get_console_output(uuid)
        assert dst.ready_line(spec) not in log  # no boot on the destination


def test_memory_only_on_local_storage_is_refused_and_leaves_nothing(pair):
    src, dst = pair
    spec = _boot(src)
    if not dst.real:
        pytest.skip("the fake driver takes either")
    with pytest.raises(DriverError) as err:
        dst.driver.live_migration_prepare(spec, False, "127.0.0.1")
    assert err.value.status == 400
    assert not Path(dst.conf.state_dir, "instances", spec["uuid"]).exists()


def test_rollback_at_destination_leaves_the_source_running(pair):
    src, dst = pair
    spec = _boot(src)
    uuid = spec["uuid"]
    dst.driver.live_migration_prepare(spec, True, "127.0.0.1")
    dst.driver.live_migration_rollback_dest(uuid, False)
    assert not Path(dst.conf.state_dir, "instances", uuid).exists()
    assert uuid not in dst.driver.list_instances()
    assert src.driver.get_power_state(uuid) == PowerState.RUNNING
    if src.real:
        (pid,) = _processes_of({uuid})
        assert str(Path(src.conf.state_dir)) in Path(f"/proc/{pid}/cmdline").read_bytes().decode()


def _restarted(h: Harness):
    """The driver a restarted agent of ``h``'s host gets: a new one over the same state
    directory (QEMU's guests outlive their agent); the fake keeps its guests in its process,
    so its "restart" is the same object."""
    if not h.real:
        return h.driver
    driver = COMPUTE_DRIVERS.load(h.name, h.conf)
    driver.init_host("test-host")
    return driver


def test_agents_restarted_mid_copy_leave_the_guest_on_one_host(pair):
    """Both agents restart while the copy runs (QEMU goes on copying without them): the
    restarted source asks whether the copy completed (``live_migration_completed``) and the
    move is finished forward, or else cancelled and the destination rolled back; either way
    the guest runs from exactly one host's directory, with one QEMU process."""
    src, dst = pair
    spec = _boot(src)
    uuid = spec["uuid"]
    data = dst.driver.live_migration_prepare(spec, True, "127.0.0.1")
    outcome: list[object] = []

    def copy() -> None:  # the old source agent's thread: it dies with nobody listening
        try:
            outcome.append(src.driver.live_migration(uuid, data, lambda stats: None))
        except DriverError as exc:
            outcome.append(exc)

    copying = threading.Thread(target=copy, daemon=True)
    copying.start()
    time.sleep(0.3)  # the copy began
    source, dest = _restarted(src), _restarted(dst)
    try:
        source.live_migration_abort(uuid)
    except DriverError:
        pass  # it had completed already (or never ran)
    copying.join(60)
    assert not copying.is_alive()
    if source.live_migration_completed(uuid):  # forward: the guest is the destination's
        source.live_migration_cleanup_source(uuid, False)
        dest.live_migration_finish(spec, True)
        here, there, other = dst, src, source
        assert dest.get_power_state(uuid) == PowerState.RUNNING
    else:  # backward: the source's guest runs on
        dest.live_migration_rollback_dest(uuid, False)
        here, there, other = src, dst, dest
        assert source.get_power_state(uuid) == PowerState.RUNNING
        assert not Path(dst.conf.state_dir, "instances", uuid).exists()
    assert uuid not in other.list_instances()
    if here.real:
        (pid,) = _processes_of({uuid})  # one QEMU: no orphan on either host
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
        assert str(Path(here.conf.state_dir)) in cmdline
        assert str(Path(there.conf.state_dir)) not in cmdline


def test_block_migration_of_a_guest_with_volumes_is_refused_and_leaves_nothing(pair):
    src, dst = pair
    if not dst.real:
        pytest.skip("the fake driver moves volumes by their attachments only")
    spec = src.spec(network_info=[])
    volume = {
        "volume_id": "v-1",
        "boot_index": None,
        "connection_info": {"driver_volume_type": "iscsi"},
    }
    with pytest.raises(DriverError) as err:
        dst.driver.live_migration_prepare({**spec, "block_devices": [volume]}, None, "127.0.0.1")
    assert err.value.status == 400 and "mapped volumes" in str(err.value)
    assert not Path(dst.conf.state_dir, "instances", spec["uuid"]).exists()


def test_a_source_left_running_after_a_shared_storage_move_is_still_its_hosts(shared_pair):
    """Regression: the source's cleanup failed after a memory-only move on shared storage
    (the destination took the directory): the source's driver no longer listed its guest,
    so its orphan sweep never ended that QEMU. It is listed, and a disk-keeping destroy
    ends it only, the guest running on the destination from the kept disk."""
    src, dst = shared_pair
    spec = _boot(src)
    uuid = spec["uuid"]
    data = dst.driver.live_migration_prepare(spec, False, "127.0.0.1")  # memory only
    assert src.driver.live_migration(uuid, data, lambda _p: None)["status"] == "completed"
    dst.driver.live_migration_finish(spec, True)  # no cleanup of the source: it failed
    assert uuid in src.driver.list_instances() and uuid in dst.driver.list_instances()
    src.driver.destroy(uuid, destroy_disks=False)  # the source's orphan sweep
    assert uuid not in src.driver.list_instances()
    assert dst.driver.get_power_state(uuid) == PowerState.RUNNING
    assert Path(src.conf.instances_path, uuid).is_dir()  # the disks stay
    if src.real:
        (pid,) = _processes_of({uuid})  # the destination's QEMU only
        assert qp.host_of(qp.cmdline(pid)) == "host2"
