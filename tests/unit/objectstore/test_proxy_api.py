"""The Swift v1 API of the proxy against real storage nodes on loopback: status codes,
headers, listings, auth and ACLs, large objects, tempurl, quotas, a node down."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from pocketstack.objectstore import tempurl
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


def test_listings_formats_and_paging(cluster):
    c = cluster
    c.call("PUT", c.url("pa", "list"))
    for name in ("a/1", "a/2", "b", "c"):
        assert c.call("PUT", c.url("pa", "list", name), content=b"x").status_code == 201
    plain = c.call("GET", c.url("pa", "list"))
    assert plain.text == "a/1\na/2\nb\nc\n"
    assert plain.headers["x-container-object-count"] == "4"
    js = c.call("GET", c.url("pa", "list"), params={"format": "json", "delimiter": "/"}).json()
    assert [i.get("name") or i.get("subdir") for i in js] == ["a/", "b", "c"]
    assert js[1]["bytes"] == 1 and js[1]["hash"] == hashlib.md5(b"x").hexdigest()
    page = c.call("GET", c.url("pa", "list"), params={"marker": "a/2", "limit": "1"})
    assert page.text == "b\n"
    rev = c.call("GET", c.url("pa", "list"), params={"reverse": "true", "end_marker": "a/2"})
    assert rev.text == "c\nb\n"
    xml = c.call("GET", c.url("pa", "list"), params={"format": "xml", "prefix": "a/"})
    assert xml.text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert "<name>a/1</name>" in xml.text and 'container name="list"' in xml.text
    acct = c.call("GET", c.url("pa"), params={"format": "json"})
    assert acct.status_code == 200
    assert "list" in [i["name"] for i in acct.json()]
    assert c.call("GET", c.url("pa"), params={"limit": "10001"}).status_code == 412


def test_empty_account_and_unknown_things(cluster):
    c = cluster
    fresh = c.call("GET", c.url("pb"), token="bob")
    assert fresh.status_code == 204
    assert fresh.headers["x-account-container-count"] == "0"
    assert c.call("HEAD", c.url("pa", "nope")).status_code == 404
    assert c.call("GET", c.url("pa", "nope", "x")).status_code == 404
    assert c.call("PUT", c.url("pa", "nope", "x"), content=b"1").status_code == 404
    assert c.call("DELETE", c.url("pa", "nope")).status_code == 404


def test_name_rules(cluster):
    c = cluster
    assert c.call("PUT", c.url("pa", "c" * 257)).status_code == 400
    assert c.call("PUT", c.url("pa", "c" * 256)).status_code == 201
    c.call("PUT", c.url("pa", "names"))
    assert c.call("PUT", c.url("pa", "names", "o" * 1025), content=b"").status_code == 400
    assert c.call("PUT", c.url("pa", "names", "bad%00name"), content=b"").status_code == 412
    assert c.call("PUT", c.url("pa", "names", "bad%FFname"), content=b"").status_code == 412
    dots = c.call("PUT", c.url("pa", "names", "..%2F..%2Fetc%2Fpasswd"), content=b"safe")
    assert dots.status_code == 201
    assert c.call("GET", c.url("pa", "names", "..%2F..%2Fetc%2Fpasswd")).content == b"safe"


def test_container_delete_conflict_and_metadata(cluster):
    c = cluster
    c.call("PUT", c.url("pa", "full"), headers={"X-Container-Meta-Owner": "me"})
    c.call("PUT", c.url("pa", "full", "o"), content=b"data")
    assert c.call("DELETE", c.url("pa", "full")).status_code == 409
    head = c.call("HEAD", c.url("pa", "full"))
    assert head.headers["x-container-meta-owner"] == "me"
    assert (
        c.call(
            "POST", c.url("pa", "full"), headers={"X-Remove-Container-Meta-Owner": "x"}
        ).status_code
        == 204
    )
    assert "x-container-meta-owner" not in c.call("HEAD", c.url("pa", "full")).headers
    assert c.call("DELETE", c.url("pa", "full", "o")).status_code == 204
    assert c.call("DELETE", c.url("pa", "full", "o")).status_code == 404
    assert c.call("DELETE", c.url("pa", "full")).status_code == 204
    assert c.call("POST", c.url("pa"), headers={"X-Account-Meta-Team": "t"}).status_code == 204
    assert c.call("HEAD", c.url("pa")).headers["x-account-meta-team"] == "t"


def test_put_checks(cluster):
    c = cluster
    c.call("PUT", c.url("pa", "chk"))
    bad = c.call("PUT", c.url("pa", "chk", "o"), content=b"abc", headers={"ETag": "0" * 32})
    assert bad.status_code == 422
    assert c.call("GET", c.url("pa", "chk", "o")).status_code == 404

    def chunks():
        yield b"part1-"
        yield b"part2"

    chunked = c.call("PUT", c.url("pa", "chk", "chunked"), content=chunks())
    assert chunked.status_code == 201
    assert c.call("GET", c.url("pa", "chk", "chunked")).content == b"part1-part2"
    past = c.call("PUT", c.url("pa", "chk", "p"), content=b"1", headers={"X-Delete-At": "1"})
    assert past.status_code == 400


def test_range_conditionals_post_copy(cluster):
    c = cluster
    c.call("PUT", c.url("pa", "rc"))
    put = c.call(
        "PUT",
        c.url("pa", "rc", "o"),
        content=b"0123456789",
        headers={"Content-Type": "text/x-digits"},
    )
    etag = put.headers["etag"]
    part = c.call("GET", c.url("pa", "rc", "o"), headers={"Range": "bytes=2-4"})
    assert part.status_code == 206 and part.content == b"234"
    assert c.call("GET", c.url("pa", "rc", "o"), headers={"If-None-Match": etag}).status_code == 304
    assert c.call("GET", c.url("pa", "rc", "o"), headers={"If-Match": "nope"}).status_code == 412
    assert (
        c.call("GET", c.url("pa", "rc", "o"), headers={"Range": "bytes=50-60"}).status_code == 416
    )
    later = "Sun, 01 Jan 2090 00:00:00 GMT"
    assert (
        c.call("GET", c.url("pa", "rc", "o"), headers={"If-Modified-Since": later}).status_code
        == 304
    )
    assert (
        c.call(
            "GET",
            c.url("pa", "rc", "o"),
            headers={"If-Unmodified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"},
        ).status_code
        == 412
    )
    assert (
        c.call("POST", c.url("pa", "rc", "o"), headers={"X-Object-Meta-Fresh": "yes"}).status_code
        == 202
    )
    assert c.call("HEAD", c.url("pa", "rc", "o")).headers["x-object-meta-fresh"] == "yes"
    copy = c.call("COPY", c.url("pa", "rc", "o"), headers={"Destination": "/rc/copy"})
    assert copy.status_code == 201 and copy.headers["x-copied-from"] == "rc/o"
    got = c.call("GET", c.url("pa", "rc", "copy"))
    assert got.content == b"0123456789" and got.headers["x-object-meta-fresh"] == "yes"
    c.call("PUT", c.url("pa", "rc", "copy2"), headers={"X-Copy-From": "rc/o"}, content=b"")
    assert c.call("GET", c.url("pa", "rc", "copy2")).content == b"0123456789"


def test_expiry(cluster):
    c = cluster
    c.call("PUT", c.url("pa", "exp"))
    put = c.call("PUT", c.url("pa", "exp", "o"), content=b"soon", headers={"X-Delete-After": "4"})
    assert put.status_code == 201
    assert c.call("GET", c.url("pa", "exp", "o")).status_code == 200
    deadline = time.monotonic() + 20
    while c.call("GET", c.url("pa", "exp", "o")).status_code != 404:
        assert time.monotonic() < deadline, "the object never expired"
        time.sleep(0.2)


def test_isolation_roles_and_acls(cluster):
    c = cluster
    c.call("PUT", c.url("pa", "priv"))
    c.call("PUT", c.url("pa", "priv", "o"), content=b"secret")
    assert c.call("GET", c.url("pa"), token="bob").status_code == 403
    assert c.call("GET", c.url("pa", "priv"), token="bob").status_code == 403
    assert c.call("GET", c.url("pa", "priv", "o"), token="bob").status_code == 403
    assert c.call("GET", c.url("pa", "priv", "o"), token=None).status_code == 401
    assert c.call("GET", c.url("pa", "priv", "o"), token="bogus").status_code == 401
    assert c.call("GET", c.url("pa", "priv", "o"), token="reader").status_code == 200
    assert c.call("PUT", c.url("pa", "priv", "r"), token="reader", content=b"x").status_code == 403
    assert c.call("GET", c.url("pa", "priv", "o"), token="admin").status_code == 200
    # ACLs: bob may read, then write; anonymous reads with .r:*, lists with .rlistings
    c.call("POST", c.url("pa", "priv"), headers={"X-Container-Read": "pb:ub"})
    assert c.call("GET", c.url("pa", "priv", "o"), token="bob").status_code == 200
    assert c.call("PUT", c.url("pa", "priv", "b"), token="bob", content=b"x").status_code == 403
    assert "x-container-read" not in c.call("HEAD", c.url("pa", "priv"), token="bob").headers
    c.call("POST", c.url("pa", "priv"), headers={"X-Container-Write": "proj-b:*"})
    assert c.call("PUT", c.url("pa", "priv", "b"), token="bob", content=b"x").status_code == 201
    assert (
        c.call(
            "POST", c.url("pa", "priv"), token="bob", headers={"X-Container-Read": ".r:*"}
        ).status_code
        == 403
    )
    assert c.call("GET", c.url("pa", "priv"), token=None).status_code == 401
    c.call("POST", c.url("pa", "priv"), headers={"X-Container-Read": ".r:*"})
    assert c.call("GET", c.url("pa", "priv", "o"), token=None).content == b"secret"
    assert c.call("GET", c.url("pa", "priv"), token=None).status_code == 401
    c.call("POST", c.url("pa", "priv"), headers={"X-Container-Read": ".r:*,.rlistings"})
    assert c.call("GET", c.url("pa", "priv"), token=None).status_code == 200


def test_quotas(cluster):
    c = cluster
    c.call(
        "PUT",
        c.url("pa", "q"),
        headers={"X-Container-Meta-Quota-Bytes": "10", "X-Container-Meta-Quota-Count": "2"},
    )
    assert c.call("PUT", c.url("pa", "q", "a"), content=b"12345").status_code == 201
    assert c.call("PUT", c.url("pa", "q", "b"), content=b"123456").status_code == 413
    assert c.call("PUT", c.url("pa", "q", "b"), content=b"1").status_code == 201
    deadline = time.monotonic() + 10  # the container's counts are cached for a moment
    while c.call("PUT", c.url("pa", "q", "c"), content=b"1").status_code != 413:
        assert time.monotonic() < deadline, "the count quota was never enforced"
        c.call("DELETE", c.url("pa", "q", "c"))
        time.sleep(0.2)
    # only an admin sets an account quota
    assert (
        c.call(
            "POST", c.url("pb"), token="bob", headers={"X-Account-Meta-Quota-Bytes": "3"}
        ).status_code
        == 403
    )
    assert (
        c.call(
            "POST", c.url("pb"), token="admin", headers={"X-Account-Meta-Quota-Bytes": "3"}
        ).status_code
        == 204
    )
    c.call("PUT", c.url("pb", "bq"), token="bob")
    assert c.call("PUT", c.url("pb", "bq", "o"), token="bob", content=b"1234").status_code == 413


def test_tempurl(cluster):
    c = cluster
    c.call("PUT", c.url("pa", "tu"))
    c.call("PUT", c.url("pa", "tu", "o"), content=b"shared")
    c.call("POST", c.url("pa"), headers={"X-Account-Meta-Temp-URL-Key": "k3y"})
    path = "/v1/AUTH_pa/tu/o"
    exp = int(time.time()) + 60
    for digest in ("sha1", "sha256"):
        sig = tempurl.sign("k3y", "GET", exp, path, digest)
        got = c.call(
            "GET",
            c.url("pa", "tu", "o"),
            token=None,
            params={"temp_url_sig": sig, "temp_url_expires": str(exp)},
        )
        assert got.status_code == 200 and got.content == b"shared"
        assert got.headers["content-disposition"].startswith("attachment")
    sig = tempurl.sign("k3y", "GET", exp, path)
    q = {"temp_url_sig": sig, "temp_url_expires": str(exp)}
    assert (
        c.call("PUT", c.url("pa", "tu", "o"), token=None, params=q, content=b"x").status_code == 401
    )
    assert c.call("GET", c.url("pa", "tu", "other"), token=None, params=q).status_code == 401
    old = int(time.time()) - 1
    stale = {"temp_url_sig": tempurl.sign("k3y", "GET", old, path), "temp_url_expires": str(old)}
    assert c.call("GET", c.url("pa", "tu", "o"), token=None, params=stale).status_code == 401
    put_sig = tempurl.sign("k3y", "PUT", exp, "/v1/AUTH_pa/tu/up")
    assert (
        c.call(
            "PUT",
            c.url("pa", "tu", "up"),
            token=None,
            content=b"via tempurl",
            params={"temp_url_sig": put_sig, "temp_url_expires": str(exp)},
        ).status_code
        == 201
    )


def test_static_and_dynamic_large_objects(cluster):
    c = cluster
    c.call("PUT", c.url("pa", "big"))
    c.call("PUT", c.url("pa", "big_segments"))
    parts = [b"a" * 100, b"b" * 50, b"c" * 10]
    manifest = []
    for i, data in enumerate(parts):
        c.call("PUT", c.url("pa", "big_segments", f"s/{i:03d}"), content=data)
        manifest.append(
            {
                "path": f"/big_segments/s/{i:03d}",
                "etag": hashlib.md5(data).hexdigest(),
                "size_bytes": len(data),
            }
        )
    put = c.call(
        "PUT",
        c.url("pa", "big", "slo"),
        params={"multipart-manifest": "put"},
        content=json.dumps(manifest),
    )
    assert put.status_code == 201, put.text
    got = c.call("GET", c.url("pa", "big", "slo"))
    assert got.content == b"".join(parts)
    assert got.headers["x-static-large-object"] == "True"
    assert got.headers["content-length"] == "160"
    ranged = c.call("GET", c.url("pa", "big", "slo"), headers={"Range": "bytes=95-155"})
    assert ranged.status_code == 206 and ranged.content == (b"".join(parts))[95:156]
    listed = c.call("GET", c.url("pa", "big"), params={"format": "json"}).json()
    slo = [i for i in listed if i["name"] == "slo"][0]
    assert slo["bytes"] == 160 and "swift_bytes" not in slo["content_type"]
    assert "swift_bytes" not in got.headers["content-type"]
    raw = c.call("GET", c.url("pa", "big", "slo"), params={"multipart-manifest": "get"}).json()
    assert [s["name"] for s in raw] == [m["path"] for m in manifest]
    wrong = [dict(manifest[0], etag="0" * 32)]
    assert (
        c.call(
            "PUT",
            c.url("pa", "big", "bad"),
            params={"multipart-manifest": "put"},
            content=json.dumps(wrong),
        ).status_code
        == 400
    )
    c.call(
        "PUT",
        c.url("pa", "big", "dlo"),
        content=b"",
        headers={"X-Object-Manifest": "big_segments/s/"},
    )
    assert c.call("GET", c.url("pa", "big", "dlo")).content == b"".join(parts)
    gone = c.call(
        "DELETE",
        c.url("pa", "big", "slo"),
        params={"multipart-manifest": "delete"},
        headers={"Accept": "application/json"},
    )
    assert gone.status_code == 200 and gone.json()["Number Deleted"] == 4
    assert c.call("GET", c.url("pa", "big_segments"), params={"format": "json"}).json() == []


def test_bulk_delete_and_info(cluster):
    c = cluster
    c.call("PUT", c.url("pa", "bulk"))
    for n in ("x", "y"):
        c.call("PUT", c.url("pa", "bulk", n), content=b"1")
    res = c.call(
        "POST",
        c.url("pa"),
        params={"bulk-delete": ""},
        headers={"Accept": "application/json", "Content-Type": "text/plain"},
        content="/bulk/x\n/bulk/y\n/bulk/missing\n/bulk\n",
    )
    assert res.status_code == 200
    assert res.json()["Number Deleted"] == 3 and res.json()["Number Not Found"] == 1
    info = c.client.get(f"{c.base}/info").json()
    assert "slo" in info and "tempurl" in info and info["swift"]["max_file_size"] > 0


def test_length_required_and_create_only(cluster):
    import http.client

    c = cluster
    c.call("PUT", c.url("pa", "len"))
    conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=10)
    conn.putrequest("PUT", "/object-store/v1/AUTH_pa/len/o")
    conn.putheader("X-Auth-Token", "alice")
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 411 and resp.getheader("X-Trans-Id", "").startswith("tx")
    conn.close()
    first = c.call("PUT", c.url("pa", "len", "once"), content=b"1", headers={"If-None-Match": "*"})
    assert first.status_code == 201
    again = c.call("PUT", c.url("pa", "len", "once"), content=b"2", headers={"If-None-Match": "*"})
    assert again.status_code == 412
    assert c.call("GET", c.url("pa", "len", "once")).content == b"1"


def test_versioning_stack_and_history(cluster):
    c = cluster
    c.call("PUT", c.url("pa", "arch"))
    assert (
        c.call("PUT", c.url("pa", "ver"), headers={"X-Versions-Location": "arch"}).status_code
        == 201
    )
    assert c.call("HEAD", c.url("pa", "ver")).headers["x-versions-location"] == "arch"
    for body in (b"v1", b"v2", b"v3"):
        assert c.call("PUT", c.url("pa", "ver", "doc"), content=body).status_code == 201
    archived = c.call("GET", c.url("pa", "arch"), params={"prefix": "003doc/"}).text.split()
    assert len(archived) == 2
    assert c.call("GET", c.url("pa", "ver", "doc")).content == b"v3"
    assert c.call("DELETE", c.url("pa", "ver", "doc")).status_code == 204
    assert c.call("GET", c.url("pa", "ver", "doc")).content == b"v2"
    assert c.call("DELETE", c.url("pa", "ver", "doc")).status_code == 204
    assert c.call("GET", c.url("pa", "ver", "doc")).content == b"v1"
    assert c.call("DELETE", c.url("pa", "ver", "doc")).status_code == 204
    assert c.call("GET", c.url("pa", "ver", "doc")).status_code == 404
    # history mode: a delete archives the current version too
    c.call("PUT", c.url("pa", "hist"), headers={"X-History-Location": "arch"})
    c.call("PUT", c.url("pa", "hist", "log"), content=b"h1")
    c.call("DELETE", c.url("pa", "hist", "log"))
    assert c.call("GET", c.url("pa", "hist", "log")).status_code == 404
    kept = c.call("GET", c.url("pa", "arch"), params={"prefix": "003log/"}).text.split()
    assert len(kept) == 1
    assert c.call("GET", c.url("pa", "arch", kept[0])).content == b"h1"
    c.call("PUT", c.url("pa", "lost"), headers={"X-Versions-Location": "missing"})
    c.call("PUT", c.url("pa", "lost", "o"), content=b"1")
    assert c.call("PUT", c.url("pa", "lost", "o"), content=b"2").status_code == 412


def test_copy_needs_read_on_the_source_and_write_on_the_destination(cluster):
    c = cluster
    c.call("PUT", c.url("pa", "src"))
    c.call("PUT", c.url("pa", "src", "o"), content=b"original")
    c.call(
        "PUT", c.url("pa", "dst"), headers={"X-Container-Write": "pb:*", "X-Container-Read": "pb:*"}
    )
    # bob may read and write dst but not read src: a copy may not leak src's object
    assert (
        c.call(
            "PUT",
            c.url("pa", "dst", "stolen"),
            token="bob",
            content=b"",
            headers={"X-Copy-From": "src/o"},
        ).status_code
        == 403
    )
    c.call("POST", c.url("pa", "src"), headers={"X-Container-Read": "pb:*"})
    assert (
        c.call(
            "COPY", c.url("pa", "src", "o"), token="bob", headers={"Destination": "src/o2"}
        ).status_code
        == 403
    )
    copied = c.call("COPY", c.url("pa", "src", "o"), token="bob", headers={"Destination": "dst/o"})
    assert copied.status_code == 201
    assert c.call("GET", c.url("pa", "dst", "o")).content == b"original"
    assert (
        c.call(
            "PUT",
            c.url("pa", "dst", "o3"),
            token="bob",
            content=b"",
            headers={"X-Copy-From": "src/o"},
        ).status_code
        == 201
    )


def test_large_objects_do_not_leak_segments_one_may_not_read(cluster):
    c = cluster
    c.call("PUT", c.url("pa", "hidden"))
    c.call("PUT", c.url("pa", "hidden", "seg"), content=b"top secret")
    c.call(
        "PUT",
        c.url("pa", "shared"),
        headers={"X-Container-Read": "pb:*", "X-Container-Write": "pb:*"},
    )
    manifest = json.dumps([{"path": "/hidden/seg"}])
    assert (
        c.call(
            "PUT",
            c.url("pa", "shared", "slo"),
            token="bob",
            content=manifest,
            params={"multipart-manifest": "put"},
        ).status_code
        == 403
    )
    c.call(
        "PUT",
        c.url("pa", "shared", "dlo"),
        token="bob",
        content=b"",
        headers={"X-Object-Manifest": "hidden/"},
    )
    assert c.call("GET", c.url("pa", "shared", "dlo"), token="bob").status_code == 403
    assert c.call("GET", c.url("pa", "shared", "dlo")).content == b"top secret"
