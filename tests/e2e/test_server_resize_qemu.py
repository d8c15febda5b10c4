"""Resize of a real guest (issue 10): ``pocketstack up`` with the QEMU driver and
``allow_resize_to_same_host`` (one host), the ``openstack`` CLI. A server of m1.tiny (1
vCPU, 256 MiB) is resized to a flavor of 2 vCPUs, 384 MiB and a 2 GiB root disk: the guest
is shut down, its disk copied and grown, and it boots again with the new flavor, which its
kernel reports (a user_data script adds a line to the guest's rcS that prints the CPUs and
MemTotal on the console at every boot); id and fixed IPs are kept; the
confirm leaves it ACTIVE and the parked copy is gone. Then a revert of a second resize
brings the old flavor back (1 CPU again)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.conftest import RunningCloud, launch_cloud
from tests.helpers import wait_until

ADMIN = "pocketstack-admin"
#: user_data (run once per instance): print the guest's CPUs and RAM now and at every boot
SCRIPT = r"""#!/bin/sh
cat >/root/rzboot.sh <<'EOS'
c=$(grep -c ^processor /proc/cpuinfo)
m=$(awk '/MemTotal/ {print $2}' /proc/meminfo)
echo "RZBOOT cpus=$c memkb=$m"
EOS
echo "sh /root/rzboot.sh" >>/etc/init.d/rcS
sync
sh /root/rzboot.sh
"""
BOOT = re.compile(r"RZBOOT cpus=(\d+) memkb=(\d+)")


@pytest.fixture
def cloud(tmp_path) -> Iterator[RunningCloud]:
    """A qemu cloud whose resizes may stay on its one host."""
    extra = ["--allow-resize-to-same-host"]
    with launch_cloud(tmp_path / "state", driver="qemu", extra=extra) as running:
        yield running


def _lines(cloud: RunningCloud, server: str, more_than: int, cpus: int) -> list[tuple[int, int]]:
    """The guest's ``RZBOOT`` figures ``(CPUs, MiB of MemTotal)``, once there are more than
    ``more_than`` of them and the last shows ``cpus``."""
    found: list[tuple[int, int]] = []

    def booted() -> bool:
        nonlocal found
        log = cloud.openstack("console", "log", "show", server, json_output=False)
        found = [(int(m.group(1)), int(m.group(2)) // 1024) for m in BOOT.finditer(log)]
        return len(found) > more_than and found[-1][0] == cpus

    wait_until(booted, 240, f"{server} to boot with {cpus} CPUs", detail=lambda: str(found))
    return found


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_resized_guest_boots_with_the_new_flavor(cloud, tmp_path):
    cloud.openstack(
        "flavor",
        "create",
        "--vcpus",
        "2",
        "--ram",
        "384",
        "--disk",
        "2",
        "m1.resized",
        cloud=ADMIN,
    )
    script = tmp_path / "rz.sh"
    script.write_text(SCRIPT)
    cloud.create_server("rz", "--user-data", str(script))
    cloud.wait_for_server("rz", "ACTIVE", timeout=180)
    before = cloud.openstack("server", "show", "rz")
    seen = _lines(cloud, "rz", 0, 1)
    assert 128 < seen[-1][1] <= 256

    cloud.openstack("server", "resize", "--flavor", "m1.resized", "--wait", "rz", json_output=False)
    shown = cloud.wait_for_server("rz", "VERIFY_RESIZE", timeout=180)
    assert "m1.resized" in str(shown["flavor"])
    seen = _lines(cloud, "rz", len(seen), 2)
    assert 256 < seen[-1][1] <= 384, seen
    cloud.openstack("server", "resize", "confirm", "rz", json_output=False)
    after = cloud.wait_for_server("rz", "ACTIVE")
    assert after["id"] == before["id"] and after["addresses"] == before["addresses"]
    parked = cloud.state_dir / "instances_resize"
    assert not parked.exists() or not any(parked.iterdir())

    confirmed = len(seen)
    cloud.openstack("server", "resize", "--flavor", "m1.small", "--wait", "rz", json_output=False)
    cloud.wait_for_server("rz", "VERIFY_RESIZE", timeout=180)
    _lines(cloud, "rz", confirmed, 1)  # m1.small: 1 vCPU
    cloud.openstack("server", "resize", "revert", "rz", json_output=False)
    reverted = cloud.wait_for_server("rz", "ACTIVE", timeout=180)
    assert "m1.resized" in str(reverted["flavor"])
    # the source's parked copy had ``confirmed`` lines: it boots again with 2 vCPUs
    _lines(cloud, "rz", confirmed, 2)
    migrations = cloud.openstack(
        "server", "migration", "list", "--server", before["id"], cloud=ADMIN
    )
    assert sorted(m["Status"] for m in migrations) == ["confirmed", "reverted"]
