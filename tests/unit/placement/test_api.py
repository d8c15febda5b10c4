"""The Placement API in-process (``service_app``): every route answers every microversion's
empty, minimal or malformed request with Placement's error body or a success, never a 500;
a member is 403 on every route; query parameters are checked."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from starlette.testclient import TestClient

from pocketstack.common.auth import RequestContext
from pocketstack.placement.api import API, ROUTES
from pocketstack.placement.inventories import make_record
from tests.helpers import FixedTokens, service_app

ADMIN = RequestContext(user_id="u-admin", project_id="p-admin", roles=("admin",))
MEMBER = RequestContext(user_id="u-demo", project_id="p-demo", roles=("member", "reader"))
BODIES = [None, {}, [], {"name": "x"}, {"resource_provider_generation": 0}]


@pytest.fixture
def call(cloud, conf):
    with TestClient(
        service_app(API, conf, cloud, FixedTokens({"admin": ADMIN, "demo": MEMBER}))
    ) as client:

        def request(method, path, body=None, token="admin", version="latest"):
            headers = {"X-Auth-Token": token, "Content-Type": "application/json"}
            headers["OpenStack-API-Version"] = f"placement {version}"
            content = None if body is None else json.dumps(body)
            return client.request(method, "/placement" + path, content=content, headers=headers)

        yield request


def _path(template: str, rp: str) -> str:
    path = re.sub(r"\{uuid\}|\{consumer_uuid\}", rp, template)
    return path.replace("{resource_class}", "VCPU").replace("{name}", "CUSTOM_X")


def _paths():
    rp = str(uuid.uuid4())
    return [(spec.method, _path(spec.path, rp)) for spec in ROUTES]


@pytest.mark.parametrize(("known", "version"), [(False, "1.0"), (True, "1.14"), (True, "latest")])
def test_no_route_is_a_server_error(call, cloud, version, known):
    """Against an unknown provider, and against a fresh one with inventory per request
    (a DELETE may remove it)."""
    sys = RequestContext.system()
    for spec in ROUTES:
        for body in BODIES if spec.method in ("POST", "PUT") else [None]:
            rp = str(uuid.uuid4())
            if known:
                rp = cloud.placement.resource_providers.create(sys, rp).uuid
                record = make_record("VCPU", {"total": 4}, True)
                cloud.placement.inventories.replace(sys, rp, 0, [record])
            path = _path(spec.path, rp)
            answer = call(spec.method, path, body, version=version)
            assert answer.status_code < 500, (spec.method, path, body, answer.text)
            if answer.status_code >= 400:
                assert answer.json()["errors"][0]["status"] == answer.status_code


def test_a_member_is_refused_everywhere(call):
    """Every read and delete, and a valid create (a body is validated before the policy
    check, as on every service here)."""
    for method, path in _paths():
        if path == "/" or method in ("POST", "PUT"):
            continue
        answer = call(method, path, token="demo")
        assert answer.status_code == 403, (method, path, answer.text)
    created = call("POST", "/resource_providers", {"name": "x"}, token="demo")
    assert created.status_code == 403
    assert call("GET", "/resource_providers").json() == {"resource_providers": []}


def test_query_parameters_are_checked(call):
    for query in (
        "resources=VCPU",
        "resources=VCPU:0",
        "resources=NOPE:1",
        "resources=VCPU:1&required=NO_SUCH_TRAIT",
        "resources=VCPU:1&member_of=not-a-uuid",
        "resources=VCPU:1&limit=0",
        "resources=VCPU:1&in_tree=xyz",
        "resources1=VCPU:1",
    ):
        answer = call("GET", f"/allocation_candidates?{query}")
        assert answer.status_code == 400, (query, answer.text)
    assert call("GET", "/allocation_candidates?resources=VCPU:1").json() == {
        "allocation_requests": [],
        "provider_summaries": {},
    }
    assert call("GET", "/traits?name=bad").status_code == 400
    assert call("GET", "/usages").status_code == 400
    assert call("GET", "/", version="1.99").status_code == 406
    assert call("GET", "/resource_providers", version="1.x").status_code == 400
