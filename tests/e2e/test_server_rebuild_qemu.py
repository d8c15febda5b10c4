"""A real guest rebuilt (issue 10): ``pocketstack up`` with the QEMU driver, the
``openstack`` CLI. The guest writes and syncs a file on its root filesystem from its
user_data; ``openstack server rebuild --image <another image> --user-data <check> --wait``
destroys the guest and its disk and spawns it again from the other image on the same host:
the id and the fixed IPs are the same, ``server show`` names the new image, and the check
script (user_data runs once per instance: on a new root disk it runs again) says the file
is gone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningCloud, launch_cloud
from tests.helpers import wait_until

ADMIN = "pocketstack-admin"

WRITE = r"""#!/bin/sh
echo "written-by-$(hostname)" >/root/rebuild-test-mark
sync
echo "REBUILDTEST-WROTE $(cat /root/rebuild-test-mark)"
"""
CHECK = r"""#!/bin/sh
if [ -e /root/rebuild-test-mark ]; then echo "REBUILDTEST-FILE present"
else echo "REBUILDTEST-FILE absent"; fi
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
@pytest.mark.timeout(600)
def test_a_rebuilt_guest_has_a_new_disk_and_keeps_its_id_and_ips(cloud, tmp_path: Path):
    write, check = tmp_path / "write.sh", tmp_path / "check.sh"
    write.write_text(WRITE)
    check.write_text(CHECK)
    cirros = tmp_path / "cirros.img"
    cloud.openstack("image", "save", "--file", str(cirros), "cirros", json_output=False)
    other = cloud.openstack(
        "image",
        "create",
        "--file",
        str(cirros),
        "--disk-format",
        "qcow2",
        "--public",
        "rebuilt-os",
        cloud=ADMIN,
    )
    boot = ["--flavor", "m1.tiny", "--network", "private", "--user-data", str(write)]
    made = cloud.openstack("server", "create", "--image", "cirros", *boot, "rbsrc")
    before = cloud.wait_for_server("rbsrc", "ACTIVE", timeout=120)
    _wait_console(cloud, "rbsrc", r"REBUILDTEST-WROTE written-by-rbsrc")

    cloud.openstack(
        "--os-compute-api-version",
        "2.57",
        "server",
        "rebuild",
        "--image",
        "rebuilt-os",
        "--user-data",
        str(check),
        "--wait",
        "rbsrc",
        json_output=False,
    )
    after = cloud.wait_for_server("rbsrc", "ACTIVE", timeout=120)
    assert after["id"] == made["id"]
    assert after["addresses"] == before["addresses"]
    assert "rebuilt-os" in after["image"] and other["id"] in after["image"]
    admin = cloud.sdk(ADMIN).compute.get_server(made["id"])
    assert admin.compute_host == cloud.sdk(ADMIN).compute.get_server(made["id"]).compute_host
    _wait_console(cloud, "rbsrc", r"REBUILDTEST-FILE absent")
    events = cloud.openstack("server", "event", "list", "rbsrc")
    assert "rebuild" in {e["Action"] for e in events}
