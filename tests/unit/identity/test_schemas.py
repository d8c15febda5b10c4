"""Request-body schemas of the Identity API (pocketstack.identity.api.schemas), driven
through the real API in-process: a TestClient over ``API.mount`` with the real identity
manager after bootstrap, and real tokens issued with the bootstrap passwords.

Every malformed body is a 400 in Keystone's error shape and writes nothing (every identity
table is the same before and after); the bodies openstackclient sends pass; a rename to a
name already taken is a 409, never an IntegrityError's 500.
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.testclient import TestClient

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import Base
from pocketstack.identity.api import API

SYS = RequestContext.system()
V3 = "/identity/v3"
BIG = 2**64
HUGE = "x" * 100_000  # 100 KB: under the body limit, far over every maxLength
JSON = {"Content-Type": "application/json"}


@dataclass
class Identity:
    """The API client, the admin's and demo's headers and the ids of what exists."""

    client: TestClient
    admin: dict[str, str]
    demo: dict[str, str]
    ids: dict[str, str]
    cloud: Any


def _password_auth(name: str, password: str, project: str) -> dict[str, Any]:
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": name, "domain": {"id": "default"}, "password": password}
                },
            },
            "scope": {"project": {"name": project, "domain": {"id": "default"}}},
        }
    }


def _token(client: TestClient, name: str, password: str, project: str) -> dict[str, str]:
    resp = client.post(f"{V3}/auth/tokens", json=_password_auth(name, password, project))
    assert resp.status_code == 201, resp.text
    return {"X-Auth-Token": resp.headers["X-Subject-Token"]}


@pytest.fixture
def identity(cloud, conf) -> Iterator[Identity]:
    ids = dict(cloud.identity.bootstrap("adminpw", "demopw"))
    ident = cloud.identity
    ids["group_id"] = ident.groups.create(SYS, "staff").id
    ids["other_group_id"] = ident.groups.create(SYS, "ops").id
    ids["role_id"] = ident.roles.create(SYS, "auditor").id
    ids["service_id"] = ident.services.create(SYS, "widget", "widgets").id
    ids["endpoint_id"] = ident.endpoints.create(
        SYS, ids["service_id"], "public", "http://127.0.0.1:1/w", "RegionOne"
    ).id
    ids["region_id"] = ident.regions.create(SYS, "RegionTwo").id
    ids["domain_id"] = ident.domains.create(SYS, "other").id
    state = types.SimpleNamespace(conf=conf, cloud=cloud, token_validator=ident.tokens)
    with TestClient(Starlette(routes=[API.mount(state)])) as client:
        yield Identity(
            client,
            _token(client, "admin", "adminpw", "admin"),
            _token(client, "demo", "demopw", "demo"),
            ids,
            cloud,
        )


def _rows(cloud: Any) -> dict[str, list[str]]:
    """Every row of every identity table, as text, to compare before and after."""
    out = {}
    with cloud.db.reader() as s:
        for table in Base.metadata.sorted_tables:
            if table.name.startswith("identity_"):
                out[table.name] = sorted(repr(tuple(r)) for r in s.execute(sa.select(table)))
    return out


def _send(identity: Identity, method: str, path: str, body: Any, headers: dict[str, str]):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return identity.client.request(
        method, V3 + path.format(**identity.ids), content=content, headers={**headers, **JSON}
    )


def _assert_400(resp: Any) -> str:
    assert resp.status_code == 400, resp.text
    err = resp.json()["error"]
    assert err["code"] == 400 and err["title"] == "Bad Request" and err["message"]
    assert "Traceback" not in resp.text and "Error(" not in resp.text
    return err["message"]


# -- what each route takes -----------------------------------------------------------------
# (method, path, envelope key, a valid inner body, {field: kind}) where kind says which
# wrong values to try: "name" (a name, 255), "name64" (a domain/project name), "text"
# (a nullable string), "string" (a string that is never null), "bool" (a JSON boolean),
# "nbool" (a boolean or null).
ROUTES: list[tuple[str, str, str, dict[str, Any], dict[str, str]]] = [
    (
        "POST",
        "/domains",
        "domain",
        {"name": "d-new"},
        {"name": "name64", "description": "text", "enabled": "bool"},
    ),
    (
        "PATCH",
        "/domains/{domain_id}",
        "domain",
        {"description": "x"},
        {"name": "name64", "description": "text", "enabled": "bool"},
    ),
    (
        "POST",
        "/projects",
        "project",
        {"name": "p-new"},
        {"name": "name64", "description": "text", "enabled": "bool", "domain_id": "text"},
    ),
    (
        "PATCH",
        "/projects/{demo_project_id}",
        "project",
        {"description": "x"},
        {"name": "name64", "description": "text", "enabled": "bool"},
    ),
    (
        "POST",
        "/users",
        "user",
        {"name": "u-new"},
        {
            "name": "name",
            "enabled": "bool",
            "password": "text",
            "email": "text",
            "default_project_id": "text",
            "domain_id": "string",
        },
    ),
    (
        "PATCH",
        "/users/{demo_user_id}",
        "user",
        {"description": "x"},
        {"name": "name", "enabled": "bool", "password": "text", "default_project_id": "text"},
    ),
    ("POST", "/groups", "group", {"name": "g-new"}, {"name": "name", "description": "text"}),
    (
        "PATCH",
        "/groups/{group_id}",
        "group",
        {"description": "x"},
        {"name": "name", "description": "text"},
    ),
    ("POST", "/roles", "role", {"name": "r-new"}, {"name": "name", "description": "text"}),
    ("PATCH", "/roles/{role_id}", "role", {"description": "x"}, {"name": "name"}),
    (
        "POST",
        "/regions",
        "region",
        {"id": "RegionNew"},
        {"id": "text", "description": "text", "parent_region_id": "text"},
    ),
    (
        "PATCH",
        "/regions/{region_id}",
        "region",
        {"description": "x"},
        {"description": "text", "parent_region_id": "text"},
    ),
    (
        "POST",
        "/services",
        "service",
        {"type": "thing"},
        {"type": "string", "name": "text", "description": "text", "enabled": "bool"},
    ),
    (
        "PATCH",
        "/services/{service_id}",
        "service",
        {"description": "x"},
        {"type": "string", "enabled": "bool"},
    ),
    (
        "POST",
        "/endpoints",
        "endpoint",
        {"service_id": "{service_id}", "interface": "public", "url": "http://127.0.0.1:2/"},
        {"url": "string", "interface": "string", "service_id": "string", "enabled": "bool"},
    ),
    (
        "PATCH",
        "/endpoints/{endpoint_id}",
        "endpoint",
        {"url": "http://127.0.0.1:3/"},
        {"url": "string", "interface": "string", "enabled": "bool", "region_id": "text"},
    ),
    (
        "POST",
        "/users/{admin_user_id}/application_credentials",
        "application_credential",
        {"name": "ac-new"},
        {
            "name": "name",
            "secret": "text",
            "description": "text",
            "expires_at": "text",
            "unrestricted": "nbool",
        },
    ),
    (
        "POST",
        "/users/{demo_user_id}/password",
        "user",
        {"original_password": "demopw", "password": "newpw"},
        {"original_password": "string", "password": "string"},
    ),
]


def _wrong_values(kind: str) -> list[Any]:
    """Values that must be refused for a field of ``kind``."""
    if kind in ("bool", "nbool"):
        return [{}, [], "true", 1, BIG] + ([] if kind == "nbool" else [None])
    wrong: list[Any] = [["x"], {"a": 1}, 1, BIG, True, HUGE]
    if kind in ("name", "name64", "string"):
        wrong.append(None)
    if kind in ("name", "name64"):
        wrong += ["", "   "]
    if kind == "name64":
        wrong.append("x" * 65)
    return wrong


def _shapes(key: str, valid: dict[str, Any], empty_is_valid: bool) -> list[Any]:
    """Bodies of the wrong shape altogether."""
    shapes: list[Any] = [None, [], "text", 42, {}, {key: None}, {key: []}, {key: "x"}]
    shapes += [{key: valid, "extra": 1}, b'{"%s": {"name": 1e999}}' % key.encode()]
    shapes += [b'{"' + key.encode() + b'": ' + b"[" * 40 + b"]" * 40 + b"}"]
    if not empty_is_valid:
        shapes.append({key: {}})  # a create missing what it needs, an update naming nothing
    return shapes


def _fill(identity: Identity, valid: dict[str, Any]) -> dict[str, Any]:
    return {k: v.format(**identity.ids) if isinstance(v, str) else v for k, v in valid.items()}


def _headers(identity: Identity, path: str) -> dict[str, str]:
    return identity.demo if path.endswith("/password") else identity.admin


def _malformed(key: str, valid: dict[str, Any], fields: dict[str, str], create: bool) -> Any:
    """(label, body, word the message must contain) for every malformed variant."""
    for field, kind in fields.items():
        for value in _wrong_values(kind):
            word = "" if value is BIG else field  # refused as it is parsed, field unknown
            yield f"{field}={json.dumps(value)[:20]}", {key: {**valid, field: value}}, word
    creates_region = create and key == "region"  # a region needs nothing
    for body in _shapes(key, valid, empty_is_valid=creates_region):
        yield f"shape {str(body)[:30]}", body, ""
    if create and not creates_region:
        for field in valid:  # each required field missing
            yield f"no {field}", {key: {k: v for k, v in valid.items() if k != field}}, field


@pytest.mark.parametrize(
    ("method", "path", "key", "valid", "fields"),
    [pytest.param(*route, id=f"{route[0]} {route[1]}") for route in ROUTES],
)
def test_a_malformed_body_is_400_and_writes_nothing(identity, method, path, key, valid, fields):
    before = _rows(identity.cloud)
    headers = _headers(identity, path)
    wrong = []
    for label, body, word in _malformed(key, _fill(identity, valid), fields, method == "POST"):
        resp = _send(identity, method, path, body, headers)
        if resp.status_code != 400:
            wrong.append((label, resp.status_code, resp.text[:200]))
            continue
        message = _assert_400(resp)
        assert word in message and len(message) < 400, (label, message)  # never 100 KB
    assert wrong == []
    assert _rows(identity.cloud) == before


@pytest.mark.parametrize(
    ("method", "path", "key", "valid"),
    [pytest.param(m, p, k, v, id=f"{m} {p}") for m, p, k, v, _f in ROUTES],
)
def test_the_valid_body_passes(identity, method, path, key, valid):
    resp = _send(identity, method, path, {key: _fill(identity, valid)}, _headers(identity, path))
    assert resp.status_code in (200, 201, 204), resp.text


def test_a_project_or_domain_name_of_64_characters_is_fine_65_is_not(identity):
    for path, key in (("/projects", "project"), ("/domains", "domain")):
        assert _send(identity, "POST", path, {key: {"name": "p" * 64}}, identity.admin).is_success
        message = _assert_400(
            _send(identity, "POST", path, {key: {"name": "q" * 65}}, identity.admin)
        )
        assert f"{key}.name" in message and "longer than 64" in message


# -- bodies as openstackclient (openstacksdk) sends them ----------------------------------------
def _cli_bodies(ids: dict[str, str]) -> list[tuple[str, str, Any]]:
    return [
        (
            "POST",
            "/domains",
            {"domain": {"name": "cli-d", "description": None, "options": {}, "enabled": True}},
        ),
        (
            "PATCH",
            "/domains/{domain_id}",
            {"domain": {"enabled": False, "options": {"immutable": None}}},
        ),
        (
            "POST",
            "/projects",
            {
                "project": {
                    "name": "cli-p",
                    "domain_id": "default",
                    "description": "d",
                    "enabled": True,
                    "tags": ["a", "b"],
                    "options": {"immutable": False},
                    "color": "blue",  # --property color=blue: an extra attribute
                }
            },
        ),
        ("PATCH", "/projects/{demo_project_id}", {"project": {"description": None, "tags": []}}),
        (
            "POST",
            "/users",
            {
                "user": {
                    "name": "cli-u",
                    "domain_id": "default",
                    "default_project_id": ids["demo_project_id"],
                    "description": "d",
                    "email": "u@example.com",
                    "password": "pw",
                    "enabled": True,
                    "options": {"ignore_lockout_failure_attempts": True},
                }
            },
        ),
        ("PATCH", "/users/{demo_user_id}", {"user": {"default_project_id": None, "email": None}}),
        (
            "POST",
            "/groups",
            {"group": {"name": "cli-g", "domain_id": "default", "description": None}},
        ),
        ("PATCH", "/groups/{group_id}", {"group": {"description": None}}),
        ("POST", "/roles", {"role": {"name": "cli-r", "description": None, "domain_id": None}}),
        (
            "PATCH",
            "/roles/{role_id}",
            {"role": {"name": "cli-r2", "options": {"immutable": False}}},
        ),
        (
            "POST",
            "/regions",
            {"region": {"id": "cli-region", "parent_region_id": None, "description": None}},
        ),
        (
            "POST",
            "/regions",
            {"region": {"id": None, "parent_region_id": None, "description": None}},
        ),
        ("POST", "/regions", {"region": {"id": "", "parent_region_id": "RegionOne"}}),
        (
            "PATCH",
            "/regions/{region_id}",
            {"region": {"description": None, "parent_region_id": "RegionOne"}},
        ),
        (
            "POST",
            "/services",
            {"service": {"type": "cli", "name": None, "description": None, "enabled": True}},
        ),
        ("PATCH", "/services/{service_id}", {"service": {"name": "n", "enabled": False}}),
        (
            "POST",
            "/endpoints",
            {
                "endpoint": {
                    "service_id": ids["service_id"],
                    "url": "http://127.0.0.1:4/v1/$(project_id)s",
                    "interface": "internal",
                    "enabled": True,
                    "region_id": "RegionOne",
                    "region": "RegionOne",  # keystoneclient sends both
                }
            },
        ),
        (
            "PATCH",
            "/endpoints/{endpoint_id}",
            {"endpoint": {"interface": "admin", "region_id": None}},
        ),
        (
            "POST",
            "/users/{admin_user_id}/application_credentials",
            {
                "application_credential": {
                    "name": "cli-ac",
                    "description": None,
                    "expires_at": None,
                    "secret": None,
                    "unrestricted": False,
                    "access_rules": [],
                    "roles": [{"name": "member"}, {"id": ids["role_reader"]}],
                }
            },
        ),
        (
            "POST",
            "/users/{admin_user_id}/application_credentials",
            {
                "application_credential": {
                    "name": "cli-ac2",
                    "expires_at": "2999-01-01T00:00:00",
                    "unrestricted": None,
                }
            },
        ),
        ("PUT", "/groups/{group_id}/users/{demo_user_id}", None),
        ("PUT", "/roles/{role_id}/implies/{role_reader}", None),
        ("PUT", "/projects/{demo_project_id}/groups/{group_id}/roles/{role_id}", None),
        ("PUT", "/domains/default/users/{demo_user_id}/roles/{role_id}", {}),
    ]


def test_the_bodies_openstackclient_sends_pass(identity):
    for role in identity.cloud.identity.roles.list(SYS):
        identity.ids[f"role_{role.name}"] = role.id
    for method, path, body in _cli_bodies(identity.ids):
        if body is None:
            resp = identity.client.request(
                method, V3 + path.format(**identity.ids), headers=identity.admin
            )
        else:
            resp = _send(identity, method, path, body, identity.admin)
        assert resp.status_code in (200, 201, 204), (method, path, resp.text)
    # a PUT without a body may still send one, but it must be a JSON object
    path = "/groups/{group_id}/users/{demo_user_id}"
    _assert_400(_send(identity, "PUT", path, [], identity.admin))


def test_null_description_clears_it_rather_than_failing(identity):
    for path, key in (
        ("/domains/{domain_id}", "domain"),
        ("/projects/{demo_project_id}", "project"),
        ("/groups/{group_id}", "group"),
        ("/regions/{region_id}", "region"),
        ("/users/{demo_user_id}", "user"),
        ("/roles/{role_id}", "role"),
    ):
        resp = _send(identity, "PATCH", path, {key: {"description": None}}, identity.admin)
        assert resp.status_code == 200, (path, resp.text)
        assert not resp.json()[key].get("description")


def test_password_change_takes_nothing_but_the_two_passwords(identity):
    path = "/users/{demo_user_id}/password"
    body = {"user": {"original_password": "demopw", "password": "newpw", "enabled": False}}
    message = _assert_400(_send(identity, "POST", path, body, identity.demo))
    assert "enabled" in message
    ok = {"user": {"original_password": "demopw", "password": "newpw"}}
    assert _send(identity, "POST", path, ok, identity.demo).status_code == 204


def test_an_application_credential_refuses_what_it_cannot_honour(identity):
    path = "/users/{admin_user_id}/application_credentials"
    before = _rows(identity.cloud)
    for extra in (
        {"access_rules": [{"path": "/v2.1/servers", "method": "GET", "service": "compute"}]},
        {"roles": [{"id": "x", "name": "member"}]},
        {"roles": [{"domain_id": "default"}]},
        {"roles": "member"},
        {"system": "all"},
        {"user_id": "someone"},
    ):
        body = {"application_credential": {"name": "ac", **extra}}
        _assert_400(_send(identity, "POST", path, body, identity.admin))
    assert _rows(identity.cloud) == before


def test_unsupported_project_as_domain_is_refused(identity):
    body = {"project": {"name": "pd", "is_domain": True}}
    assert "is_domain" in _assert_400(_send(identity, "POST", "/projects", body, identity.admin))


def test_an_error_never_echoes_a_password(identity):
    secret = "hunter2-" + "s" * 5000
    bodies = [
        ("PATCH", "/users/{demo_user_id}", {"user": {"password": secret}}),
        ("PATCH", "/users/{demo_user_id}", {"user": {"password": [secret]}}),
        ("POST", "/users", {"user": {"name": ["n"], "password": secret}}),
        ("POST", "/users", {"user": [{"password": secret}]}),
    ]
    for method, path, body in bodies:
        assert "hunter2" not in _assert_400(_send(identity, method, path, body, identity.admin))
    auth = _password_auth("admin", secret, "admin")
    assert "hunter2" not in _assert_400(_send(identity, "POST", "/auth/tokens", auth, {}))


# -- POST /v3/auth/tokens -----------------------------------------------------------------
def _auth(identity_part: dict[str, Any], scope: Any = "omit") -> dict[str, Any]:
    auth: dict[str, Any] = {"identity": identity_part}
    if scope != "omit":
        auth["scope"] = scope
    return {"auth": auth}


def _pw(user: Any) -> dict[str, Any]:
    return {"methods": ["password"], "password": {"user": user}}


ADMIN_BY_NAME = {"name": "admin", "domain": {"name": "Default"}, "password": "adminpw"}


MALFORMED_AUTH: list[Any] = [
    {},
    {"auth": None},
    {"auth": {}},
    {"auth": {"identity": None}},
    {"auth": {"identity": {"password": {"user": ADMIN_BY_NAME}}}},  # no methods
    _auth({"methods": "password", "password": {"user": ADMIN_BY_NAME}}),
    _auth({"methods": [None], "password": {"user": ADMIN_BY_NAME}}),
    _auth({"methods": ["password"], "password": None}),
    _auth({"methods": ["password"], "password": {}}),
    _auth(_pw(None)),
    _auth(_pw({"password": "adminpw"})),  # neither id nor name
    _auth(_pw({"name": "admin", "password": "adminpw"})),  # a name needs its domain
    _auth(_pw({**ADMIN_BY_NAME, "domain": {}})),
    _auth(_pw({**ADMIN_BY_NAME, "domain": {"name": None}})),
    _auth(_pw({**ADMIN_BY_NAME, "name": None})),
    _auth(_pw({**ADMIN_BY_NAME, "name": ["admin"]})),
    _auth(_pw({**ADMIN_BY_NAME, "name": HUGE})),
    _auth(_pw({**ADMIN_BY_NAME, "password": None})),
    _auth(_pw({**ADMIN_BY_NAME, "password": BIG})),
    _auth(_pw({**ADMIN_BY_NAME, "password": {"x": 1}})),
    _auth(_pw({"id": None, "password": "adminpw"})),
    _auth({"methods": ["token"], "token": {}}),
    _auth({"methods": ["token"], "token": {"id": None}}),
    _auth({"methods": ["token"], "token": {"id": 12}}),
    _auth({"methods": ["application_credential"], "application_credential": {"secret": "s"}}),
    _auth(
        {
            "methods": ["application_credential"],
            "application_credential": {"name": "ac", "secret": "s"},  # a name needs its user
        }
    ),
    _auth(_pw(ADMIN_BY_NAME), "admin"),
    _auth(_pw(ADMIN_BY_NAME), None),
    _auth(_pw(ADMIN_BY_NAME), []),
    _auth(_pw(ADMIN_BY_NAME), {"project": None}),
    _auth(_pw(ADMIN_BY_NAME), {"project": {}}),
    _auth(_pw(ADMIN_BY_NAME), {"project": {"name": "admin"}}),  # a name needs its domain
    _auth(_pw(ADMIN_BY_NAME), {"project": {"id": BIG}}),
    _auth(_pw(ADMIN_BY_NAME), {"project": {"name": "p" * 65, "domain": {"id": "default"}}}),
    _auth(_pw(ADMIN_BY_NAME), {"domain": {}}),
    _auth(_pw(ADMIN_BY_NAME), {"domain": {"id": ["default"]}}),
    _auth(_pw(ADMIN_BY_NAME), {"system": {"all": "yes"}}),
]


def test_a_malformed_authentication_is_400(identity):
    before = _rows(identity.cloud)
    for body in MALFORMED_AUTH:
        resp = _send(identity, "POST", "/auth/tokens", body, {})
        assert resp.status_code == 400, (body, resp.text)
        _assert_400(resp)
    assert _rows(identity.cloud) == before


def test_every_way_to_authenticate_passes_the_schema(identity):
    ids = identity.ids
    admin_token = identity.admin["X-Auth-Token"]
    cred = identity.cloud.identity.application_credentials
    ctx = identity.cloud.identity.tokens.validate(admin_token)
    ac, secret, _roles = cred.create(ctx, ids["admin_user_id"], "for-auth")
    by_id = {"id": ids["admin_user_id"], "password": "adminpw"}
    project_by_name = {"project": {"name": "admin", "domain": {"name": "Default"}}}
    ok = [
        (_auth(_pw(by_id)), 201),
        (_auth(_pw(ADMIN_BY_NAME)), 201),
        (_auth(_pw({**ADMIN_BY_NAME, "domain": {"id": "default"}}), "unscoped"), 201),
        (_auth(_pw(by_id), {"project": {"id": ids["admin_project_id"]}}), 201),
        (_auth(_pw(by_id), project_by_name), 201),
        (_auth(_pw(by_id), {"domain": {"id": "default"}}), 401),  # no role on the domain
        (_auth(_pw(by_id), {"domain": {"name": "Default"}}), 401),
        (_auth({"methods": ["token"], "token": {"id": admin_token}}, project_by_name), 201),
        (
            _auth(
                {
                    "methods": ["application_credential"],
                    "application_credential": {"id": ac.id, "secret": secret},
                }
            ),
            201,
        ),
        (
            _auth(
                {
                    "methods": ["application_credential"],
                    "application_credential": {
                        "name": "for-auth",
                        "secret": secret,
                        "user": {"name": "admin", "domain": {"id": "default"}},
                    },
                }
            ),
            201,
        ),
        (_auth(_pw({**by_id, "password": "wrong"})), 401),
    ]
    for body, status in ok:
        resp = _send(identity, "POST", "/auth/tokens", body, {})
        assert resp.status_code == status, (body, resp.text)


# -- unique names on update: 409, not an IntegrityError ------------------------------------------
def test_renaming_a_group_to_a_taken_name_is_409(identity):
    before = _rows(identity.cloud)
    resp = _send(
        identity, "PATCH", "/groups/{other_group_id}", {"group": {"name": "staff"}}, identity.admin
    )
    assert resp.status_code == 409, resp.text
    err = resp.json()["error"]
    assert err["code"] == 409 and err["title"] == "Conflict"
    assert err["message"] == (
        "Conflict occurred attempting to store group - Duplicate entry found with name staff."
    )
    assert _rows(identity.cloud) == before
    # its own name, or a name free in its domain, is fine
    for name in ("ops", "ops-2"):
        resp = _send(
            identity, "PATCH", "/groups/{other_group_id}", {"group": {"name": name}}, identity.admin
        )
        assert resp.status_code == 200 and resp.json()["group"]["name"] == name


def test_renaming_a_domain_project_user_or_role_to_a_taken_name_is_409(identity):
    before = _rows(identity.cloud)
    for path, key, taken in (
        ("/domains/{domain_id}", "domain", "Default"),
        ("/projects/{demo_project_id}", "project", "admin"),
        ("/users/{demo_user_id}", "user", "admin"),
        ("/roles/{role_id}", "role", "member"),
    ):
        resp = _send(identity, "PATCH", path, {key: {"name": taken}}, identity.admin)
        assert resp.status_code == 409, (path, resp.text)
        assert resp.json()["error"]["title"] == "Conflict"
    assert _rows(identity.cloud) == before


def test_a_domain_with_a_taken_explicit_id_is_409(identity):
    body = {"domain": {"name": "again", "explicit_domain_id": identity.ids["domain_id"]}}
    resp = _send(identity, "POST", "/domains", body, identity.admin)
    assert resp.status_code == 409, resp.text


def test_a_region_parent_must_exist_and_not_loop(identity):
    path = "/regions/{region_id}"
    resp = _send(
        identity, "PATCH", path, {"region": {"parent_region_id": "nowhere"}}, identity.admin
    )
    assert resp.status_code == 404, resp.text
    resp = _send(
        identity, "PATCH", path, {"region": {"parent_region_id": "RegionTwo"}}, identity.admin
    )
    assert resp.status_code == 400, resp.text
    child = {"region": {"id": "RegionTwoA", "parent_region_id": "RegionTwo"}}
    assert _send(identity, "POST", "/regions", child, identity.admin).status_code == 201
    resp = _send(
        identity, "PATCH", path, {"region": {"parent_region_id": "RegionTwoA"}}, identity.admin
    )
    assert "Circular reference" in _assert_400(resp)


def test_every_identity_route_with_a_body_declares_a_schema():
    missing = [
        f"{spec.method} {spec.path}"
        for spec in API.specs
        if spec.method in ("POST", "PUT", "PATCH") and spec.schema is None
    ]
    assert missing == []
