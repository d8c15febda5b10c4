"""Handlers of ``/v2.0/rbac-policies`` (Networking API v2.0 reference, "RBAC Policies").

Each parses, authorizes (Neutron's ``<op>_rbac_policy``), calls one function of
``cloud.network.rbac_policies`` and renders with ``views.rbac_policy``. 201 on create, 204
on delete, 200 otherwise. ``target_tenant`` (or its newer name ``target_project_id``) is a
project id or ``*``; the object type is ``network``.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest
from pocketstack.network import exceptions as exc
from pocketstack.network.api import listing, parse, views
from pocketstack.network.rbac import RbacPolicyCreate


def _target(body: dict[str, Any], required: bool) -> str | None:
    target = body.get("target_tenant", body.get("target_project_id"))
    if target is None and required:
        raise exc.InvalidInput("Invalid input for operation: target_tenant is required.")
    return None if target is None else str(target)


def list_rbac_policies(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/rbac-policies``: the caller's project's policies; filters, ``fields``,
    sorting, pagination (an admin sees every project's)."""
    query = listing.parse(req, admin_sees_all=True)
    policy.enforce(req.ctx, "get_rbac_policy")
    found = req.cloud.network.rbac_policies.list(req.ctx, query)
    return views.page(req, query, "rbac-policies", found, views.rbac_policy)


def get_rbac_policy(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/rbac-policies/{id}``; RbacPolicyNotFound (404)."""
    policy.enforce(req.ctx, "get_rbac_policy")
    row = req.cloud.network.rbac_policies.get(req.ctx, req.params["id"])
    return views.one(req, "rbac_policy", views.rbac_policy(row))


def create_rbac_policy(req: ApiRequest) -> dict[str, Any]:
    """``POST /v2.0/rbac-policies`` with ``{"rbac_policy": {"object_type", "object_id",
    "action", "target_tenant"}}``; 201."""
    body = req.require_body("rbac_policy")
    spec = RbacPolicyCreate(
        object_type=str(body["object_type"]),
        object_id=str(body["object_id"]),
        action=str(body["action"]),
        target_project=_target(body, True) or "",
        project_id=parse.project(body),
    )
    policy.enforce(req.ctx, "create_rbac_policy")
    row = req.cloud.network.rbac_policies.create(req.ctx, spec)
    return views.one(req, "rbac_policy", views.rbac_policy(row))


def update_rbac_policy(req: ApiRequest) -> dict[str, Any]:
    """``PUT /v2.0/rbac-policies/{id}`` with ``{"rbac_policy": {"target_tenant"}}``."""
    body = req.require_body("rbac_policy")
    target = _target(body, False)
    policy.enforce(req.ctx, "update_rbac_policy")
    rbac = req.cloud.network.rbac_policies
    row = rbac.get(req.ctx, req.params["id"]) if target is None else None
    if row is None:
        row = rbac.update(req.ctx, req.params["id"], str(target))
    return views.one(req, "rbac_policy", views.rbac_policy(row))


def delete_rbac_policy(req: ApiRequest) -> None:
    """``DELETE /v2.0/rbac-policies/{id}``; 204; RbacPolicyInUse (409)."""
    policy.enforce(req.ctx, "delete_rbac_policy")
    req.cloud.network.rbac_policies.delete(req.ctx, req.params["id"])
