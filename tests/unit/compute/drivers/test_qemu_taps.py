"""The qemu driver's bridge VIFs: the argv, and on the real kernel the tap in the lab host's
namespace, QEMU inside it, the tap deleted with the guest or when orphaned. No guest OS boots:
the image is a blank disk (SeaBIOS finds nothing to boot), which is enough for QEMU to open
its tap."""

from __future__ import annotations

import json
import subprocess
import uuid as uuidlib
from types import SimpleNamespace

import pytest

from pocketstack.compute.drivers import qemu_process as qp
from pocketstack.compute.drivers.qemu import QemuDriver
from pocketstack.lab import random_prefix

PORT = "0123456789abcdef"
TAP = "tap" + PORT[:11]


def _vif(vif_type: str = "bridge", mtu: int = 1450) -> dict:
    return {
        "port_id": PORT,
        "network_id": "n",
        "mac_address": "fa:16:3e:00:00:09",
        "mtu": mtu,
        "devname": TAP,
        "vif_type": vif_type,
        "fixed_ips": [],
    }


def test_a_bridge_vif_is_a_tap_nic_and_netns_wraps_qemu(tmp_path):
    paths = qp.InstancePaths(tmp_path / "u-1")
    spec = {"uuid": "u-1", "image": {"disk_format": "qcow2", "path": "/x"}}
    spec["network_info"] = [_vif()]
    cmd = qp.build_command(spec, paths, "tcg", netns="lab-host1")
    assert cmd[:4] == ["ip", "netns", "exec", "lab-host1"] and cmd[4] == qp.QEMU
    assert f"tap,id=net0,ifname={TAP},script=no,downscript=no" in cmd
    assert qp.build_command(spec, paths, "tcg")[0] == qp.QEMU
    assert qp.tap_devices(spec) == [(TAP, 1450)]
    assert qp.tap_devices({"network_info": [_vif("noop")]}) == []


def _link(netns: str, name: str) -> dict | None:
    out = subprocess.run(
        ["ip", "-n", netns, "-j", "-d", "link", "show", "dev", name], capture_output=True, text=True
    )
    return json.loads(out.stdout)[0] if out.returncode == 0 else None


@pytest.fixture
def netns():
    name = random_prefix() + "-host1"
    subprocess.run(["ip", "netns", "add", name], check=True)
    yield name
    for pid in subprocess.run(
        ["ip", "netns", "pids", name], capture_output=True, text=True
    ).stdout.split():
        subprocess.run(["kill", "-9", pid])
    subprocess.run(["ip", "netns", "del", name], check=True)


@pytest.mark.slow
@pytest.mark.ci
def test_spawn_makes_the_tap_in_the_namespace_and_destroy_deletes_it(tmp_path, netns):
    blank = tmp_path / "blank.raw"
    blank.write_bytes(b"\0" * 1024 * 1024)
    conf = SimpleNamespace(state_dir=str(tmp_path / "state"), accel="tcg", netns=netns)
    driver = QemuDriver(conf)
    driver.init_host("host1")
    uuid = str(uuidlib.uuid4())
    spec = {
        "uuid": uuid,
        "name": "vm",
        "hostname": "vm",
        "memory_mb": 64,
        "vcpus": 1,
        "root_gb": 0,
        "image": {"id": "i", "disk_format": "raw", "path": str(blank)},
        "network_info": [_vif()],
    }
    driver.spawn(spec)
    try:
        tap = _link(netns, TAP)
        assert tap is not None and tap["linkinfo"]["info_kind"] == "tun" and tap["mtu"] == 1450
        assert "LOWER_UP" in tap["flags"]  # QEMU, inside the namespace, holds it open
        pid = qp.find_pid(driver._paths(uuid), uuid)
        assert pid is not None
        pids = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True)
        assert str(pid) in pids.stdout.split()
        assert _link("1", TAP) is None  # nothing in the root namespace

        driver.power_off(uuid, timeout=0)
        assert _link(netns, TAP) is not None  # kept while the guest is stopped
        driver.power_on(spec)
        assert "LOWER_UP" in _link(netns, TAP)["flags"]
    finally:
        driver.destroy(uuid)
    assert _link(netns, TAP) is None
    assert qp.scan_processes(driver.instances_dir) == {}


def test_init_host_deletes_orphaned_taps_of_its_namespace_only(tmp_path, netns):
    for name in ("tapaaaaaaaaaaa", "tapbbbbbbbbbbb"):
        subprocess.run(["ip", "-n", netns, "tuntap", "add", "dev", name, "mode", "tap"], check=True)
    # a DHCP port's bridge side is a veth called tap<port> too
    veth = ["link", "add", "tapcccccccccc", "type", "veth", "peer", "name", "ns-cccccccccc"]
    subprocess.run(["ip", "-n", netns, *veth], check=True)
    state = tmp_path / "state"
    (state / "instances" / "u-1").mkdir(parents=True)
    (state / "instances" / "u-1" / "taps.json").write_text('["tapbbbbbbbbbbb"]')
    conf = SimpleNamespace(state_dir=str(state), accel="tcg", netns=netns)
    QemuDriver(conf).init_host("host1")
    assert _link(netns, "tapaaaaaaaaaaa") is None  # nobody's: deleted
    assert _link(netns, "tapbbbbbbbbbbb") is not None  # a guest of this driver recorded it
    assert _link(netns, "tapcccccccccc") is not None  # a veth, not a guest's tap
