"""Quota sets and limits (Block Storage API v3 reference, "Quota sets extension
(os-quota-sets)", "Limits (limits)")."""

from __future__ import annotations

from typing import Any

from pocketstack.common import errors, policy
from pocketstack.common.http import ApiRequest, ApiResponse, parse_bool, parse_int
from pocketstack.volume.api import views


def _authorize_read(req: ApiRequest, project_id: str) -> None:
    """A project reads its own quotas; an admin any project's (Cinder answers 403)."""
    policy.enforce(req.ctx, "volume_extension:quotas:show")
    if not req.ctx.is_admin and project_id != req.ctx.project_id:
        raise errors.Forbidden("Policy doesn't allow volume_extension:quotas:show to be performed.")


def get_quota_set(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-quota-sets/{project_id}[?usage=True]``."""
    project_id = req.params["target_project_id"]
    _authorize_read(req, project_id)
    if parse_bool(req.query.get("usage", "false"), "usage"):
        return views.quota_set(
            project_id, dict(req.cloud.volume.quotas.details(req.ctx, project_id))
        )
    return views.quota_set(project_id, dict(req.cloud.volume.quotas.get(req.ctx, project_id)))


def get_quota_defaults(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-quota-sets/{project_id}/defaults``."""
    project_id = req.params["target_project_id"]
    _authorize_read(req, project_id)
    return views.quota_set(project_id, dict(req.cloud.volume.quotas.defaults()))


def update_quota_set(req: ApiRequest) -> dict[str, Any]:
    """``PUT /os-quota-sets/{project_id}`` (admin): ``{"quota_set": {resource: limit}}``."""
    policy.enforce(req.ctx, "volume_extension:quotas:update")
    project_id = req.params["target_project_id"]
    changes = {
        k: parse_int(v, k) for k, v in req.body["quota_set"].items() if k not in ("tenant_id", "id")
    }
    limits = req.cloud.volume.quotas.update(req.ctx, project_id, changes)
    return {"quota_set": dict(limits)}


def delete_quota_set(req: ApiRequest) -> ApiResponse:
    """``DELETE /os-quota-sets/{project_id}`` (admin): back to the defaults."""
    policy.enforce(req.ctx, "volume_extension:quotas:delete")
    req.cloud.volume.quotas.delete(req.ctx, req.params["target_project_id"])
    return ApiResponse(200)


def get_limits(req: ApiRequest) -> dict[str, Any]:
    """``GET /limits``: the caller's project's absolute limits and use (no rate limits)."""
    policy.enforce(req.ctx, "limits_extension:used_limits")
    project_id = req.ctx.project_id or ""
    if req.ctx.is_admin and req.query.get("project_id"):
        project_id = req.query["project_id"]
    use = req.cloud.volume.quotas.details(req.ctx, project_id)
    return {
        "limits": {
            "rate": [],
            "absolute": {
                "maxTotalVolumes": use["volumes"].limit,
                "maxTotalSnapshots": use["snapshots"].limit,
                "maxTotalVolumeGigabytes": use["gigabytes"].limit,
                "maxTotalBackups": use["backups"].limit,
                "maxTotalBackupGigabytes": use["backup_gigabytes"].limit,
                "totalVolumesUsed": use["volumes"].in_use,
                "totalSnapshotsUsed": use["snapshots"].in_use,
                "totalGigabytesUsed": use["gigabytes"].in_use,
                "totalBackupsUsed": use["backups"].in_use,
                "totalBackupGigabytesUsed": use["backup_gigabytes"].in_use,
            },
        }
    }
