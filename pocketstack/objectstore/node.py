"""A storage node: the account, container and object servers of Swift's backend protocol on
one HTTP port, for every device directory under the node's root (docs/object-storage.md
"Storage node protocol").

    GET  /healthcheck
    GET  /ring           the ring file this node reads (so proxies and other nodes can load
                         it by URL: ``--object-ring http://<node>/ring``), with an ETag
    <verb> /<server>/<device>/<partition>/<account>[/<container>[/<object>]]

:class:`StorageNode` is the ASGI app (Starlette); :class:`NodeServer` runs one under uvicorn in
a thread (embedded ``pocketstack up``, tests); ``pocketstack object-node`` runs one in the
foreground (:func:`serve_forever`). Handlers live in ``object_server.py`` and
``db_server.py``; updates between servers in ``updates.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvicorn
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from pocketstack.objectstore.diskfile import Devices, DeviceUnavailable, DiskFileError
from pocketstack.objectstore.protocol import (  # noqa: F401  (their home before protocol.py)
    NodeError,
    Target,
    parse_path,
    require_timestamp,
)
from pocketstack.objectstore.ring import Ring
from pocketstack.objectstore.utils import InvalidName

LOG = logging.getLogger(__name__)


Handler = Callable[["StorageNode", Request, Target], Awaitable[Response]]


class StorageNode:
    """The ASGI app of one node.

    Args:
        devices_root: directory of the node's device directories.
        ring: the cluster's ring (its hash path prefix/suffix name things on disk; the
            updater finds account replicas in it).
        update_timeout: seconds an object server waits for a container update (and a
            container server for an account update) before leaving it to the updater.
        updater_interval: seconds between passes that send changed container stats to
            accounts and retry async_pending updates (0: no background updater).
    """

    def __init__(
        self,
        devices_root: str | Path,
        ring: Ring,
        update_timeout: float = 1.0,
        updater_interval: float = 0.5,
    ):
        from pocketstack.objectstore.db import RowBatcher
        from pocketstack.objectstore.updates import Updater

        self.devices = Devices(devices_root)
        self.ring = ring
        self.update_timeout = update_timeout
        self.updater = Updater(self, updater_interval)
        self.row_batcher = RowBatcher()
        self.replicator: Any = None  # a Replicator, started and stopped with the app
        self.auditor: Any = None  # an auditor.Auditor, likewise
        self.expirer: Any = None  # an expirer.Expirer, likewise
        self.handlers = _handlers()

    def hash_path(self, target: Target) -> str:
        """The hash of what ``target`` names."""
        if target.server == "account":
            return self.ring.hash_path(target.account)
        if target.server == "container":  # the container, or an object row in its db
            return self.ring.hash_path(target.account, target.container)
        return self.ring.hash_path(target.account, target.container, target.obj)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self._respond(request)
        await response(scope, receive, send)

    async def _respond(self, request: Request) -> Response:
        method = request.method
        if request.url.path == "/healthcheck" and method in ("GET", "HEAD"):
            return PlainTextResponse("OK")
        if request.url.path == "/ring" and method in ("GET", "HEAD"):
            return await run_in_threadpool(self._ring_file, request)
        if request.url.path.startswith("/recon/"):
            from pocketstack.objectstore.recon import respond

            return await respond(self, request)
        try:
            if method == "REPLICATE":
                from pocketstack.objectstore.replication_server import replicate

                return await replicate(self, request)
            target = parse_path(request.scope.get("raw_path") or request.url.path.encode())
            kind = target.server
            if (kind == "container" and target.obj) or (kind == "account" and target.container):
                kind = "row"  # an object row in a container db, a container row in an account's
            handler = self.handlers.get((kind, method))
            if handler is None:
                raise NodeError(405, f"{method} not allowed")
            return await handler(self, request, target)
        except NodeError as exc:
            return _error(exc)
        except DeviceUnavailable as exc:
            return _error(NodeError(507, str(exc)))
        except InvalidName as exc:
            return _error(NodeError(400, str(exc)))
        except DiskFileError as exc:
            LOG.error("%s %s: %s", method, request.url.path, exc)
            return _error(NodeError(500, "object files unreadable"))

    def _ring_file(self, request: Request) -> Response:
        """The ring file as read from this node's source (404 when that is a URL itself)."""
        if self.ring.source.startswith(("http://", "https://")):
            return _error(NodeError(404, "this node reads its ring from a URL"))
        try:
            raw = Path(self.ring.source).read_bytes()
        except OSError as exc:
            return _error(NodeError(503, f"ring unreadable: {exc}"))
        etag = '"' + hashlib.md5(raw, usedforsecurity=False).hexdigest() + '"'
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers={"ETag": etag})
        return Response(raw, headers={"ETag": etag}, media_type="application/gzip")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.updater.start()
                for daemon in (self.replicator, self.auditor, self.expirer):
                    if daemon is not None:
                        daemon.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.updater.stop()
                for daemon in (self.replicator, self.auditor, self.expirer):
                    if daemon is not None:
                        daemon.stop()
                self.row_batcher.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _error(exc: NodeError) -> Response:
    body = exc.message.encode() if exc.status not in (204, 304) else b""
    return Response(body, status_code=exc.status, headers=exc.headers, media_type="text/plain")


def _handlers() -> dict[tuple[str, str], Handler]:
    from pocketstack.objectstore import db_server, object_server

    table: dict[tuple[str, str], Handler] = {}
    table.update(object_server.HANDLERS)
    table.update(db_server.HANDLERS)
    return table


class NodeServer:
    """One :class:`StorageNode` served by uvicorn in a thread of this process.

    Args:
        node: the app.
        host, port: where to listen (port 0: a free port, read back from ``.port``).
        sock: a socket bound already (host and port are then ignored).
    """

    def __init__(
        self,
        node: StorageNode,
        host: str = "127.0.0.1",
        port: int = 0,
        sock: socket.socket | None = None,
    ):
        self.node = node
        if sock is None:
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
        self.sock = sock
        self.host = sock.getsockname()[0]
        self.port: int = sock.getsockname()[1]
        # log_config=None: uvicorn's default config would replace the handlers of its
        # loggers, which the API server of the same process (``up``) routes to pocketstack's
        # log file (common.logs.configure_uvicorn_logging)
        config = uvicorn.Config(
            node,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_keep_alive=30,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self._run, name=f"object-node-{self.port}", daemon=True
        )

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def start(self, timeout: float = 10.0) -> None:
        """Start serving; returns once the port accepts requests.

        Raises:
            RuntimeError: not started within ``timeout`` seconds.
        """
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"object node on port {self.port} did not start")
            time.sleep(0.01)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread."""
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout)
        self.sock.close()


def serve_forever(node: StorageNode, host: str, port: int) -> None:
    """Serve ``node`` on ``host:port`` in the foreground until SIGINT/SIGTERM."""
    uvicorn.run(node, host=host, port=port, log_level="info", access_log=False, lifespan="on")
