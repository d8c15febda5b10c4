"""The storage nodes ``pocketstack up`` runs: three on loopback, a 3-replica ring built at
first start and served again, on the same ports, at the next."""

from __future__ import annotations

import http.client

from pocketstack.common.config import Config
from pocketstack.objectstore.embedded import start_nodes
from pocketstack.objectstore.ring import Ring
from pocketstack.objectstore.utils import Timestamp, node_path


def test_up_starts_three_nodes_with_a_three_replica_ring_and_keeps_it(tmp_path):
    conf = Config.load({"state_dir": str(tmp_path), "object_part_power": "6"}, {})
    nodes = start_nodes(conf)
    try:
        ring = Ring(nodes.ring_path)
        assert nodes.ring_path == str(tmp_path / "objects" / "object.ring.gz")
        assert ring.replica_count == 3 and ring.partition_count == 64
        part, primaries = ring.get_nodes("AUTH_a", "c", "o")
        assert len({n["zone"] for n in primaries}) == 3
        ports = sorted(s.port for s in nodes.servers)
        assert sorted(n["port"] for n in primaries) == ports
        for n in primaries:  # every replica's node stores on its own device directory
            conn = http.client.HTTPConnection(n["ip"], n["port"], timeout=10)
            conn.request(
                "PUT",
                node_path("object", n["device"], part, "AUTH_a", "c", "o"),
                body=b"x",
                headers={"X-Timestamp": Timestamp.now().internal, "Content-Type": "a/b"},
            )
            assert conn.getresponse().status == 201
            conn.close()
        datas = sorted(
            p.relative_to(tmp_path / "objects").parts[:2]
            for p in (tmp_path / "objects").rglob("*.data")
        )
        assert datas == [("n1", "d1"), ("n2", "d2"), ("n3", "d3")]
    finally:
        nodes.stop()
    again = start_nodes(conf)
    try:
        assert sorted(s.port for s in again.servers) == ports
        assert Ring(again.ring_path).version == ring.version
    finally:
        again.stop()


def test_an_external_ring_starts_no_nodes(tmp_path):
    conf = Config.load({"state_dir": str(tmp_path), "object_ring": "http://127.0.0.1:1/r"}, {})
    nodes = start_nodes(conf)
    assert nodes.servers == [] and nodes.ring_path == "http://127.0.0.1:1/r"
    nodes.stop()


def test_object_node_serves_one_nodes_devices_in_its_own_process(tmp_path):
    import subprocess
    import sys

    from pocketstack.objectstore.builder import RingBuilder
    from tests.helpers import free_port, wait_until

    port = free_port()
    builder = RingBuilder(4, 1, 0)
    builder.add_dev({"zone": 1, "ip": "127.0.0.1", "port": port, "device": "sdb", "weight": 1})
    builder.rebalance()
    builder.write_ring(tmp_path / "object.ring.gz")
    (tmp_path / "node" / "sdb").mkdir(parents=True)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pocketstack.cli",
            "object-node",
            "--state-dir",
            str(tmp_path / "state"),
            "--object-ring",
            str(tmp_path / "object.ring.gz"),
            "--object-devices",
            str(tmp_path / "node"),
            "--object-bind-port",
            str(port),
            "--object-replicator-interval",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def healthy() -> bool:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthcheck")
                return conn.getresponse().status == 200
            except OSError:
                return False

        wait_until(healthy, 30, "object-node answering")
        ring = Ring(tmp_path / "object.ring.gz")
        part = ring.get_part("AUTH_a", "c", "o")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request(
            "PUT",
            node_path("object", "sdb", part, "AUTH_a", "c", "o"),
            body=b"hi",
            headers={"X-Timestamp": Timestamp.now().internal, "Content-Type": "a/b"},
        )
        assert conn.getresponse().status == 201
        assert len(list((tmp_path / "node" / "sdb").rglob("*.data"))) == 1
    finally:
        proc.terminate()
        proc.wait(30)
