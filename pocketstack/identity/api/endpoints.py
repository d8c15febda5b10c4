"""Endpoints (Identity API v3 "Service catalog and endpoints")."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse, route
from pocketstack.identity.api import schemas, views
from pocketstack.identity.api.parsing import changes, field, query

_ENDPOINT_FIELDS = {
    "interface": str,
    "url": str,
    "region_id": str,
    "service_id": str,
    "enabled": bool,
}


def list_endpoints(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/endpoints?interface=&service_id=&region_id="""
    policy.enforce(req.ctx, "identity:list_endpoints")
    rows = req.cloud.identity.endpoints.list(
        req.ctx,
        query(req, "interface"),
        query(req, "service_id"),
        query(req, "region_id") or query(req, "region"),
    )
    return views.collection(req, "endpoints", [views.endpoint(req, e) for e in rows])


def get_endpoint(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/endpoints/{endpoint_id}"""
    policy.enforce(req.ctx, "identity:get_endpoint")
    return {
        "endpoint": views.endpoint(
            req, req.cloud.identity.endpoints.get(req.ctx, req.params["endpoint_id"])
        )
    }


def create_endpoint(req: ApiRequest) -> ApiResponse:
    """POST /v3/endpoints (201)"""
    policy.enforce(req.ctx, "identity:create_endpoint")
    b = req.require_body("endpoint")
    e = req.cloud.identity.endpoints.create(
        req.ctx,
        field(b, "service_id", required=True),
        field(b, "interface", required=True),
        field(b, "url", required=True),
        field(b, "region_id") or field(b, "region"),
        field(b, "enabled", bool, default=True),
    )
    return ApiResponse(201, {"endpoint": views.endpoint(req, e)})


def update_endpoint(req: ApiRequest) -> dict[str, Any]:
    """PATCH /v3/endpoints/{endpoint_id}"""
    policy.enforce(req.ctx, "identity:update_endpoint")
    e = req.cloud.identity.endpoints.update(
        req.ctx, req.params["endpoint_id"], changes(req.require_body("endpoint"), _ENDPOINT_FIELDS)
    )
    return {"endpoint": views.endpoint(req, e)}


def delete_endpoint(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/endpoints/{endpoint_id} (204)"""
    policy.enforce(req.ctx, "identity:delete_endpoint")
    req.cloud.identity.endpoints.delete(req.ctx, req.params["endpoint_id"])
    return ApiResponse(204)


ROUTES = [
    route("GET", "/v3/endpoints", list_endpoints),
    route("POST", "/v3/endpoints", create_endpoint, schema=schemas.ENDPOINT_CREATE),
    route("GET", "/v3/endpoints/{endpoint_id}", get_endpoint),
    route("PATCH", "/v3/endpoints/{endpoint_id}", update_endpoint, schema=schemas.ENDPOINT_UPDATE),
    route("DELETE", "/v3/endpoints/{endpoint_id}", delete_endpoint),
]
