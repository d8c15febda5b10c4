"""Cold migration of a real guest between the two hosts of a lab (``pocketstack up --hosts
2``, issue 10): a guest on host1 writes a file once (its user data) and prints it at every
boot; ``openstack server migrate --host host2`` (2.56) shuts it down, copies its disk to
host2's instance directory (through the hosts' agents) and boots it there: VERIFY_RESIZE on
host2, the file is there, the fixed IP kept; ``openstack server migration confirm`` leaves
it ACTIVE, QEMU running in host2's namespace only, host1's parked copy gone.

No packet leaves the machine."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from pocketstack.lab import Lab, random_prefix
from tests.conftest import qemu_pids
from tests.e2e.test_network_dataplane import _leftover_namespaces
from tests.helpers import wait_until

ADMIN = "pocketstack-admin"

#: user data (once per instance): a mark file, and a line in rcS printing it at every boot
SCRIPT = r"""#!/bin/sh
echo "mark-$(cat /proc/sys/kernel/random/uuid)" > /root/cm-file
echo 'echo "CMBOOT $(hostname) $(cat /root/cm-file)"' >>/etc/init.d/rcS
sync
echo "CMBOOT $(hostname) $(cat /root/cm-file)"
"""
BOOT = re.compile(r"CMBOOT \S+ (mark-[0-9a-f-]+)")


def _marks(cloud, server: str) -> list[str]:
    log = cloud.openstack("console", "log", "show", server, cloud=ADMIN, json_output=False)
    return BOOT.findall(log)


def _netns_of(pid: int) -> str:
    out = subprocess.run(
        ["ip", "netns", "identify", str(pid)], capture_output=True, text=True, check=False
    )
    return out.stdout.strip()


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_a_guest_migrates_cold_to_host2_with_its_disk(cloud_launcher, tmp_path: Path):
    prefix = random_prefix()
    lab = Lab(prefix, hosts=2)
    state = tmp_path / "state"
    dataplane: list[str] = []
    flags = ["--hosts", "2", "--lab-prefix", prefix]
    script = tmp_path / "cm.sh"
    script.write_text(SCRIPT)
    try:
        with cloud_launcher(state, driver="qemu", extra=flags) as cloud:
            cloud.openstack("network", "create", "cm-net", cloud=ADMIN)
            cloud.openstack(
                "subnet", "create", "--network", "cm-net", "--subnet-range", "10.45.0.0/24",
                "cm-subnet", cloud=ADMIN,
            )  # fmt: skip
            cloud.openstack(
                "server", "create", "--flavor", "m1.tiny", "--image", "cirros",
                "--network", "cm-net", "--availability-zone", "nova:host1",
                "--user-data", str(script), "vm-cm", cloud=ADMIN,
            )  # fmt: skip
            server = cloud.wait_for_server("vm-cm", "ACTIVE", timeout=300, cloud=ADMIN)
            dataplane = _leftover_namespaces(state)
            assert server["OS-EXT-SRV-ATTR:host"] == "host1"
            first = wait_until(lambda: _marks(cloud, "vm-cm"), 300, "the guest's mark")
            mark = first[0]  # (the line rcS got may already print it in this boot too)
            time.sleep(2)
            seen = len(_marks(cloud, "vm-cm"))

            cloud.openstack(
                "--os-compute-api-version", "2.56", "server", "migrate", "--host", "host2",
                "vm-cm", cloud=ADMIN, json_output=False,
            )  # fmt: skip
            moved = cloud.wait_for_server("vm-cm", "VERIFY_RESIZE", timeout=600, cloud=ADMIN)
            assert moved["OS-EXT-SRV-ATTR:host"] == "host2"
            assert moved["addresses"] == server["addresses"]
            # host2 booted the copied disk: the file written on host1 is there
            marks = wait_until(
                lambda: (m := _marks(cloud, "vm-cm")) and len(m) > seen and m,
                300,
                "a boot on host2",
            )
            assert set(marks) == {mark}

            cloud.openstack(
                "server", "migration", "confirm", "vm-cm", cloud=ADMIN, json_output=False
            )
            shown = cloud.wait_for_server("vm-cm", "ACTIVE", timeout=120, cloud=ADMIN)
            assert shown["OS-EXT-SRV-ATTR:host"] == "host2"
            pids = qemu_pids(state)
            assert len(pids) == 1, pids
            assert _netns_of(pids[0]) == lab.host("host2").netns
            assert not list((state / "hosts" / "host1").rglob(f"*/{server['id']}"))
            migrations = cloud.openstack(
                "server", "migration", "list", "--server", server["id"], cloud=ADMIN
            )
            assert [m["Status"] for m in migrations] == ["confirmed"]
            assert migrations[0]["Type"] == "migration"
            dataplane = _leftover_namespaces(state)
            cloud.openstack("server", "delete", "--wait", "vm-cm", cloud=ADMIN, json_output=False)
    finally:  # launch_cloud killed the guests
        lab.teardown(tuple(dataplane))
