"""Request bodies: safe parsing and schema validation (pocketstack.common.validation), and
how the HTTP layer answers bodies it refuses (pocketstack.common.http)."""

from __future__ import annotations

import types

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from pocketstack.common import errors
from pocketstack.common import schema_types as t
from pocketstack.common.auth import RequestContext
from pocketstack.common.http import ApiRequest, ServiceAPI, route
from pocketstack.common.validation import MAX_DEPTH, BodySchema, InvalidInput, load_json
from pocketstack.compute.api.errors import RENDERERS as COMPUTE
from pocketstack.identity.api.errors import RENDERERS as IDENTITY
from pocketstack.network.api.errors import RENDERERS as NETWORK

# -- load_json -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":' * 2000 + b"1" + b"}" * 2000,  # RecursionError inside json
        b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),  # parses, but too deep
        b'{"n": 9223372036854775808}',  # 2**63
        b'{"n": -9223372036854775809}',
        b'{"n": ' + b"9" * 5000 + b"}",  # past Python's digit limit
        b'{"n": 1e999}',
        b'{"n": -1e999}',
        b'{"n": NaN}',
        b'{"n": Infinity}',
        b'{"n": -Infinity}',
        b'{"s": "\\ud800"}',  # lone surrogate
        b'{"s": "a\\u0000b"}',  # NUL
        b'{"\\u0000": 1}',
        b'{"s": "\xff\xfe"}',  # not UTF-8
        b"{not json",
    ],
)
def test_load_json_refuses_what_would_crash_later(raw):
    with pytest.raises(InvalidInput):
        load_json(raw)


def test_load_json_keeps_ordinary_bodies():
    body = load_json(b'{"server": {"name": "vm", "n": 9223372036854775807, "f": 1.5, "x": null}}')
    assert body == {"server": {"name": "vm", "n": 2**63 - 1, "f": 1.5, "x": None}}
    nested = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert load_json(nested) is not None


# -- BodySchema ------------------------------------------------------------------------

USER = BodySchema(
    t.wrapped(
        "user",
        t.obj(
            {"name": t.name(64), "enabled": t.BOOLEAN, "n": t.integer(0, 10)},
            required=["name"],
        ),
    )
)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"user": {"name": None}}, "user.name"),
        ({"user": {"name": ["x"]}}, "not of type string"),
        ({"user": {"name": "x" * 100_000}}, "longer than 64"),
        ({"user": {"name": "ok", "enabled": {}}}, "not of type boolean"),
        ({"user": {"name": "ok", "n": 11}}, "maximum 10"),
        ({"user": {}}, "'name' is a required property"),
        ({"user": {"name": "ok", "bogus": 1}}, "additional properties"),
        ({}, "'user' is a required property"),
        ([], "not of type object"),
        (None, "body is required"),
    ],
)
def test_schema_mismatch_names_the_field(body, words):
    with pytest.raises(InvalidInput) as exc:
        USER.validate(body)
    assert words in exc.value.message
    assert len(exc.value.message) < 400  # a 100 KB value is never echoed whole


def test_schema_accepts_a_matching_body():
    USER.validate({"user": {"name": "alice", "enabled": True, "n": 3}})


def test_a_broken_schema_fails_when_declared():
    from jsonschema.exceptions import SchemaError

    with pytest.raises(SchemaError):
        BodySchema({"type": "no-such-type"})


# -- the HTTP layer --------------------------------------------------------------------

WRITES: list[object] = []


def _create(req: ApiRequest) -> dict:
    WRITES.append(req.body)
    return {"thing": req.body["thing"]}


_THING = t.wrapped("thing", t.obj({"name": t.name()}, required=["name"]))


class _Tokens:
    def validate(self, token: str) -> RequestContext:
        if token != "good":
            raise errors.Unauthorized()
        return RequestContext(user_id="u", project_id="p", roles=("member",))


def _client(style: str, **kw) -> TestClient:
    api = ServiceAPI("svc", "/svc", style, [route("POST", "/things", _create, schema=_THING)], **kw)
    conf = types.SimpleNamespace(public_url="http://127.0.0.1:1", max_request_body_size=65536)
    state = types.SimpleNamespace(conf=conf, cloud=None, token_validator=_Tokens())
    return TestClient(Starlette(routes=[api.mount(state)]))


def _post(client: TestClient, content: bytes, content_type: str | None = "application/json"):
    headers = {"X-Auth-Token": "good"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return client.post("/svc/things", content=content, headers=headers)


@pytest.mark.parametrize(
    ("style", "shape"),
    [
        (COMPUTE, lambda b: b["badRequest"]["code"] == 400),
        (IDENTITY, lambda b: b["error"]["code"] == 400),
        (NETWORK, lambda b: b["NeutronError"]["type"] == "HTTPBadRequest"),
    ],
)
def test_an_invalid_body_is_400_in_the_service_shape_and_reaches_no_handler(style, shape):
    WRITES.clear()
    client = _client(style)
    for raw in (
        b'{"thing": {"name": null}}',
        b'{"thing": {"name": "x", "extra": 1}}',
        b'{"a":' * 2000 + b"1" + b"}" * 2000,
        b'{"thing": {"name": 1e999}}',
    ):
        resp = _post(client, raw)
        assert resp.status_code == 400, resp.text
        assert shape(resp.json())
        assert "Traceback" not in resp.text
    assert WRITES == []
    assert _post(client, b'{"thing": {"name": "ok"}}').status_code == 200
    assert WRITES == [{"thing": {"name": "ok"}}]


def test_unauthenticated_deep_json_is_401_not_500():
    client = _client(COMPUTE)
    raw = b'{"a":' * 2000 + b"1" + b"}" * 2000
    resp = client.post("/svc/things", content=raw, headers={"Content-Type": "application/json"})
    assert resp.status_code == 401


def test_a_body_in_another_content_type_is_415_by_default():
    client = _client(COMPUTE)
    resp = _post(client, b"name=x", "application/x-www-form-urlencoded")
    assert resp.status_code == 415
    assert resp.json()["badMediaType"]["code"] == 415
    # No Content-Type at all: JSON is assumed, as the OpenStack services do.
    assert _post(client, b'{"thing": {"name": "ok"}}', None).status_code == 200


def test_a_service_may_answer_another_media_type_error():
    client = _client(IDENTITY, media_type_error=lambda _t: errors.BadRequest("want JSON"))
    resp = _post(client, b"<xml/>", "application/xml")
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == "want JSON"


def test_an_oversized_body_is_413():
    client = _client(COMPUTE)
    raw = b'{"thing": {"name": "' + b"x" * 70_000 + b'"}}'
    resp = _post(client, raw)
    assert resp.status_code == 413
    assert resp.json()["overLimit"]["code"] == 413


def test_paths_and_methods_outside_every_service_answer_json(cloud):
    from pocketstack.service import build_app

    with TestClient(build_app(cloud)) as client:
        for method, path, status in (
            ("GET", "/no/such/path", 404),
            ("POST", "/nowhere", 404),
            ("DELETE", "/", 405),
            ("GET", "/compute/v2.1/no-such-collection", 404),
        ):
            resp = client.request(method, path)
            assert resp.status_code == status, (method, path)
            assert resp.headers["content-type"].startswith("application/json"), (method, path)
            assert resp.json()
        assert client.get("/").json()["pocketstack"]["services"]


def test_a_mismatch_never_echoes_a_secret_nor_the_whole_value():
    schema = BodySchema(
        t.wrapped(
            "user",
            t.obj({"name": t.name(), "password": t.string(10), "roles": t.array(t.ID, 1)}),
        )
    )
    for body in (
        {"user": {"password": "hunter2-too-long"}},
        {"user": {"password": ["hunter2"]}},
        {"user": [{"password": "hunter2"}]},
        {"user": {"name": ["x"], "password": "hunter2"}},
    ):
        with pytest.raises(InvalidInput) as exc:
            schema.validate(body)
        assert "hunter2" not in exc.value.message
    with pytest.raises(InvalidInput) as exc:
        schema.validate({"user": {"roles": ["a", "b"]}})
    assert exc.value.message.endswith("must have at most 1 items")


@pytest.mark.parametrize("raw", [b"null", b"1", b'"text"', b"true"])
def test_a_body_that_is_not_an_object_or_list_is_400_even_where_none_is_needed(raw):
    """A literal ``null`` body is not "no body": a route that takes none still refuses it."""
    WRITES.clear()
    api = ServiceAPI(
        "svc",
        "/svc",
        COMPUTE,
        [route("POST", "/things", _create, schema={"anyOf": [{"type": "null"}, t.obj({})]})],
    )
    conf = types.SimpleNamespace(public_url="http://127.0.0.1:1", max_request_body_size=65536)
    state = types.SimpleNamespace(conf=conf, cloud=None, token_validator=_Tokens())
    client = TestClient(Starlette(routes=[api.mount(state)]))
    assert _post(client, raw).status_code == 400
    assert WRITES == []
