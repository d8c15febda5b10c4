"""Objects on a device's disk (Swift's ``swift.obj.diskfile``), laid out as

    <device>/objects/<partition>/<suffix>/<hash>/<timestamp>.data   the bytes
                                                /<timestamp>.json   their metadata
                                                /<timestamp>.meta   metadata of a later POST
                                                /<timestamp>.ts     tombstone of a DELETE

``<hash>`` is ``hash_path(account, container, obj)`` and ``<suffix>`` its last three hex
digits, so a name never becomes a path. The newest ``.data`` or ``.ts`` is the object's state
(newer wins, whatever order writes arrive in); a ``.meta`` newer than the ``.data`` overrides
its user metadata. Writes go to ``<device>/tmp/`` first and become visible by ``rename``: see
docs/object-storage.md "On disk".
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from pocketstack.objectstore.utils import InvalidName, Timestamp, check_device, fsync_dir

#: Metadata a POST replaces besides X-Object-Meta-* (Swift's object server allowed_headers).
ALLOWED_HEADERS = frozenset(
    {
        "content-disposition",
        "content-encoding",
        "content-language",
        "cache-control",
        "expires",
        "x-delete-at",
        "x-object-manifest",
        "x-static-large-object",
        "x-robots-tag",
    }
)
USER_META_PREFIX = "x-object-meta-"
SYSMETA_PREFIX = "x-object-sysmeta-"
EXTENSIONS = (".data", ".json", ".meta", ".ts")
MAX_PARTITION = 2**32
#: Seconds a tombstone is kept (Swift's reclaim_age, one week).
RECLAIM_AGE = 7 * 86400


class DeviceUnavailable(OSError):
    """The device directory does not exist under the node's root (HTTP 507)."""


class DiskFileError(OSError):
    """An object's files are inconsistent (a ``.data`` without metadata)."""


def is_post_metadata(key: str) -> bool:
    """Metadata a POST replaces as a whole: user metadata and the allowed headers."""
    return key.startswith(USER_META_PREFIX) or key in ALLOWED_HEADERS


@dataclass
class ObjectState:
    """What a hash directory holds now.

    Attributes:
        timestamp: of the newest ``.data`` or ``.ts`` (None when neither exists).
        deleted: the newest is a tombstone.
        data_file: the newest ``.data`` path when not deleted.
        meta_timestamp: of a ``.meta`` newer than the data, if any.
        metadata: lower-case header -> value, the ``.meta`` merged over the ``.data``'s.
    """

    timestamp: Timestamp | None = None
    deleted: bool = False
    data_file: Path | None = None
    meta_timestamp: Timestamp | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        """A live object (a ``.data`` is newest)."""
        return self.data_file is not None

    @property
    def newest(self) -> Timestamp | None:
        """The newest timestamp of any write (data, tombstone or POST)."""
        return self.meta_timestamp or self.timestamp


class Devices:
    """The device directories of one node: ``<root>/<device>/``.

    Args:
        root: the directory holding one directory per device (Swift's ``devices``).
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, device: str) -> Path:
        """The directory of a device.

        Raises:
            InvalidName: a name that is not one path segment.
            DeviceUnavailable: no such device here.
        """
        check_device(device)
        path = self.root / device
        if not path.is_dir():
            raise DeviceUnavailable(errno.ENODEV, f"no device {device}")
        return path

    def names(self) -> list[str]:
        """The devices present."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def tmp_dir(self, device: str) -> Path:
        """The device's temp directory (created on first use; same file system)."""
        tmp = self.path(device) / "tmp"
        tmp.mkdir(exist_ok=True)
        return tmp

    def diskfile(self, device: str, partition: int, name_hash: str) -> DiskFile:
        """The object of hash ``name_hash`` in ``partition`` of ``device``.

        Raises:
            InvalidName, DeviceUnavailable: see :meth:`path`; a bad partition or hash.
        """
        return DiskFile(self.path(device), partition, name_hash)


def hash_dir(device_path: Path, kind: str, partition: int, name_hash: str) -> Path:
    """``<device>/<kind>/<partition>/<suffix>/<hash>``, kind ``objects``, ``containers``
    or ``accounts``.

    Raises:
        InvalidName: a partition out of range or a hash that is not 32 hex digits.
    """
    if not 0 <= partition < MAX_PARTITION:
        raise InvalidName(f"partition out of range: {partition}")
    if len(name_hash) != 32 or not all(c in "0123456789abcdef" for c in name_hash):
        raise InvalidName("bad hash")
    return device_path / kind / str(partition) / name_hash[-3:] / name_hash


class DiskFile:
    """One object's hash directory on one device (see the module docstring)."""

    def __init__(self, device_path: Path, partition: int, name_hash: str):
        self.device_path = device_path
        self.dir = hash_dir(device_path, "objects", partition, name_hash)

    def _files(self) -> list[str]:
        try:
            return os.listdir(self.dir)
        except FileNotFoundError:
            return []

    def state(self) -> ObjectState:
        """The object's current state, read from its files.

        Raises:
            DiskFileError: the newest ``.data`` has no readable metadata.
        """
        for _attempt in range(5):
            try:
                return self._state(self._files())
            except FileNotFoundError:
                continue  # a concurrent write cleaned up what we listed: list again
        raise DiskFileError(errno.EAGAIN, f"{self.dir} keeps changing")

    def _state(self, names: list[str]) -> ObjectState:
        newest: tuple[Timestamp, str] | None = None
        metas: list[Timestamp] = []
        for name in names:
            stem, ext = os.path.splitext(name)
            try:
                ts = Timestamp(stem)
            except ValueError:
                continue
            if ext in (".data", ".ts") and (newest is None or ts > newest[0]):
                newest = (ts, ext)
            elif ext == ".meta":
                metas.append(ts)
        state = ObjectState()
        if newest is None:
            return state
        state.timestamp, ext = newest
        if ext == ".ts":
            state.deleted = True
            return state
        state.data_file = self.dir / (state.timestamp.internal + ".data")
        state.metadata = self._read_json(state.timestamp.internal + ".json")
        later = [ts for ts in metas if ts > state.timestamp]
        if later:
            state.meta_timestamp = max(later)
            post = self._read_json(state.meta_timestamp.internal + ".meta")
            kept = {k: v for k, v in state.metadata.items() if not is_post_metadata(k)}
            state.metadata = {**kept, **post}
        return state

    def _read_json(self, name: str) -> dict[str, str]:
        try:
            with open(self.dir / name, "rb") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            raise
        except (OSError, ValueError) as exc:
            raise DiskFileError(errno.EIO, f"bad metadata {self.dir / name}: {exc}") from None
        if not isinstance(data, dict):
            raise DiskFileError(errno.EIO, f"bad metadata {self.dir / name}")
        return data

    def open(self) -> tuple[ObjectState, BinaryIO | None]:
        """The state and, for a live object, its ``.data`` opened for reading (the caller
        closes it): the bytes stay readable even if a newer write replaces the file."""
        for _attempt in range(5):
            state = self.state()
            if state.data_file is None:
                return state, None
            try:
                return state, open(state.data_file, "rb")  # noqa: SIM115 (caller closes)
            except FileNotFoundError:
                continue
        raise DiskFileError(errno.EAGAIN, f"{self.dir} keeps changing")

    def writer(self, tmp_dir: Path) -> DiskFileWriter:
        """A writer for a new ``.data`` (see :class:`DiskFileWriter`)."""
        return DiskFileWriter(self, tmp_dir)

    def write_marker(self, tmp_dir: Path, timestamp: Timestamp, ext: str, meta: dict) -> None:
        """Write a ``.ts`` tombstone or ``.meta`` (JSON) atomically, then clean up."""
        tmp = tmp_dir / f"{uuid.uuid4().hex}{ext}"
        _write_fsynced(tmp, json.dumps(meta).encode())
        self.dir.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, self.dir / (timestamp.internal + ext))
        fsync_dir(self.dir)
        self.cleanup()

    def cleanup(self, now: float | None = None) -> None:
        """Remove files the newest ``.data``/``.ts`` makes obsolete (older data, tombstones,
        metadata), keeping a newer orphan ``.json`` (a write in flight) and ``.meta`` files
        newer than the data. A tombstone that is the newest file goes too once older than
        ``RECLAIM_AGE`` (Swift's reclaim_age: by then every replica has it, and a write
        older than that is not expected any more)."""
        names = self._files()
        stamps: dict[str, tuple[Timestamp, str]] = {}
        for name in names:
            stem, ext = os.path.splitext(name)
            with contextlib.suppress(ValueError):
                stamps[name] = (Timestamp(stem), ext)
        durable = [ts for ts, ext in stamps.values() if ext in (".data", ".ts")]
        if not durable:
            return
        top = max(durable)
        top_is_data = (top.internal + ".data") in stamps
        reclaim = not top_is_data and top.seconds < (time.time() if now is None else now) - (
            RECLAIM_AGE
        )
        for name, (ts, ext) in stamps.items():
            keep = ts > top or (ts == top and ext != ".meta" and not reclaim)
            if ts == top and ext == ".json" and not top_is_data:
                keep = False
            if not keep:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.dir / name)


def _write_fsynced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


class DiskFileWriter:
    """Streams a new object's bytes into the device's tmp dir while computing their MD5;
    :meth:`commit` makes them the object's ``.data`` (atomic), :meth:`abort` (or leaving
    the ``with`` block without commit) removes the temp file: nothing becomes visible."""

    def __init__(self, diskfile: DiskFile, tmp_dir: Path):
        self.diskfile = diskfile
        self.tmp_dir = tmp_dir
        self.tmp_data = tmp_dir / f"{uuid.uuid4().hex}.data"
        self.tmp_meta = tmp_dir / f"{uuid.uuid4().hex}.json"
        self.fd: int | None = os.open(self.tmp_data, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0
        self._lock = threading.Lock()  # a write in a worker thread ends before abort closes

    def __enter__(self) -> DiskFileWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()

    def write(self, chunk: bytes) -> None:
        """Append bytes.

        Raises:
            OSError: the device is full or failing.
        """
        with self._lock:
            if self.fd is None:
                raise OSError(errno.EBADF, "writer closed")
            view = memoryview(chunk)
            while view:
                view = view[os.write(self.fd, view) :]
            self.md5.update(chunk)
            self.size += len(chunk)

    def write_all(self, chunks: list[bytes]) -> None:
        """:meth:`write` each chunk (one call for a worker thread)."""
        for chunk in chunks:
            self.write(chunk)

    def commit(self, timestamp: Timestamp, metadata: dict[str, str]) -> None:
        """fsync the bytes and the metadata sidecar, rename the sidecar then the ``.data``
        into the hash directory (the commit point), fsync the directory, clean up."""
        assert self.fd is not None, "writer closed"
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = None
        _write_fsynced(self.tmp_meta, json.dumps(metadata).encode())
        target = self.diskfile.dir
        target.mkdir(parents=True, exist_ok=True)
        os.replace(self.tmp_meta, target / (timestamp.internal + ".json"))
        os.replace(self.tmp_data, target / (timestamp.internal + ".data"))
        fsync_dir(target)
        self.diskfile.cleanup()

    def abort(self) -> None:
        """Drop the temp files (nothing was visible)."""
        with self._lock:
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None
        for tmp in (self.tmp_data, self.tmp_meta):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def partition_dir(device_path: Path, partition: int) -> Path:
    """``<device>/objects/<partition>``."""
    return device_path / "objects" / str(partition)


def suffix_files(part_dir: Path, suffixes: list[str] | None = None) -> dict[str, dict]:
    """``{suffix: {hash: [file names]}}`` of a partition directory (every suffix, or the
    given ones), each hash directory cleaned up first; empty hash directories are removed."""
    out: dict[str, dict] = {}
    if not part_dir.is_dir():
        return out
    names = suffixes if suffixes is not None else sorted(os.listdir(part_dir))
    for suffix in names:
        if len(suffix) != 3 or not all(c in "0123456789abcdef" for c in suffix):
            continue
        hashes: dict[str, list[str]] = {}
        try:
            entries = sorted(os.listdir(part_dir / suffix))
        except FileNotFoundError:
            out[suffix] = hashes
            continue
        for name_hash in entries:
            try:
                df = DiskFile(part_dir.parent.parent, int(part_dir.name), name_hash)
            except (InvalidName, ValueError):
                continue
            df.cleanup()
            files = sorted(df._files())
            if files:
                hashes[name_hash] = files
            else:
                with contextlib.suppress(OSError):
                    os.rmdir(df.dir)
        out[suffix] = hashes
    return out


def suffix_hashes(part_dir: Path) -> dict[str, str]:
    """``{suffix: MD5 of its hash directories' file names}``: two replicas of a partition
    hold the same objects when these agree (Swift's hashes.pkl, computed, not cached)."""
    hashes = {}
    for suffix, entries in suffix_files(part_dir).items():
        digest = hashlib.md5(usedforsecurity=False)
        for name_hash, files in sorted(entries.items()):
            for name in files:
                if not name.endswith(".json"):  # mirrors its .data: in flight writes differ
                    digest.update(f"{name_hash}/{name}\n".encode())
        hashes[suffix] = digest.hexdigest()
    return hashes
