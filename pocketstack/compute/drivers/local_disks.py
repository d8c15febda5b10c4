"""The flavor's ephemeral and swap disks: local files in the instance's directory.

As Nova's libvirt driver (``_create_ephemeral`` / ``_create_swap``): a flavor with
``ephemeral_gb`` > 0 gives the guest ``disk.eph0``, a qcow2 of that many GiB holding an
ext4 file system labelled ``ephemeral0`` (Nova's default format and label); a flavor with
``swap`` > 0 MiB gives ``disk.swap``, a raw file of that many MiB made a swap area labelled
``swap0``. Both are formatted on the host (``mkfs.ext4`` / ``mkswap`` on a sparse file: no
mount, no nbd), created only when missing (so a power-on after a crash remakes a lost one
and never wipes a kept one) and die with the instance's directory. They are attached after
the root disk and before the config drive (Nova's order: root, ephemeral, swap).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from pocketstack.compute.drivers.base import DriverError, InstanceSpec

QEMU_IMG = "qemu-img"
EPHEMERAL_NAME = "disk.eph0"
SWAP_NAME = "disk.swap"
EPHEMERAL_LABEL = "ephemeral0"
SWAP_LABEL = "swap0"


def wanted(spec: InstanceSpec) -> list[tuple[str, str, int]]:
    """``[(file name, QEMU format, size in bytes)]`` of the local disks ``spec`` asks for,
    in attach order (ephemeral, then swap); empty for a flavor with neither."""
    disks = []
    ephemeral_gb = int(spec.get("ephemeral_gb") or 0)
    swap_mb = int(spec.get("swap_mb") or 0)
    if ephemeral_gb > 0:
        disks.append((EPHEMERAL_NAME, "qcow2", ephemeral_gb * 1024**3))
    if swap_mb > 0:
        disks.append((SWAP_NAME, "raw", swap_mb * 1024**2))
    return disks


def _run(cmd: list[str], what: str) -> None:
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as exc:
        raise DriverError(f"{what}: {exc}") from None
    if res.returncode != 0:
        raise DriverError(f"{what}: {res.stderr.strip() or res.stdout.strip()}")


def create_ephemeral(path: Path, size: int) -> None:
    """Make ``path``: a qcow2 of ``size`` bytes with an ext4 file system labelled
    ``ephemeral0`` (formatted on a sparse raw file, then converted).

    Raises:
        DriverError: ``mkfs.ext4`` or ``qemu-img`` failed (no partial file is left).
    """
    raw = path.with_name(path.name + ".raw")
    part = path.with_name(path.name + ".part")
    try:
        with open(raw, "wb") as f:
            f.truncate(size)
        _run(
            ["mkfs.ext4", "-F", "-q", "-L", EPHEMERAL_LABEL, str(raw)],
            "cannot format the ephemeral disk",
        )
        _run(
            [QEMU_IMG, "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(part)],
            "cannot create the ephemeral disk",
        )
        part.rename(path)
    finally:
        raw.unlink(missing_ok=True)
        part.unlink(missing_ok=True)


def create_swap(path: Path, size: int) -> None:
    """Make ``path``: a raw file (mode 0600) of ``size`` bytes made a swap area labelled
    ``swap0``.

    Raises:
        DriverError: ``mkswap`` failed (no partial file is left).
    """
    part = path.with_name(path.name + ".part")
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.truncate(size)
        _run(["mkswap", "-L", SWAP_LABEL, str(part)], "cannot create the swap disk")
        part.rename(path)
    finally:
        part.unlink(missing_ok=True)


def ensure(spec: InstanceSpec, instance_dir: Path) -> list[tuple[Path, str]]:
    """Create the local disks ``spec`` asks for that are missing in ``instance_dir``;
    ``[(path, QEMU format)]`` of all of them, in attach order.

    Raises:
        DriverError: a disk could not be made.
    """
    makers = {EPHEMERAL_NAME: create_ephemeral, SWAP_NAME: create_swap}
    disks = []
    for name, fmt, size in wanted(spec):
        path = instance_dir / name
        if not path.exists():
            makers[name](path, size)
        disks.append((path, fmt))
    return disks


def qemu_args(disks: list[tuple[Path, str]]) -> list[str]:
    """``-drive``/``-device`` argv attaching each disk as a virtio-blk device; the drive
    ids (what QMP ``query-block`` names) are ``eph0`` and ``swap0``."""
    args = []
    for path, fmt in disks:
        drive = "eph0" if path.name == EPHEMERAL_NAME else "swap0"
        args += [
            "-drive",
            f"file={path},if=none,id={drive},format={fmt},cache=writeback",
            "-device",
            f"virtio-blk-pci,drive={drive}",
        ]
    return args
