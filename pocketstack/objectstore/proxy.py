"""The proxy's side of the storage nodes: which nodes to ask, quorum writes, reads with
fallback, handoffs and error limiting, over async HTTP (httpx).

Follows Swift's proxy server (``swift/proxy/server.py`` ``Application.iter_nodes``,
``error_limit``; ``swift/proxy/controllers/base.py`` ``make_requests``, ``best_response``;
``obj.py`` for the streamed object PUT) and the node protocol of docs/object-storage.md:

- a write goes to every primary of the name's partition; a primary that is error-limited or
  does not connect is replaced by the next handoff (``Ring.get_more_nodes``); the answer is
  the status a quorum (``replicas // 2 + 1``) of the nodes agree on, else 503;
- a read asks the primaries, then handoffs (at most ``2 * replicas`` nodes in all), and
  returns the first answer that is not a server error or a 404;
- a node that fails (connection refused, timeout, 5xx, 507) ``error_suppression_limit``
  times within ``error_suppression_interval`` seconds is skipped until that interval passes
  since its last error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from pocketstack.objectstore.exceptions import InsufficientReplicas
from pocketstack.objectstore.utils import node_url as _node_url

LOG = logging.getLogger(__name__)

Node = dict[str, Any]


class ErrorLimiter:
    """Counts each node's recent errors; a node past the limit is skipped for a while.

    Args:
        limit: errors tolerated (Swift's ``error_suppression_limit``, 10).
        interval: seconds an error counts and a limited node is skipped (Swift's 60).
        clock: monotonic seconds (injected in tests).
    """

    def __init__(
        self, limit: int = 10, interval: float = 60.0, clock: Callable[[], float] = time.monotonic
    ):
        self.limit = limit
        self.interval = interval
        self.clock = clock
        self._errors: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(node: Node) -> str:
        """``ip:port/device``."""
        return f"{node['ip']}:{node['port']}/{node['device']}"

    def is_limited(self, node: Node) -> bool:
        """True while the node is skipped."""
        with self._lock:
            count, last = self._errors.get(self.key(node), (0, 0.0))
            if count and self.clock() - last > self.interval:
                del self._errors[self.key(node)]
                return False
            return count > self.limit

    def error(self, node: Node) -> None:
        """Count one failure of ``node``."""
        with self._lock:
            count, last = self._errors.get(self.key(node), (0, 0.0))
            if count and self.clock() - last > self.interval:
                count = 0
            self._errors[self.key(node)] = (count + 1, self.clock())
            if count + 1 == self.limit + 1:
                LOG.warning("node %s error limited for %ss", self.key(node), self.interval)

    def limit_now(self, node: Node) -> None:
        """Skip ``node`` at once (it answered 507: no such device)."""
        with self._lock:
            self._errors[self.key(node)] = (self.limit + 1, self.clock())


@dataclass
class NodeAnswer:
    """One node's answer to a request whose body was read.

    Attributes:
        status: HTTP status (0: no answer).
        headers: the answer's headers.
        body: its body (listings are small; objects are streamed instead).
        node: the node that answered.
    """

    status: int
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    body: bytes = b""
    node: Node | None = None


_DOT_SEGMENT = re.compile(r"(?<=/)\.\.?(?=/|$)")


def node_url(
    node: Node,
    server: str,
    part: int,
    account: str,
    container: str | None = None,
    obj: str | None = None,
) -> str:
    """The node URL of a name, with ``.``/``..`` segments percent-encoded: an HTTP client
    would otherwise resolve them (``c/../x`` is an object name, not a path to walk)."""
    url = _node_url(node, server, part, account, container, obj)
    scheme_host, _, path = url.partition("://")[2].partition("/")
    path = _DOT_SEGMENT.sub(lambda m: "%2E" * len(m.group(0)), "/" + path)
    return url[: url.index("://") + 3] + scheme_host + path


def quorum_size(replicas: int) -> int:
    """How many answers make a quorum: a strict majority (Swift's replication policy)."""
    return replicas // 2 + 1


def best_status(statuses: list[int], replicas: int) -> int:
    """The status a quorum of ``replicas`` nodes agree on by class (2xx, 3xx, 4xx), the most
    frequent one in that class; 503 when no class has a quorum (as Swift's
    ``best_response``)."""
    quorum = quorum_size(replicas)
    for klass in (2, 3, 4):
        group = [s for s in statuses if s // 100 == klass]
        if len(group) >= quorum:
            return Counter(group).most_common(1)[0][0]
    return 503


class Backend:
    """The node I/O of one proxy: the ring, an HTTP client per event loop, the error limiter.

    Args:
        ring_factory: returns the ring (``pocketstack.objectstore.ring.Ring``) when first
            needed (so a proxy starts before its nodes).
        conn_timeout: seconds to connect to a node (Swift's is 0.5 s between machines; the
            embedded nodes share this process's interpreter, so a busy moment delays even a
            loopback connect: a refused connection, the usual down node, fails at once anyway).
        node_timeout: seconds a node may take to answer or to take the next chunk.
        limiter: the ``ErrorLimiter``.
    """

    def __init__(
        self,
        ring_factory: Callable[[], Any],
        conn_timeout: float = 3.0,
        node_timeout: float = 30.0,
        limiter: ErrorLimiter | None = None,
    ):
        self._ring_factory = ring_factory
        self._ring: Any = None
        self.limiter = limiter or ErrorLimiter()
        self.timeout = httpx.Timeout(node_timeout, connect=conn_timeout)
        # (loop id, node ip:port) -> (loop, client)
        self._clients: dict[tuple[int, str], tuple[Any, httpx.AsyncClient]] = {}

    @property
    def ring(self) -> Any:
        """The ring (loaded on first use; it reloads itself when its file changes).

        Raises:
            InsufficientReplicas: (503) it cannot be read (not built yet).
        """
        if self._ring is None:
            try:
                self._ring = self._ring_factory()
            except (OSError, ValueError) as exc:  # no ring yet (nodes not set up): 503
                LOG.warning("object storage ring unavailable: %s", exc)
                raise InsufficientReplicas("Object storage has no ring yet.") from None
        return self._ring

    def client(self, node: Node | None = None) -> httpx.AsyncClient:
        """The HTTP client of the running event loop for ``node`` (connections are kept per
        loop and per node's ``ip:port``: httpcore checks every pooled connection of a client
        at each request, so one pool per node keeps that walk short under load)."""
        loop = asyncio.get_running_loop()
        key = (id(loop), f"{node['ip']}:{node['port']}" if node else "")
        found = self._clients.get(key)
        if found is None or found[0] is not loop:
            limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
            found = (loop, httpx.AsyncClient(timeout=self.timeout, limits=limits))
            self._clients[key] = found
        return found[1]

    async def aclose(self) -> None:
        """Close the running loop's clients."""
        loop_id = id(asyncio.get_running_loop())
        for key in [k for k in list(self._clients) if k[0] == loop_id]:
            await self._clients.pop(key)[1].aclose()

    @property
    def replicas(self) -> int:
        return int(self.ring.replica_count)

    def primaries(
        self, account: str, container: str | None = None, obj: str | None = None
    ) -> tuple[int, list[Node]]:
        """``(partition, primary nodes)`` of a name."""
        part, nodes = self.ring.get_nodes(account, container, obj)
        return part, list(nodes)

    def handoffs(self, part: int) -> Iterator[Node]:
        """The partition's handoff nodes that are not error limited, in ring order."""
        for node in self.ring.get_more_nodes(part):
            if not self.limiter.is_limited(node):
                yield node

    def read_nodes(self, part: int, primaries: list[Node]) -> Iterator[Node]:
        """Nodes to read from: healthy primaries, then handoffs, ``2 * replicas`` at most."""
        count = 0
        limit = 2 * len(primaries)
        for node in primaries:
            if not self.limiter.is_limited(node):
                count += 1
                yield node
        for node in self.handoffs(part):
            if count >= limit:
                return
            count += 1
            yield node

    def _note(self, node: Node, status: int) -> None:
        if status == 507:
            self.limiter.limit_now(node)
        elif status >= 500 or status == 0:
            self.limiter.error(node)

    async def call(
        self,
        node: Node,
        server: str,
        method: str,
        part: int,
        names: tuple[str, str | None, str | None],
        headers: Mapping[str, str],
        params: Mapping[str, str] | None = None,
    ) -> NodeAnswer:
        """One request whose answer body is read; status 0 when the node did not answer."""
        url = node_url(node, server, part, *names)
        try:
            resp = await self.client(node).request(
                method, url, headers=dict(headers), params=params
            )
        except httpx.HTTPError as exc:
            LOG.info("node %s: %s %s failed: %r", self.limiter.key(node), method, url, exc)
            self._note(node, 0)
            return NodeAnswer(0, node=node)
        self._note(node, resp.status_code)
        return NodeAnswer(resp.status_code, resp.headers, resp.content, node)

    async def write(
        self,
        server: str,
        method: str,
        names: tuple[str, str | None, str | None],
        headers: Mapping[str, str],
        node_headers: list[dict[str, str]] | None = None,
    ) -> tuple[int, list[NodeAnswer]]:
        """Send a body-less write to every primary (handoffs for those that fail to answer);
        return the quorum status and the answers."""
        part, primaries = self.primaries(*names)
        handoffs = self.handoffs(part)

        async def one(i: int, node: Node) -> NodeAnswer:
            extra = node_headers[i] if node_headers else {}
            while True:
                if not self.limiter.is_limited(node):
                    answer = await self.call(
                        node, server, method, part, names, {**headers, **extra}
                    )
                    if answer.status and answer.status < 500:
                        return answer
                node = next(handoffs, None)  # type: ignore[arg-type]
                if node is None:
                    return NodeAnswer(503)

        answers = await asyncio.gather(*(one(i, n) for i, n in enumerate(primaries)))
        return best_status([a.status for a in answers], len(primaries)), list(answers)

    async def read(
        self,
        server: str,
        method: str,
        names: tuple[str, str | None, str | None],
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> NodeAnswer:
        """The first answer that is neither a 404 nor a failure (else 404 if any node said
        so, else 503), body read."""
        part, primaries = self.primaries(*names)
        not_found: NodeAnswer | None = None
        for node in self.read_nodes(part, primaries):
            answer = await self.call(node, server, method, part, names, headers or {}, params)
            if answer.status == 404:
                not_found = not_found or answer
            elif answer.status and answer.status < 500:
                return answer
        if not_found is not None:
            return not_found
        raise InsufficientReplicas("No node could answer the request.")

    async def open_object(
        self,
        names: tuple[str, str, str],
        method: str,
        headers: Mapping[str, str],
        newest: bool = False,
    ) -> httpx.Response:
        """An object GET/HEAD with the answer body left unread (the caller streams it and
        closes the response); fallback as ``read``. With ``newest`` (``X-Newest: true``)
        every primary is asked and the answer with the newest timestamp wins (a newer
        tombstone's 404 included)."""
        if newest:
            return await self._open_newest(names, method, headers)
        part, primaries = self.primaries(*names)
        not_found: httpx.Response | None = None
        for node in self.read_nodes(part, primaries):
            url = node_url(node, "object", part, *names)
            try:
                client = self.client(node)
                req = client.build_request(method, url, headers=dict(headers))
                resp = await client.send(req, stream=True)
            except httpx.HTTPError as exc:
                LOG.info("node %s: GET %s failed: %r", self.limiter.key(node), url, exc)
                self._note(node, 0)
                continue
            self._note(node, resp.status_code)
            if resp.status_code == 404 and not_found is None:
                not_found = resp
                continue
            if resp.status_code >= 500 or resp.status_code == 404:
                await resp.aclose()
                continue
            if not_found is not None:
                await not_found.aclose()
            return resp
        if not_found is not None:
            return not_found
        raise InsufficientReplicas("No node could answer the request.")

    async def _open_newest(
        self, names: tuple[str, str, str], method: str, headers: Mapping[str, str]
    ) -> httpx.Response:
        part, primaries = self.primaries(*names)
        best: httpx.Response | None = None
        for node in primaries:
            if self.limiter.is_limited(node):
                continue
            url = node_url(node, "object", part, *names)
            try:
                client = self.client(node)
                req = client.build_request(method, url, headers=dict(headers))
                resp = await client.send(req, stream=True)
            except httpx.HTTPError as exc:
                LOG.info("node %s: GET %s failed: %r", self.limiter.key(node), url, exc)
                self._note(node, 0)
                continue
            self._note(node, resp.status_code)
            if resp.status_code >= 500 or (best is not None and _stamp(resp) <= _stamp(best)):
                await resp.aclose()
                continue
            if best is not None:
                await best.aclose()
            best = resp
        if best is None:
            raise InsufficientReplicas("No node could answer the request.")
        return best

    async def put_object(
        self,
        names: tuple[str, str, str],
        headers: Mapping[str, str],
        node_headers: list[dict[str, str]],
        body: AsyncIterator[bytes],
        on_chunk: Callable[[bytes], None] | None = None,
    ) -> tuple[int, list[NodeAnswer]]:
        """Stream ``body`` to every primary at once (a handoff for a primary that does not
        connect); return the quorum status and the answers. ``on_chunk`` sees each chunk
        (the caller's MD5 and size count). A slow node slows the upload (bounded queues):
        the body is never held whole in memory."""
        part, primaries = self.primaries(*names)
        handoffs = self.handoffs(part)
        queues: list[asyncio.Queue[bytes | None]] = [asyncio.Queue(maxsize=8) for _ in primaries]
        tasks = [
            asyncio.create_task(
                self._stream_to(node, handoffs, part, names, {**headers, **node_headers[i]}, q)
            )
            for i, (node, q) in enumerate(zip(primaries, queues, strict=True))
        ]
        try:
            async for chunk in body:
                if on_chunk is not None:
                    on_chunk(chunk)
                for q in queues:
                    await q.put(chunk)
            for q in queues:
                await q.put(None)
        except BaseException:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*tasks, return_exceptions=True)
            raise
        answers = await asyncio.gather(*tasks)
        return best_status([a.status for a in answers], len(primaries)), list(answers)

    async def _stream_to(
        self,
        node: Node,
        handoffs: Iterator[Node],
        part: int,
        names: tuple[str, str, str],
        headers: dict[str, str],
        queue: asyncio.Queue[bytes | None],
    ) -> NodeAnswer:
        """PUT the queue's chunks to ``node`` (or the next handoff while nothing was sent);
        once it fails, drain the queue so the upload goes on for the other nodes."""
        started = finished = False

        async def chunks() -> AsyncIterator[bytes]:
            nonlocal started, finished
            while True:
                chunk = await queue.get()
                started = True
                if chunk is None:
                    finished = True
                    return
                yield chunk

        answer = NodeAnswer(503)
        current: Node | None = node
        while current is not None:
            if self.limiter.is_limited(current):
                current = next(handoffs, None)
                continue
            url = node_url(current, "object", part, *names)
            try:
                resp = await self.client(current).put(url, headers=headers, content=chunks())
            except Exception as exc:  # any failure of one node leaves the others going
                LOG.info("node %s: PUT %s failed: %r", self.limiter.key(current), url, exc)
                self._note(current, 0)
                if started:
                    break
                current = next(handoffs, None)
                continue
            self._note(current, resp.status_code)
            answer = NodeAnswer(resp.status_code, resp.headers, resp.content, current)
            if resp.status_code // 100 != 2:
                LOG.info("node %s: PUT %s: %s", self.limiter.key(current), url, resp.status_code)
            break
        if not finished:  # failed before the end: take the rest so the others go on
            while await queue.get() is not None:
                pass
        return answer


def _stamp(resp: httpx.Response) -> float:
    """The timestamp of what a node answered about (data or tombstone); 0 when none."""
    value = resp.headers.get("x-backend-timestamp") or resp.headers.get("x-timestamp") or "0"
    try:
        return float(value)
    except ValueError:
        return 0.0
