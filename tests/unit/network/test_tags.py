"""Tag sub-resources (``/v2.0/<collection>/{id}/tags[/{tag}]``) through the API app, for
every taggable collection: replace, add, check, remove, clear, and who may do which."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from pocketstack.common.auth import RequestContext
from pocketstack.network.api import API
from tests.helpers import FixedTokens, service_app

USERS = {
    "admin": RequestContext(user_id="u-admin", project_id="p-admin", roles=("admin", "member")),
    "demo": RequestContext(user_id="u-demo", project_id="p-demo", roles=("member", "reader")),
    "other": RequestContext(user_id="u-other", project_id="p-other", roles=("member",)),
}


@pytest.fixture
def client(cloud, conf):
    with TestClient(service_app(API, conf, cloud, FixedTokens(USERS))) as test_client:
        yield test_client


def call(client, method: str, path: str, body: Any = None, token: str = "demo"):
    headers = {"X-Auth-Token": token}
    content = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        content = json.dumps(body)
    return client.request(method, "/networking/v2.0" + path, content=content, headers=headers)


def make(client, collection: str, key: str, attrs: dict[str, Any]) -> str:
    resp = call(client, "POST", f"/{collection}", {key: attrs})
    assert resp.status_code == 201, resp.text
    return resp.json()[key]["id"]


@pytest.fixture
def resources(client):
    """One demo resource of each taggable collection that has no router dependency."""
    net = make(client, "networks", "network", {"name": "n"})
    return {
        "networks": net,
        "subnets": make(client, "subnets", "subnet", {"network_id": net, "cidr": "10.7.0.0/24"}),
        "ports": make(client, "ports", "port", {"network_id": net}),
        "security-groups": make(client, "security-groups", "security_group", {"name": "g"}),
    }


def _tags(client, collection: str, rid: str) -> list[str]:
    resp = call(client, "GET", f"/{collection}/{rid}/tags")
    assert resp.status_code == 200, resp.text
    return resp.json()["tags"]


@pytest.mark.parametrize("collection", ["networks", "subnets", "ports", "security-groups"])
def test_tag_lifecycle(client, resources, collection):
    rid = resources[collection]
    path = f"/{collection}/{rid}/tags"
    assert call(client, "PUT", path, {"tags": ["a", "b", "a"]}).status_code == 400  # repeats
    resp = call(client, "PUT", path, {"tags": ["a", "b"]})
    assert resp.status_code == 200 and resp.json() == {"tags": ["a", "b"]}, resp.text
    assert call(client, "PUT", path + "/c").status_code == 201
    assert call(client, "PUT", path + "/c").status_code == 201  # already there: no change
    assert _tags(client, collection, rid) == ["a", "b", "c"]
    assert call(client, "GET", path + "/b").status_code == 204
    missing = call(client, "GET", path + "/zz")
    assert missing.status_code == 404 and missing.json()["NeutronError"]["type"] == "TagNotFound"
    assert call(client, "DELETE", path + "/b").status_code == 204
    assert call(client, "DELETE", path + "/b").status_code == 404
    # the resource itself shows them, and tag filters find it
    singular = {"security-groups": "security_group"}.get(collection, collection[:-1])
    shown = call(client, "GET", f"/{collection}/{rid}").json()[singular]
    assert shown["tags"] == ["a", "c"]
    listed = call(client, "GET", f"/{collection}?tags=a,c").json()[collection.replace("-", "_")]
    assert [r["id"] for r in listed] == [rid]
    assert call(client, "DELETE", path).status_code == 204
    assert _tags(client, collection, rid) == []


def test_tag_changes_bump_the_revision(client, resources):
    rid = resources["networks"]
    before = call(client, "GET", f"/networks/{rid}").json()["network"]["revision_number"]
    call(client, "PUT", f"/networks/{rid}/tags/x")
    after = call(client, "GET", f"/networks/{rid}").json()["network"]["revision_number"]
    assert after == before + 1


def test_others_neither_see_nor_change_tags(client, resources):
    rid = resources["networks"]
    call(client, "PUT", f"/networks/{rid}/tags/mine")
    assert call(client, "GET", f"/networks/{rid}/tags", token="other").status_code == 404
    assert call(client, "PUT", f"/networks/{rid}/tags/x", token="other").status_code == 404
    assert call(client, "DELETE", f"/networks/{rid}/tags", token="other").status_code == 404
    assert call(client, "PUT", f"/networks/{rid}/tags/admins", token="admin").status_code == 201
    assert _tags(client, "networks", rid) == ["mine", "admins"]


def test_bad_bodies_and_unknown_collections(client, resources):
    rid = resources["networks"]
    assert call(client, "PUT", f"/networks/{rid}/tags", {"tags": "a"}).status_code == 400
    assert call(client, "PUT", f"/networks/{rid}/tags", {"tags": ["x" * 256]}).status_code == 400
    assert call(client, "PUT", f"/networks/{rid}/tags", {}).status_code == 400
    assert call(client, "GET", f"/agents/{rid}/tags").status_code == 404
    assert (
        call(client, "GET", f"/networks/{'0' * 8}-0000-0000-0000-{'0' * 12}/tags").status_code
        == 404
    )
    assert _tags(client, "networks", rid) == []
