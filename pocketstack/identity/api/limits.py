"""Unified limits (Identity API v3 "Unified Limits"): ``/v3/registered_limits``,
``/v3/limits`` and ``/v3/limits/model``, handlers of ``cloud.identity.registered_limits``
and ``cloud.identity.limits``. Creation takes a list (``{"registered_limits": [...]}``,
``{"limits": [...]}``) and answers the created list; updates take one object."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common import schema_types as t
from pocketstack.common.http import ApiRequest, ApiResponse, route
from pocketstack.identity.api import views
from pocketstack.identity.api.parsing import query
from pocketstack.identity.ext_models import Limit, RegisteredLimit
from pocketstack.identity.limits import MODEL

_LIMIT_VALUE = t.integer(-1, 2147483647)
_DESC = t.nullable(t.DESCRIPTION)
_REGION = t.nullable(t.string(255))
_REGISTERED = {
    "service_id": t.string(64, 1),
    "region_id": _REGION,
    "resource_name": t.string(255, 1),
    "default_limit": _LIMIT_VALUE,
    "description": _DESC,
}
REGISTERED_LIMITS_CREATE = t.obj(
    {
        "registered_limits": t.array(
            t.obj(_REGISTERED, ["service_id", "resource_name", "default_limit"])
        )
    },
    ["registered_limits"],
)
"""POST /v3/registered_limits ("Create registered limits")."""
REGISTERED_LIMIT_UPDATE = t.wrapped("registered_limit", t.obj(_REGISTERED, minProperties=1))
"""PATCH /v3/registered_limits/{registered_limit_id}."""
LIMITS_CREATE = t.obj(
    {
        "limits": t.array(
            t.obj(
                {
                    **{k: v for k, v in _REGISTERED.items() if k != "default_limit"},
                    "project_id": t.nullable(t.string(64, 1)),
                    "domain_id": t.nullable(t.string(64, 1)),
                    "resource_limit": _LIMIT_VALUE,
                },
                ["service_id", "resource_name", "resource_limit"],
            )
        )
    },
    ["limits"],
)
"""POST /v3/limits ("Create limits")."""
LIMIT_UPDATE = t.wrapped(
    "limit", t.obj({"resource_limit": _LIMIT_VALUE, "description": _DESC}, minProperties=1)
)
"""PATCH /v3/limits/{limit_id} (``resource_limit``, ``description``)."""

_FILTERS = ("service_id", "region_id", "resource_name")


def _registered(req: ApiRequest, r: RegisteredLimit) -> dict[str, Any]:
    return {
        "id": r.id,
        "service_id": r.service_id,
        "region_id": r.region_id,
        "resource_name": r.resource_name,
        "default_limit": r.default_limit,
        "description": r.description,
        "links": {"self": f"{req.base_url}/v3/registered_limits/{r.id}"},
    }


def _limit(req: ApiRequest, pair: tuple[Limit, RegisteredLimit]) -> dict[str, Any]:
    lim, reg = pair
    return {
        "id": lim.id,
        "project_id": lim.project_id,
        "domain_id": lim.domain_id,
        "service_id": reg.service_id,
        "region_id": reg.region_id,
        "resource_name": reg.resource_name,
        "resource_limit": lim.resource_limit,
        "description": lim.description,
        "links": {"self": f"{req.base_url}/v3/limits/{lim.id}"},
    }


def list_registered_limits(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/registered_limits?service_id=&region_id=&resource_name="""
    policy.enforce(req.ctx, "identity:list_registered_limits")
    rows = req.cloud.identity.registered_limits.list(
        req.ctx, **{k: query(req, k) for k in _FILTERS}
    )
    return views.collection(req, "registered_limits", [_registered(req, r) for r in rows])


def create_registered_limits(req: ApiRequest) -> ApiResponse:
    """POST /v3/registered_limits (201)"""
    policy.enforce(req.ctx, "identity:create_registered_limits")
    rows = req.cloud.identity.registered_limits.create(req.ctx, req.body["registered_limits"])
    return ApiResponse(201, {"registered_limits": [_registered(req, r) for r in rows]})


def get_registered_limit(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/registered_limits/{registered_limit_id}"""
    policy.enforce(req.ctx, "identity:get_registered_limit")
    r = req.cloud.identity.registered_limits.get(req.ctx, req.params["registered_limit_id"])
    return {"registered_limit": _registered(req, r)}


def update_registered_limit(req: ApiRequest) -> dict[str, Any]:
    """PATCH /v3/registered_limits/{registered_limit_id}"""
    policy.enforce(req.ctx, "identity:update_registered_limit")
    r = req.cloud.identity.registered_limits.update(
        req.ctx, req.params["registered_limit_id"], dict(req.require_body("registered_limit"))
    )
    return {"registered_limit": _registered(req, r)}


def delete_registered_limit(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/registered_limits/{registered_limit_id} (204)"""
    policy.enforce(req.ctx, "identity:delete_registered_limit")
    req.cloud.identity.registered_limits.delete(req.ctx, req.params["registered_limit_id"])
    return ApiResponse(204)


def _own_only(req: ApiRequest) -> bool:
    return not policy.allowed(req.ctx, "identity:list_all_limits")


def get_limit_model(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/limits/model"""
    policy.enforce(req.ctx, "identity:get_limit_model")
    return {"model": dict(MODEL)}


def list_limits(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/limits?service_id=&region_id=&resource_name=&project_id=&domain_id= (a
    caller that is neither admin nor system reader sees its project's only)"""
    policy.enforce(req.ctx, "identity:list_limits")
    filters = {k: query(req, k) for k in (*_FILTERS, "project_id", "domain_id")}
    rows = req.cloud.identity.limits.list(req.ctx, _own_only(req), **filters)
    return views.collection(req, "limits", [_limit(req, p) for p in rows])


def create_limits(req: ApiRequest) -> ApiResponse:
    """POST /v3/limits (201)"""
    policy.enforce(req.ctx, "identity:create_limits")
    rows = req.cloud.identity.limits.create(req.ctx, req.body["limits"])
    return ApiResponse(201, {"limits": [_limit(req, p) for p in rows]})


def get_limit(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/limits/{limit_id} (another project's limit is 404 to a non-admin)"""
    policy.enforce(req.ctx, "identity:get_limit")
    pair = req.cloud.identity.limits.get(req.ctx, req.params["limit_id"], _own_only(req))
    return {"limit": _limit(req, pair)}


def update_limit(req: ApiRequest) -> dict[str, Any]:
    """PATCH /v3/limits/{limit_id}"""
    policy.enforce(req.ctx, "identity:update_limit")
    pair = req.cloud.identity.limits.update(
        req.ctx, req.params["limit_id"], dict(req.require_body("limit"))
    )
    return {"limit": _limit(req, pair)}


def delete_limit(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/limits/{limit_id} (204)"""
    policy.enforce(req.ctx, "identity:delete_limit")
    req.cloud.identity.limits.delete(req.ctx, req.params["limit_id"])
    return ApiResponse(204)


_RL = "/v3/registered_limits/{registered_limit_id}"
ROUTES = [
    route("GET", "/v3/registered_limits", list_registered_limits),
    route(
        "POST", "/v3/registered_limits", create_registered_limits, schema=REGISTERED_LIMITS_CREATE
    ),
    route("GET", _RL, get_registered_limit),
    route("PATCH", _RL, update_registered_limit, schema=REGISTERED_LIMIT_UPDATE),
    route("DELETE", _RL, delete_registered_limit),
    route("GET", "/v3/limits/model", get_limit_model),
    route("GET", "/v3/limits", list_limits),
    route("POST", "/v3/limits", create_limits, schema=LIMITS_CREATE),
    route("GET", "/v3/limits/{limit_id}", get_limit),
    route("PATCH", "/v3/limits/{limit_id}", update_limit, schema=LIMIT_UPDATE),
    route("DELETE", "/v3/limits/{limit_id}", delete_limit),
]
