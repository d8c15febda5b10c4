"""Domains (Identity API v3 "Domains")."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse, route
from pocketstack.identity.api import schemas, views
from pocketstack.identity.api.parsing import changes, field, query, query_bool

_DOMAIN_FIELDS = {"name": str, "description": str, "enabled": bool}


def list_domains(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/domains?name=&enabled="""
    policy.enforce(req.ctx, "identity:list_domains")
    rows = req.cloud.identity.domains.list(req.ctx, query(req, "name"), query_bool(req, "enabled"))
    return views.collection(req, "domains", [views.domain(req, d) for d in rows])


def get_domain(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/domains/{domain_id}"""
    policy.enforce(req.ctx, "identity:get_domain", {"domain_id": req.params["domain_id"]})
    d = req.cloud.identity.domains.get(req.ctx, req.params["domain_id"])
    return {"domain": views.domain(req, d)}


def create_domain(req: ApiRequest) -> ApiResponse:
    """POST /v3/domains (201)"""
    policy.enforce(req.ctx, "identity:create_domain")
    body = req.require_body("domain")
    d = req.cloud.identity.domains.create(
        req.ctx,
        field(body, "name", required=True),
        field(body, "description", default=""),
        field(body, "enabled", bool, default=True),
        field(body, "explicit_domain_id"),
    )
    return ApiResponse(201, {"domain": views.domain(req, d)})


def update_domain(req: ApiRequest) -> dict[str, Any]:
    """PATCH /v3/domains/{domain_id}"""
    policy.enforce(req.ctx, "identity:update_domain")
    d = req.cloud.identity.domains.update(
        req.ctx, req.params["domain_id"], changes(req.require_body("domain"), _DOMAIN_FIELDS)
    )
    return {"domain": views.domain(req, d)}


def delete_domain(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/domains/{domain_id} (204; 403 while enabled)"""
    policy.enforce(req.ctx, "identity:delete_domain")
    req.cloud.identity.domains.delete(req.ctx, req.params["domain_id"])
    return ApiResponse(204)


ROUTES = [
    route("GET", "/v3/domains", list_domains),
    route("POST", "/v3/domains", create_domain, schema=schemas.DOMAIN_CREATE),
    route("GET", "/v3/domains/{domain_id}", get_domain),
    route("PATCH", "/v3/domains/{domain_id}", update_domain, schema=schemas.DOMAIN_UPDATE),
    route("DELETE", "/v3/domains/{domain_id}", delete_domain),
]
