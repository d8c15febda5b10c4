"""The object server of a storage node: PUT, GET, HEAD, POST, DELETE of
``/object/<device>/<partition>/<account>/<container>/<object>`` (Swift's
``swift.obj.server.ObjectController``; the table in docs/object-storage.md).
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from pocketstack.objectstore import auditor, expirer
from pocketstack.objectstore.diskfile import (
    ALLOWED_HEADERS,
    SYSMETA_PREFIX,
    USER_META_PREFIX,
    DiskFile,
    DiskFileWriter,
    ObjectState,
)
from pocketstack.objectstore.protocol import NodeError, Target, require_timestamp
from pocketstack.objectstore.updates import container_update
from pocketstack.objectstore.utils import MAX_FILE_SIZE, Timestamp

if TYPE_CHECKING:
    from pocketstack.objectstore.node import StorageNode

CHUNK = 65536
#: A PUT body is hashed and written in a worker thread by batches of this many bytes.
OFFLOAD = 1 << 20
#: Stored keys that are bookkeeping, not response headers.
INTERNAL_KEYS = frozenset({"name", "content-length", "x-timestamp"})


def _diskfile(node: StorageNode, target: Target) -> DiskFile:
    return node.devices.diskfile(target.device, target.partition, node.hash_path(target))


def _newer_or_409(existing: Timestamp | None, timestamp: Timestamp) -> None:
    if existing is not None and existing >= timestamp:
        raise NodeError(409, "not newer", {"X-Backend-Timestamp": existing.internal})


def _delete_at(request: Request) -> str | None:
    raw = request.headers.get("x-delete-at")
    if raw is None:
        return None
    if not raw.isdigit():
        raise NodeError(400, "X-Delete-At must be an integer")
    return raw


def _expired(state: ObjectState) -> bool:
    delete_at = state.metadata.get("x-delete-at")
    return delete_at is not None and delete_at.isdigit() and int(delete_at) <= time.time()


def _post_metadata(request: Request) -> dict[str, str]:
    """User metadata and the allowed headers of a request (what a POST replaces)."""
    return {
        k: v
        for k, v in request.headers.items()
        if k.startswith(USER_META_PREFIX) or k in ALLOWED_HEADERS
    }


def _put_metadata(request: Request, target: Target, timestamp: Timestamp) -> dict[str, str]:
    meta = _post_metadata(request)
    meta.update({k: v for k, v in request.headers.items() if k.startswith(SYSMETA_PREFIX)})
    meta["name"] = f"/{target.account}/{target.container}/{target.obj}"
    meta["x-timestamp"] = timestamp.internal
    meta["content-type"] = request.headers["content-type"]
    return meta


def _content_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        if "chunked" not in request.headers.get("transfer-encoding", "").lower():
            raise NodeError(411, "Content-Length or chunked transfer needed")
        return None
    if not raw.isdigit():
        raise NodeError(400, "bad Content-Length")
    if int(raw) > MAX_FILE_SIZE:
        raise NodeError(413, "object too large")
    return int(raw)


async def _receive(request: Request, writer: DiskFileWriter, limit: int) -> None:
    """Stream the body into ``writer``. Past ``OFFLOAD`` bytes, batches of ``OFFLOAD``
    bytes are hashed and written by a worker thread while the event loop parses the next
    ones (MD5 and ``os.write`` release the GIL); one batch at a time, in order.

    Raises:
        NodeError: 413 past ``limit`` bytes. ClientDisconnect.
    """
    received = 0
    batch: list[bytes] = []
    batched = 0
    pending: asyncio.Future[None] | None = None
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise NodeError(413, "body longer than announced")
            batch.append(chunk)
            batched += len(chunk)
            if batched >= OFFLOAD:
                if pending is not None:
                    await pending
                pending = asyncio.ensure_future(run_in_threadpool(writer.write_all, batch))
                batch, batched = [], 0
        if pending is not None:
            await pending
            pending = None
        writer.write_all(batch)
    finally:
        if pending is not None:  # failed meanwhile: the writer's lock makes abort wait
            pending.add_done_callback(lambda f: f.cancelled() or f.exception())


async def put_object(node: StorageNode, request: Request, target: Target) -> Response:
    """Store a new version: stream to tmp with MD5, check length and ETag, commit, then
    update the container listing. 201 + ETag; 409 not newer; 422 ETag mismatch; 499 short
    body."""
    timestamp = require_timestamp(request)
    if "content-type" not in request.headers:
        raise NodeError(400, "no Content-Type")
    _delete_at(request)
    length = _content_length(request)
    diskfile = _diskfile(node, target)
    state = await run_in_threadpool(diskfile.state)
    _newer_or_409(state.timestamp, timestamp)
    tmp_dir = node.devices.tmp_dir(target.device)
    with diskfile.writer(tmp_dir) as writer:
        try:
            await _receive(request, writer, MAX_FILE_SIZE if length is None else length)
        except ClientDisconnect:
            raise NodeError(499, "client disconnected") from None
        if length is not None and writer.size != length:
            raise NodeError(499, "body shorter than Content-Length")
        etag = writer.md5.hexdigest()
        wanted = request.headers.get("etag", "").strip('"').lower()
        if wanted and wanted != etag:
            raise NodeError(422, "ETag does not match the body")
        meta = _put_metadata(request, target, timestamp)
        meta.update({"etag": etag, "content-length": str(writer.size)})
        await run_in_threadpool(writer.commit, timestamp, meta)
    _after_write(diskfile, target, timestamp, meta)
    update = {
        "x-size": str(writer.size),
        "x-content-type": meta["content-type"],
        "x-etag": etag,
    }
    await container_update(node, request, target, "PUT", timestamp, update)
    return Response(status_code=201, headers={"ETag": etag})


def _object_headers(state: ObjectState) -> dict[str, str]:
    assert state.timestamp is not None
    headers = {k: v for k, v in state.metadata.items() if k not in INTERNAL_KEYS}
    headers["X-Timestamp"] = state.timestamp.internal
    headers["X-Backend-Timestamp"] = (state.meta_timestamp or state.timestamp).internal
    headers["X-Backend-Data-Timestamp"] = state.timestamp.internal
    headers["Last-Modified"] = (state.meta_timestamp or state.timestamp).http
    headers["Accept-Ranges"] = "bytes"
    return headers


def _not_found(state: ObjectState) -> NodeError:
    headers = {}
    if state.timestamp is not None:
        headers["X-Backend-Timestamp"] = state.timestamp.internal
    return NodeError(404, "not found", headers)


def _etag_matches(header: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/").strip('"') for t in header.split(",")]
    return "*" in tags or etag in tags


def _http_date(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        return email.utils.parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError):
        return None


def check_conditions(request: Request, state: ObjectState) -> None:
    """RFC 7232 preconditions in their order: If-Match, If-Unmodified-Since (412),
    If-None-Match, If-Modified-Since (304).

    Raises:
        NodeError: 412 or 304 with the object's ETag.
    """
    etag = state.metadata.get("etag", "")
    changed = state.meta_timestamp or state.timestamp or Timestamp(0)
    modified = -(-changed.ticks // 100000)
    headers = {"ETag": etag, "Last-Modified": changed.http}
    if_match = request.headers.get("if-match")
    if if_match is not None and not _etag_matches(if_match, etag):
        raise NodeError(412, "If-Match failed", headers)
    unmodified_since = _http_date(request.headers.get("if-unmodified-since"))
    if if_match is None and unmodified_since is not None and modified > unmodified_since:
        raise NodeError(412, "If-Unmodified-Since failed", headers)
    if_none = request.headers.get("if-none-match")
    if if_none is not None and _etag_matches(if_none, etag):
        raise NodeError(304, "", headers)
    since = _http_date(request.headers.get("if-modified-since"))
    if if_none is None and since is not None and modified <= since:
        raise NodeError(304, "", headers)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range ``[start, end)`` of a ``Range: bytes=...`` header; None to send
    the whole object (no header, several ranges, or a syntax error, which RFC 7233 says
    to ignore).

    Raises:
        NodeError: 416 when the range is syntactically fine but unsatisfiable.
    """
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, sep, last = header[6:].strip().partition("-")
    if not sep or not (first.isdigit() or last.isdigit()):
        return None
    if first and not first.isdigit() or last and not last.isdigit():
        return None
    if not first:  # suffix: the last N bytes
        count = int(last)
        if count == 0:
            raise NodeError(416, "unsatisfiable range", {"Content-Range": f"bytes */{size}"})
        return max(0, size - count), size
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if start >= size or end <= start:
        raise NodeError(416, "unsatisfiable range", {"Content-Range": f"bytes */{size}"})
    return start, end


def _read_range(fh: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    try:
        fh.seek(start)
        left = end - start
        while left > 0:
            chunk = fh.read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
    finally:
        fh.close()


async def get_object(node: StorageNode, request: Request, target: Target) -> Response:
    """The object's bytes (GET) or headers (HEAD), honouring one Range and the
    conditional headers. 404 when missing, deleted or past X-Delete-At."""
    diskfile = _diskfile(node, target)
    state, fh = await run_in_threadpool(diskfile.open)
    try:
        if fh is None or _expired(state):
            raise _not_found(state)
        headers = _object_headers(state)
        check_conditions(request, state)
        size = int(state.metadata["content-length"])
        span = parse_range(request.headers.get("range"), size)
    except BaseException:
        if fh is not None:
            fh.close()
        raise
    status = 200
    start, end = 0, size
    if span is not None:
        start, end = span
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    if request.method == "HEAD":
        fh.close()
        return Response(status_code=status, headers=headers)
    try:  # never a byte of a corrupt object (auditor.py): quarantine, 404, another replica
        body = await run_in_threadpool(auditor.verify_for_read, state, fh)
    except auditor.ObjectCorrupt:
        raise NodeError(404, "not found (quarantined)") from None
    if body is not None:
        fh.close()
        return Response(body[start:end], status_code=status, headers=headers)
    if span is None:
        return StreamingResponse(auditor.verified_stream(fh, state), headers=headers)
    return StreamingResponse(_read_range(fh, start, end), status_code=status, headers=headers)


def _after_write(
    diskfile: DiskFile, target: Target, timestamp: Timestamp | None, meta: dict[str, str]
) -> None:
    """After a PUT (``timestamp`` of its ``.data``) or a POST: the new data file is known
    good (its MD5 was computed as it was written), an ``X-Delete-At`` goes to the expirer's
    index."""
    if timestamp is not None:
        auditor.remember_written(diskfile.dir / (timestamp.internal + ".data"))
    if meta.get("x-delete-at", "").isdigit():
        expirer.note_expiring(
            diskfile.device_path, target.partition, diskfile.dir.name, meta["x-delete-at"]
        )


async def post_object(node: StorageNode, request: Request, target: Target) -> Response:
    """Replace the object's user metadata (and allowed headers, Content-Type): a ``.meta``
    file. 202; 404; 409 not newer than the last write."""
    timestamp = require_timestamp(request)
    _delete_at(request)
    diskfile = _diskfile(node, target)
    state = await run_in_threadpool(diskfile.state)
    if not state.exists or _expired(state):
        raise _not_found(state)
    _newer_or_409(state.newest, timestamp)
    meta = _post_metadata(request)
    meta["x-timestamp"] = timestamp.internal
    if "content-type" in request.headers:
        meta["content-type"] = request.headers["content-type"]
    tmp_dir = node.devices.tmp_dir(target.device)
    await run_in_threadpool(diskfile.write_marker, tmp_dir, timestamp, ".meta", meta)
    _after_write(diskfile, target, None, meta)
    return Response(status_code=202)


async def delete_object(node: StorageNode, request: Request, target: Target) -> Response:
    """Write a tombstone (when newer) and update the container: 204 when the object
    existed, 404 when not; 409 not newer; 412 X-If-Delete-At mismatch (the expirer's)."""
    timestamp = require_timestamp(request)
    diskfile = _diskfile(node, target)
    state = await run_in_threadpool(diskfile.state)
    if_delete_at = request.headers.get("x-if-delete-at")
    if if_delete_at is not None and state.metadata.get("x-delete-at") != if_delete_at:
        raise NodeError(412 if state.exists else 404, "X-If-Delete-At does not match")
    _newer_or_409(state.timestamp, timestamp)
    existed = state.exists and not _expired(state)
    meta = {
        "name": f"/{target.account}/{target.container}/{target.obj}",
        "x-timestamp": timestamp.internal,
    }
    tmp_dir = node.devices.tmp_dir(target.device)
    await run_in_threadpool(diskfile.write_marker, tmp_dir, timestamp, ".ts", meta)
    await container_update(node, request, target, "DELETE", timestamp, {})
    return Response(status_code=204 if existed else 404)


HANDLERS = {
    ("object", "PUT"): put_object,
    ("object", "GET"): get_object,
    ("object", "HEAD"): get_object,
    ("object", "POST"): post_object,
    ("object", "DELETE"): delete_object,
}
