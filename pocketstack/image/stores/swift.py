"""The swift store: image data as objects in pocketstack's object storage (Glance's
``glance_store._drivers.swift``, single-tenant: every image in one container of one account).

- An image is the object ``<container>/<image id>`` (``[image] image_swift_account`` and
  ``image_swift_container``, ``.glance``/``glance`` by default) written through the proxy's
  logic in this process (``pocketstack.objectstore.internal_client``): three replicas, quorum
  writes, handoffs, reads with fallback.
- Data larger than 4 MiB is streamed as segments of ``image_swift_chunk_size`` (200 MiB)
  ``<image id>-<upload>/<n:05d>`` and the image object is a dynamic large object manifest
  (``X-Object-Manifest``) naming their prefix, as Glance does for images over its chunk
  size; a replaced image's old segments are removed once the new manifest is in place.
- ``add`` is all or nothing: a single object is committed by the storage nodes only when its
  body is complete, and the manifest (the image) is written only after all its segments;
  segments of a failed upload are deleted before the error propagates.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Iterator
from typing import Any

from pocketstack.image.stores.base import CHUNK, Hashes, ImageStore, Readable
from pocketstack.objectstore.exceptions import ObjectNotFound

#: data up to this size is one object, read into memory first; larger data is streamed as
#: segments of ``chunk_size`` and a manifest
SINGLE_OBJECT = 4 * 1024 * 1024


class _Hasher:
    """Reads a stream in chunks while counting its size, MD5 and SHA-512."""

    def __init__(self, stream: Readable):
        self.stream = stream
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha512 = hashlib.sha512()
        self.size = 0
        self.pending = b""
        self.eof = False

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes (fewer only at the end), hashed."""
        while len(self.pending) < size and not self.eof:
            chunk = self.stream.read(CHUNK)
            if not chunk:
                self.eof = True
            self.pending += chunk
        data, self.pending = self.pending[:size], self.pending[size:]
        self.md5.update(data)
        self.sha512.update(data)
        self.size += len(data)
        return data

    def chunks(self, limit: int) -> Iterator[bytes]:
        """At most ``limit`` bytes of the stream, in chunks."""
        left = limit
        while left > 0:
            data = self.read(min(CHUNK, left))
            if not data:
                return
            left -= len(data)
            yield data

    def hashes(self) -> Hashes:
        return self.size, self.md5.hexdigest(), self.sha512.hexdigest()


class SwiftStore(ImageStore):
    """Image data in object storage (see the module docstring).

    Args:
        client: an ``InternalClient`` (or anything with its methods).
        account, container: where the images go.
        chunk_size: bytes per segment of a large image.
    """

    name = "swift"
    capabilities = {"local_path": False}

    def __init__(
        self, client: Any, account: str, container: str, chunk_size: int = 200 * 1024 * 1024
    ):
        self.client = client
        self.account = account
        self.container = container
        self.chunk_size = chunk_size
        self._container_ready = False

    @classmethod
    def from_conf(cls, conf: Any) -> SwiftStore:
        """The store of ``[image] image_swift_*`` on the ring of ``[objectstore]``."""
        from pocketstack.objectstore.internal_client import internal_client

        return cls(
            internal_client(conf),
            conf.image_swift_account,
            conf.image_swift_container,
            conf.image_swift_chunk_size,
        )

    @staticmethod
    def _check(image_id: str) -> str:
        if not image_id or "/" in image_id or image_id.startswith("."):
            raise ValueError(f"invalid image id {image_id!r}")
        return image_id

    def _ensure_container(self) -> None:
        if not self._container_ready:
            self.client.ensure_container(self.account, self.container)
            self._container_ready = True

    def _segments_of(self, headers: dict[str, str]) -> list[str]:
        manifest = headers.get("x-object-manifest", "")
        container, _, prefix = manifest.partition("/")
        if container != self.container or not prefix:
            return []
        return self.client.list_objects(self.account, self.container, prefix)

    def _head(self, image_id: str) -> dict[str, str] | None:
        try:
            return dict(self.client.head_object(self.account, self.container, image_id))
        except ObjectNotFound:
            return None

    def add(self, image_id: str, stream: Readable) -> Hashes:
        """Store ``stream`` as the image (one object, or segments and a manifest past
        ``chunk_size``); returns its hashes. Raises what reading or writing raises, with
        nothing of this upload left in the store."""
        self._check(image_id)
        self._ensure_container()
        hasher = _Hasher(stream)
        first = hasher.read(min(SINGLE_OBJECT, self.chunk_size))
        old = self._head(image_id)
        if hasher.eof and not hasher.pending:
            self.client.put_object(self.account, self.container, image_id, [first])
        else:
            self._add_segments(image_id, first, hasher)
        if old is not None:
            for name in self._segments_of(old):
                self.client.delete_object(self.account, self.container, name)
        return hasher.hashes()

    def _add_segments(self, image_id: str, first: bytes, hasher: _Hasher) -> None:
        prefix = f"{image_id}-{uuid.uuid4().hex[:12]}/"
        written: list[str] = []
        try:
            data: Iterator[bytes] = itertools.chain(
                [first], hasher.chunks(self.chunk_size - len(first))
            )
            while True:
                name = f"{prefix}{len(written) + 1:05d}"
                written.append(name)
                self.client.put_object(self.account, self.container, name, data)
                if hasher.eof and not hasher.pending:
                    break
                data = hasher.chunks(self.chunk_size)
            manifest = {"X-Object-Manifest": f"{self.container}/{prefix}"}
            self.client.put_object(self.account, self.container, image_id, [b""], manifest)
        except BaseException:
            for name in written:
                self.client.delete_object(self.account, self.container, name)
            raise

    def read(self, image_id: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """Iterate over the image's bytes in chunks of ``chunk_size``.

        Raises:
            FileNotFoundError: no such image (raised by this call).
        """
        self._check(image_id)
        try:
            _headers, body = self.client.get_object(self.account, self.container, image_id)
        except ObjectNotFound:
            raise FileNotFoundError(image_id) from None

        def rechunked() -> Iterator[bytes]:
            buffer = b""
            try:
                for chunk in body:
                    buffer += chunk
                    while len(buffer) >= chunk_size:
                        yield buffer[:chunk_size]
                        buffer = buffer[chunk_size:]
                if buffer:
                    yield buffer
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()

        return rechunked()

    def delete(self, image_id: str) -> None:
        """Delete the image and its segments; succeeds when it is gone."""
        self._check(image_id)
        headers = self._head(image_id)
        if headers is None:
            return
        self.client.delete_object(self.account, self.container, image_id)
        for name in self._segments_of(headers):
            self.client.delete_object(self.account, self.container, name)

    def exists(self, image_id: str) -> bool:
        """Whether the image's object exists."""
        return self._head(self._check(image_id)) is not None

    def size(self, image_id: str) -> int:
        """The image's size in bytes (a manifest's: its segments' total).

        Raises:
            FileNotFoundError: no such image.
        """
        headers = self._head(self._check(image_id))
        if headers is None:
            raise FileNotFoundError(image_id)
        if "x-object-manifest" in headers:
            prefix = headers["x-object-manifest"].partition("/")[2]
            items = self.client.list_objects(self.account, self.container, prefix, detail=True)
            return sum(int(item["bytes"]) for item in items)
        return int(headers.get("content-length", "0"))
