"""Trusts (Identity API v3 OS-TRUST "Trusts": create, list, show, delete, and the trust's
roles). Who may see or delete a trust depends on the trust, so the manager checks it
(``trusts.Trusts``); the rules here admit any authenticated caller, as Keystone's."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse, route
from pocketstack.identity.api import schemas, views
from pocketstack.identity.api.application_credentials import _expiry
from pocketstack.identity.api.parsing import field, query

_T = "/v3/OS-TRUST/trusts"


def create_trust(req: ApiRequest) -> ApiResponse:
    """POST /v3/OS-TRUST/trusts (201)"""
    policy.enforce(req.ctx, "identity:create_trust")
    b = req.require_body("trust")
    tr, roles = req.cloud.identity.trusts.create(
        req.ctx,
        field(b, "trustor_user_id", required=True),
        field(b, "trustee_user_id", required=True),
        field(b, "project_id"),
        bool(b["impersonation"]),
        b.get("roles"),
        _expiry(b.get("expires_at")),
        b.get("remaining_uses"),
    )
    return ApiResponse(201, {"trust": views.trust(req, tr, roles)})


def list_trusts(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/OS-TRUST/trusts?trustor_user_id=&trustee_user_id="""
    policy.enforce(req.ctx, "identity:list_trusts")
    rows = req.cloud.identity.trusts.list(
        req.ctx, query(req, "trustor_user_id"), query(req, "trustee_user_id")
    )
    return views.collection(
        req, "trusts", [views.trust(req, t, r) for t, r in rows], "OS-TRUST/trusts"
    )


def get_trust(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/OS-TRUST/trusts/{trust_id}"""
    policy.enforce(req.ctx, "identity:get_trust")
    tr, roles = req.cloud.identity.trusts.get(req.ctx, req.params["trust_id"])
    return {"trust": views.trust(req, tr, roles)}


def delete_trust(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/OS-TRUST/trusts/{trust_id} (204)"""
    policy.enforce(req.ctx, "identity:delete_trust")
    req.cloud.identity.trusts.delete(req.ctx, req.params["trust_id"])
    return ApiResponse(204)


def list_trust_roles(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/OS-TRUST/trusts/{trust_id}/roles"""
    policy.enforce(req.ctx, "identity:list_roles_for_trust")
    _tr, roles = req.cloud.identity.trusts.get(req.ctx, req.params["trust_id"])
    path = f"OS-TRUST/trusts/{req.params['trust_id']}/roles"
    return views.collection(req, "roles", [views.role(req, r) for r in roles], path)


def get_trust_role(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/OS-TRUST/trusts/{trust_id}/roles/{role_id}"""
    policy.enforce(req.ctx, "identity:get_role_for_trust")
    role = req.cloud.identity.trusts.get_role(
        req.ctx, req.params["trust_id"], req.params["role_id"]
    )
    return {"role": views.role(req, role)}


def check_trust_role(req: ApiRequest) -> ApiResponse:
    """HEAD /v3/OS-TRUST/trusts/{trust_id}/roles/{role_id} (200 or 404)"""
    get_trust_role(req)
    return ApiResponse(200)


ROUTES = [
    route("POST", _T, create_trust, schema=schemas.TRUST_CREATE),
    route("GET", _T, list_trusts),
    route("GET", _T + "/{trust_id}", get_trust),
    route("DELETE", _T + "/{trust_id}", delete_trust),
    route("GET", _T + "/{trust_id}/roles", list_trust_roles),
    route("GET", _T + "/{trust_id}/roles/{role_id}", get_trust_role),
    route("HEAD", _T + "/{trust_id}/roles/{role_id}", check_trust_role),
]
