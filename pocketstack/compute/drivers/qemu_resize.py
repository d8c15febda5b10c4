"""Resize and cold migration in the qemu driver (``QemuResize``, a base of ``QemuDriver``;
the driver contract of ``drivers.base``, "resize and cold migration").

- ``park_instance``: the guest is shut down (ACPI, then killed after 30 s), its taps
  deleted, and its directory moved to ``<state_dir>/instances_resize/<uuid>``: out of
  ``instances/`` so ``list_instances`` no longer shows it (the destination, possibly this
  same host, may then make ``instances/<uuid>``) and kept for a revert.
- ``resize_target_dir``: the destination's empty ``instances/<uuid>``.
- ``copy_parked_disks``: the parked guest's disks (``disk``, the ephemeral and swap disks)
  and console log copied there. All hosts of a lab are one machine, so the copy is a file
  copy; the root disk stays a qcow2 overlay whose backing file is the image in the
  source's image cache (absolute path, readable from every host of the machine).
- ``finish_migration``: ``qemu-img resize`` of the root disk to the new flavor's size when
  larger, a new config drive, missing local disks made, QEMU started with the spec's vCPUs,
  RAM and ports (taps in the destination's namespace). A failure removes the directory.
- ``confirm_migration`` deletes the parked directory; ``finish_revert_migration`` moves it
  back (removing what a failed destination left under the same name) and starts QEMU.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

from pocketstack.compute.configdrive import build_config_drive
from pocketstack.compute.drivers import local_disks
from pocketstack.compute.drivers import qemu_process as qp
from pocketstack.compute.drivers.base import DriverError, InstanceSpec

#: files of an instance directory a move copies (the config drive is made again)
_COPIED = ("disk", "disk.eph0", "disk.swap", "console.log")
#: seconds the guest gets to shut down before it is killed
PARK_TIMEOUT = 30.0


class QemuResize:
    """The move half of ``QemuDriver`` (module docstring)."""

    conf: Any
    instances_dir: Path

    # provided by QemuDriver
    def _paths(self, uuid: str) -> qp.InstancePaths:
        raise NotImplementedError  # pragma: no cover

    def _existing(self, uuid: str) -> qp.InstancePaths:
        raise NotImplementedError  # pragma: no cover

    def _lock(self, uuid: str) -> threading.RLock:
        raise NotImplementedError  # pragma: no cover

    def _start(
        self, spec: InstanceSpec, paths: qp.InstancePaths, extra: list[str] | None = None
    ) -> None:
        raise NotImplementedError  # pragma: no cover

    def _unplug(self, paths: qp.InstancePaths) -> None:
        raise NotImplementedError  # pragma: no cover

    def _remove(self, uuid: str, paths: qp.InstancePaths) -> None:
        raise NotImplementedError  # pragma: no cover

    def _powerdown_and_wait(self, uuid: str, pid: int, timeout: float) -> bool:
        raise NotImplementedError  # pragma: no cover

    @property
    def parked_dir(self) -> Path:
        """Where parked guests wait: ``<state_dir>/instances_resize``."""
        return Path(self.conf.state_dir, "instances_resize")

    def _parked(self, uuid: str) -> Path:
        self._paths(uuid)  # validates the uuid
        return self.parked_dir / uuid

    def resize_target_dir(self, uuid: str) -> str:
        """Make the empty ``instances/<uuid>``; DriverError when it exists."""
        paths = self._paths(uuid)
        with self._lock(uuid):
            self.instances_dir.mkdir(parents=True, exist_ok=True)
            try:
                paths.dir.mkdir()
            except FileExistsError:
                raise DriverError(f"instance {uuid} already exists on this host") from None
        return str(paths.dir)

    def park_instance(self, uuid: str) -> None:
        """Shut the guest down and move its directory aside (kept for a revert)."""
        with self._lock(uuid):
            paths = self._existing(uuid)
            pid = qp.find_pid(paths, uuid)
            if pid is not None:
                self._powerdown_and_wait(uuid, pid, PARK_TIMEOUT)
                qp.kill(pid)
            self._unplug(paths)
            paths.taps.unlink(missing_ok=True)
            parked = self._parked(uuid)
            self.parked_dir.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(parked, ignore_errors=True)
            paths.dir.rename(parked)

    def copy_parked_disks(self, uuid: str, dest_dir: str) -> None:
        """Copy the parked guest's disks and console log into ``dest_dir``."""
        parked = self._parked(uuid)
        if not parked.is_dir():
            raise DriverError(f"instance {uuid} is not parked on this host")
        if not dest_dir:
            raise DriverError(f"no destination directory for {uuid}")
        for name in _COPIED:
            if (parked / name).exists():
                try:
                    shutil.copy2(parked / name, Path(dest_dir) / name)
                except OSError as exc:
                    raise DriverError(f"copying {name} of {uuid} failed: {exc}") from exc

    def finish_migration(self, spec: InstanceSpec, power_on: bool) -> None:
        """Grow the root disk, make the config drive and local disks, start QEMU."""
        uuid = spec["uuid"]
        with self._lock(uuid):
            paths = self._existing(uuid)
            try:
                if not spec.get("boot_from_volume"):
                    _grow(paths.disk, int(spec.get("root_gb") or 0))
                build_config_drive(spec, paths.config)
                if power_on:
                    self._start(spec, paths)
                else:
                    local_disks.ensure(spec, paths.dir)
            except BaseException as exc:
                self._remove(uuid, paths)
                if isinstance(exc, DriverError) or not isinstance(exc, Exception):
                    raise
                raise DriverError(f"finishing the move failed: {exc}") from exc

    def confirm_migration(self, uuid: str) -> None:
        """Delete the parked directory; idempotent."""
        with self._lock(uuid):
            shutil.rmtree(self._parked(uuid), ignore_errors=True)

    def finish_revert_migration(self, spec: InstanceSpec, power_on: bool) -> None:
        """Move the parked directory back (what a failed destination left under the same
        name on this host is removed first) and start QEMU when ``power_on``."""
        uuid = spec["uuid"]
        with self._lock(uuid):
            parked = self._parked(uuid)
            if not parked.is_dir():
                raise DriverError(f"instance {uuid} has no parked guest on this host")
            paths = self._paths(uuid)
            if paths.dir.exists():
                self._remove(uuid, paths)
            parked.rename(paths.dir)
            if power_on:
                self._start(spec, paths)

    def parked_instances(self) -> list[str]:
        """Uuids of the parked guests."""
        if not self.parked_dir.is_dir():
            return []
        return sorted(p.name for p in self.parked_dir.iterdir() if p.is_dir())


def _grow(disk: Path, root_gb: int) -> None:
    """``qemu-img resize`` the disk to ``root_gb`` GiB when that is larger (never shrinks)."""
    if not disk.exists():
        raise DriverError(f"the copied root disk {disk} is missing")
    if root_gb <= 0:
        return
    out = qp._run([qp.QEMU_IMG, "info", "--output=json", "-U", str(disk)], "cannot read disk")
    virtual = int(json.loads(out)["virtual-size"])
    if root_gb * 1024**3 > virtual:
        qp._run([qp.QEMU_IMG, "resize", "-q", str(disk), f"{root_gb}G"], "cannot grow disk")
