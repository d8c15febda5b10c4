"""Authentication and token management (Identity API v3 "Authentication and token
management": /v3/auth/tokens, /v3/auth/catalog, /v3/auth/projects, /v3/auth/domains,
/v3/auth/system)."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse, route
from pocketstack.identity.api import schemas, views
from pocketstack.identity.api.parsing import signed_request
from pocketstack.identity.exceptions import ValidationError


def _subject(req: ApiRequest) -> str:
    token = req.headers.get("x-subject-token")
    if not token:
        raise ValidationError("X-Subject-Token header is required.")
    return token


def _nocatalog(req: ApiRequest) -> bool:
    return "nocatalog" in req.query


def issue_token(req: ApiRequest) -> ApiResponse:
    """POST /v3/auth/tokens (201, ``X-Subject-Token``)."""
    token, info, catalog = req.cloud.identity.auth.issue(
        req.require_body("auth"),
        with_catalog=not _nocatalog(req),
        source=req.client_addr,
        signed=signed_request(req, "/v3/auth/tokens"),
    )
    return ApiResponse(201, {"token": views.token(info, catalog)}, {"X-Subject-Token": token})


def validate_token(req: ApiRequest) -> ApiResponse:
    """GET/HEAD /v3/auth/tokens: the subject token (admin, or its own user; the manager
    enforces ``identity:validate_token`` once it knows the subject's user)."""
    subject = _subject(req)
    info, catalog = req.cloud.identity.auth.validate(
        req.ctx, subject, with_catalog=not _nocatalog(req)
    )
    return ApiResponse(200, {"token": views.token(info, catalog)}, {"X-Subject-Token": subject})


def revoke_token(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/auth/tokens (204; admin, or the subject token's own user: the manager
    enforces ``identity:revoke_token``)."""
    req.cloud.identity.auth.revoke(req.ctx, _subject(req))
    return ApiResponse(204)


def get_auth_catalog(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/auth/catalog: the catalog of the caller's token."""
    policy.enforce(req.ctx, "identity:get_auth_catalog")
    entries = req.cloud.identity.auth.get_catalog(req.ctx)
    return views.collection(
        req, "catalog", views.catalog(entries, req.ctx.project_id), "auth/catalog"
    )


def list_auth_projects(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/auth/projects: projects the caller may scope to."""
    policy.enforce(req.ctx, "identity:get_auth_projects")
    projects = req.cloud.identity.auth.list_projects(req.ctx)
    return views.collection(
        req, "projects", [views.project(req, p) for p in projects], "auth/projects"
    )


def list_auth_domains(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/auth/domains: domains the caller may scope to."""
    policy.enforce(req.ctx, "identity:get_auth_domains")
    domains = req.cloud.identity.auth.list_domains(req.ctx)
    return views.collection(req, "domains", [views.domain(req, d) for d in domains], "auth/domains")


def list_auth_system(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/auth/system: ``{"system": [{"all": true}]}`` when the caller holds a role on
    the system, ``[]`` otherwise (Keystone's "Get available system scopes")."""
    policy.enforce(req.ctx, "identity:get_auth_system")
    scopes = [{"all": True}] if req.cloud.identity.auth.has_system_role(req.ctx) else []
    return views.collection(req, "system", scopes, "auth/system")


ROUTES = [
    route("POST", "/v3/auth/tokens", issue_token, auth=False, schema=schemas.AUTH),
    route("GET", "/v3/auth/tokens", validate_token),
    route("DELETE", "/v3/auth/tokens", revoke_token),
    route("GET", "/v3/auth/catalog", get_auth_catalog),
    route("GET", "/v3/auth/projects", list_auth_projects),
    route("GET", "/v3/auth/domains", list_auth_domains),
    route("GET", "/v3/auth/system", list_auth_system),
]
