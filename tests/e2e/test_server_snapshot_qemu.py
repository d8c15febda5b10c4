"""A snapshot of a real guest boots as its clone (issue 10, "How it is shown"): ``pocketstack
up`` with the QEMU driver, the ``openstack`` CLI. The guest (the project's guest image, whose
``hw_qemu_guest_agent=yes`` gives it qemu-ga) writes a file on its root filesystem and syncs
it; ``openstack server image create --wait`` snapshots it while it runs (filesystems frozen by
the guest agent, QMP ``stop``, ``qemu-img convert -U``, ``cont``, thaw: the event says it was
quiesced); a server booted from the snapshot finds the file, and the source guest runs on."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningCloud, launch_cloud
from tests.helpers import wait_until

ADMIN = "pocketstack-admin"

#: user_data: print the mark when the root filesystem has it, else write and sync it
SCRIPT = r"""#!/bin/sh
mark=/root/snapshot-test-mark
if [ -f "$mark" ]; then
    echo "SNAPTEST-FOUND $(cat "$mark") on $(hostname)"
else
    echo "written-by-$(hostname)" >"$mark"
    sync
    echo "SNAPTEST-WROTE $(cat "$mark")"
fi
"""


@pytest.fixture
def cloud(tmp_path) -> Iterator[RunningCloud]:
    """A cloud with the qemu driver; ``launch_cloud`` kills its guests afterwards."""
    with launch_cloud(tmp_path / "state", driver="qemu") as running:
        yield running


def _wait_console(cloud: RunningCloud, server: str, pattern: str, timeout: float = 150) -> str:
    log = ""

    def shown() -> re.Match[str] | None:
        nonlocal log
        log = cloud.openstack("console", "log", "show", server, json_output=False)
        return re.search(pattern, log)

    match = wait_until(
        shown, timeout, f"{pattern!r} on {server}'s console", detail=lambda: log[-2000:]
    )
    return match.group(0)


@pytest.mark.slow
@pytest.mark.ci
@pytest.mark.timeout(600)
def test_a_snapshot_of_a_running_guest_boots_a_clone_with_its_file(cloud, tmp_path: Path):
    script = tmp_path / "snap.sh"
    script.write_text(SCRIPT)
    boot = ["--flavor", "m1.tiny", "--network", "private", "--user-data", str(script)]
    cloud.openstack("server", "create", "--image", "cirros", *boot, "snapsrc")
    cloud.wait_for_server("snapsrc", "ACTIVE", timeout=120)
    _wait_console(cloud, "snapsrc", r"SNAPTEST-WROTE written-by-snapsrc")

    image = cloud.openstack("server", "image", "create", "--wait", "--name", "snap1", "snapsrc")
    assert image["status"] == "active", image
    shown = cloud.openstack("image", "show", "snap1")
    assert shown["disk_format"] == "qcow2"
    assert shown["properties"]["image_type"] == "snapshot"
    src = cloud.wait_for_server("snapsrc", "ACTIVE")
    assert src["OS-EXT-STS:task_state"] is None

    admin = cloud.sdk(ADMIN)
    action = [a for a in admin.compute.server_actions(src["id"]) if a.action == "createImage"]
    resp = admin.compute.get(
        f"/servers/{src['id']}/os-instance-actions/{action[0].request_id}",
        headers={"OpenStack-API-Version": "compute 2.84"},
    )
    (event,) = resp.json()["instanceAction"]["events"]
    assert event["event"] == "compute_snapshot_instance" and event["result"] == "Success"
    assert "running guest, quiesced" in event["details"], event["details"]

    cloud.openstack("server", "create", "--image", "snap1", *boot, "snapclone")
    cloud.wait_for_server("snapclone", "ACTIVE", timeout=120)
    found = _wait_console(cloud, "snapclone", r"SNAPTEST-(FOUND|WROTE) \S+ ?\S*")
    assert found.startswith("SNAPTEST-FOUND written-by-snapsrc"), found
