"""Users, groups, membership, password change and application credentials (Identity API
v3 "Users", "Groups", "Application Credentials")."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse, route
from pocketstack.identity.api import schemas, views
from pocketstack.identity.api.parsing import changes, field, query, query_bool
from pocketstack.identity.exceptions import ValidationError

_USER_FIELDS = {
    "name": str,
    "enabled": bool,
    "password": str,
    "default_project_id": str,
    "description": str,
    "email": str,
}
_GROUP_FIELDS = {"name": str, "description": str}


def _owner(req: ApiRequest) -> dict[str, str]:
    """The policy target of a ``/v3/users/{user_id}/...`` call: the user in the path."""
    return {"user_id": req.params["user_id"]}


def list_users(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/users?domain_id=&name=&enabled="""
    policy.enforce(req.ctx, "identity:list_users")
    rows = req.cloud.identity.users.list(
        req.ctx, query(req, "domain_id"), query(req, "name"), query_bool(req, "enabled")
    )
    return views.collection(req, "users", [views.user(req, u) for u in rows])


def get_user(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/users/{user_id} (self or admin)"""
    policy.enforce(req.ctx, "identity:get_user", _owner(req))
    return {"user": views.user(req, req.cloud.identity.users.get(req.ctx, req.params["user_id"]))}


def create_user(req: ApiRequest) -> ApiResponse:
    """POST /v3/users (201)"""
    policy.enforce(req.ctx, "identity:create_user")
    b = req.require_body("user")
    u = req.cloud.identity.users.create(
        req.ctx,
        field(b, "name", required=True),
        field(b, "domain_id", default="default"),
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
    policy.enforce(req.ctx, "identity:update_user")
    u = req.cloud.identity.users.update(
        req.ctx, req.params["user_id"], changes(req.require_body("user"), _USER_FIELDS)
    )
    return {"user": views.user(req, u)}


def delete_user(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/users/{user_id} (204)"""
    policy.enforce(req.ctx, "identity:delete_user")
    req.cloud.identity.users.delete(req.ctx, req.params["user_id"])
    return ApiResponse(204)


def change_password(req: ApiRequest) -> ApiResponse:
    """POST /v3/users/{user_id}/password (204; the user itself, with original_password)"""
    policy.enforce(req.ctx, "identity:change_password", _owner(req))
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
    policy.enforce(req.ctx, "identity:list_groups_for_user", _owner(req))
    rows = req.cloud.identity.users.list_groups(req.ctx, req.params["user_id"])
    return views.collection(
        req, "groups", [views.group(req, g) for g in rows], f"users/{req.params['user_id']}/groups"
    )


def list_groups(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/groups?domain_id=&name="""
    policy.enforce(req.ctx, "identity:list_groups")
    rows = req.cloud.identity.groups.list(req.ctx, query(req, "domain_id"), query(req, "name"))
    return views.collection(req, "groups", [views.group(req, g) for g in rows])


def get_group(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/groups/{group_id}"""
    policy.enforce(req.ctx, "identity:get_group")
    return {
        "group": views.group(req, req.cloud.identity.groups.get(req.ctx, req.params["group_id"]))
    }


def create_group(req: ApiRequest) -> ApiResponse:
    """POST /v3/groups (201)"""
    policy.enforce(req.ctx, "identity:create_group")
    b = req.require_body("group")
    g = req.cloud.identity.groups.create(
        req.ctx,
        field(b, "name", required=True),
        field(b, "domain_id", default="default"),
        field(b, "description", default=""),
    )
    return ApiResponse(201, {"group": views.group(req, g)})


def update_group(req: ApiRequest) -> dict[str, Any]:
    """PATCH /v3/groups/{group_id}"""
    policy.enforce(req.ctx, "identity:update_group")
    g = req.cloud.identity.groups.update(
        req.ctx, req.params["group_id"], changes(req.require_body("group"), _GROUP_FIELDS)
    )
    return {"group": views.group(req, g)}


def delete_group(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/groups/{group_id} (204)"""
    policy.enforce(req.ctx, "identity:delete_group")
    req.cloud.identity.groups.delete(req.ctx, req.params["group_id"])
    return ApiResponse(204)


def list_members(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/groups/{group_id}/users"""
    policy.enforce(req.ctx, "identity:list_users_in_group")
    rows = req.cloud.identity.groups.list_members(req.ctx, req.params["group_id"])
    return views.collection(
        req, "users", [views.user(req, u) for u in rows], f"groups/{req.params['group_id']}/users"
    )


def add_member(req: ApiRequest) -> ApiResponse:
    """PUT /v3/groups/{group_id}/users/{user_id} (204)"""
    policy.enforce(req.ctx, "identity:add_user_to_group")
    req.cloud.identity.groups.add_member(req.ctx, req.params["group_id"], req.params["user_id"])
    return ApiResponse(204)


def check_member(req: ApiRequest) -> ApiResponse:
    """HEAD /v3/groups/{group_id}/users/{user_id} (204 or 404)"""
    policy.enforce(req.ctx, "identity:check_user_in_group")
    req.cloud.identity.groups.check_member(req.ctx, req.params["group_id"], req.params["user_id"])
    return ApiResponse(204)


def remove_member(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/groups/{group_id}/users/{user_id} (204)"""
    policy.enforce(req.ctx, "identity:remove_user_from_group")
    req.cloud.identity.groups.remove_member(req.ctx, req.params["group_id"], req.params["user_id"])
    return ApiResponse(204)


def _expiry(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"Invalid expires_at {value!r}: expected ISO 8601.") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def create_application_credential(req: ApiRequest) -> ApiResponse:
    """POST /v3/users/{user_id}/application_credentials (201; ``secret`` shown once)"""
    policy.enforce(req.ctx, "identity:create_application_credential", _owner(req))
    b = req.require_body("application_credential")
    cred, secret, roles = req.cloud.identity.application_credentials.create(
        req.ctx,
        req.params["user_id"],
        field(b, "name", required=True),
        field(b, "secret"),
        field(b, "description"),
        b.get("roles"),
        _expiry(b.get("expires_at")),
        field(b, "unrestricted", bool, default=False),
    )
    return ApiResponse(
        201, {"application_credential": views.application_credential(req, cred, roles, secret)}
    )


def list_application_credentials(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/users/{user_id}/application_credentials?name="""
    policy.enforce(req.ctx, "identity:list_application_credentials", _owner(req))
    rows = req.cloud.identity.application_credentials.list(
        req.ctx, req.params["user_id"], query(req, "name")
    )
    return views.collection(
        req,
        "application_credentials",
        [views.application_credential(req, c, r) for c, r in rows],
        f"users/{req.params['user_id']}/application_credentials",
    )


def get_application_credential(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/users/{user_id}/application_credentials/{cred_id}"""
    policy.enforce(req.ctx, "identity:get_application_credential", _owner(req))
    cred, roles = req.cloud.identity.application_credentials.get(
        req.ctx, req.params["user_id"], req.params["cred_id"]
    )
    return {"application_credential": views.application_credential(req, cred, roles)}


def delete_application_credential(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/users/{user_id}/application_credentials/{cred_id} (204; revokes tokens)"""
    policy.enforce(req.ctx, "identity:delete_application_credential", _owner(req))
    req.cloud.identity.application_credentials.delete(
        req.ctx, req.params["user_id"], req.params["cred_id"]
    )
    return ApiResponse(204)


_U = "/v3/users/{user_id}"
_G = "/v3/groups/{group_id}"
_AC = _U + "/application_credentials"
ROUTES = [
    route("GET", "/v3/users", list_users),
    route("POST", "/v3/users", create_user, schema=schemas.USER_CREATE),
    route("GET", _U, get_user),
    route("PATCH", _U, update_user, schema=schemas.USER_UPDATE),
    route("DELETE", _U, delete_user),
    route("POST", _U + "/password", change_password, schema=schemas.PASSWORD_CHANGE),
    route("GET", _U + "/groups", list_user_groups),
    route("GET", "/v3/groups", list_groups),
    route("POST", "/v3/groups", create_group, schema=schemas.GROUP_CREATE),
    route("GET", _G, get_group),
    route("PATCH", _G, update_group, schema=schemas.GROUP_UPDATE),
    route("DELETE", _G, delete_group),
    route("GET", _G + "/users", list_members),
    route("PUT", _G + "/users/{user_id}", add_member, schema=schemas.NO_BODY),
    route("HEAD", _G + "/users/{user_id}", check_member),
    route("DELETE", _G + "/users/{user_id}", remove_member),
    route("GET", _AC, list_application_credentials),
    route("POST", _AC, create_application_credential, schema=schemas.APPLICATION_CREDENTIAL_CREATE),
    route("GET", _AC + "/{cred_id}", get_application_credential),
    route("DELETE", _AC + "/{cred_id}", delete_application_credential),
]
