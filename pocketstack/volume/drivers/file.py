"""Volumes as files in a pool directory, exported over iSCSI (tgt) or NBD.

``<pool>/volume-<id>`` and ``<pool>/snapshot-<id>``, in the format ``volume_format`` names
(a file keeps the format it was made with; the first bytes tell which):

- ``raw``: sparse files (``truncate``; copies with ``cp --sparse=always``, conversions with
  ``qemu-img convert``, which writes sparse); a snapshot is a sparse copy. Exported with
  tgt (``targets/tgt.py``: user space, no configfs or kernel modules; QEMU's libiscsi is the
  initiator, so the compute side needs no ``iscsiadm``).
- ``qcow2``: thin images; a snapshot freezes the volume's current file as
  ``snapshot-<id>`` and puts a new overlay on top (``qemu-img create -b``), a volume made
  from a snapshot is an overlay of it; deleting a snapshot first merges its data into the
  files that use it as backing (``qemu-img rebase`` onto its own backing, safe mode).
  Exported with qemu-storage-daemon over NBD (tgt serves raw files only).

Every file is made under a temporary name (``.tmp-...``) and renamed when complete, so a
crash never leaves a half volume under a volume's name; leftovers are removed when the
driver starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import subprocess
from pathlib import Path
from typing import Any

from pocketstack.volume.drivers.base import GiB, VolumeDriver, VolumeDriverError, VolumeNotFound
from pocketstack.volume.targets import TargetError
from pocketstack.volume.targets.nbd import NbdTarget
from pocketstack.volume.targets.tgt import TgtTarget

QCOW2_MAGIC = b"QFI\xfb"
#: Cinder's default over-subscription ratio for thin pools
OVER_SUBSCRIPTION = 20.0


def _run(*cmd: str, timeout: float = 3600) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VolumeDriverError(f"{cmd[0]} failed: {exc}") from exc
    if proc.returncode != 0:
        raise VolumeDriverError(f"{' '.join(cmd[:2])} failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout


def _format(path: Path) -> str:
    """``qcow2`` or ``raw``, from the file's first bytes."""
    with open(path, "rb") as f:
        return "qcow2" if f.read(4) == QCOW2_MAGIC else "raw"


def _virtual_size(path: Path) -> int:
    """Bytes the guest sees: a raw file's length, a qcow2 header's size field."""
    with open(path, "rb") as f:
        header = f.read(32)
    if header[:4] == QCOW2_MAGIC:
        return int(struct.unpack(">Q", header[24:32])[0])
    return path.stat().st_size


def _gib(size_bytes: int) -> int:
    return -(-size_bytes // GiB)


class FileDriver(VolumeDriver):
    """Files in ``pool_dir`` (see the module docstring); ``conf.volume_format`` is the
    format of new volumes, ``conf.iscsi_ip``/``iscsi_port``/``tgt_control_port`` the iSCSI
    portal, ``conf.netns`` the namespace the export daemons run in."""

    name = "file"
    backend_name = "file"

    def __init__(self, conf: Any, pool_dir: Path | str):
        super().__init__(conf, pool_dir)
        self.format = str(getattr(conf, "volume_format", "raw") or "raw")
        if self.format not in ("raw", "qcow2"):
            raise VolumeDriverError(f"volume_format {self.format!r}: use raw or qcow2")
        self.pool_dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.pool_dir.glob(".tmp-*"):
            leftover.unlink(missing_ok=True)
        netns = getattr(conf, "netns", None) or None
        ip = str(getattr(conf, "iscsi_ip", "127.0.0.1"))
        self.iscsi = TgtTarget(
            self.pool_dir,
            ip,
            int(getattr(conf, "iscsi_port", 3260)),
            int(getattr(conf, "tgt_control_port", 0) or 0),
            netns=netns,
        )
        self.nbd = NbdTarget(self.pool_dir, ip, netns=netns)

    # ------------------------------------------------------------------ paths

    def _vol(self, volume_id: str) -> Path:
        return self.pool_dir / f"volume-{volume_id}"

    def _snap(self, snapshot_id: str) -> Path:
        return self.pool_dir / f"snapshot-{snapshot_id}"

    def _existing(self, path: Path, what: str) -> Path:
        if not path.exists():
            raise VolumeNotFound(f"{what} could not be found.")
        return path

    @contextlib.contextmanager
    def _making(self, final: Path) -> Any:
        """Yield a temporary path; renamed to ``final`` on success, removed on failure."""
        tmp = final.with_name(f".tmp-{final.name}")
        tmp.unlink(missing_ok=True)
        try:
            yield tmp
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)

    def volume_path(self, volume_id: str) -> str:
        return str(self._vol(volume_id))

    @contextlib.contextmanager
    def raw_volume(self, volume_id: str, write: bool = False) -> Any:
        """The volume's file when raw; for qcow2 a sparse raw copy (``.tmp-raw-<id>``),
        converted back into the volume (flattened: its snapshots stay valid, they are
        files of their own) after the block when ``write``."""
        path = self._existing(self._vol(volume_id), f"Volume {volume_id}")
        if _format(path) == "raw":
            yield str(path)
            return
        raw = self.pool_dir / f".tmp-raw-{volume_id}"
        try:
            _run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(path), str(raw))
            yield str(raw)
            if write:
                with self._making(path) as tmp:
                    _run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(tmp))
        finally:
            raw.unlink(missing_ok=True)

    # ------------------------------------------------------------------ capacity

    def capabilities(self) -> dict[str, Any]:
        st = os.statvfs(self.pool_dir)
        return {
            "total_capacity_gb": round(st.f_blocks * st.f_frsize / GiB, 2),
            "free_capacity_gb": round(st.f_bavail * st.f_frsize / GiB, 2),
            "provisioned_capacity_gb": float(sum(self.list_volumes().values())),
            "thin_provisioning_support": True,
            "max_over_subscription_ratio": OVER_SUBSCRIPTION,
            "storage_protocol": "nbd" if self.format == "qcow2" else "iSCSI",
            "volume_backend_name": self.backend_name,
        }

    def list_volumes(self) -> dict[str, int]:
        found = {}
        for path in self.pool_dir.glob("volume-*"):
            with contextlib.suppress(OSError):
                found[path.name.removeprefix("volume-")] = _gib(_virtual_size(path))
        return found

    def list_snapshots(self) -> list[str]:
        return [p.name.removeprefix("snapshot-") for p in self.pool_dir.glob("snapshot-*")]

    # ------------------------------------------------------------------ create

    def _blank(self, path: Path, size_gb: int) -> None:
        if self.format == "qcow2":
            _run("qemu-img", "create", "-q", "-f", "qcow2", str(path), str(size_gb * GiB))
        else:
            with open(path, "wb") as f:
                f.truncate(size_gb * GiB)

    def _grow(self, path: Path, size_gb: int) -> None:
        """Grow ``path`` (not exported) to ``size_gb`` when smaller."""
        if _virtual_size(path) >= size_gb * GiB:
            return
        if _format(path) == "qcow2":
            _run("qemu-img", "resize", "-q", "-f", "qcow2", str(path), str(size_gb * GiB))
        else:
            os.truncate(path, size_gb * GiB)

    def create_volume(self, volume_id: str, size_gb: int) -> None:
        with self._making(self._vol(volume_id)) as tmp:
            self._blank(tmp, int(size_gb))

    def create_volume_from_snapshot(self, volume_id: str, snapshot_id: str, size_gb: int) -> None:
        snap = self._existing(self._snap(snapshot_id), f"Snapshot {snapshot_id}")
        with self._making(self._vol(volume_id)) as tmp:
            if _format(snap) == "qcow2":
                size = max(int(size_gb) * GiB, _virtual_size(snap))
                _run(
                    *("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2"),
                    *("-b", snap.name, str(tmp), str(size)),
                )
            else:
                _run("cp", "--sparse=always", str(snap), str(tmp))
                self._grow(tmp, int(size_gb))

    def clone_volume(self, volume_id: str, source_id: str, size_gb: int) -> None:
        source = self._existing(self._vol(source_id), f"Volume {source_id}")
        with self._making(self._vol(volume_id)) as tmp:
            if _format(source) == "qcow2":  # a full copy: the clone has no backing chain
                _run("qemu-img", "convert", "-f", "qcow2", "-O", "qcow2", str(source), str(tmp))
            else:
                _run("cp", "--sparse=always", str(source), str(tmp))
            self._grow(tmp, int(size_gb))

    def copy_image_to_volume(
        self, volume_id: str, image_path: str, disk_format: str, size_gb: int
    ) -> None:
        info = json.loads(
            _run("qemu-img", "info", "--output=json", "-f", disk_format, str(image_path))
        )
        if int(info["virtual-size"]) > int(size_gb) * GiB:
            raise VolumeDriverError(
                f"Image virtual size is {_gib(int(info['virtual-size']))} GiB and doesn't fit "
                f"in a volume of size {size_gb} GiB."
            )
        with self._making(self._vol(volume_id)) as tmp:
            _run(
                *("qemu-img", "convert", "-f", disk_format, "-O", self.format),
                *(str(image_path), str(tmp)),
            )
            self._grow(tmp, int(size_gb))

    def copy_volume_to_image(self, volume_id: str, dest_path: str, disk_format: str) -> None:
        path = self._existing(self._vol(volume_id), f"Volume {volume_id}")
        fmt = "raw" if disk_format in ("raw", "iso") else disk_format
        _run("qemu-img", "convert", "-f", _format(path), "-O", fmt, str(path), dest_path)

    # ------------------------------------------------------------------ change, delete

    def extend_volume(self, volume_id: str, new_size_gb: int) -> None:
        path = self._existing(self._vol(volume_id), f"Volume {volume_id}")
        size = int(new_size_gb) * GiB
        if size < _virtual_size(path):
            raise VolumeDriverError("A volume cannot shrink.")
        try:
            if _format(path) == "qcow2" and volume_id in self.nbd.list_exports():
                self.nbd.refresh(volume_id, size)
                return
            self._grow(path, int(new_size_gb))
            self.iscsi.refresh(volume_id)  # no export: nothing
        except TargetError as exc:
            raise VolumeDriverError(str(exc)) from exc

    def delete_volume(self, volume_id: str) -> None:
        self.remove_export(volume_id)
        self._vol(volume_id).unlink(missing_ok=True)

    def create_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        path = self._existing(self._vol(volume_id), f"Volume {volume_id}")
        snap = self._snap(snapshot_id)
        if _format(path) == "raw":
            with self._making(snap) as tmp:
                _run("cp", "--sparse=always", str(path), str(tmp))
            return
        if volume_id in self.nbd.list_exports():
            raise VolumeDriverError("A qcow2 volume in use cannot be snapshotted here.")
        tmp = path.with_name(f".tmp-overlay-{volume_id}")
        try:
            _run(
                *("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-u"),
                *("-b", snap.name, str(tmp), str(_virtual_size(path))),
            )
            os.replace(path, snap)  # the volume's data, frozen
            try:
                os.replace(tmp, path)  # the volume goes on in the overlay
            except OSError:
                os.replace(snap, path)
                raise
        finally:
            tmp.unlink(missing_ok=True)

    def delete_snapshot(self, snapshot_id: str, volume_id: str | None = None) -> None:
        snap = self._snap(snapshot_id)
        if not snap.exists():
            return
        if _format(snap) == "qcow2":
            parent = self._backing(snap)
            for child in self._children(snap.name):
                if child.name.startswith("volume-") and child.name[7:] in self.nbd.list_exports():
                    raise VolumeDriverError("The snapshot's volume is in use.")
                _run(
                    *("qemu-img", "rebase", "-q", "-f", "qcow2", "-F", "qcow2"),
                    *("-b", parent or "", str(child)),
                )
        snap.unlink(missing_ok=True)

    def _backing(self, path: Path) -> str | None:
        info = json.loads(_run("qemu-img", "info", "--output=json", "-U", str(path)))
        backing = info.get("backing-filename")
        return Path(backing).name if backing else None

    def _children(self, name: str) -> list[Path]:
        """The files of the pool whose backing file is ``name``."""
        found = []
        for path in sorted(self.pool_dir.glob("*-*")):
            if path.name.startswith(("volume-", "snapshot-")) and _format(path) == "qcow2":
                if self._backing(path) == name:
                    found.append(path)
        return found

    # ------------------------------------------------------------------ exports

    def initialize_connection(
        self,
        volume_id: str,
        attachment_id: str,
        connector: dict[str, Any],
        auth_password: str | None = None,
    ) -> dict[str, Any]:
        path = self._existing(self._vol(volume_id), f"Volume {volume_id}")
        data: dict[str, Any] = {"volume_id": volume_id, "access_mode": "rw"}
        try:
            if _format(path) == "qcow2":
                data |= self.nbd.export(volume_id, str(path), attachment_id, "qcow2")
                return {"driver_volume_type": "nbd", "data": data}
            data |= self.iscsi.export(volume_id, str(path), attachment_id, auth_password)
        except TargetError as exc:
            raise VolumeDriverError(str(exc)) from exc
        data |= {"auth_method": "CHAP", "encrypted": False}
        return {"driver_volume_type": "iscsi", "data": data}

    def terminate_connection(self, volume_id: str, attachment_id: str) -> None:
        try:
            self.iscsi.unexport(volume_id, attachment_id)
            self.nbd.unexport(volume_id, attachment_id)
        except TargetError as exc:
            raise VolumeDriverError(str(exc)) from exc

    def list_exports(self) -> dict[str, list[str]]:
        found = {v: list(e["users"]) for v, e in self.iscsi.list_exports().items()}
        for volume_id, record in self.nbd.list_exports().items():
            found.setdefault(volume_id, []).extend(record["attachments"])
        return found

    def remove_export(self, volume_id: str) -> None:
        try:
            self.iscsi.remove(volume_id)
            self.nbd.remove(volume_id)
        except TargetError as exc:
            raise VolumeDriverError(str(exc)) from exc

    def stop(self) -> None:
        self.nbd.stop()
        self.iscsi.stop()
