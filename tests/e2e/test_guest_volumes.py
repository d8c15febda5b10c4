"""The guest image and volumes, under plain QEMU (TCG) as the QEMU driver runs it (q35).

What block storage asks of the guest, without a cloud: a virtio-blk disk hot-plugged through
QMP (``blockdev-add`` + ``device_add`` onto a free ``pcie-root-port``: q35's ``pcie.0``
takes no hot-plug) is seen, formatted, mounted and written; ``block_resize`` is seen at once;
``device_del`` unplugs it and the data is in the raw file; and the image written into a raw
volume boots from it even plugged after the config drive (so it is ``vdb``: the kernel
finds its root by label), its root filesystem persisting into the
next instance. The guest runs ``tests/volume_guest.WATCHER`` and the assertions read its console.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from pocketstack.bootstrap import guest_cache_dir
from pocketstack.guest.build import ensure_image
from tests import volume_guest
from tests.e2e.test_guest_image import make_config_drive, network_data, overlay
from tests.helpers import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs QEMU"),
]

MIB = 2**20


class QMP:
    """A QMP connection (capabilities negotiated); events are kept in ``events``."""

    def __init__(self, path: Path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(30)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rw")
        self.events: list[dict[str, Any]] = []
        self.file.readline()
        self.run("qmp_capabilities")

    def run(self, command: str, **arguments: Any) -> Any:
        """The command's ``return``; raises AssertionError with QEMU's error."""
        self.file.write(json.dumps({"execute": command, "arguments": arguments}) + "\n")
        self.file.flush()
        while "event" in (reply := json.loads(self.file.readline())):
            self.events.append(reply)
        assert "return" in reply, (command, reply)
        return reply["return"]

    def wait_event(self, name: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while not any(e["event"] == name for e in self.events):
            self.sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                self.events.append(json.loads(self.file.readline()))
            except TimeoutError:
                raise AssertionError(f"no {name} event in {timeout} s: {self.events}") from None
        return next(e for e in self.events if e["event"] == name)

    def close(self) -> None:
        self.sock.close()


class VolumeGuest:
    """QEMU as the compute driver starts it (q35, TCG, 256 MB, root + config drive as
    virtio disks) plus ``ports`` free pcie-root-ports ``hp0``.. for hot-plugged volumes."""

    def __init__(self, tmp: Path, root: Path, root_format: str, drive: Path, serial: str = ""):
        """``serial``: the root disk is a boot volume with that serial, plugged after the
        config drive and the root ports (``bootindex=1``), so the guest sees it as ``vdb``:
        the root must be found by its label, whichever order a driver plugs disks in."""
        stamp = time.monotonic_ns()
        self.log = tmp / f"console-{stamp}.log"
        self.qmp_path = tmp / f"qmp-{stamp}.sock"
        root_serial = f",serial={serial}" if serial else ""
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
        ]
        root_disk = [
            "-blockdev",
            f"driver=file,filename={root},node-name=rootfile",
            "-blockdev",
            f"driver={root_format},file=rootfile,node-name=root",
            "-device",
            f"virtio-blk-pci,drive=root,bootindex={1 if serial else 0}{root_serial}",
        ]
        config = [
            "-drive",
            f"file={drive},if=none,id=config,format=raw,readonly=on",
            "-device",
            "virtio-blk-pci,drive=config",
        ]
        ports = ["-device", "pcie-root-port,id=hp0,chassis=1"]
        cmd += [*config, *ports, *root_disk] if serial else [*root_disk, *config, *ports]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._qmp: QMP | None = None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(self, needle: str, timeout: float = 120) -> str:
        def seen() -> str | None:
            if self.proc.poll() is not None:
                raise AssertionError(f"QEMU exited {self.proc.returncode}:\n{self.text()}")
            text = self.text()
            return text if needle in text else None

        return wait_until(
            seen, timeout, f"{needle!r} on the console", interval=0.5, detail=self.text
        )

    @property
    def qmp(self) -> QMP:
        if self._qmp is None:
            self._qmp = QMP(self.qmp_path)
        return self._qmp

    def kill(self) -> None:
        if self._qmp is not None:
            self._qmp.close()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def image():
    return ensure_image(guest_cache_dir())


@pytest.fixture
def guests(tmp_path):
    made: list[VolumeGuest] = []
    yield made
    for guest in made:
        guest.kill()


def _drive(tmp: Path, hostname: str) -> Path:
    meta = {"uuid": str(uuid.uuid4()), "hostname": hostname, "name": hostname}
    path = tmp / f"{hostname}.iso"
    return make_config_drive(path, meta, network_data(), volume_guest.WATCHER)


def _plug(qmp: QMP, volume: Path, volume_id: str) -> None:
    qmp.run(
        "blockdev-add",
        **{
            "node-name": "vol1",
            "driver": "raw",
            "file": {"driver": "file", "filename": str(volume)},
        },
    )
    qmp.run("device_add", driver="virtio-blk-pci", drive="vol1", id="vol1dev", bus="hp0",
            serial=volume_id)  # fmt: skip


def _file_in_ext2(image: Path, name: str) -> str:
    """The file ``name`` of the ext2 filesystem in ``image`` (``debugfs``, no mount)."""
    out = subprocess.run(
        ["debugfs", "-R", f"cat /{name}", str(image)], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_a_hot_plugged_disk_is_formatted_written_grown_and_unplugged(image, guests, tmp_path):
    volume, volume_id = tmp_path / "volume.raw", str(uuid.uuid4())
    key = volume_guest.key(volume_id)
    subprocess.run(["truncate", "-s", f"{64 * MIB}", str(volume)], check=True)
    root = overlay(image, tmp_path / "disk.qcow2")
    guests.append(guest := VolumeGuest(tmp_path, root, "qcow2", _drive(tmp_path, "vmh")))
    guest.wait_for("pocketstack guest vmh ready")

    # q35's root bus takes no hot-plug: what the compute driver must avoid
    with pytest.raises(AssertionError, match="does not support hotplugging"):
        guest.qmp.run("device_add", driver="virtio-blk-pci", id="x", bus="pcie.0")

    _plug(guest.qmp, volume, volume_id)
    log = guest.wait_for(f"VOLTEST-WROTE {key} vmh:{key}:1")
    assert volume_guest.lines(log, "DISK", key)[0][2] == str(64 * MIB)
    assert volume_guest.lines(log, "MKFS", key) and ["NONE"] in [
        f[1:] for f in volume_guest.lines(log, "READ", key)
    ]

    guest.qmp.run("block_resize", **{"node-name": "vol1", "size": 128 * MIB})
    guest.wait_for(f"VOLTEST-SIZE {key} {128 * MIB}")

    guest.qmp.run("device_del", id="vol1dev")
    guest.qmp.wait_event("DEVICE_DELETED")
    guest.wait_for(f"VOLTEST-GONE {key}")
    guest.qmp.run("blockdev-del", **{"node-name": "vol1"})
    assert _file_in_ext2(volume, "data") == f"vmh:{key}:1"
    assert volume.stat().st_size == 128 * MIB

    _plug(guest.qmp, volume, volume_id)  # attached again: the data is read back
    log = guest.wait_for(f"VOLTEST-READ {key} vmh:{key}:1")
    assert len(volume_guest.lines(log, "MKFS", key)) == 1
    guest.wait_for(f"VOLTEST-WROTE {key} vmh:{key}:2")


def test_the_image_boots_from_a_raw_volume_whose_root_persists(image, guests, tmp_path):
    volume, volume_id = tmp_path / "boot.raw", str(uuid.uuid4())
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(image), str(volume)], check=True)
    subprocess.run(["truncate", "-s", f"{1024 * MIB}", str(volume)], check=True)
    first = VolumeGuest(tmp_path, volume, "raw", _drive(tmp_path, "vmb1"), volume_id)
    guests.append(first)
    log = first.wait_for("VOLTEST-ROOT-NEW root-of-vmb1")
    assert volume_guest.lines(log, "ROOT-SERIAL") == [[volume_guest.key(volume_id)]]
    # after the config drive (vda): the root was found by its label (root=LABEL=)
    assert volume_guest.lines(log, "ROOT-DISK") == [["vdb"]]
    first.wait_for("pocketstack guest vmb1 ready")
    first.qmp.run("system_powerdown")
    assert first.proc.wait(timeout=60) == 0

    second = VolumeGuest(tmp_path, volume, "raw", _drive(tmp_path, "vmb2"), volume_id)
    guests.append(second)
    log = second.wait_for("VOLTEST-ROOT root-of-vmb1")
    assert "pocketstack guest: boot 2" in log
