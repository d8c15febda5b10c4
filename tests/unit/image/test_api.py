"""The Glance v2 HTTP API on its own (TestClient, tokens mapped to callers): status codes,
headers, bodies and error shapes. The same behaviour through the real clients is in
tests/api/test_image.py."""

from __future__ import annotations

import hashlib

import pytest
from starlette.testclient import TestClient

from pocketstack.image.api import API
from tests.helpers import FixedTokens, service_app

from .conftest import make_ctx

PATCH = "application/openstack-images-v2.1-json-patch"
CALLERS = {
    "demo": ("p-demo", "member"),
    "alt": ("p-alt", "member"),
    "admin": ("p-admin", "admin"),
    "reader": ("p-demo", "reader"),
}


TOKENS = FixedTokens({t: make_ctx(*caller) for t, caller in CALLERS.items()})


@pytest.fixture
def client(conf, cloud):
    with TestClient(service_app(API, conf, cloud, TOKENS)) as c:
        yield c


def call(client, method, path, token="demo", **kw):
    headers = {"X-Auth-Token": token, **kw.pop("headers", {})}
    return client.request(method, "/image" + path, headers=headers, **kw)


def make_image(client, token="demo", **body):
    body = {"name": "img", "disk_format": "qcow2", "container_format": "bare", **body}
    resp = call(client, "POST", "/v2/images", token, json=body)
    assert resp.status_code == 201, resp.text
    return resp


def test_version_discovery_needs_no_token(client):
    resp = client.get("/image/")
    assert resp.status_code == 300
    current = resp.json()["versions"][0]
    assert current["status"] == "CURRENT" and current["links"][0]["href"].endswith("/image/v2/")
    assert client.get("/image/versions").status_code == 200


def test_no_token_is_401(client):
    resp = client.get("/image/v2/images")
    assert resp.status_code == 401 and resp.json()["code"] == 401


def test_create_show_and_list(client):
    resp = make_image(client, os_distro="cirros", tags=["t"])
    image = resp.json()
    assert resp.headers["location"].endswith("/image/v2/images/" + image["id"])
    assert "glance-direct" in resp.headers["openstack-image-import-methods"]
    assert image["status"] == "queued" and image["os_distro"] == "cirros"
    assert image["self"] == f"/v2/images/{image['id']}"
    assert call(client, "GET", f"/v2/images/{image['id']}").json()["tags"] == ["t"]
    body = call(client, "GET", "/v2/images?os_distro=cirros").json()
    assert [i["id"] for i in body["images"]] == [image["id"]]
    assert body["first"] == "/v2/images" and body["schema"] == "/v2/schemas/images"


def test_paging_gives_a_next_link(client):
    for n in range(3):
        make_image(client, name=f"i{n}")
    body = call(client, "GET", "/v2/images?limit=2&sort=name:asc").json()
    assert [i["name"] for i in body["images"]] == ["i0", "i1"]
    rest = call(client, "GET", body["next"]).json()
    assert [i["name"] for i in rest["images"]] == ["i2"] and "next" not in rest


def test_bad_input_is_400(client):
    resp = call(client, "POST", "/v2/images", json={"disk_format": "exe"})
    assert resp.status_code == 400 and "disk_format" in resp.json()["message"]
    assert call(client, "GET", "/v2/images?sort_key=bogus").status_code == 400
    assert call(client, "GET", "/v2/images?visibility=everyone").status_code == 400
    assert call(client, "POST", "/v2/images", content=b"{nope").status_code == 400


def test_patch_needs_the_json_patch_content_type(client):
    image = make_image(client).json()
    resp = call(
        client,
        "PATCH",
        f"/v2/images/{image['id']}",
        json=[{"op": "replace", "path": "/name", "value": "x"}],
    )
    assert resp.status_code == 415
    resp = call(
        client,
        "PATCH",
        f"/v2/images/{image['id']}",
        headers={"Content-Type": PATCH},
        json=[
            {"op": "replace", "path": "/name", "value": "x"},
            {"op": "add", "path": "/k", "value": "v"},
        ],
    )
    assert resp.status_code == 200 and (resp.json()["name"], resp.json()["k"]) == ("x", "v")
    resp = call(
        client,
        "PATCH",
        f"/v2/images/{image['id']}",
        headers={"Content-Type": PATCH},
        json=[{"op": "replace", "path": "/checksum", "value": "0"}],
    )
    assert resp.status_code == 403


def test_upload_download_and_second_upload(client):
    image = make_image(client).json()
    url = f"/v2/images/{image['id']}/file"
    assert call(client, "GET", url).status_code == 204
    data = b"\x00data" * 5000
    resp = call(
        client, "PUT", url, content=data, headers={"Content-Type": "application/octet-stream"}
    )
    assert resp.status_code == 204
    resp = call(client, "GET", url)
    assert resp.status_code == 200 and resp.content == data
    assert resp.headers["content-md5"] == hashlib.md5(data).hexdigest()
    assert resp.headers["content-length"] == str(len(data))
    again = call(
        client, "PUT", url, content=b"x", headers={"Content-Type": "application/octet-stream"}
    )
    assert again.status_code == 409
    bad = call(client, "PUT", url, content=b"x", headers={"Content-Type": "text/plain"})
    assert bad.status_code == 415


def test_isolation_and_roles(client):
    image = make_image(client, visibility="private").json()
    assert call(client, "GET", f"/v2/images/{image['id']}", "alt").status_code == 404
    assert call(client, "DELETE", f"/v2/images/{image['id']}", "alt").status_code == 404
    assert call(client, "GET", "/v2/images", "alt").json()["images"] == []
    assert call(client, "GET", f"/v2/images/{image['id']}", "reader").status_code == 200
    assert call(client, "DELETE", f"/v2/images/{image['id']}", "reader").status_code == 403
    assert call(client, "POST", "/v2/images", "reader", json={}).status_code == 403
    assert call(client, "GET", f"/v2/images/{image['id']}", "admin").status_code == 200


def test_unknown_image_is_404_in_glance_style(client):
    resp = call(client, "GET", "/v2/images/8f2c8f1e-0000-4000-8000-000000000000")
    assert resp.status_code == 404
    assert resp.json()["title"] == "Not Found" and resp.json()["message"]


def test_delete_protected_is_403_then_204(client):
    image = make_image(client, protected=True).json()
    assert call(client, "DELETE", f"/v2/images/{image['id']}").status_code == 403
    call(
        client,
        "PATCH",
        f"/v2/images/{image['id']}",
        headers={"Content-Type": PATCH},
        json=[{"op": "replace", "path": "/protected", "value": False}],
    )
    assert call(client, "DELETE", f"/v2/images/{image['id']}").status_code == 204
    assert call(client, "GET", f"/v2/images/{image['id']}").status_code == 404


def test_tags_and_actions(client):
    image = make_image(client).json()
    base = f"/v2/images/{image['id']}"
    assert call(client, "PUT", base + "/tags/blue").status_code == 204
    assert call(client, "GET", base).json()["tags"] == ["blue"]
    assert call(client, "DELETE", base + "/tags/blue").status_code == 204
    assert call(client, "DELETE", base + "/tags/blue").status_code == 404
    call(client, "PUT", base + "/file", content=b"x")
    assert call(client, "POST", base + "/actions/deactivate").status_code == 403
    assert call(client, "POST", base + "/actions/deactivate", "admin").status_code == 204
    assert call(client, "GET", base + "/file").status_code == 403
    assert call(client, "POST", base + "/actions/reactivate", "admin").status_code == 204


def test_members_flow(client):
    image = make_image(client).json()
    base = f"/v2/images/{image['id']}/members"
    resp = call(client, "POST", base, json={"member": "p-alt"})
    assert resp.status_code == 200 and resp.json()["status"] == "pending"
    assert call(client, "POST", base, json={"member": "p-alt"}).status_code == 409
    assert call(client, "GET", "/v2/images", "alt").json()["images"] == []
    resp = call(client, "PUT", base + "/p-alt", "alt", json={"status": "accepted"})
    assert resp.status_code == 200 and resp.json()["status"] == "accepted"
    listed = call(client, "GET", "/v2/images", "alt").json()["images"]
    assert [i["id"] for i in listed] == [image["id"]]
    members = call(client, "GET", base).json()
    assert members["schema"] == "/v2/schemas/members"
    assert [m["member_id"] for m in members["members"]] == ["p-alt"]
    assert call(client, "PUT", base + "/p-alt", json={"status": "accepted"}).status_code == 403
    assert call(client, "DELETE", base + "/p-alt").status_code == 204


def test_glance_direct_import_over_http(client):
    assert call(client, "GET", "/v2/info/import").json()["import-methods"]["value"] == [
        "glance-direct",
        "web-download",
    ]
    image = make_image(client).json()
    base = f"/v2/images/{image['id']}"
    assert call(client, "PUT", base + "/stage", content=b"staged").status_code == 204
    resp = call(client, "POST", base + "/import", json={"method": {"name": "glance-direct"}})
    assert resp.status_code == 202
    assert call(client, "GET", base + "/file").content == b"staged"


@pytest.mark.parametrize("name", ["image", "images", "member", "members"])
def test_schemas(client, name):
    assert call(client, "GET", f"/v2/schemas/{name}").json()["name"] == name
