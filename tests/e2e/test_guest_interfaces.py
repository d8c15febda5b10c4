"""An interface hot-plugged into a real guest (issue 11 item 3, "How it is shown": the guest
sees a new NIC with the port's MAC): ``pocketstack up`` with the QEMU driver, a guest that
prints its NICs on the serial console as they come and go, ``openstack server add port``
(QMP ``netdev_add`` + ``device_add`` virtio-net-pci on a free pcie-root-port) and
``server remove port`` (``device_del``), read through ``openstack console log show``.
No packet leaves the machine (the noop network: each NIC on a QEMU hub of its own)."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import RunningCloud, launch_cloud
from tests.helpers import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs QEMU"),
]

#: user_data: prints ``NICTEST <ifname> <mac>`` for every NIC that appears and
#: ``NICTEST-GONE <ifname> <mac>`` for every one that goes, checking each second
WATCHER = r"""#!/bin/sh
(
st=/run/nictest
mkdir -p "$st"
while true; do
    for d in /sys/class/net/*; do
        n=${d##*/}
        [ "$n" = lo ] && continue
        if [ ! -f "$st/$n" ] && [ -e "$d/address" ]; then
            cat "$d/address" >"$st/$n"
            echo "NICTEST $n $(cat "$st/$n")"
        fi
    done
    for f in "$st"/*; do
        [ -f "$f" ] || continue
        n=${f##*/}
        if [ ! -e "/sys/class/net/$n" ]; then
            echo "NICTEST-GONE $n $(cat "$f")"
            rm -f "$f"
        fi
    done
    sleep 1
done
) &
"""


@pytest.fixture(scope="module")
def cloud(tmp_path_factory) -> Iterator[RunningCloud]:
    """A cloud with the qemu driver; ``launch_cloud`` kills its guests after."""
    with launch_cloud(tmp_path_factory.mktemp("ifaces") / "state", driver="qemu") as running:
        yield running


def _macs(cloud: RunningCloud, server: str, tag: str) -> list[str]:
    log = cloud.openstack("console", "log", "show", server, json_output=False)
    return [m.lower() for m in re.findall(rf"^{tag} \S+ ([0-9a-fA-F:]{{17}})\s*$", log, re.M)]


def _await_mac(cloud: RunningCloud, server: str, tag: str, mac: str) -> None:
    wait_until(
        lambda: mac.lower() in _macs(cloud, server, tag),
        240,
        f"'{tag} ... {mac}' on {server}'s console",
        interval=2,
        detail=lambda: cloud.openstack("console", "log", "show", server, json_output=False)[-3000:],
    )


def test_guest_sees_a_hot_plugged_port_come_and_go(cloud, tmp_path):
    name = f"nicvm-{uuid.uuid4().hex[:6]}"
    script = tmp_path / "watch.sh"
    script.write_text(WATCHER)
    cloud.openstack(
        "server",
        "create",
        "--flavor",
        "m1.tiny",
        "--image",
        "cirros",
        "--network",
        "private",
        "--user-data",
        str(script),
        name,
    )
    server = cloud.wait_for_server(name, "ACTIVE", timeout=300)
    [booted] = cloud.sdk().network.ports(device_id=server["id"])
    _await_mac(cloud, name, "NICTEST", booted.mac_address)

    port = cloud.openstack("port", "create", "--network", "private", f"{name}-p")
    try:
        cloud.openstack("server", "add", "port", name, port["id"], json_output=False)
        _await_mac(cloud, name, "NICTEST", port["mac_address"])
        cloud.openstack("server", "remove", "port", name, port["id"], json_output=False)
        _await_mac(cloud, name, "NICTEST-GONE", port["mac_address"])
        assert booted.mac_address.lower() not in _macs(cloud, name, "NICTEST-GONE")
    finally:
        cloud.openstack("server", "delete", "--wait", name, json_output=False)
        cloud.openstack("port", "delete", port["id"], check=False, json_output=False)


def test_the_boot_nic_of_a_running_guest_is_detached(cloud, tmp_path):
    # the NIC the guest booted with sits on a PCIe root port of its own (as libvirt places
    # it), so 'server remove port' on the first port unplugs it live, as Nova does
    name = f"bootnic-{uuid.uuid4().hex[:6]}"
    script = tmp_path / "watch.sh"
    script.write_text(WATCHER)
    boot = ["--flavor", "m1.tiny", "--image", "cirros", "--network", "private"]
    cloud.openstack("server", "create", *boot, "--user-data", str(script), name)
    server = cloud.wait_for_server(name, "ACTIVE", timeout=300)
    try:
        [booted] = cloud.sdk().network.ports(device_id=server["id"])
        _await_mac(cloud, name, "NICTEST", booted.mac_address)
        cloud.openstack("server", "remove", "port", name, booted.id, json_output=False)
        # the login prompt may come first on the console line: no anchor at its start
        gone = f"NICTEST-GONE eth0 {booted.mac_address.lower()}"
        wait_until(
            lambda: gone in cloud.openstack("console", "log", "show", name, json_output=False),
            240,
            f"{gone!r} on {name}'s console",
            interval=2,
        )
        assert cloud.openstack("server", "show", name)["addresses"] == {}
        assert not list(cloud.sdk().network.ports(device_id=server["id"]))
        assert cloud.openstack("server", "show", name)["status"] == "ACTIVE"
    finally:
        cloud.openstack("server", "delete", "--wait", name, json_output=False)
