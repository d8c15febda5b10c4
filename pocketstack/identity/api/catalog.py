"""Regions, services and endpoints (Identity API v3 "Regions", "Service catalog and
endpoints")."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse, route
from pocketstack.identity.api import schemas, views
from pocketstack.identity.api.parsing import changes, field, query

_REGION_FIELDS = {"description": str, "parent_region_id": str}
_SERVICE_FIELDS = {"type": str, "name": str, "description": str, "enabled": bool}
_ENDPOINT_FIELDS = {
    "interface": str,
    "url": str,
    "region_id": str,
    "service_id": str,
    "enabled": bool,
}


def list_regions(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/regions?parent_region_id="""
    policy.enforce(req.ctx, "identity:list_regions")
    rows = req.cloud.identity.regions.list(req.ctx, query(req, "parent_region_id"))
    return views.collection(req, "regions", [views.region(req, r) for r in rows])


def get_region(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/regions/{region_id}"""
    policy.enforce(req.ctx, "identity:get_region")
    return {
        "region": views.region(
            req, req.cloud.identity.regions.get(req.ctx, req.params["region_id"])
        )
    }


def create_region(req: ApiRequest) -> ApiResponse:
    """POST /v3/regions (201)"""
    policy.enforce(req.ctx, "identity:create_region")
    b = req.require_body("region")
    r = req.cloud.identity.regions.create(
        req.ctx, field(b, "id"), field(b, "description", default=""), field(b, "parent_region_id")
    )
    return ApiResponse(201, {"region": views.region(req, r)})


def update_region(req: ApiRequest) -> dict[str, Any]:
    """PATCH /v3/regions/{region_id}"""
    policy.enforce(req.ctx, "identity:update_region")
    r = req.cloud.identity.regions.update(
        req.ctx, req.params["region_id"], changes(req.require_body("region"), _REGION_FIELDS)
    )
    return {"region": views.region(req, r)}


def delete_region(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/regions/{region_id} (204)"""
    policy.enforce(req.ctx, "identity:delete_region")
    req.cloud.identity.regions.delete(req.ctx, req.params["region_id"])
    return ApiResponse(204)


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
    route("GET", "/v3/regions", list_regions),
    route("POST", "/v3/regions", create_region, schema=schemas.REGION_CREATE),
    route("GET", "/v3/regions/{region_id}", get_region),
    route("PATCH", "/v3/regions/{region_id}", update_region, schema=schemas.REGION_UPDATE),
    route("DELETE", "/v3/regions/{region_id}", delete_region),
    route("GET", "/v3/services", list_services),
    route("POST", "/v3/services", create_service, schema=schemas.SERVICE_CREATE),
    route("GET", "/v3/services/{service_id}", get_service),
    route("PATCH", "/v3/services/{service_id}", update_service, schema=schemas.SERVICE_UPDATE),
    route("DELETE", "/v3/services/{service_id}", delete_service),
    route("GET", "/v3/endpoints", list_endpoints),
    route("POST", "/v3/endpoints", create_endpoint, schema=schemas.ENDPOINT_CREATE),
    route("GET", "/v3/endpoints/{endpoint_id}", get_endpoint),
    route("PATCH", "/v3/endpoints/{endpoint_id}", update_endpoint, schema=schemas.ENDPOINT_UPDATE),
    route("DELETE", "/v3/endpoints/{endpoint_id}", delete_endpoint),
]
