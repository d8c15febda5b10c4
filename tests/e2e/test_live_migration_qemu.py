"""Live migration of a real guest between the two hosts of a lab (``pocketstack up --hosts
2``, issue 10 "How it is shown"): a guest on host1 writes a file and prints its uptime and
the file on the serial console every second (its user data); ``openstack server migrate
--live-migration --host host2 --wait`` (block migration: each lab host has its own
instance directory) moves it while it runs: ``server show`` names host2, the guest's uptime
keeps counting (no reboot: the console of host2's QEMU goes on from where host1's was), the
file is there, the QEMU process runs in host2's network namespace and none is left on
host1; the Migration is ``completed`` with its memory and disk figures.

No packet leaves the machine: the migration stream goes between the lab's namespaces over
their underlay addresses.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from pocketstack.lab import Lab, random_prefix
from tests.conftest import qemu_pids
from tests.e2e.test_network_dataplane import _leftover_namespaces
from tests.helpers import wait_until

ADMIN = "pocketstack-admin"

#: the guest's user data: a file written once, then uptime and file every second
TICKER = r"""#!/bin/sh
(
echo "mark-$(cat /proc/sys/kernel/random/uuid)" > /root/lm-file
sync
while true; do
    echo "LMTICK $(cut -d' ' -f1 /proc/uptime) $(cat /root/lm-file)"
    sleep 1
done
) &
"""

TICK = re.compile(r"LMTICK (\d+\.\d+) (mark-[0-9a-f-]+)")


def _ticks(cloud, server: str) -> list[tuple[float, str]]:
    log = cloud.openstack("console", "log", "show", server, cloud=ADMIN, json_output=False)
    return [(float(up), mark) for up, mark in TICK.findall(log)]


def _netns_of(pid: int) -> str:
    out = subprocess.run(
        ["ip", "netns", "identify", str(pid)], capture_output=True, text=True, check=False
    )
    return out.stdout.strip()


@pytest.mark.slow
@pytest.mark.ci
@pytest.mark.timeout(1500)
def test_a_running_guest_moves_to_host2_without_a_reboot(cloud_launcher, tmp_path: Path):
    prefix = random_prefix()
    lab = Lab(prefix, hosts=2)
    state = tmp_path / "state"
    dataplane: list[str] = []
    flags = ["--hosts", "2", "--lab-prefix", prefix]
    script = tmp_path / "ticker.sh"
    script.write_text(TICKER)
    try:
        with cloud_launcher(state, driver="qemu", extra=flags) as cloud:
            cloud.openstack("network", "create", "lm-net", cloud=ADMIN)
            cloud.openstack(
                "subnet", "create", "--network", "lm-net", "--subnet-range", "10.44.0.0/24",
                "lm-subnet", cloud=ADMIN,
            )  # fmt: skip
            cloud.openstack(
                "server", "create", "--flavor", "m1.tiny", "--image", "cirros",
                "--network", "lm-net", "--availability-zone", "nova:host1",
                "--user-data", str(script), "vm-lm", cloud=ADMIN,
            )  # fmt: skip
            server = cloud.wait_for_server("vm-lm", "ACTIVE", timeout=300, cloud=ADMIN)
            dataplane = _leftover_namespaces(state)
            assert server["OS-EXT-SRV-ATTR:host"] == "host1"
            before = wait_until(lambda: _ticks(cloud, "vm-lm"), 300, "the guest's first ticks")
            uptime_before, mark = before[-1]

            cloud.openstack(
                "server", "migrate", "--live-migration", "--host", "host2", "vm-lm",
                cloud=ADMIN, json_output=False,
            )  # fmt: skip

            def moved():
                shown = cloud.openstack("server", "show", "vm-lm", cloud=ADMIN)
                return shown if shown["OS-EXT-STS:task_state"] is None else None

            shown = wait_until(moved, 600, "the live migration to end")
            assert shown["status"] == "ACTIVE", shown.get("fault")
            assert shown["OS-EXT-SRV-ATTR:host"] == "host2"

            # host2's console log begins where the guest was: later uptimes, the same file
            after = wait_until(
                lambda: [t for t in _ticks(cloud, "vm-lm") if t[0] > uptime_before + 2],
                120,
                "ticks from host2",
            )
            assert all(m == mark for _up, m in after), after
            assert all(up > uptime_before for up, _m in _ticks(cloud, "vm-lm"))

            pids = qemu_pids(state)
            assert len(pids) == 1, pids
            assert _netns_of(pids[0]) == lab.host("host2").netns
            assert not list((state / "hosts" / "host1").rglob(f"instances/{server['id']}"))

            migrations = cloud.openstack(
                "server", "migration", "list", "--server", "vm-lm", cloud=ADMIN
            )
            assert [m["Status"] for m in migrations] == ["completed"]
            assert migrations[0]["Type"] == "live-migration"
            dataplane = _leftover_namespaces(state)
            cloud.openstack("server", "delete", "--wait", "vm-lm", cloud=ADMIN, json_output=False)
    finally:  # launch_cloud killed the guests
        lab.teardown(tuple(dataplane))
    assert not lab.exists()
