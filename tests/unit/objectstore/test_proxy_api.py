"""The Swift v1 API of the proxy against real storage nodes on loopback: status codes,
headers, listings, auth and ACLs, large objects, tempurl, quotas, a node down."""

from __future__ import annotations

import hashlib

import pytest

from tests.unit.objectstore.proxy_cluster import Cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from pocketstack.common.config import Config

    root = tmp_path_factory.mktemp("swift")
    conf = Config.load({"state_dir": str(root / "state")}, environ={})
    c = Cluster(root, conf)
    yield c
    c.close()


def test_container_and_object_round_trip(cluster):
    c = cluster
    assert c.call("PUT", c.url("pa", "box")).status_code == 201
    assert c.call("PUT", c.url("pa", "box")).status_code == 202
    body = b"hello swift" * 1000
    put = c.call(
        "PUT",
        c.url("pa", "box", "dir/a.txt"),
        content=body,
        headers={"X-Object-Meta-Color": "blue"},
    )
    assert put.status_code == 201, put.text
    assert put.headers["etag"] == hashlib.md5(body).hexdigest()
    assert "x-trans-id" in put.headers
    got = c.call("GET", c.url("pa", "box", "dir/a.txt"))
    assert got.status_code == 200 and got.content == body
    assert got.headers["x-object-meta-color"] == "blue"
    assert got.headers["content-type"].startswith("text/plain")
    head = c.call("HEAD", c.url("pa", "box", "dir/a.txt"))
    assert head.status_code == 200 and head.headers["content-length"] == str(len(body))
