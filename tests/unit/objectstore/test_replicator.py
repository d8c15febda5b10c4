"""The replicator over real nodes on loopback: a wiped node gets its objects, tombstones
and listings back, writes missed while down catch up, handoff partitions go home."""

from __future__ import annotations

import http.client
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pocketstack.objectstore.builder import RingBuilder
from pocketstack.objectstore.node import NodeServer, StorageNode
from pocketstack.objectstore.replicator import Replicator
from pocketstack.objectstore.ring import Ring
from pocketstack.objectstore.utils import Timestamp, node_path


@dataclass
class Cluster:
    ring: Ring
    servers: list[NodeServer]
    replicators: list[Replicator]
    roots: list[Path]
    clock: float = field(default_factory=lambda: time.time() - 3600)

    def ts(self) -> str:
        self.clock += 1
        return Timestamp(self.clock).internal

    def index(self, node: dict) -> int:
        return [s.port for s in self.servers].index(node["port"])

    def call(self, node: dict, method: str, path: str, headers=None, body=None):
        conn = http.client.HTTPConnection(node["ip"], node["port"], timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def put_object(
        self, name: str, body: bytes, only: list[int] | None = None, nodes: list[dict] | None = None
    ) -> None:
        """PUT to the object's primaries (or ``nodes``), each updating container node i."""
        part, primaries = self.ring.get_nodes("AUTH_a", "c", name)
        cpart, cnodes = self.ring.get_nodes("AUTH_a", "c")
        ts = self.ts()
        for i, n in enumerate(nodes or primaries):
            if only is not None and self.index(n) not in only:
                continue
            c = cnodes[i % len(cnodes)]
            status, _ = self.call(
                n,
                "PUT",
                node_path("object", n["device"], part, "AUTH_a", "c", name),
                {
                    "X-Timestamp": ts,
                    "Content-Type": "a/b",
                    "X-Container-Host": f"{c['ip']}:{c['port']}",
                    "X-Container-Device": c["device"],
                    "X-Container-Partition": str(cpart),
                },
                body,
            )
            assert status == 201

    def delete_object(self, name: str) -> None:
        part, primaries = self.ring.get_nodes("AUTH_a", "c", name)
        cpart, cnodes = self.ring.get_nodes("AUTH_a", "c")
        ts = self.ts()
        for n, c in zip(primaries, cnodes, strict=True):
            self.call(
                n,
                "DELETE",
                node_path("object", n["device"], part, "AUTH_a", "c", name),
                {
                    "X-Timestamp": ts,
                    "X-Container-Host": f"{c['ip']}:{c['port']}",
                    "X-Container-Device": c["device"],
                    "X-Container-Partition": str(cpart),
                },
            )

    def make_container(self) -> None:
        apart, anodes = self.ring.get_nodes("AUTH_a")
        ts = self.ts()
        for n in anodes:
            path = node_path("account", n["device"], apart, "AUTH_a")
            assert self.call(n, "PUT", path, {"X-Timestamp": ts})[0] == 201
        cpart, cnodes = self.ring.get_nodes("AUTH_a", "c")
        for n, a in zip(cnodes, anodes, strict=True):
            path = node_path("container", n["device"], cpart, "AUTH_a", "c")
            status, _ = self.call(
                n,
                "PUT",
                path,
                {
                    "X-Timestamp": ts,
                    "X-Account-Host": f"{a['ip']}:{a['port']}",
                    "X-Account-Device": a["device"],
                    "X-Account-Partition": str(apart),
                    "X-Container-Meta-Kind": "photos",
                },
            )
            assert status == 201

    def get(self, i: int, name: str):
        part = self.ring.get_part("AUTH_a", "c", name)
        dev = f"d{i}"
        return self.call(self.node(i), "GET", node_path("object", dev, part, "AUTH_a", "c", name))

    def node(self, i: int) -> dict:
        return {"ip": "127.0.0.1", "port": self.servers[i].port, "device": f"d{i}"}

    def listing(self, i: int) -> list[str]:
        import json

        cpart = self.ring.get_part("AUTH_a", "c")
        status, body = self.call(
            self.node(i), "GET", node_path("container", f"d{i}", cpart, "AUTH_a", "c")
        )
        assert status == 200, body
        return [r["name"] for r in json.loads(body)]

    def datas(self, i: int) -> list[Path]:
        return list(self.roots[i].rglob("*.data"))

    def replicate(self, *which: int) -> None:
        for i in which or range(len(self.servers)):
            self.replicators[i].run_once()


def start_cluster(tmp_path: Path, count: int, replicas: int = 3) -> Cluster:
    socks = []
    builder = RingBuilder(4, replicas, 0)
    for i in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        socks.append(sock)
        builder.add_dev(
            {
                "zone": i + 1,
                "ip": "127.0.0.1",
                "port": sock.getsockname()[1],
                "device": f"d{i}",
                "weight": 1,
            }
        )
    builder.rebalance(seed=1)
    builder.write_ring(tmp_path / "object.ring.gz")
    ring = Ring(tmp_path / "object.ring.gz")
    servers, replicators, roots = [], [], []
    for i, sock in enumerate(socks):
        root = tmp_path / f"n{i}"
        (root / f"d{i}").mkdir(parents=True)
        node = StorageNode(root, ring, updater_interval=0)
        replicators.append(Replicator(node, "127.0.0.1", sock.getsockname()[1], interval=0))
        server = NodeServer(node, sock=sock)
        server.start()
        servers.append(server)
        roots.append(root)
    return Cluster(ring, servers, replicators, roots)


@pytest.fixture
def cluster3(tmp_path):
    cluster = start_cluster(tmp_path, 3)
    yield cluster
    for server in cluster.servers:
        server.stop()


def test_a_wiped_node_gets_objects_tombstones_and_listings_back(cluster3: Cluster):
    c = cluster3
    c.make_container()
    names = [f"obj-{i:02d}" for i in range(20)]
    for name in names:
        c.put_object(name, name.encode() * 100)
    c.delete_object("obj-07")
    before = c.listing(0)
    assert len(before) == 19 and len(c.datas(2)) == 19
    shutil.rmtree(c.roots[2] / "d2")
    (c.roots[2] / "d2").mkdir()  # a new, empty disk
    assert c.get(2, "obj-01")[0] == 404
    c.replicate(0, 1)
    assert len(c.datas(2)) == 19  # three replicas of every object again
    for name in names:
        status, body = c.get(2, name)
        if name == "obj-07":
            assert status == 404
        else:
            assert (status, body) == (200, name.encode() * 100)
    assert len(list(c.roots[2].rglob("*.ts"))) == 1  # the delete came back as a tombstone
    assert c.listing(2) == before
    # nothing left to do: a second pass pushes nothing
    again = c.replicators[0].run_once()
    assert (again.objects_pushed, again.rows_pushed, again.failures) == (0, 0, 0)


def test_writes_missed_while_a_node_was_down_catch_up(cluster3: Cluster):
    c = cluster3
    c.make_container()
    c.put_object("a", b"v1", only=[0, 1])  # node 2 was down
    c.put_object("b", b"b1")
    c.put_object("b", b"b2", only=[0])  # a newer version reached one node only
    assert c.get(2, "a")[0] == 404
    c.replicate()
    assert c.get(2, "a") == (200, b"v1")
    assert [c.get(i, "b")[1] for i in range(3)] == [b"b2", b"b2", b"b2"]
    assert all(c.listing(i) == ["a", "b"] for i in range(3))


def test_a_handoff_partition_goes_home_and_leaves_the_handoff(tmp_path):
    c = start_cluster(tmp_path, 4)
    try:
        c.make_container()
        part, primaries = c.ring.get_nodes("AUTH_a", "c", "o")
        handoff = next(c.ring.get_more_nodes(part))
        down = primaries[2]
        nodes = [primaries[0], primaries[1], handoff]  # the proxy's choice with one down
        c.put_object("o", b"data", nodes=nodes)
        h = c.index(handoff)
        assert len(c.datas(h)) == 1 and not c.datas(c.index(down))
        stats = c.replicators[h].run_once()
        assert stats.handoffs_removed >= 1
        assert not c.datas(h)
        assert not (c.roots[h] / f"d{h}" / "objects" / str(part)).exists()
        assert c.get(c.index(down), "o") == (200, b"data")
    finally:
        for server in c.servers:
            server.stop()
