"""A proxy in front of real storage nodes on loopback, for the proxy's tests.

``Cluster`` starts ``nodes`` storage nodes (``pocketstack.objectstore.node``, one device
each, each its own zone) with a ring of ``replicas`` replicas, and the Swift API (the proxy)
on uvicorn in a thread with fixed callers (``tests.helpers.FixedTokens``): tokens ``alice``
(member of project ``pa``), ``reader`` (reader of ``pa``), ``bob`` (member of ``pb``) and
``admin`` (admin of project ``adm``).
"""

from __future__ import annotations

import socket
import threading
import time
import types
from pathlib import Path

import httpx
import uvicorn

from pocketstack.common.auth import RequestContext
from pocketstack.objectstore.api import API
from pocketstack.objectstore.builder import RingBuilder
from pocketstack.objectstore.manager import ObjectStoreManager
from pocketstack.objectstore.node import NodeServer, StorageNode
from pocketstack.objectstore.proxy import Backend, ErrorLimiter
from pocketstack.objectstore.ring import Ring
from tests.helpers import FixedTokens, service_app

CALLERS = {
    "alice": RequestContext(
        user_id="ua",
        user_name="alice",
        project_id="pa",
        project_name="proj-a",
        roles=("member", "reader"),
    ),
    "reader": RequestContext(
        user_id="ur", user_name="rita", project_id="pa", project_name="proj-a", roles=("reader",)
    ),
    "bob": RequestContext(
        user_id="ub",
        user_name="bob",
        project_id="pb",
        project_name="proj-b",
        roles=("member", "reader"),
    ),
    "admin": RequestContext(
        user_id="uadm",
        user_name="admin",
        project_id="adm",
        project_name="admin",
        roles=("admin", "member", "reader"),
    ),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """Storage nodes + proxy; ``url(project)`` is the account URL, ``client`` an httpx
    client; ``stop_node(i)`` / ``start_node(i)`` break and mend a node."""

    def __init__(self, root: Path, conf, nodes: int = 3, replicas: int = 3):
        self.root = root
        self.ports = [_free_port() for _ in range(nodes)]
        builder = RingBuilder(6, replicas, 0)
        for i, port in enumerate(self.ports):
            builder.add_dev(
                {
                    "region": 1,
                    "zone": i + 1,
                    "ip": "127.0.0.1",
                    "port": port,
                    "device": f"d{i}",
                    "weight": 100,
                }
            )
            (root / f"n{i}" / f"d{i}").mkdir(parents=True)
        builder.rebalance(seed=1)
        self.ring_path = root / "object.ring.gz"
        builder.write_ring(self.ring_path)
        self.servers: list[NodeServer | None] = [None] * nodes
        for i in range(nodes):
            self.start_node(i)
        self.limiter = ErrorLimiter(limit=2, interval=60)
        backend = Backend(lambda: Ring(self.ring_path), limiter=self.limiter)
        store = ObjectStoreManager(types.SimpleNamespace(conf=conf), backend=backend)
        app = service_app(API, conf, types.SimpleNamespace(objectstore=store), FixedTokens(CALLERS))
        self.port = _free_port()
        self.proxy = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
            )
        )
        self.thread = threading.Thread(target=self.proxy.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.proxy.started:
            assert time.monotonic() < deadline, "proxy did not start"
            time.sleep(0.01)
        self.base = f"http://127.0.0.1:{self.port}/object-store"
        self.client = httpx.Client(timeout=30)

    def start_node(self, i: int) -> None:
        node = StorageNode(self.root / f"n{i}", Ring(self.ring_path))
        server = NodeServer(node, "127.0.0.1", self.ports[i])
        server.start()
        self.servers[i] = server

    def stop_node(self, i: int) -> None:
        server = self.servers[i]
        if server is not None:
            server.stop()
            self.servers[i] = None

    def url(self, project: str = "pa", *parts: str) -> str:
        return "/".join([f"{self.base}/v1/AUTH_{project}", *parts])

    def call(self, method: str, url: str, token: str | None = "alice", **kw) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if token:
            headers["X-Auth-Token"] = token
        return self.client.request(method, url, headers=headers, **kw)

    def close(self) -> None:
        self.client.close()
        self.proxy.should_exit = True
        self.thread.join(10)
        for i in range(len(self.servers)):
            self.stop_node(i)
