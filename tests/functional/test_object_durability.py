"""The durability promise of object storage (issue 9, "How it is shown"), with the real
proxy, three real storage nodes on loopback (two devices each, one zone per node, a
3-replica ring) and the consistency services run pass by pass:

- 500 objects uploaded have 3 replicas on disk;
- one node stopped: every object still reads, new writes succeed (a handoff takes the
  stopped node's share: still 3 copies);
- that node's devices wiped and the node started again: after replication every object has
  exactly 3 replicas on its primary devices, none left on handoffs, and every container
  replica lists every object;
- a byte flipped in an object file: GETs never return corrupt bytes, the auditor (or the
  GET that met it) quarantines it, the replicator restores it; the same for a container
  database damaged on one node.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import threading
import time
import types
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvicorn

from pocketstack.common.config import Config
from pocketstack.objectstore.api import API
from pocketstack.objectstore.auditor import Auditor
from pocketstack.objectstore.builder import RingBuilder
from pocketstack.objectstore.manager import ObjectStoreManager
from pocketstack.objectstore.node import NodeServer, StorageNode
from pocketstack.objectstore.proxy import Backend, ErrorLimiter
from pocketstack.objectstore.replicator import Replicator
from pocketstack.objectstore.ring import Ring
from tests.helpers import FixedTokens, service_app
from tests.unit.objectstore.proxy_cluster import CALLERS

NODES = 3
OBJECTS = 500
ACCOUNT = "AUTH_pa"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cloud:
    """Three nodes (``n<i>`` with devices ``d<i>a``, ``d<i>b``), their replicators and
    auditors (run by hand), and the proxy on uvicorn."""

    def __init__(self, root: Path):
        self.root = root
        self.ports = [_free_port() for _ in range(NODES)]
        builder = RingBuilder(6, 3, 0)
        for i, port in enumerate(self.ports):
            for dev in ("a", "b"):
                device = {"zone": i + 1, "ip": "127.0.0.1", "port": port, "weight": 100}
                builder.add_dev({**device, "region": 1, "device": f"d{i}{dev}"})
                (root / f"n{i}" / f"d{i}{dev}").mkdir(parents=True)
        builder.rebalance(seed=3)
        self.ring_path = root / "object.ring.gz"
        builder.write_ring(self.ring_path)
        self.ring = Ring(self.ring_path)
        self.servers: list[NodeServer | None] = [None] * NODES
        for i in range(NODES):
            self.start_node(i)
        conf = Config.load({"state_dir": str(root / "state")}, environ={})
        backend = Backend(lambda: Ring(self.ring_path), limiter=ErrorLimiter(2, 60))
        store = ObjectStoreManager(types.SimpleNamespace(conf=conf), backend=backend)
        app = service_app(API, conf, types.SimpleNamespace(objectstore=store), FixedTokens(CALLERS))
        port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self.proxy = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.proxy.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.proxy.started:
            assert time.monotonic() < deadline, "proxy did not start"
            time.sleep(0.01)
        self.base = f"http://127.0.0.1:{port}/object-store/v1/{ACCOUNT}"
        self.client = httpx.Client(timeout=30, headers={"X-Auth-Token": "alice"})

    def start_node(self, i: int) -> None:
        node = StorageNode(self.root / f"n{i}", Ring(self.ring_path), updater_interval=0.2)
        node.replicator = Replicator(node, "127.0.0.1", self.ports[i], interval=0)
        node.auditor = Auditor(node, interval=0)
        server = NodeServer(node, "127.0.0.1", self.ports[i])
        server.start()
        self.servers[i] = server

    def stop_node(self, i: int) -> None:
        server = self.servers[i]
        assert server is not None
        server.stop()
        self.servers[i] = None

    def node(self, i: int) -> StorageNode:
        server = self.servers[i]
        assert server is not None
        return server.node

    def replicate(self) -> None:
        """One replication pass on every running node."""
        for i in range(NODES):
            if self.servers[i] is not None:
                self.node(i).replicator.run_once()

    def close(self) -> None:
        self.client.close()
        self.proxy.should_exit = True
        self.thread.join(10)
        for i in range(NODES):
            if self.servers[i] is not None:
                self.stop_node(i)

    # -- what is on disk ------------------------------------------------------------------

    def data_files(self, kind: str = "objects", ext: str = ".data") -> dict[str, list[Path]]:
        """hash -> the files of that object (or ``.db`` of that database) on every device."""
        found: dict[str, list[Path]] = {}
        for path in self.root.glob(f"n*/d*/{kind}/*/*/*/*{ext}"):
            found.setdefault(path.parent.name, []).append(path)
        return found

    def replicas_ok(self, names: list[str]) -> bool:
        """Every object has exactly 3 ``.data`` files, on its 3 primary devices."""
        files = self.data_files()
        for name in names:
            part, primaries = self.ring.get_nodes(ACCOUNT, "box", name)
            name_hash = self.ring.hash_path(ACCOUNT, "box", name)
            devices = sorted(p.parents[4].name for p in files.get(name_hash, []))
            if devices != sorted(n["device"] for n in primaries):
                return False
        return True

    def container_listing_on(self, dev: dict) -> list[str] | None:
        """The container listing straight from one replica's database."""
        part = self.ring.get_part(ACCOUNT, "box")
        url = f"http://127.0.0.1:{dev['port']}/container/{dev['device']}/{part}/{ACCOUNT}/box"
        names: list[str] = []
        while True:
            resp = httpx.get(url, params={"format": "json", "marker": names[-1] if names else ""})
            if resp.status_code == 404:  # quarantined or not replicated yet
                return None
            assert resp.status_code == 200, resp.text
            rows = resp.json()
            if not rows:
                return names
            names += [row["name"] for row in rows]


def _body(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest() * 32  # 1 KiB, known from the name


@pytest.fixture
def cloud(tmp_path: Path):
    c = Cloud(tmp_path)
    try:
        yield c
    finally:
        c.close()


def _wait_until(check, what: str, cloud: Cloud, deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not check():
        assert time.monotonic() < deadline, f"not converged: {what}"
        cloud.replicate()


def _put_all(cloud: Cloud, names: list[str]) -> None:
    def put(name: str) -> int:
        return cloud.client.put(f"{cloud.base}/box/{name}", content=_body(name)).status_code

    with ThreadPoolExecutor(8) as pool:
        assert Counter(pool.map(put, names)) == Counter({201: len(names)})


def _get_all(cloud: Cloud, names: list[str]) -> None:
    def get(name: str) -> bool:
        resp = cloud.client.get(f"{cloud.base}/box/{name}")
        return resp.status_code == 200 and resp.content == _body(name)

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(get, names))


@pytest.mark.timeout(900)  # ~60 s alone; minutes when other sessions share the two CPUs
def test_objects_and_listings_survive_a_lost_node_and_rot(cloud: Cloud):
    assert cloud.client.put(f"{cloud.base}/box").status_code == 201
    names = [f"obj-{i:04d}" for i in range(OBJECTS)]
    _put_all(cloud, names)
    assert cloud.replicas_ok(names)

    # one node down: reads go on, writes go to handoffs
    cloud.stop_node(0)
    _get_all(cloud, names)
    late = [f"late-{i:02d}" for i in range(30)]
    _put_all(cloud, late)
    copies = cloud.data_files()
    assert all(len(copies[cloud.ring.hash_path(ACCOUNT, "box", n)]) == 3 for n in late)

    # wipe it and start it again: replication restores every replica, handoffs go home
    for device in (cloud.root / "n0").iterdir():
        if device.is_dir():
            shutil.rmtree(device)
            device.mkdir()
    cloud.start_node(0)
    everything = names + late
    _wait_until(lambda: cloud.replicas_ok(everything), "3 replicas of every object", cloud)
    for dev in cloud.ring.get_nodes(ACCOUNT, "box")[1]:
        _wait_until(
            lambda dev=dev: cloud.container_listing_on(dev) == sorted(everything),
            f"container listing on {dev['device']}",
            cloud,
        )

    # a flipped byte: never served, quarantined, repaired
    victim = names[7]
    name_hash = cloud.ring.hash_path(ACCOUNT, "box", victim)
    data = next(p for p in cloud.data_files()[name_hash] if p.parents[5].name == "n0")
    with open(data, "r+b") as fh:
        fh.seek(100)
        fh.write(bytes([fh.read(1)[0] ^ 0xFF]))
    for _ in range(5):
        resp = cloud.client.get(f"{cloud.base}/box/{victim}")
        assert (resp.status_code, resp.content) == (200, _body(victim))
    node_index = int(data.parents[5].name[1:])
    cloud.node(node_index).auditor.run_once(limited=False)
    quarantined = data.parents[4] / "quarantined" / "objects" / name_hash
    assert quarantined.is_dir() and not data.exists()
    _wait_until(lambda: cloud.replicas_ok([victim]), "the quarantined object restored", cloud)
    (restored,) = [p for p in cloud.data_files()[name_hash] if p.parents[4] == data.parents[4]]
    assert restored.read_bytes() == _body(victim)

    # a damaged container database: quarantined, restored, listings whole all along
    dev = cloud.ring.get_nodes(ACCOUNT, "box")[1][0]
    db_file = next(
        p
        for p in cloud.data_files("containers", ".db")[cloud.ring.hash_path(ACCOUNT, "box")]
        if p.parents[4].name == dev["device"]
    )
    size = db_file.stat().st_size
    with open(db_file, "r+b") as fh:
        fh.seek(size // 2)
        fh.write(os.urandom(min(8192, size // 4)))
    listing = cloud.client.get(f"{cloud.base}/box", params={"format": "json", "limit": 10000})
    assert [row["name"] for row in listing.json()] == sorted(everything)
    node_index = cloud.ports.index(dev["port"])
    assert cloud.node(node_index).auditor.run_once(limited=False).quarantined == 1
    _wait_until(
        lambda: cloud.container_listing_on(dev) == sorted(everything),
        "the quarantined container database restored",
        cloud,
    )
