"""Shared instance storage for the QEMU driver (issue 10; Nova's ``instances_path`` on NFS).

When ``[compute] instances_shared_storage`` is true, ``instances_path`` is a directory every
compute host mounts, so one host's driver sees the directories of the other hosts' guests.
Two rules keep a host to its own guests there:

- **Ownership**: the host that last started a guest's QEMU writes its name into
  ``<instances_path>/<uuid>/host`` (``claim``); on shared storage ``list_instances`` lists
  only the directories this host owns (``owned_by``), so the orphan sweep of a host never
  sees, kills or deletes another host's guest, nor the disks of a guest evacuated away
  from it.
- **Its own processes**: every QEMU names the host that started it in its argv
  (``qemu_process.host_args``), so a host also lists the guests whose QEMU it still runs
  in a directory another host owns now (its agent died while its QEMU went on and the
  guest was evacuated; a live migration's source cleanup failed), and a disk-keeping
  ``destroy`` ends that QEMU (found in /proc, never by the directory's pid file, which
  is the new owner's) and leaves the directory alone.
- **Keeping the disks** (an evacuation to a host sharing the storage, Nova's
  ``rebuild_instance`` with ``on_shared_storage``): the spec says ``keep_disks``; the
  driver boots the directory's existing ``disk`` (and local disks) instead of making new
  ones, after clearing what the dead host's QEMU left (pid file, sockets), and a failure
  never removes the directory (``prepare_kept``).
"""

from __future__ import annotations

from pathlib import Path

from pocketstack.compute.drivers import qemu_process as qp
from pocketstack.compute.drivers.base import DriverError

#: the file naming the host that owns an instance directory on shared storage
OWNER = "host"
#: files a QEMU leaves in its directory that belong to that one process (and host)
RUNTIME_FILES = ("pid", "qmp.sock", "vnc.sock", "serial.sock", "qga.sock", "taps.json")


def claim(instance_dir: Path, host: str) -> None:
    """Mark ``instance_dir`` as ``host``'s (written before QEMU starts)."""
    (instance_dir / OWNER).write_text(host)


def owner(instance_dir: Path) -> str | None:
    """The host named in ``instance_dir``'s owner file, or None (no file: a directory made
    before ownership was recorded, or one being made)."""
    try:
        return (instance_dir / OWNER).read_text().strip() or None
    except OSError:
        return None


def owned_by(instance_dir: Path, host: str) -> bool:
    """Whether ``instance_dir`` is ``host``'s on shared storage."""
    return owner(instance_dir) == host


def prepare_kept(paths: qp.InstancePaths, uuid: str, boot_from_volume: bool) -> None:
    """Make an existing directory ready for this host to boot its disks again: the runtime
    files of the QEMU that ran them elsewhere are removed (its process must be gone: a
    live one there still holds the disk).

    Raises:
        DriverError: no directory or no root disk to keep, or its QEMU still runs (seen in
            this machine's /proc).
    """
    if not paths.dir.is_dir() or (not boot_from_volume and not paths.disk.is_file()):
        raise DriverError(
            f"instance {uuid} has no disk in {paths.dir} to keep (is the instance storage "
            "really shared?)"
        )
    if qp.find_pid(paths, uuid) is not None:
        raise DriverError(f"instance {uuid}'s QEMU still runs on its old host: not booting it")
    for name in RUNTIME_FILES:
        (paths.dir / name).unlink(missing_ok=True)
