"""Build the guest image and boot it under QEMU (TCG) with an OpenStack config drive.

Real image, real QEMU, real SSH login; the assertions read the serial console log.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pycdlib
import pytest

from pocketstack.bootstrap import guest_cache_dir
from pocketstack.guest.build import ensure_image
from tests.helpers import free_port, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(120),
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs QEMU"),
]

MAC = "fa:16:3e:12:34:56"
KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA a@test"


def make_config_drive(path: Path, meta: dict, network: dict, user_data: str) -> Path:
    """An ISO9660 config drive (label config-2, Rock Ridge + Joliet) like Nova writes.

    meta_data.json is pretty-printed and network_data.json compact, to cover both shapes.
    """
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident="config-2")
    iso.add_directory("/OPENSTACK", rr_name="openstack", joliet_path="/openstack")
    iso.add_directory("/OPENSTACK/LATEST", rr_name="latest", joliet_path="/openstack/latest")
    files = {
        "meta_data.json": json.dumps(meta, indent=2).encode(),
        "network_data.json": json.dumps(network, separators=(",", ":")).encode(),
        "user_data": user_data.encode(),
    }
    for name, data in files.items():
        iso_name = name.upper().replace(".JSON", ".JSO").replace("_", "") + ";1"
        iso.add_fp(
            io.BytesIO(data),
            len(data),
            f"/OPENSTACK/LATEST/{iso_name}",
            rr_name=name,
            joliet_path=f"/openstack/latest/{name}",
        )
    iso.write(str(path))
    iso.close()
    return path


def network_data(ip: str = "10.0.0.5") -> dict:
    """A static IPv4 port on the link with :data:`MAC`, default route via 10.0.0.1."""
    return {
        "links": [{"id": "tap0", "type": "ovs", "ethernet_mac_address": MAC, "mtu": 1450}],
        "networks": [
            {
                "id": "network0",
                "type": "ipv4",
                "link": "tap0",
                "ip_address": ip,
                "netmask": "255.255.255.0",
                "network_id": "n-1",
                "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.0.1"}],
            }
        ],
        "services": [{"type": "dns", "address": "10.0.0.3"}],
    }


class Guest:
    """One QEMU process: q35, TCG, 256 MB, virtio disk(s) and NIC, serial to a file, QMP."""

    def __init__(
        self,
        workdir: Path,
        disk: Path,
        config_drive: Path | None,
        ssh_port: int | None = None,
        dhcp_server: bool = True,
    ):
        self.log = workdir / f"console-{time.monotonic_ns()}.log"
        self.qmp_path = workdir / f"qmp-{time.monotonic_ns()}.sock"
        fwd = f",hostfwd=tcp:127.0.0.1:{ssh_port}-10.0.0.5:22" if ssh_port else ""
        cmd = [
            "qemu-system-x86_64",
            "-M",
            "q35",
            "-accel",
            "tcg",
            "-m",
            "256",
            "-nodefaults",
            "-display",
            "none",
            "-serial",
            f"file:{self.log}",
            "-qmp",
            f"unix:{self.qmp_path},server=on,wait=off",
            "-drive",
            f"file={disk},if=virtio,format=qcow2",
            "-netdev",
            f"user,id=n0,net=10.0.0.0/24,host=10.0.0.1{fwd}"
            if dhcp_server
            else "hubport,id=n0,hubid=0",
            "-device",
            f"virtio-net-pci,netdev=n0,mac={MAC}",
        ]
        if config_drive:
            cmd += ["-drive", f"file={config_drive},if=virtio,format=raw,readonly=on"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(self, needle: str, count: int = 1, timeout: float = 30) -> None:
        """Wait until ``needle`` appears ``count`` times in the console (fails at once if
        QEMU exits first)."""

        def seen() -> bool:
            if self.text().count(needle) >= count:
                return True
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"QEMU exited {self.proc.returncode} before {needle!r} x{count}; "
                    f"console:\n{self.text()}"
                )
            return False

        wait_until(
            seen,
            timeout,
            f"{needle!r} x{count} on the console",
            interval=0.1,
            detail=lambda: f"console:\n{self.text()}",
        )

    def qmp(self, command: str) -> dict:
        """Run one QMP command and return its reply."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(str(self.qmp_path))
            f = s.makefile("rw")
            f.readline()
            for cmd in ("qmp_capabilities", command):
                f.write(json.dumps({"execute": cmd}) + "\n")
                f.flush()
                while "event" in (reply := json.loads(f.readline())):
                    pass
            return reply

    def wait_exit(self, timeout: float = 30) -> int:
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def image():
    """The guest image as ``pocketstack up`` and the other QEMU tests get it: built through
    ``ensure_image`` into the shared cache (``guest_cache_dir()``) when its recipe changed,
    else the cached one. The tests boot overlays of it; the build itself is exercised by
    ``test_ensure_image_builds_once_per_recipe`` in a directory of its own."""
    return ensure_image(guest_cache_dir())


@pytest.fixture
def workdir(tmp_path):
    guests: list[Guest] = []
    yield tmp_path, guests
    for guest in guests:
        guest.kill()
    shutil.rmtree(tmp_path, ignore_errors=True)


def overlay(image: Path, path: Path) -> Path:
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(image), "-F", "qcow2", str(path)],
        check=True,
    )
    return path


def test_boots_without_config_drive(image, workdir):
    tmp, guests = workdir
    guests.append(guest := Guest(tmp, overlay(image, tmp / "disk.qcow2"), None))
    guest.wait_for("pocketstack guest cirros ready")
    assert "no config drive" in guest.text()


@pytest.mark.ci
def test_config_drive_hostname_keys_network_user_data(image, workdir):
    tmp, guests = workdir
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / "id")], check=True
    )
    key = (tmp / "id.pub").read_text().strip()
    meta = {
        "uuid": "1b3c5d7e-0000-4000-8000-000000000001",
        "hostname": "vm-e2e",
        "name": "vm-e2e",
        "public_keys": {"mine": key + "\n", "other": KEY_A},
    }
    script = (
        "#!/bin/sh\necho USERDATA-MARKER $(hostname)\nsed 's/^/AUTHKEY /' "
        "/root/.ssh/authorized_keys\ncat /etc/resolv.conf\n"
    )
    drive = make_config_drive(tmp / "cd.iso", meta, network_data(), script)
    port = free_port()
    guests.append(guest := Guest(tmp, overlay(image, tmp / "disk.qcow2"), drive, port))
    guest.wait_for("pocketstack guest vm-e2e ready")
    log = guest.text()
    assert "USERDATA-MARKER vm-e2e" in log
    assert f"AUTHKEY {key}" in log and f"AUTHKEY {KEY_A}" in log
    assert "installed 2 ssh key(s) for root" in log
    assert "eth0 ip 10.0.0.5 netmask 255.255.255.0 (static)" in log
    assert "eth0 default via 10.0.0.1" in log
    assert "nameserver 10.0.0.3" in log
    guest.wait_for("ssh host key SHA256:")
    ssh = [
        "ssh",
        "-i",
        str(tmp / "id"),
        "-p",
        str(port),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "BatchMode=yes",
        "root@127.0.0.1",
    ]
    out = subprocess.run(ssh + ["hostname; id -u"], capture_output=True, text=True, timeout=30)
    assert out.stdout.split() == ["vm-e2e", "0"], out.stderr
    nokey = subprocess.run(
        ssh[:1]
        + ssh[3:]
        + ["-o", "IdentitiesOnly=yes", "-o", "PreferredAuthentications=password", "true"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert nokey.returncode != 0


def test_root_persists_across_reboot_reset_and_powerdown(image, workdir):
    tmp, guests = workdir
    disk = overlay(image, tmp / "disk.qcow2")
    script = (
        "#!/bin/sh\nif [ -f /root/marker ]; then echo PERSIST-EXISTED $(cat /root/marker);"
        " else echo PERSIST-NEW; echo from-first-boot > /root/marker; sync;"
        " (sleep 1; reboot) & fi\n"
    )
    meta = {
        "uuid": "2b3c5d7e-0000-4000-8000-000000000002",
        "hostname": "vm-p",
        "name": "vm-p",
        "public_keys": {},
    }
    drive = make_config_drive(tmp / "cd.iso", meta, network_data(), script)
    guests.append(guest := Guest(tmp, disk, drive))
    guest.wait_for("PERSIST-NEW")
    guest.wait_for("pocketstack guest vm-p ready", count=2)  # in-guest `reboot`
    assert "boot 2" in guest.text() and "user_data already ran for instance" in guest.text()
    assert guest.qmp("system_reset") == {"return": {}}
    guest.wait_for("pocketstack guest vm-p ready", count=3)
    assert "pocketstack guest: boot 3" in guest.text()
    assert guest.qmp("system_powerdown") == {"return": {}}
    assert guest.wait_exit() == 0
    assert "powering off" in guest.text()
    meta["uuid"] = "3b3c5d7e-0000-4000-8000-000000000003"  # a new instance runs user_data again
    drive = make_config_drive(tmp / "cd2.iso", meta, network_data(), script)
    guests.append(guest := Guest(tmp, disk, drive))
    guest.wait_for("pocketstack guest vm-p ready")
    assert "PERSIST-EXISTED from-first-boot" in guest.text()
    assert "pocketstack guest: boot 4" in guest.text()
    assert os.path.getsize(disk) < 64 * 2**20


def test_dhcp_without_server_does_not_stall_boot(image, workdir):
    tmp, guests = workdir
    network = network_data()
    network["networks"][0]["type"] = "ipv4_dhcp"
    meta = {"uuid": "4b3c5d7e-0000-4000-8000-000000000004", "hostname": "vm-d"}
    drive = make_config_drive(tmp / "cd.iso", meta, network, "not a script\n")
    guests.append(guest := Guest(tmp, overlay(image, tmp / "disk.qcow2"), drive, dhcp_server=False))
    # an unanswered DHCP must not stall the boot: ready within the 10 s it always took
    guest.wait_for("pocketstack guest vm-d ready", timeout=10)
    log = guest.text()
    assert "eth0 dhcp (udhcpc in the background)" in log
    assert "eth0 ip 10.0.0.5 netmask 255.255.255.0 (static: no DHCP answer yet)" in log
    assert "user_data is not a script, ignored" in log


def make_vfat_config_drive(path: Path, meta: dict, network: dict) -> Path:
    """A vfat config drive (``mkfs.fat -n config-2``, files copied in with mtools)."""
    subprocess.run(
        ["mkfs.fat", "-C", "-n", "config-2", str(path), "2048"], check=True, capture_output=True
    )
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    subprocess.run(
        ["mmd", "-i", str(path), "::openstack", "::openstack/latest"], check=True, env=env
    )
    for name, doc in (("meta_data.json", meta), ("network_data.json", network)):
        src = path.with_name(name)
        src.write_text(json.dumps(doc))
        subprocess.run(
            ["mcopy", "-i", str(path), str(src), f"::openstack/latest/{name}"], check=True, env=env
        )
    return path


def test_vfat_config_drive_and_dhcp_lease(image, workdir):
    tmp, guests = workdir
    network = network_data()
    network["networks"][0]["type"] = "ipv4_dhcp"
    meta = {
        "uuid": "5b3c5d7e-0000-4000-8000-000000000005",
        "hostname": "vm-fat",
        "public_keys": {"k": KEY_A},
    }
    drive = make_vfat_config_drive(tmp / "cd.img", meta, network)
    guests.append(guest := Guest(tmp, overlay(image, tmp / "disk.qcow2"), drive))
    guest.wait_for("pocketstack guest vm-fat ready")
    log = guest.text()
    assert "installed 1 ssh key(s) for root" in log
    assert "eth0 ip 10.0.0.15 netmask 255.255.255.0 (dhcp)" in log  # QEMU's user-net DHCP
    assert "no DHCP answer" not in log


def test_ensure_image_builds_once_per_recipe(tmp_path):
    from pocketstack.guest.build import IMAGE_PREFIX, ensure_image, recipe_hash

    first = ensure_image(tmp_path)
    assert first.name == f"{IMAGE_PREFIX}{recipe_hash()}.qcow2"
    info = subprocess.run(
        ["qemu-img", "info", "--output", "json", str(first)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert json.loads(info)["format"] == "qcow2"
    mtime = first.stat().st_mtime_ns
    assert ensure_image(tmp_path) == first and first.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == [".guest-build.lock", first.name]
