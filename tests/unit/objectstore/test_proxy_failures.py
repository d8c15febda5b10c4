"""The proxy when storage nodes fail: quorum writes, reads from the replicas left, handoffs
for a down primary, error limiting."""

from __future__ import annotations

import pytest

from pocketstack.objectstore.proxy import ErrorLimiter, best_status
from pocketstack.objectstore.ring import Ring
from tests.unit.objectstore.proxy_cluster import Cluster


def test_best_status_needs_a_quorum():
    assert best_status([201, 201, 0], 3) == 201
    assert best_status([201, 0, 0], 3) == 503
    assert best_status([404, 404, 201], 3) == 404


def test_error_limiter_skips_a_failing_node_for_a_while():
    now = [0.0]
    limiter = ErrorLimiter(limit=2, interval=10, clock=lambda: now[0])
    node = {"ip": "127.0.0.1", "port": 1, "device": "d"}
    for _ in range(2):
        limiter.error(node)
    assert not limiter.is_limited(node)
    limiter.error(node)
    assert limiter.is_limited(node)
    now[0] = 11
    assert not limiter.is_limited(node)


@pytest.fixture
def four_nodes(tmp_path):
    from pocketstack.common.config import Config

    conf = Config.load({"state_dir": str(tmp_path / "state")}, environ={})
    c = Cluster(tmp_path, conf, nodes=4, replicas=3)
    yield c
    c.close()


def _data_files(cluster, name_part: str = ".data") -> int:
    return sum(1 for p in cluster.root.rglob("*") if p.name.endswith(name_part))


def test_a_node_down_reads_and_writes_go_on_with_handoffs(four_nodes):
    c = four_nodes
    assert c.call("PUT", c.url("pa", "box")).status_code == 201
    for i in range(10):
        assert c.call("PUT", c.url("pa", "box", f"o{i}"), content=b"v1").status_code == 201
    assert _data_files(c) == 30
    c.stop_node(0)
    for i in range(10):
        got = c.call("GET", c.url("pa", "box", f"o{i}"))
        assert got.status_code == 200 and got.content == b"v1"
    for i in range(10):
        assert c.call("PUT", c.url("pa", "box", f"n{i}"), content=b"v2").status_code == 201
    # every new object still has three copies: handoffs took the down node's share
    assert _data_files(c) == 30 + 30
    listing = c.call("GET", c.url("pa", "box"))
    assert listing.status_code == 200
    assert c.limiter.is_limited({"ip": "127.0.0.1", "port": c.ports[0], "device": "d0"})


def test_two_nodes_down_of_three_is_503_not_a_lie(tmp_path):
    from pocketstack.common.config import Config

    conf = Config.load({"state_dir": str(tmp_path / "state")}, environ={})
    c = Cluster(tmp_path, conf, nodes=3, replicas=3)
    try:
        c.call("PUT", c.url("pa", "box"))
        c.stop_node(0)
        assert c.call("PUT", c.url("pa", "box", "one-down"), content=b"x").status_code == 201
        c.stop_node(1)
        assert c.call("PUT", c.url("pa", "box", "two-down"), content=b"x").status_code == 503
        assert c.call("GET", c.url("pa", "box", "one-down")).content == b"x"
    finally:
        c.close()


def test_x_newest_finds_the_copy_a_returning_node_missed(tmp_path):
    from pocketstack.common.config import Config

    conf = Config.load({"state_dir": str(tmp_path / "state")}, environ={})
    c = Cluster(tmp_path, conf, nodes=3, replicas=3)
    try:
        c.call("PUT", c.url("pa", "box"))
        c.call("PUT", c.url("pa", "box", "o"), content=b"old")
        _part, nodes = Ring(c.ring_path).get_nodes("AUTH_pa", "box", "o")
        first = c.ports.index(nodes[0]["port"])  # the node plain reads ask first
        c.stop_node(first)
        assert c.call("PUT", c.url("pa", "box", "o"), content=b"new").status_code == 201
        c.start_node(first)
        c.limiter._errors.clear()  # the node is back: stop skipping it
        # a plain read takes the first replica's stale copy (as Swift's); X-Newest does not
        assert c.call("GET", c.url("pa", "box", "o")).content == b"old"
        got = c.call("GET", c.url("pa", "box", "o"), headers={"X-Newest": "true"})
        assert got.content == b"new"
    finally:
        c.close()


def test_no_ring_yet_is_503(tmp_path):
    import asyncio

    from pocketstack.objectstore.exceptions import InsufficientReplicas
    from pocketstack.objectstore.proxy import Backend

    backend = Backend(lambda: Ring(tmp_path / "absent.ring.gz"))
    with pytest.raises(InsufficientReplicas):
        asyncio.run(backend.read("account", "HEAD", ("AUTH_x", None, None)))
