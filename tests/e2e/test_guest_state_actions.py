"""Paused, suspended and rescued real guests across a kill -9 of ``pocketstack up`` (qemu
driver, the project's guest image, the ``openstack`` CLI): after the restart the paused
guest's QEMU is the same process and still paused, the suspended one has no QEMU and its
saved memory, the rescued one still runs its rescue system; then unpause, resume and
unrescue bring them back, and the suspended guest's ticker (started before the suspend,
``test_compute_state_actions.PROBE``) counts on where it stopped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.contract.test_compute_state_actions import PROBE
from tests.helpers import wait_until


def _pid_of(state_dir: Path, uuid: str, find_qemu) -> int | None:
    for pid in find_qemu(state_dir):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"pocketstack-{uuid}".encode() in argv:
            return pid
    return None


def _console(cloud, uuid: str) -> str:
    return cloud.openstack("console", "log", "show", uuid, json_output=False)


def _ticks(log: str) -> list[int]:
    return [int(n) for n in re.findall(r"STATE-TICK (\d+) ", log)]


def _wait_console(cloud, uuid: str, pattern: str, count: int = 1, timeout: float = 120) -> str:
    found = ""

    def shown() -> str | None:
        nonlocal found
        found = _console(cloud, uuid)
        return found if len(re.findall(pattern, found)) >= count else None

    return wait_until(
        shown, timeout, f"{pattern!r} x{count} on {uuid}'s console", detail=lambda: found[-2000:]
    )


@pytest.mark.slow
def test_paused_suspended_rescued_guests_survive_a_kill9_of_up(up_process, find_qemu, tmp_path):
    up = up_process("qemu")
    cloud = up.start()
    probe = tmp_path / "probe.sh"
    probe.write_text(PROBE)
    vms = {
        role: cloud.create_server(f"{role}-vm", "--user-data", str(probe))
        for role in ("paused", "suspended", "rescued")
    }
    for vm in vms.values():
        cloud.wait_for_server(vm["id"], "ACTIVE", timeout=120)
        _wait_console(cloud, vm["id"], r"STATE-TICK 2 ")
    paused, suspended, rescued = (vms[r]["id"] for r in ("paused", "suspended", "rescued"))
    mark = re.search(r"STATE-MARKED (\S+)", _console(cloud, rescued)).group(1)

    cloud.openstack("server", "pause", paused, json_output=False)
    cloud.openstack("server", "suspend", suspended, json_output=False)
    cloud.openstack("server", "rescue", rescued, json_output=False)
    cloud.wait_for_server(paused, "PAUSED")
    cloud.wait_for_server(suspended, "SUSPENDED")
    cloud.wait_for_server(rescued, "RESCUE", timeout=120)
    # the rescue system: user_data runs on its fresh disk and finds the original's mark
    _wait_console(cloud, rescued, rf"STATE-SEEN vd[a-z] {mark}")
    before = _ticks(_console(cloud, suspended))
    paused_pid = _pid_of(up.state_dir, paused, find_qemu)
    rescued_pid = _pid_of(up.state_dir, rescued, find_qemu)
    assert paused_pid and rescued_pid and _pid_of(up.state_dir, suspended, find_qemu) is None
    assert (up.state_dir / "instances" / suspended / "memory.save").is_file()

    up.kill9()
    cloud = up.start()
    assert cloud.openstack("server", "show", paused)["status"] == "PAUSED"
    assert cloud.openstack("server", "show", suspended)["status"] == "SUSPENDED"
    assert cloud.openstack("server", "show", rescued)["status"] == "RESCUE"
    assert _pid_of(up.state_dir, paused, find_qemu) == paused_pid  # the same QEMU, paused
    assert _pid_of(up.state_dir, rescued, find_qemu) == rescued_pid
    assert _pid_of(up.state_dir, suspended, find_qemu) is None
    assert cloud.openstack("server", "show", paused)["OS-EXT-STS:power_state"] in (3, "Paused")

    cloud.openstack("server", "unpause", paused, json_output=False)
    cloud.openstack("server", "resume", suspended, json_output=False)
    cloud.openstack("server", "unrescue", rescued, json_output=False)
    for uuid in (paused, suspended, rescued):
        cloud.wait_for_server(uuid, "ACTIVE", timeout=120)
    log = _wait_console(cloud, suspended, rf"STATE-TICK {before[-1] + 1} ")
    assert not (up.state_dir / "instances" / suspended / "memory.save").exists()
    assert _ticks(log)[len(before)] == before[-1] + 1  # the same process counts on
    for uuid in (paused, suspended, rescued):
        cloud.openstack("server", "delete", "--wait", uuid, json_output=False)
    assert find_qemu(up.state_dir) == []
