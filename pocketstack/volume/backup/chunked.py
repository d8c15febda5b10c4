"""The chunked backup service: a volume read in fixed chunks, each stored compressed as one
object of a ``BackupStore``, described by a JSON manifest (the design of Cinder's
``ChunkedBackupDriver``, learnt from, not copied).

Objects of one backup, in container ``<container>`` (default ``volumebackups``)::

    volume_<volume id>/<YYYYmmddHHMMSS>_backup_<backup id>/backup_00001   a data extent (zlib)
    ...                                                  /backup_0000N
    ...                                                  /sha256file      sha256 per block
    ...                                                  /metadata        the manifest

- The volume is read ``backup_chunk_size`` bytes at a time (32 MiB by default). A chunk that
  is all zeros (or a hole of a sparse file, found with ``SEEK_DATA`` without reading it) is
  recorded as a zero extent and stores no object.
- ``sha256file`` holds the SHA-256 of every ``backup_sha_block_size`` block (32 KiB) of the
  volume. An *incremental* backup compares each block with its parent's list and stores only
  the runs of changed blocks, each run one object; unchanged blocks are left to the parent.
- The manifest (``metadata``, written last: a backup without it is incomplete) lists the
  extents in order: ``{"offset", "length", "object" (name or null for zeros), "sha256" of
  the uncompressed bytes, "compression"}``, the volume's size in bytes and the parent's
  container and manifest name.
- Restore reads the chain parent-first (full backup, then each incremental) and writes the
  extents in place; every object is decompressed and checked against its SHA-256 *before*
  its bytes are written, so a corrupt object stops the restore (``BackupCorrupt``) instead of
  restoring bad data. Writes are sparse: an all-zero block is not written where the target
  already reads zeros (a new thin volume stays thin).
"""

from __future__ import annotations

import collections
import datetime as dt
import errno
import functools
import hashlib
import json
import os
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO

from pocketstack.volume.backup.stores import BackupObjectNotFound, BackupStore, store_from_conf

#: defaults of the ``backup_*`` options (bytes)
DEFAULT_CHUNK_SIZE = 32 * 1024 * 1024
DEFAULT_SHA_BLOCK_SIZE = 32 * 1024
DEFAULT_CONTAINER = "volumebackups"
DEFAULT_COMPRESSION_LEVEL = 1
#: manifest format version
VERSION = 1
GIB = 1024**3
#: granularity of sparse writes on restore (bytes)
WRITE_BLOCK = 64 * 1024
#: worker threads compressing/uploading (create) or fetching/checking (restore); zlib and
#: hashlib release the GIL, so two threads use two cores
WORKERS = 2


class BackupError(Exception):
    """A backup operation failed; the message is the fault the agent reports."""


class BackupCorrupt(BackupError):
    """An object or manifest of a backup does not match what was stored (SHA-256, length,
    zlib stream, JSON): nothing of that object was written."""


class BackupInvalid(BackupError):
    """A backup cannot run as asked: its manifest or parent is missing, the target volume
    is too small."""


def object_prefix(volume_id: str, backup_id: str, when: Any = None) -> str:
    """``volume_<vol>/<YYYYmmddHHMMSS>_backup_<id>``: where the objects of a backup go.

    ``when``: the backup's ``created_at`` (datetime or ISO string); now when missing.
    """
    if isinstance(when, str):
        digits = "".join(c for c in when if c.isdigit())[:14]
        stamp = digits if len(digits) == 14 else _now_stamp()
    elif isinstance(when, dt.datetime):
        stamp = when.strftime("%Y%m%d%H%M%S")
    else:
        stamp = _now_stamp()
    return f"volume_{volume_id}/{stamp}_backup_{backup_id}"


def _now_stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")


def _is_zero(data: bytes | memoryview) -> bool:
    """Whether ``data`` is all zero bytes (a memcmp against a zero buffer; a memoryview is
    copied first: its own comparison goes item by item, hundreds of times slower)."""
    if isinstance(data, memoryview):
        data = bytes(data)
    return data == bytes(len(data))


class BackupService:
    """The backups of one storage host (used by the volume agent: ``create_backup``,
    ``restore_backup``, ``delete_backup``).

    Args:
        driver: the host's ``VolumeDriver`` (unused by the file path: the agent passes the
            volume's path); kept for stores or drivers that read volumes otherwise.
        conf: the host's ``Config``; options read: ``backup_store``, ``backup_chunk_size``,
            ``backup_sha_block_size``, ``backup_container``, ``backup_compression_level``
            (their defaults above when not declared).
        store: a ``BackupStore`` to use instead of the configured one (tests).

    Raises:
        BackupStoreUnavailable: the configured store cannot run (``swift`` without object
            storage).
    """

    def __init__(self, driver: Any, conf: Any, store: BackupStore | None = None):
        self.driver = driver
        self.conf = conf
        self.store = store if store is not None else store_from_conf(conf)
        block = int(getattr(conf, "backup_sha_block_size", 0) or DEFAULT_SHA_BLOCK_SIZE)
        chunk = int(getattr(conf, "backup_chunk_size", 0) or DEFAULT_CHUNK_SIZE)
        self.block_size = block
        self.chunk_size = max(block, chunk - chunk % block)
        self.container = getattr(conf, "backup_container", None) or DEFAULT_CONTAINER
        level = getattr(conf, "backup_compression_level", None)
        self.level = DEFAULT_COMPRESSION_LEVEL if level is None else int(level)

    # -- create ---------------------------------------------------------------------------

    def create(
        self, backup: dict[str, Any], volume_path: str, parent_manifest: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Back up the volume at ``volume_path`` as ``backup``.

        Args:
            backup: ``{"id", "volume_id", "container"?, "created_at"?}``.
            volume_path: the volume's raw file (or block device).
            parent_manifest: None for a full backup; for an incremental the parent's
                manifest, or the parent backup's dict (``container``, ``service_metadata``)
                whose manifest is then read from the store.

        Returns:
            ``{"size": GiB (rounded up), "object_count", "container", "service_metadata":
            {"version", "prefix", "manifest", "sha256file"}, "is_incremental", "parent_id"}``.

        Raises:
            BackupInvalid: the parent's manifest is missing. BackupCorrupt: it is unreadable.
            OSError: the volume cannot be read or the store written; the objects written so
            far are removed first.
        """
        container = backup.get("container") or self.container
        prefix = object_prefix(backup["volume_id"], backup["id"], backup.get("created_at"))
        parent = self._parent(parent_manifest)
        parent_hashes = self._parent_hashes(parent)
        try:
            with open(volume_path, "rb") as volume:
                size = volume.seek(0, os.SEEK_END)
                writer = _ExtentWriter(self.store, container, prefix, self.level)
                hashes = self._scan(volume, size, parent_hashes, writer)
            self._put_json(container, f"{prefix}/sha256file", _sha_doc(backup, self, hashes))
            manifest = self._manifest(backup, container, prefix, size, writer.extents, parent)
            self._put_json(container, f"{prefix}/metadata", manifest)
        except BaseException:
            self._remove(container, prefix)
            raise
        return {
            "size": -(-size // GIB),
            "object_count": writer.count,
            "container": container,
            "service_metadata": {
                "version": VERSION,
                "prefix": prefix,
                "manifest": f"{prefix}/metadata",
                "sha256file": f"{prefix}/sha256file",
            },
            "is_incremental": parent is not None,
            "parent_id": parent["backup_id"] if parent else None,
        }

    def _scan(
        self,
        volume: BinaryIO,
        size: int,
        parent_hashes: list[str] | None,
        writer: _ExtentWriter,
    ) -> list[str]:
        """Read the volume chunk by chunk, hand the changed runs to ``writer``; returns the
        SHA-256 of every block."""
        hashes: list[str] = []
        with writer:
            for offset in range(0, size, self.chunk_size):
                length = min(self.chunk_size, size - offset)
                data = _read_chunk(volume, offset, length)
                block_hashes = self._block_hashes(data)
                first = len(hashes)
                hashes.extend(block_hashes)
                if parent_hashes is None:
                    writer.add(offset, data)
                    continue
                for start, end in _changed_runs(block_hashes, parent_hashes, first):
                    lo, hi = start * self.block_size, min(end * self.block_size, length)
                    writer.add(offset + lo, data[lo:hi])
        return hashes

    def _block_hashes(self, data: bytes) -> list[str]:
        size = self.block_size
        if _is_zero(data):
            hashes = [_zero_sha256(size)] * (len(data) // size)
            if len(data) % size:
                hashes.append(_zero_sha256(len(data) % size))
            return hashes
        view = memoryview(data)
        return [hashlib.sha256(view[i : i + size]).hexdigest() for i in range(0, len(data), size)]

    def _parent(self, parent: dict[str, Any] | None) -> dict[str, Any] | None:
        if parent is None:
            return None
        if "extents" in parent:
            return parent
        meta = parent.get("service_metadata") or {}
        if not meta.get("manifest"):
            raise BackupInvalid(f"parent backup {parent.get('id')} has no manifest")
        return self._load_json(parent.get("container") or self.container, meta["manifest"])

    def _parent_hashes(self, parent: dict[str, Any] | None) -> list[str] | None:
        if parent is None:
            return None
        doc = self._load_json(parent["container"], parent["sha256file"])
        if doc.get("block_size") != self.block_size:
            return []  # another block size: every block counts as changed
        hashes: list[str] = doc["sha256s"]
        return hashes

    def _manifest(
        self,
        backup: dict[str, Any],
        container: str,
        prefix: str,
        size: int,
        extents: list[dict[str, Any]],
        parent: dict[str, Any] | None,
    ) -> dict[str, Any]:
        return {
            "version": VERSION,
            "backup_id": backup["id"],
            "volume_id": backup["volume_id"],
            "created_at": dt.datetime.now(dt.UTC).isoformat(),
            "container": container,
            "prefix": prefix,
            "volume_size": size,
            "chunk_size": self.chunk_size,
            "block_size": self.block_size,
            "sha256file": f"{prefix}/sha256file",
            "extents": extents,
            "parent": (
                {
                    "backup_id": parent["backup_id"],
                    "container": parent["container"],
                    "manifest": f"{parent['prefix']}/metadata",
                }
                if parent
                else None
            ),
        }

    # -- restore --------------------------------------------------------------------------

    def restore(self, backup: dict[str, Any], volume_path: str) -> dict[str, Any]:
        """Write the data of ``backup`` (and of its parents, parent-first) into the volume at
        ``volume_path``, which must be at least the backed-up size.

        Args:
            backup: ``{"id", "container", "service_metadata": {"manifest", ...}}``.

        Returns:
            ``{"size": GiB of the backed-up volume, "volume_size": bytes}``.

        Raises:
            BackupInvalid: no manifest, a parent gone, the target too small.
            BackupCorrupt: an object or manifest does not match its checksum (the restore
                stops before writing that object's bytes).
        """
        chain = self.chain(backup)
        size = chain[-1]["volume_size"]
        with open(volume_path, "r+b") as volume:
            have = volume.seek(0, os.SEEK_END)
            if have < size:
                raise BackupInvalid(
                    f"volume of {have} bytes is smaller than backup {backup['id']} ({size})"
                )
            for manifest in chain:
                self._apply(manifest, volume)
            volume.flush()
            os.fsync(volume.fileno())
        return {"size": -(-size // GIB), "volume_size": size}

    def chain(self, backup: dict[str, Any]) -> list[dict[str, Any]]:
        """The manifests from the full backup to ``backup``, parent-first.

        Raises:
            BackupInvalid: a manifest of the chain is gone. BackupCorrupt: unreadable.
        """
        meta = backup.get("service_metadata") or {}
        if not meta.get("manifest"):
            raise BackupInvalid(f"backup {backup.get('id')} has no manifest")
        manifest = self._load_json(backup.get("container") or self.container, meta["manifest"])
        chain = [manifest]
        while manifest.get("parent"):
            ref = manifest["parent"]
            manifest = self._load_json(ref["container"], ref["manifest"])
            chain.append(manifest)
            if len(chain) > 10000:
                raise BackupCorrupt(f"backup {backup.get('id')}: parent chain loops")
        chain.reverse()
        return chain

    def _apply(self, manifest: dict[str, Any], volume: BinaryIO) -> None:
        container, prefix = manifest["container"], manifest["prefix"]

        def fetch(extent: dict[str, Any]) -> bytes:
            return self._extent_data(container, prefix, extent)

        stored = [e for e in manifest["extents"] if e.get("object") is not None]
        fetched = _prefetched(fetch, stored)
        for extent in manifest["extents"]:
            if extent.get("object") is None:
                _zero_range(volume, extent["offset"], extent["length"])
            else:
                _, data = next(fetched)
                _write_sparse(volume, extent["offset"], data)

    def _extent_data(self, container: str, prefix: str, extent: dict[str, Any]) -> bytes:
        """The checked, uncompressed bytes of one extent (zeros for a zero extent)."""
        length = extent["length"]
        if extent.get("object") is None:
            return bytes(length)
        name = f"{prefix}/{extent['object']}"
        try:
            stored = self.store.get_object(container, name)
        except BackupObjectNotFound as exc:
            raise BackupCorrupt(f"backup object {container}/{name} is missing") from exc
        try:
            data = zlib.decompress(stored) if extent.get("compression") == "zlib" else stored
        except zlib.error as exc:
            raise BackupCorrupt(f"backup object {container}/{name} is corrupt: {exc}") from exc
        if len(data) != length or hashlib.sha256(data).hexdigest() != extent["sha256"]:
            raise BackupCorrupt(
                f"backup object {container}/{name} is corrupt: its SHA-256 does not match "
                "the manifest"
            )
        return data

    # -- delete ---------------------------------------------------------------------------

    def delete(self, backup: dict[str, Any]) -> dict[str, Any]:
        """Remove every object of ``backup`` (manifest first, so a half-deleted backup is
        never taken for a complete one; without ``service_metadata``, the objects of an
        unfinished create, named from ``created_at``); removing a backup that is gone, or
        was never written, succeeds. Whether dependent incrementals forbid it is the controller's
        check (``has_dependent_backups``). Returns ``{}``."""
        meta = backup.get("service_metadata") or {}
        prefix = meta.get("prefix")
        if not prefix and backup.get("created_at") and backup.get("volume_id"):
            # a create that never finished (its agent was killed): the same name it wrote
            prefix = object_prefix(backup["volume_id"], backup["id"], backup["created_at"])
        if prefix:
            self._remove(backup.get("container") or self.container, prefix)
        return {}

    def _remove(self, container: str, prefix: str) -> None:
        for tail in ("metadata", "sha256file"):
            self.store.delete_object(container, f"{prefix}/{tail}")
        for name in self.store.list(container, prefix + "/"):
            self.store.delete_object(container, name)

    # -- JSON objects ---------------------------------------------------------------------

    def _put_json(self, container: str, name: str, doc: dict[str, Any]) -> None:
        self.store.put_object(container, name, json.dumps(doc, separators=(",", ":")).encode())

    def _load_json(self, container: str, name: str) -> dict[str, Any]:
        try:
            raw = self.store.get_object(container, name)
        except BackupObjectNotFound as exc:
            raise BackupInvalid(f"backup object {container}/{name} is missing") from exc
        try:
            doc: dict[str, Any] = json.loads(raw)
        except ValueError as exc:
            raise BackupCorrupt(f"backup object {container}/{name} is not valid JSON") from exc
        return doc


def _sha_doc(backup: dict[str, Any], service: BackupService, hashes: list[str]) -> dict[str, Any]:
    return {
        "backup_id": backup["id"],
        "volume_id": backup["volume_id"],
        "block_size": service.block_size,
        "sha256s": hashes,
    }


def _changed_runs(hashes: list[str], parent: list[str], first: int) -> Iterator[tuple[int, int]]:
    """Runs ``[start, end)`` (block indexes within ``hashes``) of blocks whose hash differs
    from the parent's block at ``first + index`` (a block past the parent's end differs)."""
    start = None
    for i, digest in enumerate(hashes):
        j = first + i
        changed = j >= len(parent) or parent[j] != digest
        if changed and start is None:
            start = i
        elif not changed and start is not None:
            yield start, i
            start = None
    if start is not None:
        yield start, len(hashes)


def _read_chunk(volume: BinaryIO, offset: int, length: int) -> bytes:
    """``length`` bytes at ``offset``; a range that is all hole is not read (zeros)."""
    fd = volume.fileno()
    try:
        data_at = os.lseek(fd, offset, os.SEEK_DATA)
    except OSError as exc:  # ENXIO: only a hole after offset; else no SEEK_DATA here: read
        data_at = offset + length if exc.errno == errno.ENXIO else offset
    if data_at >= offset + length:
        return bytes(length)
    data = os.pread(fd, length, offset)
    while len(data) < length:
        more = os.pread(fd, length - len(data), offset + len(data))
        if not more:
            raise OSError(f"volume ended at {offset + len(data)}, short of {offset + length}")
        data += more
    return data


class _ExtentWriter:
    """Compresses and stores extents on worker threads; ``extents`` keeps their manifest
    entries in volume order, ``count`` the objects stored. Used as a context manager: the
    exit waits for every upload and raises the first failure."""

    def __init__(self, store: BackupStore, container: str, prefix: str, level: int):
        self.store, self.container, self.prefix, self.level = store, container, prefix, level
        self.extents: list[dict[str, Any]] = []
        self.count = 0
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="backup")
        self._pending: collections.deque[Future[None]] = collections.deque()

    def __enter__(self) -> _ExtentWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def add(self, offset: int, data: bytes) -> None:
        """Record the extent ``data`` at ``offset``: a zero extent, or a new object (hashed,
        compressed and stored on a worker thread; at most ``2 * WORKERS`` in flight)."""
        if _is_zero(data):
            digest = _zero_sha256(len(data))
            self.extents.append(
                {"offset": offset, "length": len(data), "object": None, "sha256": digest}
            )
            return
        self.count += 1
        extent = {
            "offset": offset,
            "length": len(data),
            "object": f"backup_{self.count:05d}",
            "sha256": "",
            "compression": "zlib",
        }
        self.extents.append(extent)
        self._pending.append(self._pool.submit(self._put, extent, data))
        while len(self._pending) > WORKERS * 2:
            self._pending.popleft().result()

    def _put(self, extent: dict[str, Any], data: bytes) -> None:
        extent["sha256"] = hashlib.sha256(data).hexdigest()
        name = f"{self.prefix}/{extent['object']}"
        self.store.put_object(self.container, name, zlib.compress(data, self.level))


@functools.lru_cache(maxsize=8)
def _zero_sha256(length: int) -> str:
    return hashlib.sha256(bytes(length)).hexdigest()


def _prefetched(
    fetch: Callable[[dict[str, Any]], bytes], extents: list[dict[str, Any]]
) -> Iterator[tuple[dict[str, Any], bytes]]:
    """``(extent, fetch(extent))`` in order, fetching a few ahead on worker threads."""
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="restore") as pool:
        pending: collections.deque[tuple[dict[str, Any], Future[bytes]]] = collections.deque()
        try:
            for extent in extents:
                pending.append((extent, pool.submit(fetch, extent)))
                if len(pending) > WORKERS:
                    first, future = pending.popleft()
                    yield first, future.result()
            while pending:
                first, future = pending.popleft()
                yield first, future.result()
        finally:
            for _, future in pending:
                future.cancel()


def _write_sparse(volume: BinaryIO, offset: int, data: bytes) -> None:
    """Write ``data`` at ``offset``, skipping all-zero blocks where the target already reads
    zeros (and writing zeros where it does not)."""
    fd = volume.fileno()
    view = memoryview(data)
    run_start = None
    for pos in range(0, len(data), WRITE_BLOCK):
        block = view[pos : pos + WRITE_BLOCK]
        needed = not _is_zero(block) or not _is_zero(os.pread(fd, len(block), offset + pos))
        if needed and run_start is None:
            run_start = pos
        elif not needed and run_start is not None:
            _pwrite_all(fd, view[run_start:pos], offset + run_start)
            run_start = None
    if run_start is not None:
        _pwrite_all(fd, view[run_start:], offset + run_start)


def _zero_range(volume: BinaryIO, offset: int, length: int) -> None:
    """Make ``length`` bytes at ``offset`` read as zeros: holes are skipped (``SEEK_DATA``),
    data that is not zero already is overwritten with zeros."""
    fd, end = volume.fileno(), offset + length
    pos = offset
    while pos < end:
        try:
            pos = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                return  # only a hole from here to the end of the file
        if pos >= end:
            return
        step = min(WRITE_BLOCK * 16, end - pos)
        current = os.pread(fd, step, pos)
        if not _is_zero(current):
            _pwrite_all(fd, memoryview(bytes(len(current))), pos)
        pos += max(len(current), 1)


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        written = os.pwrite(fd, data, offset)
        data, offset = data[written:], offset + written
