"""Shelve, offload and unshelve of a real guest onto the other host of a lab (``pocketstack
up --hosts 2``, issue 10): a guest on host1 writes and syncs a file from its user_data (which
runs once per instance: the guest keeps its "done" marker on its root filesystem);
``openstack server shelve --wait`` uploads its disk and, ``shelved_offload_time`` being 0
(the default), offloads it at once: no QEMU left, host cleared. ``openstack
--os-compute-api-version 2.91 server unshelve --host host2 --wait`` spawns it on host2 from
the shelve image: ``server show`` names host2, QEMU runs in host2's namespace only, the
guest says its user_data already ran and the file is there (the disk is the shelved one),
and its fixed IP is kept.

No packet leaves the machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from pocketstack.lab import Lab, random_prefix
from tests.conftest import qemu_pids
from tests.e2e.test_network_dataplane import _leftover_namespaces
from tests.helpers import SHELVE_SCRIPT, netns_of, wait_console, wait_until

ADMIN = "pocketstack-admin"


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_a_shelved_guest_unshelves_onto_host2_with_its_disk(cloud_launcher, tmp_path: Path):
    prefix = random_prefix()
    lab = Lab(prefix, hosts=2)
    state = tmp_path / "state"
    dataplane: list[str] = []
    flags = ["--hosts", "2", "--lab-prefix", prefix]
    script = tmp_path / "shelve.sh"
    script.write_text(SHELVE_SCRIPT)
    try:
        with cloud_launcher(state, driver="qemu", extra=flags) as cloud:
            cloud.openstack("network", "create", "us-net", cloud=ADMIN)
            cloud.openstack(
                "subnet", "create", "--network", "us-net", "--subnet-range", "10.46.0.0/24",
                "us-subnet", cloud=ADMIN,
            )  # fmt: skip
            cloud.openstack(
                "server", "create", "--flavor", "m1.tiny", "--image", "cirros",
                "--network", "us-net", "--availability-zone", "nova:host1",
                "--user-data", str(script), "vm-us", cloud=ADMIN,
            )  # fmt: skip
            server = cloud.wait_for_server("vm-us", "ACTIVE", timeout=300, cloud=ADMIN)
            dataplane = _leftover_namespaces(state)
            assert server["OS-EXT-SRV-ATTR:host"] == "host1"
            wait_console(cloud, "vm-us", r"SHELVETEST-WROTE written-by-vm-us", 300, as_cloud=ADMIN)
            pids = qemu_pids(state)
            assert len(pids) == 1 and netns_of(pids[0]) == lab.host("host1").netns, pids

            cloud.openstack("server", "shelve", "--wait", "vm-us", cloud=ADMIN, json_output=False)
            shelved = wait_until(
                lambda: (
                    (s := cloud.openstack("server", "show", "vm-us", cloud=ADMIN))["status"]
                    == "SHELVED_OFFLOADED"
                    and s
                ),
                180,
                "the offload",
            )
            assert not shelved["OS-EXT-SRV-ATTR:host"]
            assert not qemu_pids(state)
            assert not list((state / "hosts" / "host1").rglob(f"*/{server['id']}"))

            cloud.openstack(
                "--os-compute-api-version", "2.91", "server", "unshelve", "--host", "host2",
                "--wait", "vm-us", cloud=ADMIN, json_output=False,
            )  # fmt: skip
            back = cloud.wait_for_server("vm-us", "ACTIVE", timeout=300, cloud=ADMIN)
            assert back["id"] == server["id"]
            assert back["OS-EXT-SRV-ATTR:host"] == "host2"
            assert back["addresses"] == server["addresses"]
            pids = qemu_pids(state)
            assert len(pids) == 1, pids
            assert netns_of(pids[0]) == lab.host("host2").netns
            # the disk is the shelved one: the user_data does not run again, the file is there
            wait_console(
                cloud, "vm-us", rf"user_data already ran for instance {server['id']}", 300,
                as_cloud=ADMIN,
            )  # fmt: skip
            wait_console(cloud, "vm-us", r"SHELVETEST-FILE written-by-vm-us", 300, as_cloud=ADMIN)
            log = cloud.openstack("console", "log", "show", "vm-us", cloud=ADMIN, json_output=False)
            assert "SHELVETEST-WROTE" not in log
            dataplane = _leftover_namespaces(state)
            cloud.openstack("server", "delete", "--wait", "vm-us", cloud=ADMIN, json_output=False)
    finally:  # launch_cloud killed the guests
        lab.teardown(tuple(dataplane))
