"""The error middleware of pocketstack.common.http: each service registers its renderers
(exception class -> answer, the most specific class wins) and the HTTP layer knows none of
them, so a new service brings its own error bodies without editing common/http.py."""

from __future__ import annotations

import logging
import types
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.http import (
    UNEXPECTED_MESSAGE,
    ApiRequest,
    ApiResponse,
    ErrorRenderers,
    ServiceAPI,
    route,
)

# -- a service the HTTP layer has never heard of, with its own shape and its own errors ----


class VolumeIsBusy(errors.InUse):
    """A Cinder-like error with a body of its own: 400 with the busy volume's id."""

    def __init__(self, volume_id: str):
        super().__init__(f"Volume {volume_id} is busy.")
        self.volume_id = volume_id


class VolumeIsVeryBusy(VolumeIsBusy):
    """Not registered itself: answered by the renderer of its nearest registered ancestor."""


def _cinder_body(err: errors.PocketError) -> dict[str, Any]:
    return {"cinderFault": {"code": err.status, "message": err.message}}


def _busy(err: VolumeIsBusy) -> ApiResponse:
    return ApiResponse(400, {"volumeBusy": {"volume_id": err.volume_id}}, {"Retry-After": "5"})


RENDERERS = ErrorRenderers(_cinder_body, {VolumeIsBusy: _busy})

RAISES: dict[str, Exception] = {
    "missing": errors.NotFound("Volume v1 could not be found."),
    "conflict": errors.InUse("Volume v1 is attached."),
    "busy": VolumeIsBusy("v1"),
    "very-busy": VolumeIsVeryBusy("v2"),
    "bug": KeyError("password=hunter2"),
    "unauthorized": errors.Unauthorized(),
}


def _raise(req: ApiRequest) -> dict:
    raise RAISES[req.params["what"]]


class _Tokens:
    def validate(self, token: str) -> RequestContext:
        return RequestContext(user_id="u", project_id="p", roles=("member",))


@pytest.fixture
def client() -> TestClient:
    api = ServiceAPI("volume", "/volume", RENDERERS, [route("GET", "/{what}", _raise)])
    conf = types.SimpleNamespace(public_url="http://127.0.0.1:1", max_request_body_size=65536)
    state = types.SimpleNamespace(conf=conf, cloud=None, token_validator=_Tokens())
    return TestClient(Starlette(routes=[api.mount(state)]))


def _get(client: TestClient, what: str):
    return client.get(f"/volume/{what}", headers={"X-Auth-Token": "t"})


def test_a_new_service_renders_project_errors_in_its_own_shape(client):
    resp = _get(client, "missing")
    assert resp.status_code == 404
    assert resp.json() == {"cinderFault": {"code": 404, "message": "Volume v1 could not be found."}}
    assert resp.headers["X-Openstack-Request-Id"].startswith("req-")
    assert _get(client, "conflict").json()["cinderFault"]["code"] == 409


def test_its_own_exception_subclass_gets_its_own_answer_and_subclasses_inherit_it(client):
    resp = _get(client, "busy")
    assert (resp.status_code, resp.json()) == (400, {"volumeBusy": {"volume_id": "v1"}})
    assert resp.headers["Retry-After"] == "5"
    very = _get(client, "very-busy")
    assert (very.status_code, very.json()) == (400, {"volumeBusy": {"volume_id": "v2"}})


def test_a_bug_is_a_generic_500_in_the_service_shape_and_its_traceback_is_logged_once(
    client, caplog
):
    with caplog.at_level(logging.WARNING, logger="pocketstack.common.http"):
        resp = _get(client, "bug")
    assert resp.status_code == 500
    assert resp.json() == {"cinderFault": {"code": 500, "message": UNEXPECTED_MESSAGE}}
    assert "hunter2" not in resp.text
    logged = [r for r in caplog.records if r.exc_info]
    assert len(logged) == 1 and "GET /volume/bug" in logged[0].getMessage()
    assert len(caplog.records) == 1


def test_401_says_where_to_authenticate(client):
    resp = _get(client, "unauthorized")
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == 'Keystone uri="http://127.0.0.1:1/identity"'


# -- the registry itself ------------------------------------------------------------------


def test_the_most_specific_registered_class_wins():
    renderers = ErrorRenderers(lambda err: {"shape": err.status})
    assert renderers.render(VolumeIsBusy("v")).body == {"shape": 409}
    renderers.register(errors.Conflict, lambda err: ApiResponse(409, {"conflict": True}))
    assert renderers.render(VolumeIsBusy("v")).body == {"conflict": True}
    assert renderers.render(errors.NotFound()).body == {"shape": 404}
    renderers.register(VolumeIsBusy, lambda err: ApiResponse(400, {"busy": err.volume_id}))
    assert renderers.render(VolumeIsVeryBusy("v")).body == {"busy": "v"}
    assert renderers.render(errors.InUse()).body == {"conflict": True}


def test_only_what_no_renderer_but_the_last_resort_knows_is_a_bug():
    renderers = ErrorRenderers(lambda err: {}, {LookupError: lambda exc: ApiResponse(404)})
    assert renderers.is_unexpected(RuntimeError("boom"))
    assert not renderers.is_unexpected(errors.BadRequest())
    assert not renderers.is_unexpected(KeyError("k"))  # a LookupError, registered
    answer = renderers.render(RuntimeError("secret"))
    assert answer.status == 500 and answer.headers == {}


def test_every_service_api_brings_its_own_renderers():
    from pocketstack.service import SERVICES, _service_api

    shapes = {}
    for _attr, _manager, api_path in SERVICES:
        api = _service_api(api_path)
        assert isinstance(api.error_renderers, ErrorRenderers)
        shapes[api.name] = api.error_renderers.render(errors.NotFound("gone")).body
    assert shapes == {
        "identity": {"error": {"code": 404, "title": "Not Found", "message": "gone"}},
        "image": {"code": 404, "title": "Not Found", "message": "gone"},
        "network": {"NeutronError": {"type": "NotFound", "message": "gone", "detail": ""}},
        "compute": {"itemNotFound": {"code": 404, "message": "gone"}},
        "volume": {"itemNotFound": {"code": 404, "message": "gone"}},
        "object-store": "<html><h1>Not Found</h1><p>gone</p></html>",
        "placement": {
            "errors": [
                {
                    "status": 404,
                    "title": "Not Found",
                    "detail": "gone",
                    "code": "placement.undefined_code",
                    "request_id": None,
                }
            ]
        },
    }
