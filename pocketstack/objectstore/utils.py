"""Small pieces every part of object storage shares: name hashing, timestamps, name checks,
node URLs and atomic file writes.

Follows Swift's ``swift.common.utils`` (``hash_path``, ``Timestamp``, ``normalize_timestamp``)
and ``swift.common.constraints`` for the limits (see docs/object-storage.md).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

#: Swift's default limits (swift.common.constraints).
MAX_ACCOUNT_NAME_LENGTH = 256
MAX_CONTAINER_NAME_LENGTH = 256
MAX_OBJECT_NAME_LENGTH = 1024
MAX_META_NAME_LENGTH = 128
MAX_META_VALUE_LENGTH = 256
MAX_META_COUNT = 90
MAX_META_OVERALL_SIZE = 4096
MAX_FILE_SIZE = 5 * 1024**3 + 2
CONTAINER_LISTING_LIMIT = 10000
ACCOUNT_LISTING_LIMIT = 10000

#: The three servers a node answers for, first segment of a node path.
SERVERS = ("account", "container", "object")


class InvalidName(ValueError):
    """A name (account, container, object, device) that may not be stored."""


@functools.total_ordering
class Timestamp:
    """A point in time with Swift's normalized text form (``%016.5f``, 10 µs resolution).

    ``Timestamp("1764526000.12345")``, ``Timestamp(1764526000.123456)``; ``.internal`` is the
    text sent in ``X-Timestamp`` and used in file names; ``.http`` the ``Last-Modified`` form.

    Raises:
        ValueError: not a number, negative or too large.
    """

    __slots__ = ("ticks",)

    def __init__(self, value: float | str | Timestamp):
        if isinstance(value, Timestamp):
            self.ticks: int = value.ticks
            return
        number = float(value)
        if not 0 <= number < 10**10 or number != number:
            raise ValueError(f"timestamp out of range: {value!r}")
        self.ticks = round(number * 100000)

    @classmethod
    def now(cls) -> Timestamp:
        """The current time."""
        return cls(time.time())

    @property
    def internal(self) -> str:
        """``1764526000.12345``: zero padded to 16 characters, as Swift."""
        return f"{self.ticks // 100000:010d}.{self.ticks % 100000:05d}"

    @property
    def seconds(self) -> float:
        """Seconds since the epoch."""
        return self.ticks / 100000

    @property
    def http(self) -> str:
        """RFC 7231 date (``Last-Modified``), rounded up to the second as Swift."""
        secs = -(-self.ticks // 100000)
        return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(secs))

    @property
    def isoformat(self) -> str:
        """``2026-11-30T18:06:40.123450`` (listings' ``last_modified``)."""
        base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.ticks // 100000))
        return f"{base}.{(self.ticks % 100000) * 10:06d}"

    def __str__(self) -> str:
        return self.internal

    def __repr__(self) -> str:
        return f"Timestamp({self.internal!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timestamp) and self.ticks == other.ticks

    def __lt__(self, other: Timestamp) -> bool:
        return self.ticks < other.ticks

    def __hash__(self) -> int:
        return hash(self.ticks)


def hash_path(
    prefix: str, suffix: str, account: str, container: str | None = None, obj: str | None = None
) -> str:
    """MD5 hex of ``prefix/account[/container[/obj]]suffix`` (Swift's ``hash_path``): the name
    of an account's, container's or object's directory and the input of the ring.

    Raises:
        ValueError: an object without a container.
    """
    if obj is not None and container is None:
        raise ValueError("an object needs a container")
    parts = [account] + [p for p in (container, obj) if p is not None]
    text = prefix + "/" + "/".join(parts) + suffix
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def check_name(kind: str, name: str) -> None:
    """Refuse a name Swift refuses: empty, NUL, invalid UTF-8, too long, ``/`` in an account or
    container name.

    Raises:
        InvalidName: with a message for the 400 answer.
    """
    limits = {
        "account": MAX_ACCOUNT_NAME_LENGTH,
        "container": MAX_CONTAINER_NAME_LENGTH,
        "object": MAX_OBJECT_NAME_LENGTH,
    }
    if not name:
        raise InvalidName(f"empty {kind} name")
    if "\x00" in name:
        raise InvalidName(f"{kind} name contains NUL")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidName(f"{kind} name is not valid UTF-8") from None
    if size > limits[kind]:
        raise InvalidName(f"{kind} name longer than {limits[kind]} bytes")
    if kind != "object" and "/" in name:
        raise InvalidName(f"{kind} name contains /")


def check_device(name: str) -> None:
    """A device name is one plain path segment (``d1``, ``sdb``), never ``.``/``..``.

    Raises:
        InvalidName: it is not.
    """
    if not name or name in (".", "..") or "/" in name or "\x00" in name or len(name) > 255:
        raise InvalidName(f"invalid device name {name!r}")


def node_path(
    server: str,
    device: str,
    partition: int,
    account: str,
    container: str | None = None,
    obj: str | None = None,
) -> str:
    """The path of a node request, every segment percent-encoded:
    ``/object/d1/512/AUTH_x/photos/2024/a.jpg``."""
    parts = [quote(p, safe="") for p in (server, device, str(partition), account)]
    if container is not None:
        parts.append(quote(container, safe=""))
    if obj is not None:
        parts.append(quote(obj, safe="/"))
    return "/" + "/".join(parts)


def node_url(
    node: dict,
    server: str,
    partition: int,
    account: str,
    container: str | None = None,
    obj: str | None = None,
) -> str:
    """``http://<ip>:<port>`` + :func:`node_path` for a ring node dict."""
    host = f"[{node['ip']}]" if ":" in node["ip"] else node["ip"]
    return f"http://{host}:{node['port']}" + node_path(
        server, node["device"], partition, account, container, obj
    )


def fsync_dir(path: str | Path) -> None:
    """fsync a directory, so a rename inside it is durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` all or nothing: temp file beside it, fsync, rename, fsync
    the directory. Readers see the old file or the new one, never part of one."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-" + target.name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(target.parent)
