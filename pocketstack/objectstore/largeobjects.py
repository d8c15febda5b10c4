"""Large objects: static (SLO, a JSON manifest of segments) and dynamic (DLO, every object
under ``X-Object-Manifest: <container>/<prefix>``), read back as one object.

Follows Swift's ``slo`` and ``dlo`` middlewares (``swift/common/middleware/slo.py``,
``dlo.py``) and the api-ref's "Large objects": ``PUT ?multipart-manifest=put`` takes
``[{"path": "/<container>/<object>", "etag": ..., "size_bytes": ...}]``, checks each segment
(400 listing the bad ones) and stores the manifest with ``X-Static-Large-Object: True``;
``GET ?multipart-manifest=get`` returns the stored manifest, ``DELETE
?multipart-manifest=delete`` removes the segments and the manifest. The ETag of a large
object is the quoted MD5 of its segments' ETags; a single ``Range`` is served by asking
each segment for its part.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import mimetypes
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import httpx

from pocketstack.common import errors
from pocketstack.objectstore.exceptions import ObjectNotFound, RangeNotSatisfiable
from pocketstack.objectstore.objects import Written, client_headers, strip_swift_bytes

if TYPE_CHECKING:
    from pocketstack.objectstore.manager import ObjectStoreManager

#: raises unless the caller may use the named container (the API's authorization)
ContainerCheck = Callable[[str], Awaitable[None]]

MAX_MANIFEST_SEGMENTS = 1000
MAX_MANIFEST_SIZE = 8 * 1024 * 1024


@dataclass
class Segment:
    """One segment: container, object, size in bytes, ETag (MD5 hex)."""

    container: str
    obj: str
    size: int
    etag: str


@dataclass
class Assembled:
    """A large object ready to send: status, headers and the body's chunks."""

    status: int
    headers: dict[str, str]
    body: AsyncIterator[bytes]


def parse_range(value: str | None, total: int) -> tuple[int, int] | None:
    """``(first, last)`` of one ``bytes=`` range over ``total`` bytes; None for no (or a
    multi-) range. Raises RangeNotSatisfiable when no byte is in it."""
    if not value or not value.startswith("bytes=") or "," in value:
        return None
    first_text, _, last_text = value[6:].strip().partition("-")
    try:
        if not first_text:
            first, last = max(total - int(last_text), 0), total - 1
        else:
            first = int(first_text)
            last = min(int(last_text), total - 1) if last_text else total - 1
    except ValueError:
        return None
    if first > last or first >= total:
        raise RangeNotSatisfiable()
    return first, last


def composite_etag(segments: list[Segment]) -> str:
    """The quoted MD5 of the segments' ETags (as Swift's SLO and DLO)."""
    digest = hashlib.md5(usedforsecurity=False)
    for seg in segments:
        digest.update(seg.etag.strip('"').encode())
    return f'"{digest.hexdigest()}"'


class LargeObjects:
    """Reading and writing SLO/DLO manifests."""

    def __init__(self, store: ObjectStoreManager):
        self.store = store

    @staticmethod
    def is_manifest(resp: httpx.Response) -> bool:
        """The node's answer is an SLO or DLO manifest."""
        slo = resp.headers.get("x-static-large-object", "").lower() in ("true", "1", "yes")
        return slo or "x-object-manifest" in resp.headers

    async def segments(self, account: str, resp: httpx.Response) -> list[Segment]:
        """The segments a manifest names (reads the SLO body, or lists the DLO prefix)."""
        if "x-object-manifest" in resp.headers:
            container, _, prefix = unquote(resp.headers["x-object-manifest"]).partition("/")
            return await self._listed(account, container, prefix)
        data = json.loads(await resp.aread())
        out = []
        for item in data:
            container, _, obj = item["name"].lstrip("/").partition("/")
            out.append(Segment(container, obj, int(item["bytes"]), item["hash"]))
        return out

    async def _listed(self, account: str, container: str, prefix: str) -> list[Segment]:
        out: list[Segment] = []
        marker = ""
        while True:
            page = await self.store.containers.list(
                account, container, {"prefix": prefix, "marker": marker}
            )
            items = [i for i in page.items if "name" in i]
            if not items:
                return out
            out += [Segment(container, i["name"], int(i["bytes"]), i["hash"]) for i in items]
            marker = items[-1]["name"]

    async def stream(
        self, account: str, segments: list[Segment], first: int, last: int
    ) -> AsyncIterator[bytes]:
        """Bytes ``first..last`` of the segments joined, one segment GET at a time."""
        offset = 0
        for seg in segments:
            start, end = offset, offset + seg.size - 1
            offset += seg.size
            if seg.size == 0 or end < first or start > last:
                continue
            lo, hi = max(first, start) - start, min(last, end) - start
            ask = {} if (lo, hi) == (0, seg.size - 1) else {"range": f"bytes={lo}-{hi}"}
            resp = await self.store.objects.open((account, seg.container, seg.obj), "GET", ask)
            try:
                async for chunk in resp.aiter_raw():
                    yield chunk
            finally:
                await resp.aclose()

    def body_of(
        self,
        names: tuple[str, str, str],
        resp: httpx.Response,
        may_read: ContainerCheck | None = None,
    ) -> AsyncIterator[bytes]:
        """The object's bytes: the node's body, or the segments' for a manifest (each
        segment container passed to ``may_read`` first)."""
        if not self.is_manifest(resp):
            return resp.aiter_raw()

        async def joined() -> AsyncIterator[bytes]:
            segs = await self.segments(names[0], resp)
            await _check(may_read, [s.container for s in segs])
            total = sum(s.size for s in segs)
            async for chunk in self.stream(names[0], segs, 0, total - 1):
                yield chunk

        return joined()

    async def assemble(
        self,
        names: tuple[str, str, str],
        resp: httpx.Response,
        range_header: str | None,
        may_read: ContainerCheck | None = None,
    ) -> Assembled:
        """The answer to a GET/HEAD of a manifest: the whole object (or one range of it);
        ``may_read`` raises for a segment container the caller may not read."""
        segs = await self.segments(names[0], resp)
        await _check(may_read, [s.container for s in segs])
        total = sum(s.size for s in segs)
        headers = client_headers(resp.headers)
        for name in ("content-length", "content-range", "etag"):
            headers.pop(name, None)
        headers["etag"] = composite_etag(segs)
        headers["accept-ranges"] = "bytes"
        span = parse_range(range_header, total) if total else None
        status, (first, last) = (206, span) if span else (200, (0, total - 1))
        if span:
            headers["content-range"] = f"bytes {first}-{last}/{total}"
        headers["content-length"] = str(last - first + 1 if total else 0)
        return Assembled(status, headers, self.stream(names[0], segs, first, last))

    async def put_manifest(
        self,
        names: tuple[str, str, str],
        headers: dict[str, str],
        body: bytes,
        may_read: ContainerCheck | None = None,
    ) -> tuple[Written, str]:
        """Check an SLO manifest's segments (``may_read`` each segment container) and store
        it; returns the write and the large object's ETag. Raises BadRequest listing the
        segments that failed."""
        entries = _parse_manifest(body)
        account = names[0]
        await _check(may_read, [e["path"].lstrip("/").partition("/")[0] for e in entries])
        problems: list[str] = []
        limit = asyncio.Semaphore(10)  # segments are checked 10 at a time

        async def one(entry: dict[str, Any]) -> dict[str, Any] | None:
            async with limit:
                return await self._segment(account, entry, problems)

        found = await asyncio.gather(*(one(e) for e in entries))
        stored = [f for f in found if f is not None]
        if problems:
            raise errors.BadRequest("Errors:\n" + "\n".join(problems))
        data = json.dumps(stored).encode()
        total = sum(int(s["bytes"]) for s in stored)
        base = strip_swift_bytes(headers.get("content-type", "")) or (
            mimetypes.guess_type(names[2])[0] or "application/octet-stream"
        )
        # swift_bytes: the size listings show for the manifest (Swift's slo does the same)
        headers = {
            **headers,
            "x-static-large-object": "True",
            "content-type": f"{base};swift_bytes={total}",
        }
        headers.pop("etag", None)
        written = await self.store.objects.put(names, headers, _once(data), len(data))
        segs = [Segment("", "", s["bytes"], s["hash"]) for s in stored]
        return written, composite_etag(segs)

    async def _segment(
        self, account: str, entry: dict[str, Any], problems: list[str]
    ) -> dict[str, Any] | None:
        """The stored form of one manifest entry, its segment checked by a HEAD; what is
        wrong goes to ``problems`` (None when the segment is missing)."""
        container, _, obj = entry["path"].lstrip("/").partition("/")
        try:
            resp = await self.store.objects.open((account, container, obj), "HEAD", {})
        except ObjectNotFound:
            problems.append(f"{entry['path']}, 404 Not Found")
            return None
        await resp.aclose()
        etag = resp.headers.get("etag", "").strip('"')
        size = int(resp.headers.get("content-length", "0"))
        if entry.get("etag") not in (None, etag):
            problems.append(f"{entry['path']}, Etag Mismatch")
        if entry.get("size_bytes") not in (None, size):
            problems.append(f"{entry['path']}, Size Mismatch")
        return {
            "name": f"/{container}/{obj}",
            "hash": etag,
            "bytes": size,
            "content_type": resp.headers.get("content-type", "application/octet-stream"),
            "last_modified": resp.headers.get("last-modified", ""),
        }

    async def delete_manifest(
        self, names: tuple[str, str, str], may_delete: ContainerCheck | None = None
    ) -> dict[str, Any]:
        """Delete an SLO's segments (``may_delete`` checks their containers), then the
        manifest; Swift's bulk-style result."""
        resp = await self.store.objects.open(names, "GET", {})
        try:
            segs = await self.segments(names[0], resp) if self.is_manifest(resp) else []
        finally:
            await resp.aclose()
        await _check(may_delete, [s.container for s in segs])
        targets: list[tuple[str, str, str | None]] = [(names[0], s.container, s.obj) for s in segs]
        targets.append(names)
        return await self.store.bulk.delete_paths(targets)


async def _check(check: ContainerCheck | None, containers: list[str]) -> None:
    """Ask ``check`` about each distinct container (it raises 401/403)."""
    if check is not None:
        for container in sorted(set(containers)):
            await check(container)


def _parse_manifest(body: bytes) -> list[dict[str, Any]]:
    if len(body) > MAX_MANIFEST_SIZE:
        raise errors.RequestTooLarge("Manifest File > 8388608 bytes")
    try:
        entries = json.loads(body)
    except ValueError:
        raise errors.BadRequest("Manifest must be valid JSON.") from None
    if not isinstance(entries, list) or not entries:
        raise errors.BadRequest("Manifest must be a non-empty list of segments.")
    if len(entries) > MAX_MANIFEST_SEGMENTS:
        raise errors.BadRequest(f"Too many segments: max {MAX_MANIFEST_SEGMENTS}")
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise errors.BadRequest("Each segment needs a 'path' of /<container>/<object>.")
        if "/" not in entry["path"].lstrip("/"):
            raise errors.BadRequest(f"Invalid segment path {entry['path']!r}")
        if entry.get("size_bytes") is not None:
            entry["size_bytes"] = int(entry["size_bytes"])
    return entries


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
