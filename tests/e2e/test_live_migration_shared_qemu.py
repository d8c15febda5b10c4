"""Live migration of a real guest on shared instance storage (``pocketstack up --hosts 2
--shared-instance-storage``, issue 10): both hosts keep their guests in one directory, so
``openstack server migrate --live-migration --host host2`` moves the memory only (``auto``
resolves to no block migration; the pre-migration event says ``shared storage``): the
guest keeps running (its uptime keeps counting, its file is there), its QEMU now runs in
host2's namespace, the one directory it had is still there and is host2's.

No packet leaves the machine: the migration stream goes between the lab's namespaces.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pocketstack.lab import Lab, random_prefix
from tests.conftest import qemu_pids
from tests.e2e.test_live_migration_qemu import TICKER, _netns_of, _ticks
from tests.e2e.test_network_dataplane import _leftover_namespaces
from tests.helpers import wait_until

ADMIN = "pocketstack-admin"


def _pre_migration_details(cloud, server_id: str) -> str:
    admin = cloud.sdk(ADMIN)
    (action,) = [a for a in admin.compute.server_actions(server_id) if a.action == "live-migration"]
    resp = admin.compute.get(
        f"/servers/{server_id}/os-instance-actions/{action.request_id}",
        headers={"OpenStack-API-Version": "compute 2.84"},
    )
    events = resp.json()["instanceAction"]["events"]
    (pre,) = [e for e in events if e["event"] == "compute_pre_live_migration"]
    return pre["details"]


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_a_running_guest_moves_memory_only_on_shared_storage(cloud_launcher, tmp_path: Path):
    prefix = random_prefix()
    lab = Lab(prefix, hosts=2)
    state = tmp_path / "state"
    dataplane: list[str] = []
    flags = ["--hosts", "2", "--lab-prefix", prefix, "--shared-instance-storage"]
    script = tmp_path / "ticker.sh"
    script.write_text(TICKER)
    try:
        with cloud_launcher(state, driver="qemu", extra=flags) as cloud:
            cloud.openstack("network", "create", "lms-net", cloud=ADMIN)
            cloud.openstack(
                "subnet", "create", "--network", "lms-net", "--subnet-range", "10.46.0.0/24",
                "lms-subnet", cloud=ADMIN,
            )  # fmt: skip
            cloud.openstack(
                "server", "create", "--flavor", "m1.tiny", "--image", "cirros",
                "--network", "lms-net", "--availability-zone", "nova:host1",
                "--user-data", str(script), "vm-lms", cloud=ADMIN,
            )  # fmt: skip
            server = cloud.wait_for_server("vm-lms", "ACTIVE", timeout=300, cloud=ADMIN)
            dataplane = _leftover_namespaces(state)
            guest_dir = state / "shared-instances" / server["id"]
            assert (guest_dir / "disk").is_file() and (guest_dir / "host").read_text() == "host1"
            before = wait_until(lambda: _ticks(cloud, "vm-lms"), 300, "the guest's first ticks")
            uptime_before, mark = before[-1]

            cloud.openstack(
                "server", "migrate", "--live-migration", "--host", "host2", "vm-lms",
                cloud=ADMIN, json_output=False,
            )  # fmt: skip

            def moved():
                shown = cloud.openstack("server", "show", "vm-lms", cloud=ADMIN)
                return shown if shown["OS-EXT-STS:task_state"] is None else None

            shown = wait_until(moved, 600, "the live migration to end")
            assert shown["status"] == "ACTIVE", shown.get("fault")
            assert shown["OS-EXT-SRV-ATTR:host"] == "host2"
            assert _pre_migration_details(cloud, server["id"]).startswith("shared storage")

            after = wait_until(
                lambda: [t for t in _ticks(cloud, "vm-lms") if t[0] > uptime_before + 2],
                120,
                "ticks from host2",
            )
            assert all(m == mark for _up, m in after), after
            (pid,) = qemu_pids(state)
            assert _netns_of(pid) == lab.host("host2").netns
            assert (guest_dir / "disk").is_file() and (guest_dir / "host").read_text() == "host2"
            assert not (guest_dir / "incoming.d").exists()
            dataplane = _leftover_namespaces(state)
            cloud.openstack("server", "delete", "--wait", "vm-lms", cloud=ADMIN, json_output=False)
            assert not guest_dir.exists()
    finally:  # launch_cloud killed the guests
        lab.teardown(tuple(dataplane))
    assert not lab.exists()
