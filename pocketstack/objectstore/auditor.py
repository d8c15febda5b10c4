"""The auditor and the checks on read: a storage node never serves bytes whose MD5 is not
the ETag it stored, and moves damaged objects and databases out of the way so the replicator
restores a good copy from another replica (Swift's ``swift.obj.auditor``, the database
auditors and ``DiskFile`` quarantining).

- :class:`Auditor` walks every ``.data`` of the node's devices at most
  ``bytes_per_second`` (Swift's ``bytes_per_second``, default 10 MB/s) and
  ``files_per_second``, recomputes its MD5, checks the sidecar's sanity (``etag``,
  ``content-length`` equal to the file's size, ``name`` hashing to the directory) and
  quarantines what fails; then every container/account database with SQLite's
  ``PRAGMA quick_check``. It runs every ``interval`` seconds in a thread of the node
  (``StorageNode.auditor``, see :func:`attach`) and on demand (:meth:`Auditor.run_once`).
- :func:`quarantine` moves the whole hash directory to
  ``<device>/quarantined/<objects|containers|accounts>/<hash>[-<uuid>]``. The object is then
  absent on this device: a GET answers 404 so the proxy reads another replica, and the
  replicator (whose suffix hashes are computed from the files) pushes a good copy back.
- On read (``object_server.get_object``): :func:`verify_for_read` checks the file before
  the first byte is sent, unless this process verified this very file (device, inode, size,
  mtime, ctime) since it last changed: small objects are read whole and served from memory,
  large ones are hashed first. A full-object read is hashed again while it streams
  (:func:`verified_stream`) and, on a mismatch (bytes rotting in between), the object is
  quarantined and the last chunk withheld, so the response is cut short and the client sees
  an error rather than a complete corrupt body.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from pocketstack.objectstore.daemon import NodeDaemon
from pocketstack.objectstore.diskfile import DiskFile, DiskFileError, ObjectState
from pocketstack.objectstore.recon_cache import (  # noqa: F401  (re-exported: their old home)
    RECON_FILE,
    dump_recon,
    load_recon,
)
from pocketstack.objectstore.utils import fsync_dir

if TYPE_CHECKING:
    from pocketstack.objectstore.node import StorageNode

LOG = logging.getLogger(__name__)
CHUNK = 1024 * 1024
#: objects up to this size are read whole on GET, checked, and served from memory
SMALL_OBJECT = 1024 * 1024
#: files remembered as verified per process (oldest forgotten first)
VERIFIED_CACHE_SIZE = 200_000
#: the node's recon cache, ``<devices root>/object.recon`` (JSON)


class ObjectCorrupt(Exception):
    """An object's files fail a check (MD5 not its ETag, bad or missing metadata)."""


# -- what this process verified ------------------------------------------------------------


class VerifiedFiles:
    """The ``.data`` files known to match their ETag, by ``(st_dev, st_ino)`` with the
    ``(size, mtime_ns, ctime_ns)`` they had then: any write to a file changes its ctime, so
    a file modified since is checked again."""

    def __init__(self, size: int = VERIFIED_CACHE_SIZE):
        self.size = size
        self._files: OrderedDict[tuple[int, int], tuple[int, int, int]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(st: os.stat_result) -> tuple[tuple[int, int], tuple[int, int, int]]:
        return (st.st_dev, st.st_ino), (st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def remember(self, st: os.stat_result) -> None:
        """Record the file of ``st`` as verified."""
        key, value = self._key(st)
        with self._lock:
            self._files[key] = value
            self._files.move_to_end(key)
            while len(self._files) > self.size:
                self._files.popitem(last=False)

    def known(self, st: os.stat_result) -> bool:
        """Whether the file of ``st`` was verified and has not changed since."""
        key, value = self._key(st)
        with self._lock:
            return self._files.get(key) == value

    def forget(self, st: os.stat_result) -> None:
        """Drop the file of ``st``."""
        with self._lock:
            self._files.pop(self._key(st)[0], None)


VERIFIED = VerifiedFiles()


def remember_written(data_file: Path) -> None:
    """A PUT just wrote ``data_file`` and computed its MD5 while writing: remember it."""
    with contextlib.suppress(OSError):
        VERIFIED.remember(os.stat(data_file))


# -- checks and quarantine -----------------------------------------------------------------


def check_metadata(state: ObjectState, st: os.stat_result, name_hash: str | None = None) -> str:
    """The stored ETag, after checking the metadata of a live object against its file.

    Args:
        name_hash: when given, the hash of the stored ``name``: it must be the directory's.

    Raises:
        ObjectCorrupt: no ETag, no length or one other than the file's size, a name that
            does not hash to its directory.
    """
    meta = state.metadata
    etag = meta.get("etag", "")
    if len(etag) != 32:
        raise ObjectCorrupt("metadata has no ETag")
    length = meta.get("content-length", "")
    if not length.isdigit() or int(length) != st.st_size:
        raise ObjectCorrupt(f"size {st.st_size} is not the stored {length or 'nothing'}")
    if name_hash is not None and state.data_file is not None:
        if state.data_file.parent.name != name_hash:
            raise ObjectCorrupt("name does not hash to its directory")
    return etag


def md5_of(fh: BinaryIO, throttle: Callable[[int], None] | None = None) -> str:
    """MD5 hex of a file from its start (``throttle(n)`` called after each chunk read)."""
    fh.seek(0)
    digest = hashlib.md5(usedforsecurity=False)
    while chunk := fh.read(CHUNK):
        digest.update(chunk)
        if throttle is not None:
            throttle(len(chunk))
    return digest.hexdigest()


def quarantine(directory: Path, kind: str = "objects") -> Path | None:
    """Move a hash directory (an object's, or a database's for ``kind`` ``containers`` or
    ``accounts``) to ``<device>/quarantined/<kind>/<hash>`` (with a ``-<uuid>`` suffix when
    that is taken); returns where it went, None when it was gone already. The device is the
    directory's fourth parent (``<device>/<kind>/<partition>/<suffix>/<hash>``)."""
    device = directory.parents[3]
    target_dir = device / "quarantined" / kind
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / directory.name
    if target.exists():
        target = target_dir / f"{directory.name}-{uuid.uuid4().hex}"
    try:
        os.replace(directory, target)
    except FileNotFoundError:
        return None
    fsync_dir(target_dir)
    fsync_dir(directory.parent)
    with contextlib.suppress(OSError):
        directory.parent.rmdir()  # an empty suffix directory
    LOG.warning("quarantined %s to %s", directory, target)
    return target


def quarantined_count(device_path: Path, kind: str = "objects") -> int:
    """How many entries ``<device>/quarantined/<kind>`` holds."""
    try:
        return len(os.listdir(device_path / "quarantined" / kind))
    except FileNotFoundError:
        return 0


def database_is_intact(db_file: Path) -> bool:
    """SQLite's own ``PRAGMA quick_check`` passes."""
    try:
        conn = sqlite3.connect(db_file, timeout=30)
        try:
            return bool(conn.execute("PRAGMA quick_check").fetchone()[0] == "ok")
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False


# -- on read ---------------------------------------------------------------------------


def verify_for_read(state: ObjectState, fh: BinaryIO) -> bytes | None:
    """Check a live object before any of it is sent (run in a worker thread).

    Returns the whole body for a small object (read once, checked, served from memory),
    None for a large one now known good (``fh`` is left at offset 0).

    Raises:
        ObjectCorrupt: the object was quarantined (answer 404: the proxy reads another
            replica); ``fh`` is closed.
    """
    assert state.data_file is not None
    try:
        st = os.fstat(fh.fileno())
        etag = check_metadata(state, st)
        if st.st_size <= SMALL_OBJECT:
            fh.seek(0)
            body = fh.read()
            if hashlib.md5(body, usedforsecurity=False).hexdigest() != etag:
                raise ObjectCorrupt("MD5 of the data is not its ETag")
            VERIFIED.remember(st)
            return body
        if not VERIFIED.known(st):
            if md5_of(fh) != etag:
                raise ObjectCorrupt("MD5 of the data is not its ETag")
            VERIFIED.remember(st)
        fh.seek(0)
        return None
    except ObjectCorrupt as exc:
        fh.close()
        LOG.error("GET found %s corrupt: %s", state.data_file, exc)
        quarantine(state.data_file.parent)
        raise


def verified_stream(fh: BinaryIO, state: ObjectState) -> Iterator[bytes]:
    """The whole object, hashed as it goes; the last chunk is sent only once the MD5 is the
    ETag. On a mismatch the object is quarantined and the stream raises, so the server cuts
    the response short (the client sees an incomplete body, never a complete corrupt one)."""
    assert state.data_file is not None
    etag = state.metadata.get("etag", "")
    digest = hashlib.md5(usedforsecurity=False)
    held: bytes | None = None
    try:
        fh.seek(0)
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            if held is not None:
                yield held
            held = chunk
        if digest.hexdigest() != etag:
            with contextlib.suppress(OSError):
                VERIFIED.forget(os.fstat(fh.fileno()))
            quarantine(state.data_file.parent)
            raise ObjectCorrupt(f"{state.data_file}: MD5 changed while it was read")
        if held is not None:
            yield held
    finally:
        fh.close()


# -- the auditor -------------------------------------------------------------------------


@dataclass
class AuditStats:
    """What one pass saw (times in seconds since the epoch)."""

    started: float = 0.0
    finished: float = 0.0
    objects: int = 0
    bytes: int = 0
    databases: int = 0
    quarantined: int = 0
    errors: int = 0


class Throttle:
    """Sleeps so that at most ``bytes_per_second`` and ``files_per_second`` pass (0: no
    limit); ``wait`` sleeps, cut short when the pass is stopped."""

    def __init__(
        self, bytes_per_second: float, files_per_second: float, wait: Callable[[float], object]
    ):
        self.bytes_per_second = bytes_per_second
        self.files_per_second = files_per_second
        self.sleep = wait
        self.start = time.monotonic()
        self.bytes = 0
        self.files = 0

    def _wait(self, done: int, rate: float) -> None:
        if rate > 0:
            ahead = done / rate - (time.monotonic() - self.start)
            if ahead > 0:
                self.sleep(ahead)

    def add_bytes(self, count: int) -> None:
        """Count ``count`` bytes read; sleep while ahead of the rate."""
        self.bytes += count
        self._wait(self.bytes, self.bytes_per_second)

    def add_file(self) -> None:
        """Count one file; sleep while ahead of the rate."""
        self.files += 1
        self._wait(self.files, self.files_per_second)


class Auditor(NodeDaemon):
    """Audit passes over one node's devices (see the module docstring).

    Args:
        node: the storage node (its ``devices`` and ``ring``).
        interval: seconds between the thread's passes (0: only :meth:`run_once`).
        bytes_per_second, files_per_second: the pass's rate limits (0: none).
    """

    name = "object-auditor"

    def __init__(
        self,
        node: StorageNode,
        interval: float = 1800.0,
        bytes_per_second: float = 10_000_000,
        files_per_second: float = 20.0,
    ):
        super().__init__(node, interval)
        self.bytes_per_second = bytes_per_second
        self.files_per_second = files_per_second
        self.last = AuditStats()

    def run_once(self, limited: bool = True) -> AuditStats:
        """One pass over every object and database of every device; ``limited=False``
        ignores the rate limits (tests, operators). The stats go to the recon cache."""
        stats = AuditStats(started=time.time())
        throttle = Throttle(
            self.bytes_per_second if limited else 0,
            self.files_per_second if limited else 0,
            self.wait,
        )
        root = self.node.devices.root
        for device in self.node.devices.names():
            for hash_dir in sorted((root / device / "objects").glob("[0-9]*/[0-9a-f]*/*")):
                if self.stopping:
                    break
                self._audit_object(root / device, hash_dir, stats, throttle)
            for kind in ("containers", "accounts"):
                for db_file in sorted((root / device / kind).glob("[0-9]*/*/*/*.db")):
                    if self.stopping:
                        break
                    stats.databases += 1
                    if not database_is_intact(db_file):
                        LOG.error("auditor: database %s is damaged", db_file)
                        stats.quarantined += quarantine(db_file.parent, kind) is not None
                    throttle.add_file()
        stats.finished = time.time()
        self.last = stats
        dump_recon(root, "object_auditor", asdict(stats))
        return stats

    def _audit_object(
        self, device_path: Path, hash_dir: Path, stats: AuditStats, throttle: Throttle
    ) -> None:
        try:
            df = DiskFile(device_path, int(hash_dir.parents[1].name), hash_dir.name)
            state, fh = df.open()
        except DiskFileError as exc:  # metadata that does not parse
            self._quarantine(hash_dir, stats, str(exc))
            return
        except (OSError, ValueError) as exc:
            stats.errors += 1
            LOG.info("auditing %s: %s", hash_dir, exc)
            return
        if fh is None:
            return
        with fh:
            stats.objects += 1
            try:
                st = os.fstat(fh.fileno())
                etag = check_metadata(state, st, self._name_hash(state))
                if md5_of(fh, throttle.add_bytes) != etag:
                    raise ObjectCorrupt("MD5 of the data is not its ETag")
                VERIFIED.remember(st)
                stats.bytes += st.st_size
            except ObjectCorrupt as exc:
                self._quarantine(hash_dir, stats, str(exc))
                return
            except OSError as exc:
                stats.errors += 1
                LOG.info("auditing %s: %s", hash_dir, exc)
        _note_expiring(device_path, hash_dir, state)
        throttle.add_file()

    def _name_hash(self, state: ObjectState) -> str:
        name = state.metadata.get("name", "")
        parts = name[1:].split("/", 2) if name.startswith("/") else []
        if len(parts) != 3:
            raise ObjectCorrupt(f"bad stored name {name!r}")
        return str(self.node.ring.hash_path(*parts))

    @staticmethod
    def _quarantine(hash_dir: Path, stats: AuditStats, why: str) -> None:
        LOG.error("auditor: %s is corrupt: %s", hash_dir, why)
        if quarantine(hash_dir) is not None:
            stats.quarantined += 1


def _note_expiring(device_path: Path, hash_dir: Path, state: ObjectState) -> None:
    """An object with ``X-Delete-At`` seen by the auditor is (again) in the expirer's index:
    one that came by a path that did not note it is expired all the same."""
    delete_at = state.metadata.get("x-delete-at")
    if delete_at and delete_at.isdigit():
        from pocketstack.objectstore.expirer import note_expiring

        with contextlib.suppress(OSError):
            note_expiring(device_path, int(hash_dir.parents[1].name), hash_dir.name, delete_at)


def attach(node: StorageNode, conf: object, ip: str, port: int) -> None:
    """Give a node its auditor and expirer (started and stopped with it) from ``conf``'s
    ``object_auditor_interval``, ``object_auditor_bytes_per_second`` and
    ``object_expirer_interval``; ``ip:port`` is the node's address in the ring."""
    from pocketstack.objectstore.expirer import Expirer

    node.auditor = Auditor(
        node,
        interval=float(getattr(conf, "object_auditor_interval", 1800.0)),
        bytes_per_second=float(getattr(conf, "object_auditor_bytes_per_second", 10_000_000)),
    )
    node.expirer = Expirer(
        node, interval=float(getattr(conf, "object_expirer_interval", 60.0)), ip=ip, port=port
    )
