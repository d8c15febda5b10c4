"""Catalog services (Identity API v3 "Service catalog and endpoints")."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse, route
from pocketstack.identity.api import schemas, views
from pocketstack.identity.api.parsing import changes, field, query

_SERVICE_FIELDS = {"type": str, "name": str, "description": str, "enabled": bool}


def list_services(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/services?type=&name="""
    policy.enforce(req.ctx, "identity:list_services")
    rows = req.cloud.identity.services.list(req.ctx, query(req, "type"), query(req, "name"))
    return views.collection(req, "services", [views.service(req, s) for s in rows])


def get_service(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/services/{service_id}"""
    policy.enforce(req.ctx, "identity:get_service")
    return {
        "service": views.service(
            req, req.cloud.identity.services.get(req.ctx, req.params["service_id"])
        )
    }


def create_service(req: ApiRequest) -> ApiResponse:
    """POST /v3/services (201)"""
    policy.enforce(req.ctx, "identity:create_service")
    b = req.require_body("service")
    s = req.cloud.identity.services.create(
        req.ctx,
        field(b, "type", required=True),
        field(b, "name"),
        field(b, "description"),
        field(b, "enabled", bool, default=True),
    )
    return ApiResponse(201, {"service": views.service(req, s)})


def update_service(req: ApiRequest) -> dict[str, Any]:
    """PATCH /v3/services/{service_id}"""
    policy.enforce(req.ctx, "identity:update_service")
    s = req.cloud.identity.services.update(
        req.ctx, req.params["service_id"], changes(req.require_body("service"), _SERVICE_FIELDS)
    )
    return {"service": views.service(req, s)}


def delete_service(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/services/{service_id} (204)"""
    policy.enforce(req.ctx, "identity:delete_service")
    req.cloud.identity.services.delete(req.ctx, req.params["service_id"])
    return ApiResponse(204)


ROUTES = [
    route("GET", "/v3/services", list_services),
    route("POST", "/v3/services", create_service, schema=schemas.SERVICE_CREATE),
    route("GET", "/v3/services/{service_id}", get_service),
    route("PATCH", "/v3/services/{service_id}", update_service, schema=schemas.SERVICE_UPDATE),
    route("DELETE", "/v3/services/{service_id}", delete_service),
]
