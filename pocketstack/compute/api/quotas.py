"""Limits and quota sets (API reference: "Limits (limits)", "Quota sets (os-quota-sets)"),
at the request's microversion (``views.REMOVED_QUOTAS``: 2.36 and 2.57 drop resources from
the views and refuse them in updates). An update body is checked against
``schemas.QUOTA_SET_UPDATE`` before the handler runs."""

from __future__ import annotations

from typing import Any

from pocketstack.common import errors, policy
from pocketstack.common.http import ApiRequest, ApiResponse, parse_bool, parse_int
from pocketstack.compute.api.views import absolute_limits, quota_set_view, removed_quotas


def get_limits(req: ApiRequest) -> dict[str, Any]:
    """``GET /limits`` → ``{"limits": {"rate": [], "absolute": {...}}}`` (admins may pass
    ``tenant_id``)."""
    policy.enforce(req.ctx, "compute:limits")
    project_id = req.ctx.project_id
    tenant = req.query.get("tenant_id")
    if tenant and tenant != project_id:
        policy.enforce(req.ctx, "compute:quotas:show:other_project")
        project_id = tenant
    usage = req.cloud.compute.quotas.limits(req.ctx, project_id)
    return {"limits": {"rate": [], "absolute": absolute_limits(req, usage)}}


def _show(req: ApiRequest, detail: bool) -> dict[str, Any]:
    policy.enforce(req.ctx, "compute:quotas:show")
    project_id = req.params["project_id"]
    if not req.ctx.owns(project_id):
        policy.enforce(req.ctx, "compute:quotas:show:other_project")
    usage = req.cloud.compute.quotas.get(req.ctx, project_id, detail=detail)
    return {
        "quota_set": quota_set_view(req, project_id, usage.limits, usage.in_use if detail else None)
    }


def get_quota_set(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-quota-sets/{project_id}`` → ``{"quota_set": {"id", resource: limit}}``."""
    return _show(req, detail=False)


def get_quota_set_detail(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-quota-sets/{project_id}/detail``: limit, in_use, reserved per resource."""
    return _show(req, detail=True)


def get_quota_set_defaults(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-quota-sets/{project_id}/defaults``."""
    policy.enforce(req.ctx, "compute:quotas:defaults")
    defaults = req.cloud.compute.quotas.defaults()
    return {"quota_set": quota_set_view(req, req.params["project_id"], defaults)}


def update_quota_set(req: ApiRequest) -> dict[str, Any]:
    """``PUT /os-quota-sets/{project_id}`` {"quota_set": {resource: limit, "force"?}} (admin)."""
    policy.enforce(req.ctx, "compute:quotas:update")
    body = dict(req.body["quota_set"])  # known resources, numbers or decimal strings
    gone = sorted(removed_quotas(req) & set(body))
    if gone:
        raise errors.BadRequest(
            "Invalid input for field/attribute quota_set. Additional properties are not "
            f"allowed ({', '.join(repr(n) for n in gone)} {'was' if len(gone) == 1 else 'were'} "
            "unexpected)"
        )
    force = parse_bool(body.pop("force", False), "force")
    if req.query.get("user_id"):
        raise errors.BadRequest("Per-user quotas are not supported.")
    values = {name: parse_int(value, name, -1, 2**31 - 1) for name, value in body.items()}
    quota_set = req.cloud.compute.quotas.update(
        req.ctx, req.params["project_id"], values, force=force
    )
    removed = removed_quotas(req)
    return {"quota_set": {k: v for k, v in quota_set.items() if k not in removed}}


def delete_quota_set(req: ApiRequest) -> ApiResponse:
    """``DELETE /os-quota-sets/{project_id}`` (admin): back to the defaults → 202."""
    policy.enforce(req.ctx, "compute:quotas:delete")
    req.cloud.compute.quotas.delete(req.ctx, req.params["project_id"])
    return ApiResponse(status=202)
