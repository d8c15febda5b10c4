"""The expirer against a real node on loopback: an object past its X-Delete-At answers 404,
and after one expirer pass it is gone from disk and from its container's listing; objects
replaced, re-timed or not yet due are left alone."""

from __future__ import annotations

import os
import time

import pytest

from pocketstack.objectstore import expirer
from pocketstack.objectstore.auditor import Auditor
from pocketstack.objectstore.expirer import Expirer

from .conftest import Node


@pytest.fixture
def node(storage_node: Node) -> Node:
    storage_node.make_account()
    storage_node.make_container()
    return storage_node


def _listing(node: Node) -> list[str]:
    reply = node.call("GET", node.path("container", "AUTH_a", "c") + "?format=json")
    assert reply.status == 200
    return [row["name"] for row in reply.json()]  # type: ignore[union-attr]


def _files(node: Node, name: str) -> list[str]:
    part = node.ring.get_part("AUTH_a", "c", name)
    name_hash = node.ring.hash_path("AUTH_a", "c", name)
    hash_dir = node.device / "objects" / str(part) / name_hash[-3:] / name_hash
    return sorted(os.listdir(hash_dir)) if hash_dir.is_dir() else []


def _expirer(node: Node) -> Expirer:
    port = node.server.port
    return Expirer(node.server.node, interval=0, ip="127.0.0.1", port=port)


def test_expired_object_404s_then_one_pass_removes_it_and_its_row(node: Node):
    past = str(int(time.time()) - 5)
    assert node.put("gone", b"bye", X_Delete_At=past).status == 201
    assert node.put("kept", b"stay").status == 201
    path = node.path("object", "AUTH_a", "c", "gone")
    assert node.call("GET", path).status == 404  # past its time: 404 before any pass
    assert _listing(node) == ["gone", "kept"]
    stats = _expirer(node).run_once()
    assert (stats.expired, stats.errors) == (1, 0)
    assert _listing(node) == ["kept"]
    assert _files(node, "gone") == [f"{int(past):010d}.00000.ts"]  # tombstone at X-Delete-At
    assert expirer.pending_count(node.device) == 0
    assert node.call("GET", node.path("object", "AUTH_a", "c", "kept")).body == b"stay"


def test_not_yet_due_stays_until_its_time(node: Node):
    later = int(time.time()) + 3600
    node.put("soon", b"x", X_Delete_At=str(later))
    assert _expirer(node).run_once().expired == 0
    assert expirer.pending_count(node.device) == 1
    assert _listing(node) == ["soon"]
    assert _expirer(node).run_once(now=later + 1).expired == 1
    assert _listing(node) == []


def test_replaced_object_is_not_expired(node: Node):
    past = str(int(time.time()) - 5)
    node.put("again", b"old", X_Delete_At=past)
    node.put("again", b"new")  # a newer PUT without X-Delete-At
    stats = _expirer(node).run_once()
    assert (stats.expired, stats.skipped) == (0, 1)
    assert node.call("GET", node.path("object", "AUTH_a", "c", "again")).body == b"new"
    assert _listing(node) == ["again"]
    assert expirer.pending_count(node.device) == 0


def test_post_moves_the_time(node: Node):
    now = int(time.time())
    node.put("moved", b"m", X_Delete_At=str(now + 100))
    reply = node.call(
        "POST",
        node.path("object", "AUTH_a", "c", "moved"),
        {"X-Timestamp": node.ts(), "X-Delete-At": str(now + 200)},
    )
    assert reply.status == 202
    assert _expirer(node).run_once(now=now + 150).expired == 0  # the old time is stale
    assert _listing(node) == ["moved"]
    assert _expirer(node).run_once(now=now + 250).expired == 1
    assert _listing(node) == []


def test_container_down_leaves_the_row_delete_to_the_updater(node: Node):
    past = str(int(time.time()) - 5)
    node.put("later", b"l", X_Delete_At=past)
    storage = node.server.node
    # the container replica answers 404 while its databases are away
    containers = node.device / "containers"
    containers.rename(node.device / "containers-away")
    try:
        assert _expirer(node).run_once().expired == 1
        pending = list((node.device / "async_pending").glob("*/*"))
        assert len(pending) == 1
    finally:
        (node.device / "containers-away").rename(containers)
    storage.updater.run_once()
    assert _listing(node) == []
    assert not list((node.device / "async_pending").glob("*/*"))


def test_auditor_puts_a_forgotten_object_back_in_the_index(node: Node):
    past = str(int(time.time()) - 5)
    node.put("lost", b"l", X_Delete_At=past)
    for entry in (node.device / expirer.INDEX_DIR).iterdir():
        entry.unlink()
    assert _expirer(node).run_once().expired == 0
    Auditor(node.server.node, interval=0).run_once(limited=False)
    assert _expirer(node).run_once().expired == 1
    assert _listing(node) == []
