"""A storage node over real HTTP on loopback: the object, container and account servers of
docs/object-storage.md, newer-wins timestamps, tombstones, updates between servers, and
paths that try to leave the device directory."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time

import pytest

from pocketstack.objectstore.builder import RingBuilder
from pocketstack.objectstore.ring import Ring
from tests.helpers import wait_until
from tests.unit.objectstore.conftest import Node, start_node


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def files_under(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# -- objects ---------------------------------------------------------------------------


def test_object_put_get_head_post_delete(storage_node: Node):
    node = storage_node
    node.make_account()
    node.make_container()
    body = os.urandom(200_000)
    put = node.put("dir/photo.jpg", body, X_Object_Meta_Colour="blue", Content_Encoding="gzip")
    assert put.status == 201 and put.headers["etag"] == md5(body)
    path = node.path("object", "AUTH_a", "c", "dir/photo.jpg")
    got = node.call("GET", path)
    assert got.status == 200 and got.body == body
    assert got.headers["etag"] == md5(body)
    assert got.headers["content-length"] == str(len(body))
    assert got.headers["content-type"] == "text/plain"
    assert got.headers["x-object-meta-colour"] == "blue"
    assert got.headers["content-encoding"] == "gzip"
    head = node.call("HEAD", path)
    assert head.status == 200 and head.body == b"" and head.headers["content-length"] == "200000"
    post = node.call("POST", path, {"X-Timestamp": node.ts(), "X-Object-Meta-Size": "big"})
    assert post.status == 202
    after = node.call("HEAD", path)
    assert after.headers["x-object-meta-size"] == "big"
    assert "x-object-meta-colour" not in after.headers  # a POST replaces user metadata
    assert "content-encoding" not in after.headers
    assert after.headers["etag"] == md5(body) and after.headers["content-type"] == "text/plain"
    delete = node.call("DELETE", path, {"X-Timestamp": node.ts(), **node.container_headers()})
    assert delete.status == 204
    gone = node.call("GET", path)
    assert gone.status == 404 and "x-backend-timestamp" in gone.headers
    again = node.call("DELETE", path, {"X-Timestamp": node.ts()})
    assert again.status == 404


def test_chunked_upload_and_etag_and_length_checks(storage_node: Node):
    node = storage_node
    path = node.path("object", "AUTH_a", "c", "o")

    def chunks():
        yield b"hello "
        yield b"world"

    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", node.server.port, timeout=10)
    conn.request(
        "PUT",
        path,
        body=chunks(),
        encode_chunked=True,
        headers={"X-Timestamp": node.ts(), "Content-Type": "a/b", "Transfer-Encoding": "chunked"},
    )
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 201 and resp.getheader("etag") == md5(b"hello world")
    assert node.call("GET", path).body == b"hello world"
    bad = node.put("o2", b"abc", ETag=md5(b"abd"))
    assert bad.status == 422
    assert node.call("GET", node.path("object", "AUTH_a", "c", "o2")).status == 404
    missing = node.call("PUT", path, {"X-Timestamp": node.ts(), "Content-Length": "3"}, b"abc")
    assert missing.status == 400  # no Content-Type
    no_ts = node.call("PUT", path, {"Content-Type": "a/b"}, b"abc")
    assert no_ts.status == 400
    assert not list((node.device / "tmp").iterdir())  # refused uploads left no temp files


def test_newer_timestamp_wins_whatever_the_arrival_order(storage_node: Node):
    node = storage_node
    path = node.path("object", "AUTH_a", "c", "o")
    t1, t2, t3, t4 = (node.ts() for _ in range(4))
    assert node.call("PUT", path, {"X-Timestamp": t2, "Content-Type": "x/y"}, b"two").status == 201
    late = node.call("PUT", path, {"X-Timestamp": t1, "Content-Type": "x/y"}, b"one")
    assert late.status == 409 and late.headers["x-backend-timestamp"] == t2
    same = node.call("PUT", path, {"X-Timestamp": t2, "Content-Type": "x/y"}, b"dup")
    assert same.status == 409
    assert node.call("GET", path).body == b"two"
    assert node.call("POST", path, {"X-Timestamp": t1}).status == 409
    assert node.call("DELETE", path, {"X-Timestamp": t4}).status == 204
    # a PUT older than the tombstone can't bring the object back
    zombie = node.call("PUT", path, {"X-Timestamp": t3, "Content-Type": "x/y"}, b"three")
    assert zombie.status == 409 and zombie.headers["x-backend-timestamp"] == t4
    assert node.call("GET", path).status == 404
    newer = node.call("PUT", path, {"X-Timestamp": node.ts(), "Content-Type": "x/y"}, b"five")
    assert newer.status == 201 and node.call("GET", path).body == b"five"
    # only the newest .data (+ its metadata) is left in the hash directory
    names = sorted(p.suffix for p in (node.device / "objects").rglob("*") if p.is_file())
    assert names == [".data", ".json"]


def test_ranges_and_conditional_requests(storage_node: Node):
    node = storage_node
    body = bytes(range(256)) * 4
    etag = node.put("o", body).headers["etag"]
    path = node.path("object", "AUTH_a", "c", "o")
    part = node.call("GET", path, {"Range": "bytes=10-19"})
    assert part.status == 206 and part.body == body[10:20]
    assert part.headers["content-range"] == "bytes 10-19/1024"
    assert node.call("GET", path, {"Range": "bytes=-5"}).body == body[-5:]
    assert node.call("GET", path, {"Range": "bytes=1000-"}).body == body[1000:]
    bad = node.call("GET", path, {"Range": "bytes=2000-3000"})
    assert bad.status == 416 and bad.headers["content-range"] == "bytes */1024"
    assert node.call("GET", path, {"Range": "bytes=1-2,5-6"}).status == 200  # one range only
    assert node.call("GET", path, {"If-None-Match": f'"{etag}"'}).status == 304
    assert node.call("GET", path, {"If-Match": '"nope"'}).status == 412
    assert node.call("GET", path, {"If-Match": etag}).status == 200
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 3600))
    assert node.call("GET", path, {"If-Modified-Since": later}).status == 304
    assert (
        node.call("GET", path, {"If-Unmodified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}).status
        == 412
    )


def test_x_delete_at_hides_an_expired_object(storage_node: Node):
    node = storage_node
    path = node.path("object", "AUTH_a", "c", "o")
    node.put("o", b"x", X_Delete_At=str(int(time.time()) + 3600))
    assert node.call("GET", path).status == 200
    node.call("POST", path, {"X-Timestamp": node.ts(), "X-Delete-At": str(int(time.time()) - 1)})
    assert node.call("GET", path).status == 404
    assert node.put("p", b"x", X_Delete_At="soon").status == 400


def test_a_client_that_disconnects_mid_upload_leaves_nothing_visible(storage_node: Node):
    node = storage_node
    path = node.path("object", "AUTH_a", "c", "half")
    with socket.create_connection(("127.0.0.1", node.server.port)) as sock:
        sock.sendall(
            f"PUT {path} HTTP/1.1\r\nHost: x\r\nX-Timestamp: {node.ts()}\r\n"
            f"Content-Type: a/b\r\nContent-Length: 100000\r\n\r\n".encode()
            + b"x" * 5000
        )
    tmp = node.device / "tmp"
    wait_until(lambda: tmp.is_dir() and not list(tmp.iterdir()), 10, "the temp file removed")
    assert node.call("GET", path).status == 404
    assert not (node.device / "objects").exists() or not list(
        (node.device / "objects").rglob("*.data")
    )


# -- containers and accounts -----------------------------------------------------------


def test_container_listing_follows_object_puts_and_deletes(storage_node: Node):
    node = storage_node
    node.make_account()
    node.make_container()
    for name in ("a", "b/1", "b/2", "c"):
        assert node.put(name, name.encode() * 10).status == 201
    node.call(
        "DELETE",
        node.path("object", "AUTH_a", "c", "c"),
        {"X-Timestamp": node.ts(), **node.container_headers()},
    )
    listing = node.call("GET", node.path("container", "AUTH_a", "c"))
    assert listing.status == 200
    rows = listing.json()
    assert [r["name"] for r in rows] == ["a", "b/1", "b/2"]
    assert rows[1] == {
        "name": "b/1",
        "hash": md5(b"b/1" * 10),
        "bytes": 30,
        "content_type": "text/plain",
        "last_modified": rows[1]["last_modified"],
    }
    assert listing.headers["x-container-object-count"] == "3"
    assert listing.headers["x-container-bytes-used"] == "70"
    folded = node.call("GET", node.path("container", "AUTH_a", "c") + "?delimiter=/").json()
    assert folded == [rows[0], {"subdir": "b/"}]


def test_container_metadata_delete_rules_and_account_counts(tmp_path):
    node = start_node(tmp_path, updater_interval=0.05)
    try:
        node.make_account()
        cpath = node.path("container", "AUTH_a", "c")
        node.make_container()
        again = node.call(
            "PUT",
            cpath,
            {"X-Timestamp": node.ts(), **node.account_headers(), "X-Container-Read": ".r:*"},
        )
        assert again.status == 202
        node.call("POST", cpath, {"X-Timestamp": node.ts(), "X-Container-Meta-Owner": "me"})
        head = node.call("HEAD", cpath)
        assert head.status == 204
        assert head.headers["x-container-read"] == ".r:*"
        assert head.headers["x-container-meta-owner"] == "me"
        node.call("POST", cpath, {"X-Timestamp": node.ts(), "X-Container-Meta-Owner": ""})
        assert "x-container-meta-owner" not in node.call("HEAD", cpath).headers
        node.put("o", b"12345")
        apath = node.path("account", "AUTH_a")

        def counts():
            h = node.call("HEAD", apath).headers
            return (
                h["x-account-container-count"],
                h["x-account-object-count"],
                h["x-account-bytes-used"],
            )

        wait_until(lambda: counts() == ("1", "1", "5"), 10, "the account counts the object")
        busy = node.call("DELETE", cpath, {"X-Timestamp": node.ts(), **node.account_headers()})
        assert busy.status == 409
        node.call(
            "DELETE",
            node.path("object", "AUTH_a", "c", "o"),
            {"X-Timestamp": node.ts(), **node.container_headers()},
        )
        done = node.call("DELETE", cpath, {"X-Timestamp": node.ts(), **node.account_headers()})
        assert done.status == 204
        assert node.call("HEAD", cpath).status == 404
        assert node.call("GET", apath).json() == []
        wait_until(lambda: counts() == ("0", "0", "0"), 10, "the account forgets it")
        recreated = node.call("PUT", cpath, {"X-Timestamp": node.ts(), **node.account_headers()})
        assert recreated.status == 201
    finally:
        node.server.stop()


def test_a_container_in_a_missing_account_is_refused(storage_node: Node):
    node = storage_node
    reply = node.call(
        "PUT",
        node.path("container", "AUTH_none", "c"),
        {"X-Timestamp": node.ts(), **node.account_headers("AUTH_none")},
    )
    assert reply.status == 404
    assert node.call("HEAD", node.path("account", "AUTH_none")).status == 404


def test_account_listing_with_prefix_delimiter_markers_and_reverse(storage_node: Node):
    node = storage_node
    node.make_account()
    names = ["a", "a-b", "b/1", "b/2", "c"]
    for name in names:
        node.make_container(container=name.replace("/", "_"))
    base = node.path("account", "AUTH_a")
    listed = [r["name"] for r in node.call("GET", base).json()]
    assert listed == ["a", "a-b", "b_1", "b_2", "c"]
    got = node.call("GET", base + "?prefix=b_&reverse=true").json()
    assert [r["name"] for r in got] == ["b_2", "b_1"]
    got = node.call("GET", base + "?delimiter=_").json()
    assert got[2] == {"subdir": "b_"} and len(got) == 4
    got = node.call("GET", base + "?marker=a&end_marker=c&limit=2").json()
    assert [r["name"] for r in got] == ["a-b", "b_1"]
    assert node.call("GET", base + "?limit=10001").status == 412


def test_object_update_to_a_down_container_server_is_kept_and_sent_later(tmp_path):
    node = start_node(tmp_path)
    try:
        node.make_account()
        node.make_container()
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        down = f"127.0.0.1:{closed.getsockname()[1]}"
        closed.close()  # nothing listens there
        hdrs = node.container_headers()
        node.put("o", b"abc", X_Container_Host=down)
        pending = list((node.device / "async_pending").rglob("*-*"))
        assert len(pending) == 1
        update = json.loads(pending[0].read_bytes())
        assert update["method"] == "PUT" and update["host"] == down
        update["host"] = hdrs["X-Container-Host"]  # the container server is back (here)
        pending[0].write_text(json.dumps(update))
        node.server.node.updater.run_once()
        assert not pending[0].exists()
        rows = node.call("GET", node.path("container", "AUTH_a", "c")).json()
        assert [(r["name"], r["bytes"]) for r in rows] == [("o", 3)]
    finally:
        node.server.stop()


# -- paths that try to leave the device -------------------------------------------------


@pytest.mark.parametrize(
    "path, status",
    [
        ("/object/../0/AUTH_a/c/o", 400),
        ("/object/%2e%2e/0/AUTH_a/c/o", 400),
        ("/object/d1%2f..%2f../0/AUTH_a/c/o", 400),
        ("/object/./0/AUTH_a/c/o", 400),
        ("/object/nosuch/0/AUTH_a/c/o", 507),
        ("/object/d1/-1/AUTH_a/c/o", 400),
        ("/object/d1/1e3/AUTH_a/c/o", 400),
        ("/object/d1/0/AUTH_a/c", 400),
        ("/object/d1/0/AUTH_a/c/o%00x", 400),
        ("/object/d1/0/AUTH_a/c/%ff", 400),
        ("/container/d1/0/AUTH_a/c%2fd", 400),
        ("/container/d1/0/AUTH_a/" + "c" * 257, 400),
        ("/object/d1/0/AUTH_a/c/" + "o" * 1025, 400),
        ("/files/d1/0/AUTH_a/c/o", 404),
        ("/account/d1/0/AUTH_a/c/o", 400),
    ],
)
def test_paths_that_could_escape_the_device_are_refused(storage_node: Node, path, status):
    reply = storage_node.call(
        "PUT",
        path,
        {"X-Timestamp": storage_node.ts(), "Content-Type": "a/b", "Content-Length": "1"},
        b"x",
    )
    assert reply.status == status, reply
    assert files_under(storage_node.root.parent) == ["object.ring.gz"]  # nothing written


def test_object_names_with_dots_and_slashes_stay_inside_the_device(storage_node: Node):
    node = storage_node
    for name in ("../../../../etc/passwd", "./x", "a/../../b", "/leading", "%2e%2e"):
        assert node.put(name, name.encode()).status == 201
        got = node.call("GET", node.path("object", "AUTH_a", "c", name))
        assert got.body == name.encode()
    outside = [
        p
        for p in node.root.parent.rglob("*")
        if p.is_file() and not str(p).startswith(str(node.device))
    ]
    assert [p.name for p in outside] == ["object.ring.gz"]
    datas = list(node.device.rglob("*.data"))
    assert len(datas) == 5
    assert all(p.relative_to(node.device).parts[0] == "objects" for p in datas)


def test_healthcheck(storage_node: Node):
    reply = storage_node.call("GET", "/healthcheck")
    assert (reply.status, reply.body) == (200, b"OK")


def test_a_node_serves_its_ring_and_a_ring_loads_and_reloads_from_that_url(storage_node: Node):
    node = storage_node
    url = f"http://{node.host}/ring"
    remote = Ring(url, reload_time=0)
    assert remote.version == node.ring.version
    assert remote.get_nodes("AUTH_a", "c", "o") == node.ring.get_nodes("AUTH_a", "c", "o")
    first = node.call("GET", "/ring")
    unchanged = node.call("GET", "/ring", {"If-None-Match": first.headers["etag"]})
    assert unchanged.status == 304
    assert remote.version == node.ring.version  # a 304 keeps the ring it has
    builder = RingBuilder(6, 1, 0)
    builder.add_dev(
        {"zone": 1, "ip": "127.0.0.1", "port": node.server.port, "device": "d1", "weight": 1}
    )
    builder.add_dev({"zone": 2, "ip": "127.0.0.1", "port": 1, "device": "d2", "weight": 1})
    builder.version = node.ring.version + 10
    builder.rebalance()
    builder.write_ring(node.ring.source)
    assert remote.version == builder.version  # the new file, fetched again
    assert len([d for d in remote.devs if d]) == 2


def test_concurrent_row_updates_of_one_container_all_land(storage_node: Node):
    from concurrent.futures import ThreadPoolExecutor

    node = storage_node
    node.make_account()
    node.make_container()

    def row(i: int) -> int:
        path = node.path("container", "AUTH_a", "c") + f"/o{i:03d}"
        headers = {
            "X-Timestamp": node.ts(),
            "X-Size": str(i),
            "X-Content-Type": "a/b",
            "X-Etag": "e",
        }
        return node.call("PUT", path, headers).status

    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(row, range(64))) == {201}
    listing = node.call("GET", node.path("container", "AUTH_a", "c"))
    assert [r["name"] for r in listing.json()] == [f"o{i:03d}" for i in range(64)]
    assert listing.headers["x-container-object-count"] == "64"
    assert listing.headers["x-container-bytes-used"] == str(sum(range(64)))
