"""Users, their password and their groups (Identity API v3 "Users")."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse, route
from pocketstack.identity.api import schemas, views
from pocketstack.identity.api.parsing import (
    changes,
    field,
    in_domain,
    listing_domain,
    new_domain,
    owner,
    query,
    query_bool,
)

_U = "/v3/users/{user_id}"
_USER_FIELDS = {
    "name": str,
    "enabled": bool,
    "password": str,
    "default_project_id": str,
    "description": str,
    "email": str,
}


def list_users(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/users?domain_id=&name=&enabled="""
    domain_id = listing_domain(req)
    policy.enforce(req.ctx, "identity:list_users", {"domain_id": domain_id})
    rows = req.cloud.identity.users.list(
        req.ctx, domain_id, query(req, "name"), query_bool(req, "enabled")
    )
    return views.collection(req, "users", [views.user(req, u) for u in rows])


def get_user(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/users/{user_id} (self or admin)"""
    user_id = req.params["user_id"]
    policy.enforce(req.ctx, "identity:get_user", {**owner(req), **in_domain(req, "user", user_id)})
    return {"user": views.user(req, req.cloud.identity.users.get(req.ctx, req.params["user_id"]))}


def create_user(req: ApiRequest) -> ApiResponse:
    """POST /v3/users (201)"""
    b = req.require_body("user")
    domain_id = new_domain(req, b)
    policy.enforce(req.ctx, "identity:create_user", {"domain_id": domain_id})
    u = req.cloud.identity.users.create(
        req.ctx,
        field(b, "name", required=True),
        domain_id,
        field(b, "password"),
        field(b, "enabled", bool, default=True),
        field(b, "default_project_id"),
        field(b, "description"),
        field(b, "email"),
    )
    return ApiResponse(201, {"user": views.user(req, u)})


def update_user(req: ApiRequest) -> dict[str, Any]:
    """PATCH /v3/users/{user_id} (admin only, even on oneself: a user changes its password
    with POST .../password, which asks for the current one)"""
    target = in_domain(req, "user", req.params["user_id"])
    policy.enforce(req.ctx, "identity:update_user", target)
    u = req.cloud.identity.users.update(
        req.ctx, req.params["user_id"], changes(req.require_body("user"), _USER_FIELDS)
    )
    return {"user": views.user(req, u)}


def delete_user(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/users/{user_id} (204)"""
    target = in_domain(req, "user", req.params["user_id"])
    policy.enforce(req.ctx, "identity:delete_user", target)
    req.cloud.identity.users.delete(req.ctx, req.params["user_id"])
    return ApiResponse(204)


def change_password(req: ApiRequest) -> ApiResponse:
    """POST /v3/users/{user_id}/password (204; the user itself, with original_password)"""
    policy.enforce(req.ctx, "identity:change_password", owner(req))
    b = req.require_body("user")
    req.cloud.identity.users.change_password(
        req.ctx,
        req.params["user_id"],
        field(b, "original_password", required=True),
        field(b, "password", required=True),
        req.client_addr,
    )
    return ApiResponse(204)


def list_user_groups(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/users/{user_id}/groups"""
    policy.enforce(req.ctx, "identity:list_groups_for_user", owner(req))
    rows = req.cloud.identity.users.list_groups(req.ctx, req.params["user_id"])
    return views.collection(
        req, "groups", [views.group(req, g) for g in rows], f"users/{req.params['user_id']}/groups"
    )


ROUTES = [
    route("GET", "/v3/users", list_users),
    route("POST", "/v3/users", create_user, schema=schemas.USER_CREATE),
    route("GET", _U, get_user),
    route("PATCH", _U, update_user, schema=schemas.USER_UPDATE),
    route("DELETE", _U, delete_user),
    route("POST", _U + "/password", change_password, schema=schemas.PASSWORD_CHANGE),
    route("GET", _U + "/groups", list_user_groups),
]
