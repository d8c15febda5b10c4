"""Objects as the proxy sees them: streamed PUT to a quorum, GET/HEAD with fallback, POST,
DELETE, copy, expiry headers and quotas.

Follows Swift's ``swift/proxy/controllers/obj.py`` (``ReplicatedObjectController``), the
``copy``, ``container_quotas`` and ``account_quotas`` middlewares, and the api-ref's
"Objects" section: 201 + ETag for a PUT, 411 without a length or chunked encoding, 422 when
the body's MD5 is not the ETag sent, 413 over a quota or the size limit, 404 for an object
past its ``X-Delete-At``, 202 for a POST, 204 for a DELETE.
"""

from __future__ import annotations

import logging
import mimetypes
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from pocketstack.common import errors
from pocketstack.objectstore.constraints import MAX_FILE_SIZE
from pocketstack.objectstore.containers import Info
from pocketstack.objectstore.exceptions import (
    ContainerNotFound,
    EtagMismatch,
    InsufficientReplicas,
    ObjectNotFound,
    PreconditionFailed,
    QuotaExceeded,
)
from pocketstack.objectstore.utils import Timestamp

if TYPE_CHECKING:
    from pocketstack.objectstore.manager import ObjectStoreManager

LOG = logging.getLogger(__name__)

#: request headers an object keeps besides its metadata (Swift's ``allowed_headers``)
ALLOWED = (
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
    "x-delete-at",
    "x-object-manifest",
    "x-static-large-object",
    "x-robots-tag",
)
#: node answer headers never shown to clients
HIDDEN = (
    "x-backend-",
    "x-object-sysmeta-",
    "x-container-",
    "connection",
    "transfer-encoding",
    "server",
    "date",
    "keep-alive",
)
#: request headers passed to the node on a read (Range and the conditionals)
READ_HEADERS = ("range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since")


_SWIFT_BYTES = re.compile(r";\s*swift_bytes=\d+")


@dataclass
class Written:
    """A stored object: its ETag (MD5 hex) and timestamp."""

    etag: str
    timestamp: Timestamp


def strip_swift_bytes(content_type: str) -> str:
    """``content_type`` without the ``;swift_bytes=N`` a static large object's manifest
    keeps for listings."""
    return _SWIFT_BYTES.sub("", content_type)


def client_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A node answer's headers as the client sees them."""
    out = {k: v for k, v in headers.items() if not k.lower().startswith(HIDDEN)}
    if "content-type" in out:
        out["content-type"] = strip_swift_bytes(out["content-type"])
    return out


def object_headers(headers: Mapping[str, str], name: str) -> dict[str, str]:
    """What a PUT/POST stores: metadata, the allowed headers, ``X-Delete-At`` from
    ``X-Delete-After``; Content-Type guessed from the name when absent or
    ``X-Detect-Content-Type`` asks. Raises BadRequest for a past or malformed delete time."""
    out = {
        k.lower(): v
        for k, v in headers.items()
        if k.lower().startswith(("x-object-meta-", "x-object-sysmeta-")) or k.lower() in ALLOWED
    }
    if "x-delete-after" in headers:
        after = headers["x-delete-after"]
        if not after.strip().isdigit():
            raise errors.BadRequest("Non-integer X-Delete-After")
        out["x-delete-at"] = str(int(time.time()) + int(after))
    if "x-delete-at" in out:
        value = out["x-delete-at"].strip()
        if not value.isdigit():
            raise errors.BadRequest("Non-integer X-Delete-At")
        if int(value) < time.time():
            raise errors.BadRequest("X-Delete-At in past")
    detect = headers.get("x-detect-content-type", "").lower() in ("true", "1", "yes")
    if detect or not out.get("content-type"):
        out["content-type"] = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return out


class Objects:
    """Object reads and writes through the ring."""

    def __init__(self, store: ObjectStoreManager):
        self.store = store

    def _container_updates(self, account: str, container: str) -> list[dict[str, str]]:
        part, nodes = self.store.backend.primaries(account, container)
        return [
            {
                "X-Container-Host": f"{n['ip']}:{n['port']}",
                "X-Container-Partition": str(part),
                "X-Container-Device": n["device"],
            }
            for n in nodes
        ]

    async def check_quotas(
        self, account: str, container: str, cinfo: Info, length: int | None
    ) -> None:
        """413 when ``length`` more bytes (or one more object) pass the container's
        ``X-Container-Meta-Quota-Bytes``/``-Count`` or the account's
        ``X-Account-Meta-Quota-Bytes``."""
        size = length or 0
        count_quota = cinfo.get("x-container-meta-quota-count")
        if count_quota and count_quota.isdigit():
            if cinfo.count("x-container-object-count") + 1 > int(count_quota):
                raise QuotaExceeded()
        bytes_quota = cinfo.get("x-container-meta-quota-bytes")
        if bytes_quota and bytes_quota.isdigit():
            if cinfo.count("x-container-bytes-used") + size > int(bytes_quota):
                raise QuotaExceeded()
        ainfo = await self.store.accounts.info(account)
        account_quota = ainfo.get("x-account-meta-quota-bytes")
        if account_quota and account_quota.isdigit():
            if ainfo.count("x-account-bytes-used") + size > int(account_quota):
                raise QuotaExceeded()

    async def put(
        self,
        names: tuple[str, str, str],
        headers: Mapping[str, str],
        body: AsyncIterator[bytes],
        length: int | None,
        archive: bool = True,
    ) -> Written:
        """Store an object streamed from ``body`` (``length`` bytes, or None when chunked);
        with ``archive``, the version it replaces goes to the container's versions container.

        Raises:
            ContainerNotFound, QuotaExceeded (413), RequestTooLarge (413), EtagMismatch
            (422), InsufficientReplicas (503), BadRequest (bad X-Delete-At).
        """
        account, container, obj = names
        cinfo = await self._check_put(names, headers, length)
        if archive:
            await self.store.versions.archive(names, cinfo)
        stored = object_headers(headers, obj)
        timestamp = Timestamp.now()
        stored["x-timestamp"] = timestamp.internal
        if length is not None:
            stored["content-length"] = str(length)
        if headers.get("etag"):
            stored["etag"] = headers["etag"].strip('"').lower()
        size = [0]

        def follow(chunk: bytes) -> None:
            size[0] += len(chunk)
            if size[0] > MAX_FILE_SIZE:
                raise errors.RequestTooLarge("Your request is too large.")

        # no MD5 here: every node computes the body's as it writes it (and refuses a
        # client's ETag that differs with 422); the nodes that stored it must agree on it,
        # as Swift's proxy checks its object servers' ETags
        status, answers = await self.store.backend.put_object(
            names, stored, self._container_updates(account, container), body, follow
        )
        self._forget(account, container)
        if length is not None and size[0] < length:
            raise errors.ClientDisconnected()
        if status == 422:
            raise EtagMismatch("Unprocessable Entity")
        if status // 100 != 2:
            raise InsufficientReplicas("Not enough storage nodes stored the object.")
        etags = {a.headers.get("etag", "").strip('"') for a in answers if a.status // 100 == 2}
        if len(etags) != 1 or "" in etags:
            LOG.error("PUT %s: storage nodes stored different ETags %s", "/".join(names), etags)
            raise InsufficientReplicas("The storage nodes disagree on the object's ETag.")
        return Written(etags.pop(), timestamp)

    async def _check_put(
        self, names: tuple[str, str, str], headers: Mapping[str, str], length: int | None
    ) -> Info:
        """What must hold before a PUT streams: the container, the size, the quotas and
        ``If-None-Match: *`` (create only: 412 when the object exists)."""
        account, container, _obj = names
        cinfo = await self.store.containers.info(account, container)
        if not cinfo.exists:
            raise ContainerNotFound()
        if length is not None and length > MAX_FILE_SIZE:
            raise errors.RequestTooLarge("Your request is too large.")
        await self.check_quotas(account, container, cinfo, length)
        if headers.get("if-none-match") == "*":
            try:
                existing = await self.open(names, "HEAD", {})
            except ObjectNotFound:
                return cinfo
            await existing.aclose()
            raise PreconditionFailed("The object already exists.")
        return cinfo

    def _forget(self, account: str, container: str) -> None:
        self.store.containers.cache.drop((account, container))
        self.store.accounts.cache.drop((account,))

    async def open(
        self, names: tuple[str, str, str], method: str, headers: Mapping[str, str]
    ) -> httpx.Response:
        """The node's answer to a GET/HEAD (body unread: stream it, then ``aclose``); passes
        Range and the conditionals, so 206/304/412/416 come from the node.

        Raises:
            ObjectNotFound: no replica has it (or it expired).
        """
        wanted = {k: v for k, v in headers.items() if k.lower() in READ_HEADERS}
        newest = headers.get("x-newest", "").lower() in ("true", "1", "yes")
        resp = await self.store.backend.open_object(names, method, wanted, newest)
        if resp.status_code == 404:
            await resp.aclose()
            raise ObjectNotFound()
        return resp

    async def update(self, names: tuple[str, str, str], headers: Mapping[str, str]) -> None:
        """POST: replace the object's metadata (and allowed headers). Raises ObjectNotFound."""
        stored = object_headers(headers, names[2])
        if "content-type" not in {k.lower() for k in headers}:
            stored.pop("content-type", None)
        # a POST replaces the allowed headers on the node: keep what makes it a large object
        current = await self.open(names, "HEAD", {})
        await current.aclose()
        for kept in ("x-static-large-object", "x-object-manifest"):
            if kept in current.headers and kept not in stored:
                stored[kept] = current.headers[kept]
        stored["x-timestamp"] = Timestamp.now().internal
        status, _ = await self.store.backend.write("object", "POST", names, stored)
        if status == 404:
            raise ObjectNotFound()
        if status // 100 != 2:
            raise InsufficientReplicas("Not enough storage nodes updated the object.")

    async def delete(self, names: tuple[str, str, str], versioned: bool = True) -> None:
        """DELETE one object (with ``versioned``, as the container's versioning says: the
        previous version may come back). Raises ObjectNotFound."""
        account, container, _obj = names
        if versioned:
            cinfo = await self.store.containers.info(account, container)
            if await self.store.versions.delete(names, cinfo):
                return
        status, _ = await self.store.backend.write(
            "object",
            "DELETE",
            names,
            {"X-Timestamp": Timestamp.now().internal},
            self._container_updates(account, container),
        )
        self._forget(account, container)
        if status == 404:
            raise ObjectNotFound()
        if status // 100 != 2:
            raise InsufficientReplicas("Not enough storage nodes deleted the object.")

    async def copy(
        self,
        source: tuple[str, str, str],
        dest: tuple[str, str, str],
        headers: Mapping[str, str],
        archive: bool = True,
        may_read: Callable[[str], Awaitable[None]] | None = None,
    ) -> tuple[Written, dict[str, str]]:
        """Copy ``source`` to ``dest`` server side, keeping its metadata (new ``X-Object-Meta-*``
        added, or only those with ``X-Fresh-Metadata: true``). Returns the written object and
        the source's headers. Raises ObjectNotFound, ContainerNotFound."""
        resp = await self.open(source, "GET", {})
        try:
            src = client_headers(resp.headers)
            fresh = headers.get("x-fresh-metadata", "").lower() in ("true", "1", "yes")
            merged: dict[str, str] = (
                {}
                if fresh
                else {
                    k: v
                    for k, v in src.items()
                    if k.lower().startswith("x-object-meta-")
                    or k.lower() in ("content-type", "content-encoding", "content-disposition")
                }
            )
            merged.update(
                {
                    k.lower(): v
                    for k, v in headers.items()
                    if k.lower().startswith("x-object-meta-") or k.lower() in ALLOWED
                }
            )
            merged.pop("x-static-large-object", None)
            merged.pop("x-object-manifest", None)
            body = self.store.large_objects.body_of(source, resp, may_read)
            length = (
                None
                if self.store.large_objects.is_manifest(resp)
                else int(resp.headers.get("content-length", "0"))
            )
            written = await self.put(dest, merged, body, length, archive)
        finally:
            await resp.aclose()
        return written, src
