"""Groups and their members (Identity API v3 "Groups")."""

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
    query,
)

_G = "/v3/groups/{group_id}"
_GROUP_FIELDS = {"name": str, "description": str}


def _group(req: ApiRequest) -> dict[str, str | None]:
    return in_domain(req, "group", req.params["group_id"])


def _group_and_user(req: ApiRequest) -> dict[str, str | None]:
    """The group's domain when the user is of the same domain (a domain persona manages
    memberships within its domain only), else None."""
    group = _group(req)["domain_id"]
    user = in_domain(req, "user", req.params["user_id"])["domain_id"]
    return {"domain_id": group if group == user else None}


def list_groups(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/groups?domain_id=&name="""
    domain_id = listing_domain(req)
    policy.enforce(req.ctx, "identity:list_groups", {"domain_id": domain_id})
    rows = req.cloud.identity.groups.list(req.ctx, domain_id, query(req, "name"))
    return views.collection(req, "groups", [views.group(req, g) for g in rows])


def get_group(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/groups/{group_id}"""
    policy.enforce(req.ctx, "identity:get_group", _group(req))
    return {
        "group": views.group(req, req.cloud.identity.groups.get(req.ctx, req.params["group_id"]))
    }


def create_group(req: ApiRequest) -> ApiResponse:
    """POST /v3/groups (201)"""
    b = req.require_body("group")
    domain_id = new_domain(req, b)
    policy.enforce(req.ctx, "identity:create_group", {"domain_id": domain_id})
    g = req.cloud.identity.groups.create(
        req.ctx,
        field(b, "name", required=True),
        domain_id,
        field(b, "description", default=""),
    )
    return ApiResponse(201, {"group": views.group(req, g)})


def update_group(req: ApiRequest) -> dict[str, Any]:
    """PATCH /v3/groups/{group_id}"""
    policy.enforce(req.ctx, "identity:update_group", _group(req))
    g = req.cloud.identity.groups.update(
        req.ctx, req.params["group_id"], changes(req.require_body("group"), _GROUP_FIELDS)
    )
    return {"group": views.group(req, g)}


def delete_group(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/groups/{group_id} (204)"""
    policy.enforce(req.ctx, "identity:delete_group", _group(req))
    req.cloud.identity.groups.delete(req.ctx, req.params["group_id"])
    return ApiResponse(204)


def list_members(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/groups/{group_id}/users"""
    policy.enforce(req.ctx, "identity:list_users_in_group", _group(req))
    rows = req.cloud.identity.groups.list_members(req.ctx, req.params["group_id"])
    return views.collection(
        req, "users", [views.user(req, u) for u in rows], f"groups/{req.params['group_id']}/users"
    )


def add_member(req: ApiRequest) -> ApiResponse:
    """PUT /v3/groups/{group_id}/users/{user_id} (204)"""
    policy.enforce(req.ctx, "identity:add_user_to_group", _group_and_user(req))
    req.cloud.identity.groups.add_member(req.ctx, req.params["group_id"], req.params["user_id"])
    return ApiResponse(204)


def check_member(req: ApiRequest) -> ApiResponse:
    """HEAD /v3/groups/{group_id}/users/{user_id} (204 or 404)"""
    policy.enforce(req.ctx, "identity:check_user_in_group", _group_and_user(req))
    req.cloud.identity.groups.check_member(req.ctx, req.params["group_id"], req.params["user_id"])
    return ApiResponse(204)


def remove_member(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/groups/{group_id}/users/{user_id} (204)"""
    policy.enforce(req.ctx, "identity:remove_user_from_group", _group_and_user(req))
    req.cloud.identity.groups.remove_member(req.ctx, req.params["group_id"], req.params["user_id"])
    return ApiResponse(204)


ROUTES = [
    route("GET", "/v3/groups", list_groups),
    route("POST", "/v3/groups", create_group, schema=schemas.GROUP_CREATE),
    route("GET", _G, get_group),
    route("PATCH", _G, update_group, schema=schemas.GROUP_UPDATE),
    route("DELETE", _G, delete_group),
    route("GET", _G + "/users", list_members),
    route("PUT", _G + "/users/{user_id}", add_member, schema=schemas.NO_BODY),
    route("HEAD", _G + "/users/{user_id}", check_member),
    route("DELETE", _G + "/users/{user_id}", remove_member),
]
