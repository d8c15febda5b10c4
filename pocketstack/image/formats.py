"""Image formats: the allowed disk and container formats and the virtual size of data.

The virtual size (bytes a guest sees) is read from the qcow2 header; raw and iso data are their
own virtual size; other formats ask ``qemu-img info`` when it is installed, else stay unknown.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
CONTAINER_FORMATS = ("bare", "ovf", "ova", "aki", "ari", "ami", "docker", "compressed")

_QCOW2_MAGIC = b"QFI\xfb"


def virtual_size(path: Path, disk_format: str | None, size: int) -> int | None:
    """The virtual size in bytes of the image data at ``path``, or ``None`` when unknown.

    Args:
        path: the data file.
        disk_format: the image's disk format.
        size: the data's size in bytes.
    """
    if disk_format in ("raw", "iso"):
        return size
    with open(path, "rb") as f:
        header = f.read(HEADER_BYTES)
    found = header_virtual_size(header, disk_format, size)
    if found is None and disk_format in ("vmdk", "vhd", "vhdx", "vdi", "ploop"):
        return _qemu_img_virtual_size(path, disk_format)
    return found


#: bytes of the data's start that ``header_virtual_size`` reads
HEADER_BYTES = 32


def header_virtual_size(header: bytes, disk_format: str | None, size: int) -> int | None:
    """The virtual size in bytes told by the first ``HEADER_BYTES`` bytes of image data of
    ``size`` bytes (raw and iso: ``size``; qcow2: its header's), else ``None`` (a store
    without local files cannot ask ``qemu-img`` about other formats)."""
    if disk_format in ("raw", "iso"):
        return size
    if len(header) >= HEADER_BYTES and header[:4] == _QCOW2_MAGIC:
        return int(struct.unpack(">Q", header[24:32])[0])
    return None


def _qemu_img_virtual_size(path: Path, disk_format: str) -> int | None:
    qemu_img = shutil.which("qemu-img")
    if not qemu_img:
        return None
    fmt = {"vhd": "vpc", "ploop": "parallels"}.get(disk_format, disk_format)
    try:
        out = subprocess.run(
            [qemu_img, "info", "--output", "json", "-f", fmt, str(path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        value = json.loads(out).get("virtual-size")
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return int(value) if isinstance(value, int) else None
