"""The drivers' state actions (``ComputeDriver.pause``... in ``drivers.base``), run against
every driver with the contract harness of ``test_compute_drivers``.

Real guests run :data:`PROBE` as user_data: it marks its root filesystem, reports the other
disks that carry a mark (``STATE-SEEN``) and leaves a ticker printing ``STATE-TICK <n>
<guest uptime>`` every second, so the tests see what the guest lives through:

- pause/unpause: no tick while paused, and the guest's clock does not count the pause;
- suspend/resume: the same ticker (its count goes on) runs after the restore, and no QEMU
  runs while suspended (the saved state alone keeps it, as after an agent restart);
- rescue: the rescue system (a fresh disk of the image, where user_data runs again) sees the
  original root disk's mark on its second disk; unrescue boots the original again.
"""

from __future__ import annotations

import base64
import re
import time

import pytest

from pocketstack.common.drivers import COMPUTE_DRIVERS
from pocketstack.compute.drivers.base import (
    GuestAgentError,
    InstanceNotRunning,
    PowerState,
)
from tests.contract import test_compute_drivers as contract

#: the contract suite's session fixture of the guest image, shared
guest_image = contract.guest_image


@pytest.fixture(params=contract.DRIVERS)
def h(request, tmp_path):
    """The contract harness (``test_compute_drivers.Harness``) of each driver."""
    harness = contract.Harness(request.param, tmp_path / "state", request)
    try:
        yield harness
    finally:
        harness.cleanup()


PROBE = r"""#!/bin/sh
mark=/root/state-mark
if [ -f "$mark" ]; then
    echo "STATE-ROOT-MARK $(cat "$mark")"
else
    echo "mark-$(cat /proc/sys/kernel/random/uuid)" >"$mark"
    sync
    echo "STATE-MARKED $(cat "$mark")"
fi
root=$(awk '$2 == "/" && $1 ~ /^\/dev\// { print $1 }' /proc/mounts | tail -n 1)
root=${root##*/}
root=${root%%[0-9]*}
for d in /sys/block/vd*; do
    dev=${d##*/}
    [ "$dev" = "$root" ] && continue
    mkdir -p "/mnt/$dev"
    for part in "/dev/${dev}2" "/dev/${dev}1" "/dev/$dev"; do
        mount -o ro "$part" "/mnt/$dev" 2>/dev/null && break
    done
    if [ -f "/mnt/$dev/root/state-mark" ]; then
        echo "STATE-SEEN $dev $(cat "/mnt/$dev/root/state-mark")"
    fi
    umount "/mnt/$dev" 2>/dev/null
done
(
n=0
while true; do
    n=$((n + 1))
    echo "STATE-TICK $n $(cut -d' ' -f1 /proc/uptime)"
    sleep 1
done
) &
"""


def _spec(harness: contract.Harness) -> dict:
    return harness.spec(user_data=base64.b64encode(PROBE.encode()).decode())


def _ticks(log: str) -> list[tuple[int, float]]:
    return [(int(n), float(up)) for n, up in re.findall(r"STATE-TICK (\d+) ([0-9.]+)", log)]


def _wait_ticks(
    harness: contract.Harness, uuid: str, more_than: int, timeout: float = 60.0
) -> list[tuple[int, float]]:
    deadline = time.monotonic() + timeout
    while True:
        ticks = _ticks(harness.driver.get_console_output(uuid))
        if len(ticks) > more_than:
            return ticks
        assert time.monotonic() < deadline, f"no tick after {more_than} in {timeout} s"
        time.sleep(0.2)


@pytest.mark.ci
def test_pause_unpause(h):
    spec = _spec(h)
    uuid = spec["uuid"]
    h.driver.spawn(spec)
    h.driver.resume(spec)  # running with nothing saved: left alone
    if h.real:
        _wait_ticks(h, uuid, 1, timeout=90)
    h.driver.pause(uuid)
    assert h.driver.get_power_state(uuid) == PowerState.PAUSED
    if h.real:  # as after an agent restart: the guest's QEMU is still paused
        assert COMPUTE_DRIVERS.load(h.name, h.conf).get_power_state(uuid) == PowerState.PAUSED
    before = _ticks(h.driver.get_console_output(uuid))
    paused_at = time.monotonic()
    if h.real:
        time.sleep(3.0)  # the pause must last: no tick may come meanwhile
        assert _ticks(h.driver.get_console_output(uuid)) == before
    h.driver.unpause(uuid)
    assert h.driver.get_power_state(uuid) == PowerState.RUNNING
    if h.real:
        after = _wait_ticks(h, uuid, len(before))
        (n1, up1), (n2, up2) = before[-1], after[len(before)]
        host_gap = time.monotonic() - paused_at
        # the same ticker goes on, and the guest's clock skipped the pause
        assert n2 == n1 + 1 and up2 - up1 < 2.5 < host_gap, (up1, up2, host_gap)
    h.driver.inject_nmi(uuid)


def test_suspend_resume(h):
    spec = _spec(h)
    uuid = spec["uuid"]
    h.driver.spawn(spec)
    if h.real:
        _wait_ticks(h, uuid, 2, timeout=90)
    h.driver.suspend(uuid)
    assert h.driver.get_power_state(uuid) == PowerState.SUSPENDED
    with pytest.raises(InstanceNotRunning):
        h.driver.pause(uuid)
    if h.real:
        assert contract._processes_of({uuid}) == []  # no QEMU while suspended
        before = _ticks(h.driver.get_console_output(uuid))
        again = COMPUTE_DRIVERS.load(h.name, h.conf)  # as after an agent restart
        assert again.get_power_state(uuid) == PowerState.SUSPENDED
        again.resume(spec)
        after = _wait_ticks(h, uuid, len(before))
        assert after[len(before)][0] == before[-1][0] + 1  # the same process counts on
        assert "STATE-MARKED" not in h.driver.get_console_output(uuid).split("STATE-TICK")[-1]
    else:
        h.driver.resume(spec)
    assert h.driver.get_power_state(uuid) == PowerState.RUNNING


def test_rescue_sees_the_original_disk(h):
    spec = _spec(h)
    uuid = spec["uuid"]
    h.driver.spawn(spec)
    mark = None
    if h.real:
        log = h.wait_console(uuid, h.ready_line(spec), timeout=90)
        mark = re.search(r"STATE-MARKED (\S+)", log).group(1)
    h.driver.rescue(spec, dict(spec["image"]))
    assert h.driver.get_power_state(uuid) == PowerState.RUNNING
    if h.real:
        log = h.wait_console(uuid, h.ready_line(spec), count=2, timeout=90)
        rescued = log.split(h.ready_line(spec))[1]
        assert re.search(rf"STATE-SEEN vd[a-z] {mark}", rescued), rescued[-2000:]
    h.driver.unrescue(spec)
    assert h.driver.get_power_state(uuid) == PowerState.RUNNING
    if h.real:
        log = h.wait_console(uuid, h.ready_line(spec), count=3, timeout=90)
        assert "disk.rescue" not in " ".join(p.name for p in h.tmp.rglob("disk.rescue"))


def test_password_needs_a_guest_agent(h):
    spec = h.spec()
    h.driver.spawn(spec)
    with pytest.raises(GuestAgentError):
        h.driver.set_admin_password(spec["uuid"], "root", "s3cret")
    image = {**spec["image"], "properties": {"hw_qemu_guest_agent": "yes"}}
    with_agent = h.spec(image=image)
    h.driver.spawn(with_agent)  # a guest agent channel (qga.sock) for the image that asks
    if h.real:  # the guest image starts qemu-ga on the channel during its boot
        h.wait_console(with_agent["uuid"], "pocketstack guest: guest agent on /dev/vport")
        h.driver.set_admin_password(with_agent["uuid"], "root", "s3cret")
    else:
        h.driver.set_admin_password(with_agent["uuid"], "root", "s3cret")
        assert h.driver.password_of(with_agent["uuid"], "root") == "s3cret"
