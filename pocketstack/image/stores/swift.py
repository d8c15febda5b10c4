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
- The image service writes through ``partial`` (``SwiftPartial``): every image, small or
  large, is segments ``<image id>-<upload>/<n:05d>`` (streamed as they arrive, never held
  whole) and a manifest that ``commit`` writes, so nothing is the image's until the image
  service records it. Segments no manifest names (a process died mid-upload, a delete was
  cut short) are listed by ``partial_files`` and removed by the lease reaper once no live
  upload owns them.
"""

from __future__ import annotations

import hashlib
import itertools
import queue
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pocketstack.image.formats import HEADER_BYTES, header_virtual_size
from pocketstack.image.stores.base import CHUNK, ByteRange, Hashes, ImageStore, Readable
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


class ImageStoreUnavailable(ValueError):
    """The configured image store cannot run on this host (swift without object storage)."""


#: what ends a streamed PUT's body
_END = object()


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
        """The store of ``[image] image_swift_*`` on the ring of ``[objectstore]`` (the
        object ring option, or the ring ``pocketstack up`` builds in the state directory).

        Raises:
            ImageStoreUnavailable: no object storage here (no ring to read).
        """
        from pocketstack.objectstore.internal_client import internal_client
        from pocketstack.objectstore.manager import ring_location

        ring = ring_location(conf)
        if not ring.startswith(("http://", "https://")) and not Path(ring).is_file():
            raise ImageStoreUnavailable(
                f"image_store 'swift' needs object storage: no object ring at {ring} "
                "(start pocketstack up, or set [objectstore] object_ring); or use "
                "image_store = 'file'"
            )
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

    def partial(self, image_id: str) -> SwiftPartial:
        """New partial data of ``image_id``: segments under a prefix of its own."""
        return SwiftPartial(self, self._check(image_id))

    def put_streamed(self, name: str, chunks: Iterable[bytes]) -> None:
        """PUT the object ``name`` with ``chunks`` as its body, iterated in this thread (a
        request body can only be read from the handler's thread) and handed to the upload
        through a small queue: never more than a few chunks in memory.

        Raises:
            Whatever iterating ``chunks`` raises (the object is then not stored), or what
            the PUT raises (``InsufficientReplicas``...).
        """
        handoff: queue.Queue[Any] = queue.Queue(maxsize=4)

        def body() -> Iterator[bytes]:
            while (item := handoff.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item

        result: list[BaseException | None] = []

        def upload() -> None:
            try:
                self.client.put_object(self.account, self.container, name, body())
                result.append(None)
            except BaseException as exc:  # handed to the caller's thread below
                result.append(exc)

        worker = threading.Thread(target=upload, name="image-segment-put", daemon=True)
        worker.start()

        def hand(item: Any) -> bool:
            """Queue ``item``; False when the upload ended before taking it."""
            while True:
                try:
                    handoff.put(item, timeout=0.2)
                    return True
                except queue.Full:
                    if not worker.is_alive():
                        return False

        try:
            for chunk in chunks:
                if not hand(chunk):
                    break
            else:
                hand(_END)
        except BaseException as exc:
            hand(ConnectionAbortedError(f"the data of {name} was cut short: {exc}"))
            worker.join()
            raise
        worker.join()
        error = result[0] if result else RuntimeError(f"the upload of {name} vanished")
        if error is not None:
            raise error

    def partial_files(self) -> list[tuple[str, str]]:
        """``(image id, segment prefix)`` of segments that may belong to no image: those
        of an image without a manifest, and every prefix of an image with more than one
        (``remove_partial`` keeps the one its manifest names). One listing, rolled up by
        ``/``."""
        entries = self.client.list_objects(self.account, self.container, delimiter="/")
        objects = {name for name in entries if not name.endswith("/")}
        prefixes: dict[str, list[str]] = {}
        for name in entries:
            if name.endswith("/"):
                image_id = name[:-1].rpartition("-")[0]
                prefixes.setdefault(image_id, []).append(name)
        return [
            (image_id, prefix)
            for image_id, found in prefixes.items()
            if image_id not in objects or len(found) > 1
            for prefix in found
        ]

    def remove_partial(self, reference: str) -> None:
        """Delete the segments under ``reference`` (a prefix from ``partial_files``) unless
        the image's manifest names them."""
        image_id = reference[:-1].rpartition("-")[0]
        headers = self._head(image_id) if image_id else None
        if headers is not None:
            if headers.get("x-object-manifest") == f"{self.container}/{reference}":
                return
        for name in self.client.list_objects(self.account, self.container, reference):
            self.client.delete_object(self.account, self.container, name)

    def read(
        self, image_id: str, chunk_size: int = CHUNK, byte_range: ByteRange | None = None
    ) -> Iterator[bytes]:
        """Iterate over the image's bytes in chunks of ``chunk_size`` (``byte_range``: bytes
        ``first..last`` only, asked of the segments that hold them).

        Raises:
            FileNotFoundError: no such image (raised by this call).
        """
        self._check(image_id)
        try:
            _headers, body = self.client.get_object(
                self.account, self.container, image_id, byte_range
            )
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


class SwiftPartial:
    """The data of one image being uploaded to the swift store (``base.PartialData``):
    segments ``<image id>-<upload>/<n:05d>`` of up to ``chunk_size`` bytes, streamed as the
    data arrives; ``commit`` writes the image's manifest naming them.

    Attributes:
        prefix: the segments' name prefix. written: the segments' names so far.
        committed: whether the manifest was written.
    """

    #: how long ``fill`` waits for the container listing to show every segment (the
    #: manifest's reader finds its segments by listing)
    LISTING_WAIT = 10.0

    def __init__(self, store: SwiftStore, image_id: str):
        self.store = store
        self.image_id = image_id
        self.prefix = f"{image_id}-{uuid.uuid4().hex[:12]}/"
        self.written: list[str] = []
        self.committed = False
        self.header = b""

    def fill(self, stream: Readable) -> Hashes:
        """Stream ``stream`` into segments (read in this thread); returns the hashes once
        the container lists every segment. Raises what reading or writing raises, or
        ``OSError`` when the listing never shows them all (the caller discards)."""
        store = self.store
        store._ensure_container()
        hasher = _Hasher(stream)
        sizes: list[int] = []
        while True:
            before = hasher.size
            chunks = hasher.chunks(store.chunk_size)
            first = next(chunks, b"")
            if not first:
                break
            if not self.header:
                self.header = first[:HEADER_BYTES]
            name = f"{self.prefix}{len(self.written) + 1:05d}"
            self.written.append(name)  # before the PUT: a failed one is discarded too
            store.put_streamed(name, itertools.chain([first], chunks))
            sizes.append(hasher.size - before)
            if hasher.eof and not hasher.pending:
                break
        self._await_listing(sizes)
        return hasher.hashes()

    def _await_listing(self, sizes: list[int]) -> None:
        """Wait until the container lists exactly the segments written, with their sizes."""
        want = dict(zip(self.written, sizes, strict=True))
        deadline = time.monotonic() + self.LISTING_WAIT
        while True:
            items = self.store.client.list_objects(
                self.store.account, self.store.container, self.prefix, detail=True
            )
            if {item["name"]: int(item["bytes"]) for item in items} == want:
                return
            if time.monotonic() > deadline:
                raise OSError(f"the segments of image {self.image_id} are not all listed")
            time.sleep(0.1)

    def link_from(self, source: Path) -> Hashes:
        """Upload the local file ``source``. Raises ``OSError`` when it cannot be read."""
        with open(source, "rb") as f:
            return self.fill(f)

    def virtual_size(self, disk_format: str | None, size: int) -> int | None:
        """The virtual size told by the data's header (``formats.header_virtual_size``)."""
        return header_virtual_size(self.header, disk_format, size)

    def commit(self) -> None:
        """Write the image's manifest naming the segments (the image's old data, if any,
        is replaced: its segments are the caller's to remove)."""
        if not self.committed:
            manifest = {"X-Object-Manifest": f"{self.store.container}/{self.prefix}"}
            store = self.store
            store.client.put_object(store.account, store.container, self.image_id, [b""], manifest)
            self.committed = True

    def discard(self) -> None:
        """Delete the segments written, unless the manifest was."""
        if not self.committed:
            self._delete_segments()

    def revert(self) -> None:
        """Delete the manifest ``commit`` wrote and the segments."""
        if self.committed:
            store = self.store
            store.client.delete_object(store.account, store.container, self.image_id)
            self._delete_segments()

    def _delete_segments(self) -> None:
        for name in self.written:
            self.store.client.delete_object(self.store.account, self.store.container, name)
