"""The live-migration operations of the driver contract (``compute.live_migration_agent``)
against every driver, between two drivers on two state directories (two "hosts" on
loopback): prepare on the destination, migrate from the source with progress, clean the
source, finish on the destination: the guest runs there only, never on both; a refused
prepare leaves nothing; a rolled-back prepare leaves nothing on the destination and the
source guest running. ``qemu`` boots a real guest (slow): after the move its QEMU runs from
the destination's directory, none from the source's, and it has not rebooted (its uptime
read through QMP-free means: the ready line does not come again on the new console)."""

from __future__ import annotations

from pathlib import Path

import pytest

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
