"""A real guest finds its NIC's device tag in the config drive (issue 11; Nova's device role
tagging, 2.42): ``pocketstack up`` with the QEMU driver, ``openstack --os-compute-api-version
2.latest server create --nic net-id=...,tag=frontend``; the guest's user_data prints the
``devices`` entries of ``openstack/latest/meta_data.json`` (flattened by the guest image's
``jsonflat.awk``) on its serial console: a ``nic`` with the port's MAC and the tag."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.conftest import RunningCloud, launch_cloud
from tests.helpers import wait_until

LATEST = ("--os-compute-api-version", "2.latest")

#: user_data: every devices/... entry of the drive's meta_data.json, then a done mark
SCRIPT = r"""#!/bin/sh
awk -F'\t' '$1 ~ /^devices\// { print "DEVTAG " $1 " " $2 }' /run/config-drive/meta_data.flat
echo "DEVTAG-DONE"
"""


@pytest.fixture
def cloud(tmp_path) -> Iterator[RunningCloud]:
    """A cloud with the qemu driver; ``launch_cloud`` kills its guests afterwards."""
    with launch_cloud(tmp_path / "state", driver="qemu") as running:
        yield running


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_guest_reads_its_nic_tag_from_the_config_drive(cloud, tmp_path):
    script = tmp_path / "tags.sh"
    script.write_text(SCRIPT)
    net = cloud.openstack("network", "show", "private")["id"]
    nic = f"net-id={net},tag=frontend"
    boot = ["--flavor", "m1.tiny", "--image", "cirros", "--user-data", str(script)]
    cloud.openstack(*LATEST, "server", "create", *boot, "--nic", nic, "tagvm")
    server = cloud.wait_for_server("tagvm", "ACTIVE", timeout=120)
    log = ""

    def done() -> bool:
        nonlocal log
        log = cloud.openstack("console", "log", "show", "tagvm", json_output=False)
        return "DEVTAG-DONE" in log

    wait_until(done, 150, "the DEVTAG lines on tagvm's console", detail=lambda: log[-2000:])
    entries = dict(re.findall(r"DEVTAG (devices/\S+) (\S+)", log))
    [port] = cloud.sdk().network.ports(device_id=server["id"])
    assert entries == {
        "devices/0/type": "nic",
        "devices/0/bus": "pci",
        "devices/0/mac": port.mac_address,
        "devices/0/tags/0": "frontend",
    }, log[-2000:]
