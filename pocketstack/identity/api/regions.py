"""Regions (Identity API v3 "Regions")."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse, route
from pocketstack.identity.api import schemas, views
from pocketstack.identity.api.parsing import changes, field, query

_REGION_FIELDS = {"description": str, "parent_region_id": str}


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


ROUTES = [
    route("GET", "/v3/regions", list_regions),
    route("POST", "/v3/regions", create_region, schema=schemas.REGION_CREATE),
    route("GET", "/v3/regions/{region_id}", get_region),
    route("PATCH", "/v3/regions/{region_id}", update_region, schema=schemas.REGION_UPDATE),
    route("DELETE", "/v3/regions/{region_id}", delete_region),
]
