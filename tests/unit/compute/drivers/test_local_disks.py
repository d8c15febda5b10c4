"""The flavor's ephemeral and swap disks (pocketstack.compute.drivers.local_disks), made for
real with mkfs.ext4 / mkswap / qemu-img on temp files and read back with blkid."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from pocketstack.compute.drivers import local_disks
from pocketstack.compute.drivers import qemu_process as qp

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("mkfs.ext4", "mkswap", "blkid", "qemu-img")),
    reason="needs mkfs.ext4, mkswap, blkid and qemu-img",
)


def _blkid(path) -> dict[str, str]:
    out = subprocess.run(
        ["blkid", "-p", "-o", "export", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def _virtual_size(path, fmt) -> int:
    out = subprocess.run(
        ["qemu-img", "info", "-f", fmt, "--output", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(json.loads(out)["virtual-size"])


def test_ephemeral_is_ext4_labelled_ephemeral0_and_swap_is_labelled_swap0(tmp_path):
    disks = local_disks.ensure({"ephemeral_gb": 1, "swap_mb": 64}, tmp_path)
    eph, swap = tmp_path / "disk.eph0", tmp_path / "disk.swap"
    assert disks == [(eph, "qcow2"), (swap, "raw")]
    assert _virtual_size(eph, "qcow2") == 1024**3
    raw = tmp_path / "eph.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(eph), str(raw)], check=True)
    fs = _blkid(raw)
    assert (fs["TYPE"], fs["LABEL"]) == ("ext4", "ephemeral0")
    assert swap.stat().st_size == 64 * 1024**2 and swap.stat().st_mode & 0o777 == 0o600
    fs = _blkid(swap)
    assert (fs["TYPE"], fs["LABEL"]) == ("swap", "swap0")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disk.eph0", "disk.swap", "eph.raw"]


def test_existing_disks_are_kept_and_missing_ones_remade(tmp_path):
    spec = {"ephemeral_gb": 1, "swap_mb": 16}
    local_disks.ensure(spec, tmp_path)
    eph = tmp_path / "disk.eph0"
    before = eph.stat().st_ino, eph.stat().st_mtime_ns
    (tmp_path / "disk.swap").unlink()
    local_disks.ensure(spec, tmp_path)
    assert (eph.stat().st_ino, eph.stat().st_mtime_ns) == before
    assert (tmp_path / "disk.swap").stat().st_size == 16 * 1024**2


def test_a_flavor_without_them_makes_nothing(tmp_path):
    assert local_disks.ensure({"ephemeral_gb": 0, "swap_mb": 0}, tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_qemu_attaches_them_after_the_root_disk_and_before_the_config_drive(tmp_path):
    paths = qp.InstancePaths(tmp_path / "u-1")
    paths.dir.mkdir()
    paths.config.write_bytes(b"")
    spec = {
        "uuid": "u-1",
        "root_gb": 1,
        "ephemeral_gb": 1,
        "swap_mb": 64,
        "image": {"disk_format": "qcow2", "path": "/img/base"},
    }
    cmd = qp.build_command(spec, paths, "tcg")
    devices = [a for a in cmd if a.startswith("virtio-blk-pci")]
    assert devices == [
        "virtio-blk-pci,drive=root,bootindex=0",
        "virtio-blk-pci,drive=eph0",
        "virtio-blk-pci,drive=swap0",
        "virtio-blk-pci,drive=config",
    ]
    assert f"file={paths.dir / 'disk.eph0'},if=none,id=eph0,format=qcow2,cache=writeback" in cmd
    assert f"file={paths.dir / 'disk.swap'},if=none,id=swap0,format=raw,cache=writeback" in cmd
    # a volume-backed guest gets them too, after its boot volume
    cmd = qp.build_command(
        dict(spec, boot_from_volume=True), paths, "tcg", volume_args=["-device", "vol"]
    )
    assert cmd.index("vol") < cmd.index("virtio-blk-pci,drive=eph0")
