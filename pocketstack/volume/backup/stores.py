"""Backup stores: where the chunked backup service keeps its objects (after Cinder's
``ChunkedBackupDriver``, whose subclasses put objects into Swift, a file system, GCS...).

A store holds opaque objects by ``(container, name)``; ``name`` may contain ``/`` (the
service names objects ``volume_<vol>/<timestamp>_backup_<id>/backup_00001``). Rules every
store keeps:

- ``put_object`` is all or nothing: a reader sees the old object or the whole new one, never
  part of one, and a write that fails leaves nothing behind.
- ``delete_object`` of an object that is gone succeeds.
- ``get_object`` of a missing object raises ``BackupObjectNotFound``.
- Names that could escape the store (empty segments, ``.``/``..``, a leading ``/``) raise
  ``ValueError``.

The store is chosen by the ``backup_store`` option: ``file`` (``FileBackupStore``, under
``<state-dir>/backups``) or ``swift`` (``SwiftBackupStore``, object storage; where there is
no object ring, choosing it raises ``BackupStoreUnavailable`` naming what to use instead).
"""

from __future__ import annotations

import os
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

#: name prefix of a partial object file (never listed, never read)
PARTIAL_PREFIX = ".partial-"


class BackupStoreUnavailable(RuntimeError):
    """The configured ``backup_store`` cannot be used on this host (swift without object
    storage)."""


class BackupObjectNotFound(LookupError):
    """``get_object`` of an object the store does not hold."""


class BackupStore(ABC):
    """Base of every backup store (see the module's rules).

    Attributes:
        name: the ``backup_store`` name (``file``).
    """

    name = "base"

    @classmethod
    @abstractmethod
    def from_conf(cls, conf: Any) -> BackupStore:
        """The store this host's configuration describes (``conf`` is a ``Config``).

        Raises:
            BackupStoreUnavailable: the store cannot run here.
        """

    @abstractmethod
    def put_object(self, container: str, name: str, data: bytes) -> None:
        """Store ``data`` as ``container/name``, replacing an existing object atomically.

        Raises:
            ValueError: an invalid container or name.
            OSError: the write failed (nothing of it is left).
        """

    @abstractmethod
    def get_object(self, container: str, name: str) -> bytes:
        """The bytes of ``container/name``.

        Raises:
            BackupObjectNotFound: no such object.
        """

    @abstractmethod
    def delete_object(self, container: str, name: str) -> None:
        """Remove ``container/name``; succeeds when it is already gone."""

    @abstractmethod
    def list(self, container: str, prefix: str = "") -> list[str]:
        """The names of the objects of ``container`` that start with ``prefix``, sorted
        (an empty list for a container that does not exist)."""


def _check_segments(value: str, what: str) -> list[str]:
    parts = value.split("/")
    if not value or value.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid backup {what} {value!r}")
    if any(p.startswith(PARTIAL_PREFIX) for p in parts):
        raise ValueError(f"invalid backup {what} {value!r}")
    return parts


class FileBackupStore(BackupStore):
    """Objects as files ``<root>/<container>/<name>`` (``<state-dir>/backups`` by default).

    Writes go to a partial file in the object's directory, are fsynced, renamed into place
    and the directory fsynced, so a crash leaves the old object or the new one. Partial files
    of a process that died mid-write start with ``.partial-`` and are never listed.
    """

    name = "file"

    def __init__(self, root: Path | str):
        self.root = Path(root)

    @classmethod
    def from_conf(cls, conf: Any) -> FileBackupStore:
        """The store in ``<state_dir>/backups``."""
        return cls(conf.path("backups"))

    def path(self, container: str, name: str) -> Path:
        """The file of ``container/name`` (it may not exist).

        Raises:
            ValueError: a container with ``/`` or a name that could escape the container.
        """
        return self._container(container).joinpath(*_check_segments(name, "object name"))

    def _container(self, container: str) -> Path:
        if "/" in container:
            raise ValueError(f"invalid backup container {container!r}")
        _check_segments(container, "container")
        return self.root / container

    def put_object(self, container: str, name: str, data: bytes) -> None:
        """Write ``data`` to a partial file, fsync, rename into place, fsync the directory."""
        target = self.path(container, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=PARTIAL_PREFIX)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            _unlink(tmp)
            raise
        _fsync_dir(target.parent)

    def get_object(self, container: str, name: str) -> bytes:
        """The object's bytes; ``BackupObjectNotFound`` when it is missing."""
        try:
            return self.path(container, name).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise BackupObjectNotFound(f"backup object {container}/{name} not found") from None

    def delete_object(self, container: str, name: str) -> None:
        """Remove the file and the directories it leaves empty (up to the container)."""
        target = self.path(container, name)
        _unlink(target)
        top = self.root / container
        parent = target.parent
        while parent != top and top in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def list(self, container: str, prefix: str = "") -> list[str]:
        """Names under ``<root>/<container>`` starting with ``prefix``, partial files left out."""
        top = self._container(container)
        names = []
        for dirpath, _dirs, files in os.walk(top):
            rel = Path(dirpath).relative_to(top)
            for file in files:
                if file.startswith(PARTIAL_PREFIX):
                    continue
                name = (rel / file).as_posix()
                if name.startswith(prefix):
                    names.append(name)
        return sorted(names)


class SwiftBackupStore(BackupStore):
    """Backups in pocketstack's object storage (Cinder's Swift backup driver with
    ``backup_swift_auth = single_user``): every backup object is a Swift object
    ``<container>/<name>`` of the ``[volume] backup_swift_account`` account, written through
    the proxy's logic in this process (``pocketstack.objectstore.internal_client``: three
    replicas, quorum writes, handoffs). A PUT is committed by the storage nodes only whole,
    so readers see the old object or the new one.

    Args:
        client: an ``InternalClient`` (or anything with its methods).
        account: the account holding the backup containers.
    """

    name = "swift"

    def __init__(self, client: Any, account: str):
        self.client = client
        self.account = account
        self._containers: set[str] = set()

    @classmethod
    def from_conf(cls, conf: Any) -> SwiftBackupStore:
        """The store on the object ring of ``conf`` (``[objectstore] object_ring`` or the
        ring ``pocketstack up`` builds).

        Raises:
            BackupStoreUnavailable: no object storage here (no ring to read).
        """
        from pocketstack.objectstore.internal_client import internal_client
        from pocketstack.objectstore.manager import ring_location

        ring = ring_location(conf)
        if not ring.startswith(("http://", "https://")) and not Path(ring).is_file():
            raise BackupStoreUnavailable(
                f"backup_store 'swift' needs object storage: no object ring at {ring} "
                "(start pocketstack up, or set [objectstore] object_ring); or use "
                "backup_store = 'file'"
            )
        return cls(internal_client(conf), getattr(conf, "backup_swift_account", ".cinder"))

    @staticmethod
    def _check(container: str, name: str | None = None) -> None:
        if "/" in container:
            raise ValueError(f"invalid backup container {container!r}")
        _check_segments(container, "container")
        if name is not None:
            _check_segments(name, "object name")

    def put_object(self, container: str, name: str, data: bytes) -> None:
        """One Swift PUT (the container made on first use).

        Raises:
            ValueError: an invalid container or name.
            OSError: too few storage nodes stored it (nothing of it is visible).
        """
        from pocketstack.objectstore.exceptions import InsufficientReplicas

        self._check(container, name)
        try:
            if container not in self._containers:
                self.client.ensure_container(self.account, container)
                self._containers.add(container)
            self.client.put_object(self.account, container, name, [data])
        except InsufficientReplicas as exc:
            raise OSError(f"backup object {container}/{name} not stored: {exc}") from exc

    def get_object(self, container: str, name: str) -> bytes:
        """The object's bytes; ``BackupObjectNotFound`` when it is missing."""
        from pocketstack.objectstore.exceptions import ObjectNotFound

        self._check(container, name)
        try:
            _headers, body = self.client.get_object(self.account, container, name)
        except ObjectNotFound:
            raise BackupObjectNotFound(f"backup object {container}/{name} not found") from None
        return b"".join(body)

    def delete_object(self, container: str, name: str) -> None:
        """Delete the object; succeeds when it is gone."""
        self._check(container, name)
        self.client.delete_object(self.account, container, name)

    def list(self, container: str, prefix: str = "") -> list[str]:
        """The container's object names starting with ``prefix`` (Swift's sorted listing)."""
        self._check(container)
        return list(self.client.list_objects(self.account, container, prefix))


#: ``backup_store`` name -> class
STORES: dict[str, type[BackupStore]] = {"file": FileBackupStore, "swift": SwiftBackupStore}


def store_from_conf(conf: Any) -> BackupStore:
    """The store named by ``conf.backup_store`` (``file`` when the option is not declared).

    Raises:
        BackupStoreUnavailable: an unknown name, or a store that cannot run here (``swift``
            without an object ring).
    """
    name = getattr(conf, "backup_store", None) or "file"
    try:
        cls = STORES[name]
    except KeyError:
        known = ", ".join(sorted(STORES))
        raise BackupStoreUnavailable(f"unknown backup_store {name!r}: known are {known}") from None
    return cls.from_conf(conf)


def _unlink(path: str | Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
