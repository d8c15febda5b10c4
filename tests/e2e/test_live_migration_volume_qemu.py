"""Live migration of a real volume-backed guest between the two hosts of a lab
(``pocketstack up --hosts 2``, issue 10): a server booted from a volume on host1 (the
volume exported over iSCSI by host1's volume agent) writes a file on its root disk (the
volume) and prints its uptime and the file every second; ``openstack server migrate
--live-migration --host host2`` moves it while it runs, memory only (no local disk: the
volume is shared block storage), host2's QEMU opening the volume through its own
attachment: ``server show`` names host2, the uptime keeps counting, the file is there, the
volume's one attachment is host2's (``openstack volume show``), the QEMU process runs in
host2's namespace and none is left on host1. And a cold migration with its confirm: host2
boots the same volume (the guest's persistent boot counter goes on).

No packet leaves the machine: the migration stream and the iSCSI sessions go between the
lab's namespaces over their underlay addresses.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pocketstack.lab import Lab, random_prefix
from tests.conftest import qemu_pids
from tests.e2e.test_live_migration_qemu import TICKER, _netns_of, _ticks
from tests.e2e.test_network_dataplane import _leftover_namespaces
from tests.helpers import wait_until

ADMIN = "pocketstack-admin"


@pytest.mark.slow  # not ci: CI's time budget (the image-backed live migration is CI's)
@pytest.mark.timeout(1500)
def test_a_volume_backed_guest_live_migrates_with_its_file(cloud_launcher, tmp_path: Path):
    prefix = random_prefix()
    lab = Lab(prefix, hosts=2)
    state = tmp_path / "state"
    dataplane: list[str] = []
    flags = ["--hosts", "2", "--lab-prefix", prefix]
    script = tmp_path / "ticker.sh"
    script.write_text(TICKER)
    try:
        with cloud_launcher(state, driver="qemu", extra=flags) as cloud:
            cloud.openstack("network", "create", "lmv-net", cloud=ADMIN)
            cloud.openstack(
                "subnet", "create", "--network", "lmv-net", "--subnet-range", "10.45.0.0/24",
                "lmv-subnet", cloud=ADMIN,
            )  # fmt: skip
            cloud.openstack(
                "server", "create", "--flavor", "m1.tiny", "--image", "cirros",
                "--boot-from-volume", "1", "--network", "lmv-net",
                "--availability-zone", "nova:host1", "--user-data", str(script), "vm-lmv",
                cloud=ADMIN,
            )  # fmt: skip
            server = cloud.wait_for_server("vm-lmv", "ACTIVE", timeout=600, cloud=ADMIN)
            dataplane = _leftover_namespaces(state)
            assert server["OS-EXT-SRV-ATTR:host"] == "host1"
            volume = cloud.openstack("volume", "list", cloud=ADMIN)[0]["ID"]
            before = wait_until(lambda: _ticks(cloud, "vm-lmv"), 300, "the guest's first ticks")
            uptime_before, mark = before[-1]

            cloud.openstack(
                "server", "migrate", "--live-migration", "--host", "host2", "vm-lmv",
                cloud=ADMIN, json_output=False,
            )  # fmt: skip

            def moved():
                shown = cloud.openstack("server", "show", "vm-lmv", cloud=ADMIN)
                return shown if shown["OS-EXT-STS:task_state"] is None else None

            shown = wait_until(moved, 600, "the live migration to end")
            assert shown["status"] == "ACTIVE", shown.get("fault")
            assert shown["OS-EXT-SRV-ATTR:host"] == "host2"

            # host2's QEMU reads the file from the volume: later uptimes, the same file
            after = wait_until(
                lambda: [t for t in _ticks(cloud, "vm-lmv") if t[0] > uptime_before + 2],
                120,
                "ticks from host2",
            )
            assert all(m == mark for _up, m in after), after

            def attached_on_host2():
                shown = cloud.openstack("volume", "show", volume, cloud=ADMIN)
                hosts = [a["host_name"] for a in shown["attachments"]]
                return hosts if hosts == ["host2"] else None

            wait_until(attached_on_host2, 60, "the volume attached on host2 only")
            pids = qemu_pids(state)
            assert len(pids) == 1, pids
            assert _netns_of(pids[0]) == lab.host("host2").netns
            (mig,) = cloud.openstack(
                "server", "migration", "list", "--server", "vm-lmv", cloud=ADMIN
            )
            assert (mig["Status"], mig["Type"]) == ("completed", "live-migration")
            dataplane = _leftover_namespaces(state)
            cloud.openstack("server", "delete", "--wait", "vm-lmv", cloud=ADMIN, json_output=False)
    finally:  # launch_cloud killed the guests
        lab.teardown(tuple(dataplane))
    assert not lab.exists()


BOOT = re.compile(r"pocketstack guest: boot (\d+)")


@pytest.mark.slow  # not ci: CI's time budget
@pytest.mark.timeout(1500)
def test_a_volume_backed_guest_cold_migrates_and_boots_its_volume(cloud_launcher, tmp_path):
    """Cold migration and confirm of a volume-backed guest: on host2 it boots the same
    volume (its persistent boot counter says ``boot 2``), attached on host2 only."""
    prefix = random_prefix()
    lab = Lab(prefix, hosts=2)
    state = tmp_path / "state"
    dataplane: list[str] = []
    flags = ["--hosts", "2", "--lab-prefix", prefix]
    try:
        with cloud_launcher(state, driver="qemu", extra=flags) as cloud:
            cloud.openstack("network", "create", "cmv-net", cloud=ADMIN)
            cloud.openstack(
                "subnet", "create", "--network", "cmv-net", "--subnet-range", "10.46.0.0/24",
                "cmv-subnet", cloud=ADMIN,
            )  # fmt: skip
            cloud.openstack(
                "server", "create", "--flavor", "m1.tiny", "--image", "cirros",
                "--boot-from-volume", "1", "--network", "cmv-net",
                "--availability-zone", "nova:host1", "vm-cmv", cloud=ADMIN,
            )  # fmt: skip
            server = cloud.wait_for_server("vm-cmv", "ACTIVE", timeout=600, cloud=ADMIN)
            dataplane = _leftover_namespaces(state)
            assert server["OS-EXT-SRV-ATTR:host"] == "host1"
            volume = cloud.openstack("volume", "list", cloud=ADMIN)[0]["ID"]

            def console() -> str:
                return cloud.openstack(
                    "console", "log", "show", "vm-cmv", cloud=ADMIN, json_output=False
                )

            wait_until(lambda: BOOT.findall(console()) == ["1"], 300, "the first boot")
            cloud.openstack(
                "server", "migrate", "--host", "host2", "--wait", "vm-cmv",
                cloud=ADMIN, json_output=False,
            )  # fmt: skip
            shown = cloud.openstack("server", "show", "vm-cmv", cloud=ADMIN)
            assert shown["status"] == "VERIFY_RESIZE", shown.get("fault")
            assert shown["OS-EXT-SRV-ATTR:host"] == "host2"
            wait_until(lambda: "2" in BOOT.findall(console()), 300, "boot 2 on host2")
            cloud.openstack(
                "server", "migrate", "confirm", "vm-cmv", cloud=ADMIN, json_output=False
            )
            wait_until(
                lambda: (
                    cloud.openstack("server", "show", "vm-cmv", cloud=ADMIN)["status"] == "ACTIVE"
                ),
                120,
                "ACTIVE after the confirm",
            )
            shown = cloud.openstack("volume", "show", volume, cloud=ADMIN)
            assert [a["host_name"] for a in shown["attachments"]] == ["host2"]
            pids = qemu_pids(state)
            assert len(pids) == 1 and _netns_of(pids[0]) == lab.host("host2").netns, pids
            dataplane = _leftover_namespaces(state)
            cloud.openstack("server", "delete", "--wait", "vm-cmv", cloud=ADMIN, json_output=False)
    finally:  # launch_cloud killed the guests
        lab.teardown(tuple(dataplane))
    assert not lab.exists()
