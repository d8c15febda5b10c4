"""OS-OAUTH1 in process (the Identity API under Starlette's TestClient, real tokens): the
delegation flow signed by oauthlib's client (what keystoneclient's ``v3.contrib.oauth1``
signs with), and the refusals that need time to pass (expired request and access tokens:
the rows' ``expires_at`` is moved into the past instead of sleeping), bad signatures,
wrong verifiers, used request tokens, and rescoping an OAuth token."""

from __future__ import annotations

import datetime as dt
import time
import types
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
import sqlalchemy as sa
from oauthlib import oauth1
from starlette.applications import Starlette
from starlette.testclient import TestClient

from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import InProcessBus
from pocketstack.common.config import Config
from pocketstack.common.db import Base, Database, import_all_models, utcnow
from pocketstack.identity.api import API
from pocketstack.identity.oauth1_models import AccessToken, RequestToken
from pocketstack.identity.tokens import CACHE_TTL
from tests.helpers import FAST_HASHES

SYS = RequestContext.system()


class Flow:
    """The cloud, its client, an admin token and a consumer; signs as a consumer would."""

    def __init__(self, client: TestClient, cloud: Any, ids: dict[str, str], conf: Config):
        self.client, self.cloud, self.ids = client, cloud, ids
        self.public = conf.public_url.rstrip("/") + "/identity"
        self.admin = {"X-Auth-Token": self.login(ids["admin_user_id"], "adminpw")}
        resp = self.call("POST", "/v3/OS-OAUTH1/consumers", json={"consumer": {}})
        assert resp.status_code == 201, resp.text
        self.consumer = resp.json()["consumer"]

    def call(self, method: str, path: str, **kw: Any) -> Any:
        headers = {**self.admin, **kw.pop("headers", {})} if hasattr(self, "admin") else {}
        headers.update(kw.pop("extra_headers", {}))
        return self.client.request(method, "/identity" + path, headers=headers, **kw)

    def login(self, user_id: str, password: str) -> str:
        auth = {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"id": user_id, "password": password}},
            },
            "scope": {"project": {"id": self.ids["admin_project_id"]}},
        }
        resp = self.client.post("/identity/v3/auth/tokens", json={"auth": auth})
        assert resp.status_code == 201, resp.text
        return str(resp.headers["X-Subject-Token"])

    def signed(self, path: str, body: Any = None, headers: Any = None, **client: Any) -> Any:
        """POST ``path`` signed by oauthlib's client (HMAC-SHA1) with ``client`` keys."""
        keys = {
            "client_key": self.consumer["id"],
            "client_secret": self.consumer["secret"],
            "signature_method": oauth1.SIGNATURE_HMAC,
            **client,
        }
        key = keys.pop("client_key")
        _url, signed, _ = oauth1.Client(key, **keys).sign(self.public + path, "POST")
        return self.client.post(
            "/identity" + path, headers={**(headers or {}), **signed}, json=body
        )

    def request_token(self, **client: Any) -> dict[str, str]:
        resp = self.signed(
            "/v3/OS-OAUTH1/request_token",
            headers={"Requested-Project-Id": self.ids["demo_project_id"]},
            callback_uri="oob",
            **client,
        )
        assert resp.status_code == 201, resp.text
        assert resp.headers["content-type"].startswith("application/x-www-form-urlencoded")
        return {k: v[0] for k, v in parse_qs(resp.text).items()}

    def authorize(self, request_key: str, role: str = "member") -> Any:
        return self.call(
            "PUT", f"/v3/OS-OAUTH1/authorize/{request_key}", json={"roles": [{"name": role}]}
        )

    def access(self, rt: dict[str, str], verifier: str) -> Any:
        return self.signed(
            "/v3/OS-OAUTH1/access_token",
            resource_owner_key=rt["oauth_token"],
            resource_owner_secret=rt["oauth_token_secret"],
            verifier=verifier,
        )

    def oauth_login(self, at: dict[str, str]) -> Any:
        body = {"auth": {"identity": {"methods": ["oauth1"], "oauth1": {}}}}
        return self.signed(
            "/v3/auth/tokens",
            body,
            resource_owner_key=at["oauth_token"],
            resource_owner_secret=at["oauth_token_secret"],
        )

    def expire(self, model: Any, row_id: str) -> None:
        with self.cloud.db.transaction() as s:
            s.execute(
                sa.update(model)
                .where(model.id == row_id)
                .values(expires_at=utcnow() - dt.timedelta(seconds=1))
            )


@pytest.fixture
def flow(tmp_path: Any) -> Iterator[Flow]:
    from pocketstack.service import Cloud

    flags = {"state_dir": str(tmp_path / "state"), "compute_driver": "fake", **FAST_HASHES}
    conf = Config.load(flags, environ={})
    import_all_models()
    db = Database(conf.database)
    Base.metadata.create_all(db.engine)
    bus = InProcessBus(workers=2)
    cloud = Cloud(conf, db, bus)
    ids = cloud.identity.bootstrap("adminpw", "demopw")
    # the admin holds member on demo (the project its request tokens ask for)
    member = cloud.identity.roles.list(SYS, "member")[0].id
    cloud.identity.roles.grant(
        SYS, member, "user", ids["admin_user_id"], "project", ids["demo_project_id"]
    )
    state = types.SimpleNamespace(conf=conf, cloud=cloud, token_validator=cloud.identity.tokens)
    with TestClient(Starlette(routes=[API.mount(state)])) as client:
        yield Flow(client, cloud, ids, conf)
    bus.stop()
    db.dispose()


def _verifier(resp: Any) -> str:
    assert resp.status_code == 200, resp.text
    return str(resp.json()["token"]["oauth_verifier"])


def test_flow_gives_a_token_of_the_delegated_roles(flow: Flow) -> None:
    rt = flow.request_token()
    assert len(rt["oauth_token"]) == 32 and rt["oauth_expires_at"].endswith("Z")
    at = flow.access(rt, _verifier(flow.authorize(rt["oauth_token"])))
    assert at.status_code == 201, at.text
    at_fields = {k: v[0] for k, v in parse_qs(at.text).items()}
    resp = flow.oauth_login(at_fields)
    assert resp.status_code == 201, resp.text
    token = resp.json()["token"]
    assert token["methods"] == ["oauth1"]
    assert token["project"]["id"] == flow.ids["demo_project_id"]
    assert token["user"]["id"] == flow.ids["admin_user_id"]
    # only the delegated role and what it implies, though the admin holds more
    assert {r["name"] for r in token["roles"]} == {"member", "reader"}
    assert token["OS-OAUTH1"] == {
        "access_token_id": at_fields["oauth_token"],
        "consumer_id": flow.consumer["id"],
    }
    # an OAuth token is not rescoped (403, as Keystone)
    rescope = {
        "auth": {
            "identity": {"methods": ["token"], "token": {"id": resp.headers["X-Subject-Token"]}},
            "scope": {"project": {"id": flow.ids["demo_project_id"]}},
        }
    }
    assert flow.client.post("/identity/v3/auth/tokens", json=rescope).status_code == 403
    # nor delegate further: no application credential, no trust (403, as Keystone)
    oauth_token = {"X-Auth-Token": resp.headers["X-Subject-Token"]}
    user = flow.ids["admin_user_id"]
    made = flow.client.post(
        f"/identity/v3/users/{user}/application_credentials",
        json={"application_credential": {"name": "from-oauth"}},
        headers=oauth_token,
    )
    assert made.status_code == 403, made.text
    trust = {
        "trust": {
            "trustor_user_id": user,
            "trustee_user_id": flow.ids["demo_user_id"],
            "project_id": flow.ids["demo_project_id"],
            "impersonation": False,
            "roles": [{"name": "reader"}],
        }
    }
    made = flow.client.post("/identity/v3/OS-TRUST/trusts", json=trust, headers=oauth_token)
    assert made.status_code == 403, made.text


def test_expired_request_token_is_refused(flow: Flow) -> None:
    rt = flow.request_token()
    flow.expire(RequestToken, rt["oauth_token"])
    resp = flow.authorize(rt["oauth_token"])
    assert resp.status_code == 401
    assert "expired" in resp.json()["error"]["message"]
    # authorized first, expired before the exchange: no access token either
    rt = flow.request_token()
    verifier = _verifier(flow.authorize(rt["oauth_token"]))
    flow.expire(RequestToken, rt["oauth_token"])
    assert flow.access(rt, verifier).status_code == 401


def test_expired_access_token_gives_no_token_and_ends_its_tokens(flow: Flow) -> None:
    rt = flow.request_token()
    at = flow.access(rt, _verifier(flow.authorize(rt["oauth_token"])))
    fields = {k: v[0] for k, v in parse_qs(at.text).items()}
    resp = flow.oauth_login(fields)
    token = resp.headers["X-Subject-Token"]
    # the token ends with its access token at the latest
    assert resp.json()["token"]["expires_at"] <= fields["oauth_expires_at"]
    flow.expire(AccessToken, fields["oauth_token"])
    assert flow.oauth_login(fields).status_code == 401
    # once the validation cache's time has passed (the clock moved, not slept through),
    # the token of the expired access token is no longer valid
    tokens = flow.cloud.identity.tokens
    tokens.clock = lambda: time.monotonic() + CACHE_TTL + 1
    check = flow.call("GET", "/v3/auth/tokens", extra_headers={"X-Subject-Token": token})
    assert check.status_code == 404


def test_bad_signatures_and_verifiers_are_401(flow: Flow) -> None:
    # a wrong consumer secret
    resp = flow.signed(
        "/v3/OS-OAUTH1/request_token",
        headers={"Requested-Project-Id": flow.ids["demo_project_id"]},
        callback_uri="oob",
        client_secret="0" * 32,
    )
    assert resp.status_code == 401
    # no signature at all
    resp = flow.client.post(
        "/identity/v3/OS-OAUTH1/request_token",
        headers={"Requested-Project-Id": flow.ids["demo_project_id"]},
    )
    assert resp.status_code == 401
    # no project: 400; an unknown one: 404
    resp = flow.signed("/v3/OS-OAUTH1/request_token", callback_uri="oob")
    assert resp.status_code == 400
    resp = flow.signed(
        "/v3/OS-OAUTH1/request_token",
        headers={"Requested-Project-Id": "f" * 32},
        callback_uri="oob",
    )
    assert resp.status_code == 404
    rt = flow.request_token()
    verifier = _verifier(flow.authorize(rt["oauth_token"]))
    # not yet authorized elsewhere: authorizing twice is refused
    assert flow.authorize(rt["oauth_token"]).status_code == 401
    # a wrong verifier, a wrong request token secret
    assert flow.access(rt, "abcdEFGH" if verifier != "abcdEFGH" else "ABCDefgh").status_code == 401
    bad = {**rt, "oauth_token_secret": "0" * 32}
    assert flow.access(bad, verifier).status_code == 401
    # the right one once; the request token is then used up
    assert flow.access(rt, verifier).status_code == 201
    assert flow.access(rt, verifier).status_code == 401
    # an access token signed with a wrong secret gives no token
    unauthorized = flow.request_token()
    assert flow.access(unauthorized, "abcdEFGH").status_code == 401


@pytest.mark.parametrize(
    "authorization",
    [
        "OAuth",
        "OAuth garbage",
        'OAuth oauth_consumer_key="x"',
        'OAuth oauth_consumer_key="%s", oauth_signature="x", oauth_signature_method="PLAINTEXT"',
        'OAuth oauth_timestamp="12", oauth_nonce="%C3%A9%00"',
        "Basic dXNlcjpwdw==",
    ],
)
def test_malformed_oauth_headers_are_401(flow: Flow, authorization: str) -> None:
    if "%s" in authorization:
        authorization = authorization % flow.consumer["id"]
    for path in ("/v3/OS-OAUTH1/request_token", "/v3/OS-OAUTH1/access_token"):
        resp = flow.client.post(
            "/identity" + path,
            headers={
                "Authorization": authorization,
                "Requested-Project-Id": flow.ids["demo_project_id"],
            },
        )
        assert resp.status_code == 401, resp.text
        assert resp.json()["error"]["code"] == 401
    body = {"auth": {"identity": {"methods": ["oauth1"], "oauth1": {}}}}
    resp = flow.client.post(
        "/identity/v3/auth/tokens", json=body, headers={"Authorization": authorization}
    )
    assert resp.status_code == 401, resp.text
