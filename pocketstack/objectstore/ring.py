"""The ring, read side: which devices hold an account, container or object (Swift's
``swift.common.ring.Ring``: ``get_nodes``, ``get_part_nodes``, ``get_more_nodes``).

A ring file is written by :class:`pocketstack.objectstore.builder.RingBuilder` (``pocketstack
ring rebalance``) and reaches proxies and nodes as a file path or an ``http(s)://`` URL; a
:class:`Ring` reloads it when it changes. Format: docs/object-storage.md "The ring".
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import threading
import time
import urllib.error
import urllib.request
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pocketstack.objectstore.builder import RING_FORMAT, decode_array
from pocketstack.objectstore.utils import hash_path


class RingError(ValueError):
    """The ring can't be read (missing, not a ring file, unknown format)."""


@dataclass(frozen=True)
class RingData:
    """One version of a ring: what the file holds, decoded."""

    version: int
    part_power: int
    replicas: int
    hash_path_prefix: str
    hash_path_suffix: str
    devs: list[dict | None]
    replica2part2dev: list[array]

    @classmethod
    def from_bytes(cls, raw: bytes) -> RingData:
        """Decode a ring file's bytes (gzip'd or plain JSON).

        Raises:
            RingError: not a ring of a known format.
        """
        try:
            data = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
            if data.get("format") != RING_FORMAT:
                raise RingError(f"unknown ring format {data.get('format')!r}")
            rows = [decode_array("H", r) for r in data["replica2part2dev"]]
            ring = cls(
                int(data["version"]),
                int(data["part_power"]),
                int(data["replicas"]),
                str(data["hash_path_prefix"]),
                str(data["hash_path_suffix"]),
                list(data["devs"]),
                rows,
            )
        except (ValueError, KeyError, TypeError, EOFError, AttributeError) as exc:
            raise RingError(f"not a ring file: {exc}") from None
        if len(rows) != ring.replicas or any(len(r) != 2**ring.part_power for r in rows):
            raise RingError("ring arrays do not match its part power and replicas")
        return ring


class Ring:
    """A ring loaded from ``source`` (a path or an http(s) URL), reloaded when it changes.

    Args:
        source: path of a ring file, or URL serving one.
        reload_time: seconds between checks for a newer ring.

    Raises:
        RingError: the ring can't be loaded at construction.
    """

    def __init__(self, source: str | os.PathLike, reload_time: float = 15.0):
        self.source = str(source)
        self.reload_time = reload_time
        self._lock = threading.Lock()
        self._stamp: Any = None
        self._next_check = 0.0
        self._data = self._load(force=True)

    # -- loading -----------------------------------------------------------------------

    def _load(self, force: bool = False) -> RingData:
        if self.source.startswith(("http://", "https://")):
            return self._load_url(force)
        try:
            st = os.stat(self.source)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if not force and stamp == self._stamp:
                return self._data
            with open(self.source, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            raise RingError(f"cannot read ring {self.source}: {exc}") from None
        data = RingData.from_bytes(raw)
        self._stamp = stamp
        return data

    def _load_url(self, force: bool) -> RingData:
        request = urllib.request.Request(self.source)
        if self._stamp and not force:
            request.add_header("If-None-Match", self._stamp)
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                raw = resp.read()
                stamp = resp.headers.get("ETag") or resp.headers.get("Last-Modified")
        except urllib.error.HTTPError as exc:
            if exc.code == 304:
                return self._data
            raise RingError(f"cannot fetch ring {self.source}: {exc}") from None
        except OSError as exc:
            raise RingError(f"cannot fetch ring {self.source}: {exc}") from None
        data = RingData.from_bytes(raw)
        self._stamp = stamp
        return data

    @property
    def data(self) -> RingData:
        """The current ring, reloaded first when ``reload_time`` has passed and the source
        changed (a source that turns unreadable keeps the last good ring)."""
        now = time.monotonic()
        if now >= self._next_check:
            with self._lock:
                if now >= self._next_check:
                    self._next_check = now + self.reload_time
                    try:
                        self._data = self._load()
                    except RingError:
                        pass
        return self._data

    # -- Swift's API ---------------------------------------------------------------------

    @property
    def version(self) -> int:
        """The ring's version (grows with every builder change)."""
        return self.data.version

    @property
    def partition_count(self) -> int:
        """Number of partitions."""
        return 2**self.data.part_power

    @property
    def replica_count(self) -> int:
        """Replicas of each partition."""
        return self.data.replicas

    @property
    def devs(self) -> list[dict | None]:
        """Device dicts by id (None for a removed id)."""
        return self.data.devs

    def hash_path(self, account: str, container: str | None = None, obj: str | None = None) -> str:
        """The MD5 hex name of an account, container or object with this ring's prefix and
        suffix (the on-disk directory name)."""
        data = self.data
        return hash_path(data.hash_path_prefix, data.hash_path_suffix, account, container, obj)

    def get_part(self, account: str, container: str | None = None, obj: str | None = None) -> int:
        """The partition of a name: top ``part_power`` bits of its hash."""
        data = self.data
        digest = hash_path(data.hash_path_prefix, data.hash_path_suffix, account, container, obj)
        return int(digest[:8], 16) >> (32 - data.part_power)

    def get_part_nodes(self, part: int) -> list[dict]:
        """The primary nodes of a partition, replica order, each with ``index``.

        Raises:
            IndexError: no such partition.
        """
        data = self.data
        nodes = []
        for index, row in enumerate(data.replica2part2dev):
            dev = data.devs[row[part]]
            if dev is not None:
                nodes.append({**dev, "index": index})
        return nodes

    def get_nodes(
        self, account: str, container: str | None = None, obj: str | None = None
    ) -> tuple[int, list[dict]]:
        """``(partition, primary nodes)`` of an account, container or object."""
        part = self.get_part(account, container, obj)
        return part, self.get_part_nodes(part)

    def get_more_nodes(self, part: int) -> Iterator[dict]:
        """Handoff nodes of a partition, best first: devices in regions the primaries don't
        use, then zones, then servers (ip:port), then any other device. The order is fixed
        for a partition (so every proxy picks the same handoffs) and each node carries
        ``handoff_index``."""
        data = self.data
        primaries = self.get_part_nodes(part)
        used_ids = {n["id"] for n in primaries}
        used: list[set[tuple[Any, ...]]] = [
            {(n["region"],) for n in primaries},
            {(n["region"], n["zone"]) for n in primaries},
            {(n["region"], n["zone"], n["ip"], n["port"]) for n in primaries},
        ]
        candidates = sorted(
            (d for d in data.devs if d is not None and d["id"] not in used_ids and d["weight"]),
            key=lambda d: hashlib.md5(
                f"{part}-{d['id']}".encode(), usedforsecurity=False
            ).hexdigest(),
        )
        index = 0
        for level in range(4):
            for dev in candidates:
                if dev["id"] in used_ids:
                    continue
                keys = (
                    (dev["region"],),
                    (dev["region"], dev["zone"]),
                    (dev["region"], dev["zone"], dev["ip"], dev["port"]),
                )
                if level < 3 and any(keys[lv] in used[lv] for lv in range(level, 3)):
                    continue
                used_ids.add(dev["id"])
                for lv in range(3):
                    used[lv].add(keys[lv])
                yield {**dev, "handoff_index": index}
                index += 1
