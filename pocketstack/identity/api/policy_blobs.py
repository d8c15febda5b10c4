"""Policies (Identity API v3 "Policies"): ``/v3/policies``, handlers of
``cloud.identity.policies``. Bodies: ``{"policy": {"blob": str, "type": str, ...}}``
(extra attributes are kept and returned, as Keystone)."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common import schema_types as t
from pocketstack.common.http import ApiRequest, ApiResponse, route
from pocketstack.identity.api import views
from pocketstack.identity.api.parsing import query
from pocketstack.identity.ext_models import Policy

_FIELDS = {"blob": t.string(65535), "type": t.string(255, 1)}
POLICY_CREATE = t.wrapped("policy", t.obj(_FIELDS, ["blob", "type"], additional=True))
"""POST /v3/policies ("Create policy")."""
POLICY_UPDATE = t.wrapped("policy", t.obj(_FIELDS, additional=True, minProperties=1))
"""PATCH /v3/policies/{policy_id} ("Update policy")."""


def _view(req: ApiRequest, p: Policy) -> dict[str, Any]:
    return {
        **(p.extra or {}),
        "id": p.id,
        "type": p.type,
        "blob": p.blob,
        "links": {"self": f"{req.base_url}/v3/policies/{p.id}"},
    }


def list_policies(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/policies?type="""
    policy.enforce(req.ctx, "identity:list_policies")
    rows = req.cloud.identity.policies.list(req.ctx, query(req, "type"))
    return views.collection(req, "policies", [_view(req, p) for p in rows])


def get_policy(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/policies/{policy_id}"""
    policy.enforce(req.ctx, "identity:get_policy")
    return {"policy": _view(req, req.cloud.identity.policies.get(req.ctx, req.params["policy_id"]))}


def create_policy(req: ApiRequest) -> ApiResponse:
    """POST /v3/policies (201)"""
    policy.enforce(req.ctx, "identity:create_policy")
    b = dict(req.require_body("policy"))
    blob, type_ = b.pop("blob"), b.pop("type")
    b.pop("id", None)
    row = req.cloud.identity.policies.create(req.ctx, type_, blob, b)
    return ApiResponse(201, {"policy": _view(req, row)})


def update_policy(req: ApiRequest) -> dict[str, Any]:
    """PATCH /v3/policies/{policy_id}"""
    policy.enforce(req.ctx, "identity:update_policy")
    row = req.cloud.identity.policies.update(
        req.ctx, req.params["policy_id"], dict(req.require_body("policy"))
    )
    return {"policy": _view(req, row)}


def delete_policy(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/policies/{policy_id} (204)"""
    policy.enforce(req.ctx, "identity:delete_policy")
    req.cloud.identity.policies.delete(req.ctx, req.params["policy_id"])
    return ApiResponse(204)


ROUTES = [
    route("GET", "/v3/policies", list_policies),
    route("POST", "/v3/policies", create_policy, schema=POLICY_CREATE),
    route("GET", "/v3/policies/{policy_id}", get_policy),
    route("PATCH", "/v3/policies/{policy_id}", update_policy, schema=POLICY_UPDATE),
    route("DELETE", "/v3/policies/{policy_id}", delete_policy),
]
