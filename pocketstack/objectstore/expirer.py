"""The object expirer: objects whose ``X-Delete-At`` has passed are deleted on every node
that holds them, and their rows leave the container listings (Swift's
``swift.obj.expirer``, observable behaviour kept: after its time the object answers 404 at
once, and after one expirer pass it is gone from disk and from listings).

Swift queues the deletes in a hidden ``.expiring_objects`` account that one expirer daemon
reads through a proxy. pocketstack keeps a per-device index instead, so no proxy is
involved and every node expires what it holds:

    <device>/expiring/<delete-at, 10 digits>-<partition>-<hash>     (empty files)

- The object server notes an entry whenever it stores an object or a POST with
  ``X-Delete-At`` (``note_expiring``); the auditor notes the ones it finds without one
  (an object that arrived by another path).
- A pass (:meth:`Expirer.run_once`) takes the entries whose time has come, in time order;
  when the object still has that ``X-Delete-At`` it writes a tombstone with the delete-at
  time as its timestamp (Swift's expirer sends ``X-Timestamp: <delete-at>`` with
  ``X-If-Delete-At``), so every replica writes the same tombstone and a newer PUT wins, and
  sends the row's DELETE to the container replica the proxy would have given this replica
  (all of them from a handoff); an update that fails becomes ``async_pending`` for the
  updater. The entry is then removed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pocketstack.objectstore.daemon import NodeDaemon
from pocketstack.objectstore.diskfile import DiskFile, DiskFileError
from pocketstack.objectstore.utils import Timestamp, node_path

if TYPE_CHECKING:
    from pocketstack.objectstore.node import StorageNode

LOG = logging.getLogger(__name__)
INDEX_DIR = "expiring"


def note_expiring(device_path: Path, partition: int, name_hash: str, delete_at: str) -> None:
    """Add an object to its device's expiry index (idempotent).

    Raises:
        OSError: the index can't be written.
        ValueError: ``delete_at`` is not an integer.
    """
    entry = device_path / INDEX_DIR / f"{int(delete_at):010d}-{partition}-{name_hash}"
    try:
        entry.touch()
    except FileNotFoundError:
        entry.parent.mkdir(exist_ok=True)
        entry.touch()


def due_entries(device_path: Path, now: float) -> list[tuple[int, int, str]]:
    """``(delete_at, partition, hash)`` of the device's entries due at ``now``, oldest
    first (malformed names are skipped)."""
    try:
        names = sorted(os.listdir(device_path / INDEX_DIR))
    except FileNotFoundError:
        return []
    due = []
    for name in names:
        fields = name.split("-")
        if len(fields) != 3 or not fields[0].isdigit() or not fields[1].isdigit():
            continue
        if int(fields[0]) > now:
            break
        due.append((int(fields[0]), int(fields[1]), fields[2]))
    return due


def pending_count(device_path: Path) -> int:
    """How many entries the device's index holds (due or not)."""
    try:
        return len(os.listdir(device_path / INDEX_DIR))
    except FileNotFoundError:
        return 0


@dataclass
class ExpirerStats:
    """What one pass did (times in seconds since the epoch)."""

    started: float = 0.0
    finished: float = 0.0
    expired: int = 0
    skipped: int = 0
    errors: int = 0


class Expirer(NodeDaemon):
    """Expiry passes over one node's devices (see the module docstring).

    Args:
        node: the storage node (its ``devices``, ``ring`` and ``update_timeout``).
        interval: seconds between the thread's passes (0: only :meth:`run_once`).
        ip, port: the node's address as the ring names it, to update only the container
            replica matching this object replica (None: update every container replica).
    """

    name = "object-expirer"

    def __init__(
        self,
        node: StorageNode,
        interval: float = 300.0,
        ip: str | None = None,
        port: int | None = None,
    ):
        super().__init__(node, interval)
        self.ip = ip
        self.port = port
        self.last = ExpirerStats()

    def run_once(self, now: float | None = None) -> ExpirerStats:
        """One pass: expire every object due at ``now`` (default: the current time) on
        every device. The stats go to the node's recon cache."""
        from pocketstack.objectstore.recon_cache import dump_recon

        stats = ExpirerStats(started=time.time())
        now = stats.started if now is None else now
        root = self.node.devices.root
        for device in self.node.devices.names():
            for delete_at, part, name_hash in due_entries(root / device, now):
                if self.stopping:
                    break
                try:
                    done = self._expire(device, delete_at, part, name_hash)
                except (OSError, DiskFileError, ValueError) as exc:
                    stats.errors += 1
                    LOG.info("expiring %s in %s/%d: %s", name_hash, device, part, exc)
                    continue
                stats.expired += done
                stats.skipped += not done
                entry = f"{delete_at:010d}-{part}-{name_hash}"
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(root / device / INDEX_DIR / entry)
        stats.finished = time.time()
        self.last = stats
        dump_recon(root, "object_expirer", asdict(stats))
        return stats

    def _expire(self, device: str, delete_at: int, part: int, name_hash: str) -> bool:
        """Tombstone one object when it still expires at ``delete_at``; True when it did."""
        df = DiskFile(self.node.devices.path(device), part, name_hash)
        state = df.state()
        if not state.exists or state.metadata.get("x-delete-at") != str(delete_at):
            return False  # deleted, replaced or given another time since: nothing to do
        name = state.metadata["name"]
        timestamp = Timestamp(delete_at)
        newest = state.newest
        if newest is not None and newest >= timestamp:  # written in the very second
            timestamp = Timestamp((newest.ticks + 1) / 100000)
        meta = {"name": name, "x-timestamp": timestamp.internal}
        df.write_marker(self.node.devices.tmp_dir(device), timestamp, ".ts", meta)
        account, container, obj = name[1:].split("/", 2)
        self._update_container(device, part, (account, container, obj), timestamp)
        return True

    def _update_container(
        self, device: str, part: int, names: tuple[str, str, str], timestamp: Timestamp
    ) -> None:
        from pocketstack.objectstore.protocol import Target
        from pocketstack.objectstore.updates import send, write_async_pending

        account, container, obj = names
        cpart, cnodes = self.node.ring.get_nodes(account, container)
        mine = [
            i
            for i, n in enumerate(self.node.ring.get_part_nodes(part))
            if (n["ip"], n["port"], n["device"]) == (self.ip, self.port, device)
        ]
        if mine and mine[0] < len(cnodes):
            cnodes = [cnodes[mine[0]]]
        target = Target("object", device, part, account, container, obj)
        headers = {"X-Timestamp": timestamp.internal}
        for cnode in cnodes:
            host = f"{cnode['ip']}:{cnode['port']}"
            path = node_path("container", cnode["device"], cpart, account, container, obj)
            update = {"method": "DELETE", "host": host, "path": path, "headers": headers}
            try:
                status: int | None = send(host, "DELETE", path, headers, self.node.update_timeout)
            except OSError:
                status = None
            if status is None or status >= 500 or status == 404:
                write_async_pending(self.node, target, update)
