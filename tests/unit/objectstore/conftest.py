"""``storage_node``: one real storage node (``pocketstack.objectstore.node``) on loopback
with one device ``d1``, its ring naming it (1 replica), spoken to over real HTTP with
``http.client`` (which sends paths exactly as given, ``..`` included).
"""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pocketstack.objectstore.builder import RingBuilder
from pocketstack.objectstore.node import NodeServer, StorageNode
from pocketstack.objectstore.ring import Ring
from pocketstack.objectstore.utils import Timestamp, node_path


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        import json

        return json.loads(self.body)


@dataclass
class Node:
    """A running node: ``call`` speaks HTTP to it; ``path`` builds a node path with the
    ring's partition."""

    server: NodeServer
    ring: Ring
    root: Path
    # timestamps just behind the real clock (tombstones older than a week are reclaimed)
    clock: list[float] = field(default_factory=lambda: [time.time() - 3600])

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    @property
    def device(self) -> Path:
        return self.root / "d1"

    def ts(self) -> str:
        """A fresh timestamp, later than every earlier one of this test."""
        self.clock[0] += 1
        return Timestamp(self.clock[0]).internal

    def path(
        self, server: str, account: str, container: str | None = None, obj: str | None = None
    ) -> str:
        part = self.ring.get_part(
            account, container if server != "account" else None, obj if server == "object" else None
        )
        return node_path(server, "d1", part, account, container, obj)

    def call(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()

    def make_account(self, account: str = "AUTH_a") -> None:
        assert (
            self.call("PUT", self.path("account", account), {"X-Timestamp": self.ts()}).status
            == 201
        )

    def make_container(self, account: str = "AUTH_a", container: str = "c") -> None:
        reply = self.call(
            "PUT",
            self.path("container", account, container),
            {"X-Timestamp": self.ts(), **self.account_headers(account)},
        )
        assert reply.status == 201, reply

    def container_headers(self, account: str = "AUTH_a", container: str = "c") -> dict:
        return {
            "X-Container-Host": self.host,
            "X-Container-Device": "d1",
            "X-Container-Partition": str(self.ring.get_part(account, container)),
        }

    def account_headers(self, account: str = "AUTH_a") -> dict:
        return {
            "X-Account-Host": self.host,
            "X-Account-Device": "d1",
            "X-Account-Partition": str(self.ring.get_part(account)),
        }

    def put(self, name: str, body: bytes = b"data", container: str = "c", **headers: str):
        hdrs = {
            "X-Timestamp": self.ts(),
            "Content-Type": "text/plain",
            **self.container_headers(container=container),
        }
        hdrs.update({k.replace("_", "-"): v for k, v in headers.items()})
        return self.call("PUT", self.path("object", "AUTH_a", container, name), hdrs, body)


def start_node(root: Path, updater_interval: float = 0) -> Node:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    builder = RingBuilder(6, 1, 0)
    builder.add_dev(
        {"zone": 1, "ip": "127.0.0.1", "port": sock.getsockname()[1], "device": "d1", "weight": 1}
    )
    builder.rebalance(seed=1)
    builder.write_ring(root / "object.ring.gz")
    ring = Ring(root / "object.ring.gz")
    (root / "devs" / "d1").mkdir(parents=True)
    node = StorageNode(root / "devs", ring, update_timeout=1.0, updater_interval=updater_interval)
    server = NodeServer(node, sock=sock)
    server.start()
    return Node(server, ring, root / "devs")


@pytest.fixture
def storage_node(tmp_path: Path) -> Iterator[Node]:
    node = start_node(tmp_path)
    try:
        yield node
    finally:
        node.server.stop()
