"""A synchronous client of object storage for pocketstack's own services (Glance's swift
image store, Cinder's swift backup store), as Swift's ``InternalClient``: the proxy's logic
(``ObjectStoreManager``: quorum writes, handoffs, reads with fallback, large objects) run in
this process against the ring's storage nodes, no HTTP front and no token in between.

The proxy's code is asynchronous; an ``InternalClient`` runs it on an event loop of its own
thread and waits for each call. One client per ring location per process
(:func:`internal_client`).
"""

from __future__ import annotations

import asyncio
import threading
import types
from collections.abc import AsyncIterator, Coroutine, Iterable, Iterator
from typing import Any, TypeVar

from pocketstack.objectstore.exceptions import ContainerNotFound, ObjectNotFound

T = TypeVar("T")
_CLIENTS: dict[str, InternalClient] = {}
_CLIENTS_LOCK = threading.Lock()


class InternalClient:
    """Object storage calls from synchronous code.

    Args:
        conf: the configuration (``object_ring`` / ``state_dir`` name the ring).
    """

    def __init__(self, conf: Any):
        from pocketstack.objectstore.manager import ObjectStoreManager

        self.store = ObjectStoreManager(types.SimpleNamespace(conf=conf))  # type: ignore[arg-type]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="object-internal-client", daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        """Stop the client's loop and thread (its connections to the nodes are dropped)."""
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the client's loop and wait for its result (or exception)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def ensure_container(self, account: str, container: str) -> None:
        """Create the container (and its account) unless it exists.

        Raises:
            InsufficientReplicas: too few storage nodes answered.
        """
        if not self.run(self.store.containers.info(account, container)).exists:
            self.run(self.store.containers.create(account, container, {}))

    def put_object(
        self,
        account: str,
        container: str,
        name: str,
        body: Iterable[bytes],
        headers: dict[str, str] | None = None,
    ) -> str:
        """Store ``body`` (chunks, read in a worker thread as the upload goes) as an object;
        returns its ETag. Nothing is stored when reading ``body`` raises: the error
        propagates and the nodes drop what they received.

        Raises:
            ContainerNotFound, InsufficientReplicas, whatever ``body`` raises.
        """
        chunks = iter(body)

        async def stream() -> AsyncIterator[bytes]:
            while True:
                chunk = await asyncio.to_thread(next, chunks, None)
                if chunk is None:
                    return
                if chunk:
                    yield chunk

        names = (account, container, name)
        written = self.run(self.store.objects.put(names, headers or {}, stream(), None))
        return written.etag

    def get_object(
        self,
        account: str,
        container: str,
        name: str,
        byte_range: tuple[int, int] | None = None,
    ) -> tuple[dict[str, str], Iterator[bytes]]:
        """The object's headers and an iterator over its bytes (a large object's segments
        joined); close the iterator (or read it to its end) to release the connection.
        With ``byte_range`` ``(first, last)``, inside the object: those bytes only (a
        large object's asked of the segments holding them).

        Raises:
            ObjectNotFound: no replica has it (raised by this call, before iterating).
        """
        names = (account, container, name)
        resp = self.run(self.store.objects.open(names, "GET", {}))
        large = self.store.large_objects
        body: AsyncIterator[bytes]
        if byte_range is None:
            body = large.body_of(names, resp)
        elif large.is_manifest(resp):
            segments = self.run(large.segments(account, resp))
            body = large.stream(account, segments, *byte_range)
        else:  # the node serves the range of a plain object
            self.run(resp.aclose())
            ask = {"range": "bytes={}-{}".format(*byte_range)}
            resp = self.run(self.store.objects.open(names, "GET", ask))
            body = resp.aiter_raw()
        headers = {k.lower(): v for k, v in resp.headers.items()}

        def chunks() -> Iterator[bytes]:
            try:
                while True:
                    try:
                        yield self.run(_next(body))
                    except StopAsyncIteration:
                        return
            finally:
                self.run(resp.aclose())

        return headers, chunks()

    def head_object(self, account: str, container: str, name: str) -> dict[str, str]:
        """The object's headers.

        Raises:
            ObjectNotFound: no replica has it.
        """
        resp = self.run(self.store.objects.open((account, container, name), "HEAD", {}))
        self.run(resp.aclose())
        return {k.lower(): v for k, v in resp.headers.items()}

    def delete_object(self, account: str, container: str, name: str) -> None:
        """Delete an object; succeeds when it is already gone (or its container is)."""
        try:
            self.run(self.store.objects.delete((account, container, name)))
        except (ObjectNotFound, ContainerNotFound):
            pass

    def list_objects(
        self,
        account: str,
        container: str,
        prefix: str = "",
        detail: bool = False,
        delimiter: str = "",
    ) -> list[Any]:
        """Every object name of the container starting with ``prefix``, sorted (with
        ``detail``: the listing entries, ``{"name", "bytes", "hash", ...}``); empty when the
        container does not exist. With a one-character ``delimiter``, the names that have it
        after ``prefix`` are rolled up into one entry per ``{"subdir": <name up to it>}``
        (its name in the plain list), as Swift's listings."""
        items: list[dict[str, Any]] = []
        while True:
            marker = _past(items[-1], delimiter) if items else ""
            params = {"prefix": prefix, "marker": marker, "limit": "10000"}
            if delimiter:
                params["delimiter"] = delimiter
            try:
                page = self.run(self.store.containers.list(account, container, params))
            except ContainerNotFound:
                return []
            if not page.items:
                return items if detail else [item.get("name", item.get("subdir")) for item in items]
            items.extend(item for item in page.items if "name" in item or "subdir" in item)


def _past(item: dict[str, Any], delimiter: str) -> str:
    """The marker after a listing entry: its name, or past every name under a subdir."""
    if "name" in item:
        return str(item["name"])
    subdir = str(item["subdir"])
    return subdir[: -len(delimiter)] + chr(ord(delimiter) + 1)


async def _next(body: AsyncIterator[bytes]) -> bytes:
    return await body.__anext__()


def internal_client(conf: Any) -> InternalClient:
    """The process's client for the ring of ``conf`` (made on first use)."""
    from pocketstack.objectstore.manager import ring_location

    key = ring_location(conf)
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = _CLIENTS[key] = InternalClient(conf)
        return client


def close_internal_client(conf: Any) -> None:
    """Close and forget the process's client for the ring of ``conf`` (if there is one)."""
    from pocketstack.objectstore.manager import ring_location

    with _CLIENTS_LOCK:
        client = _CLIENTS.pop(ring_location(conf), None)
    if client is not None:
        client.close()
