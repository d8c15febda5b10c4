"""Handlers of ``/v3/{project_id}/backups`` (Block Storage API v3 reference, "Backups
(backups)"): create, list (summary and detail), show, update (3.9), delete, restore and the
admin actions ``os-reset_status``/``os-force_delete``.

Each parses, authorizes with Cinder's rule names (``policies.py``: ``backup:create``,
``backup:get_all``..., ``volume_extension:backup_admin_actions:reset_status``), calls one
function of
``cloud.volume.backups`` and renders Cinder's backup view (here too: ``BACKUP_ROUTES``,
``ROUTES``' share, are appended to ``api/__init__.py``). Create, delete, restore and the
actions answer 202, as Cinder's.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from pocketstack.common import policy
from pocketstack.common import schema_types as t
from pocketstack.common.http import ApiRequest, ApiResponse, parse_bool, parse_int
from pocketstack.volume.api import views
from pocketstack.volume.api.microversions import at_least, require, volume_route
from pocketstack.volume.backups import BackupCreate, BackupFilters
from pocketstack.volume.models import Backup

# -- schemas ------------------------------------------------------------------------------------

CREATE = t.wrapped(
    "backup",
    t.obj(
        {
            "volume_id": t.UUID,
            "container": t.nullable(t.string(255)),
            "name": t.nullable(t.string(255)),
            "description": t.nullable(t.string(255)),
            "incremental": t.BOOLEAN_LENIENT,
            "force": t.BOOLEAN_LENIENT,
            "snapshot_id": t.nullable(t.UUID),
            "metadata": t.nullable(t.METADATA),
            "availability_zone": t.nullable(t.string(255)),
        },
        required=["volume_id"],
    ),
)
UPDATE = t.wrapped(
    "backup",
    t.obj(
        {
            "name": t.nullable(t.string(255)),
            "description": t.nullable(t.string(255)),
            "metadata": t.nullable(t.METADATA),
        }
    ),
)
RESTORE = t.wrapped(
    "restore",
    t.obj({"volume_id": t.nullable(t.UUID), "name": t.nullable(t.string(255))}),
)
ACTION = t.obj(
    {
        "os-reset_status": t.obj({"status": t.string(32)}, required=["status"]),
        "os-force_delete": {},
    },
    minProperties=1,
    maxProperties=1,
)

# -- views --------------------------------------------------------------------------------------


def _when(value: Any) -> str | None:
    return value.isoformat(timespec="microseconds") if value is not None else None


def summary(req: ApiRequest, backup: Backup) -> dict[str, Any]:
    """Cinder's backup summary view: ``id``, ``name``, ``links``."""
    return {"id": backup.id, "name": backup.name, "links": views.links(req, "backups", backup.id)}


def detail(req: ApiRequest, backup: Backup) -> dict[str, Any]:
    """Cinder's backup detail view; by microversion the project (3.18, only for who
    ``backup:backup_project_attribute`` allows: admins), ``metadata`` (3.43), ``user_id``
    (3.56), ``encryption_key_id`` (3.64, always null: backups are not encrypted here)."""
    view: dict[str, Any] = {
        "id": backup.id,
        "name": backup.name,
        "description": backup.description,
        "status": backup.status,
        "fail_reason": backup.fail_reason,
        "availability_zone": backup.availability_zone,
        "container": backup.container,
        "volume_id": backup.volume_id,
        "snapshot_id": backup.snapshot_id,
        "size": backup.size,
        "object_count": backup.object_count,
        "is_incremental": backup.is_incremental,
        "has_dependent_backups": backup.has_dependent_backups,
        "created_at": _when(backup.created_at),
        "updated_at": _when(backup.updated_at),
        "data_timestamp": _when(backup.data_timestamp),
        "links": views.links(req, "backups", backup.id),
    }
    if at_least(req, 18) and policy.allowed(req.ctx, "backup:backup_project_attribute"):
        view["os-backup-project-attr:project_id"] = backup.project_id
    if at_least(req, 43):
        view["metadata"] = dict(backup.metadata_ or {})
    if at_least(req, 56):
        view["user_id"] = backup.user_id
    if at_least(req, 64):
        view["encryption_key_id"] = None
    return view


# -- handlers -----------------------------------------------------------------------------------


def create_backup(req: ApiRequest) -> ApiResponse:
    """``POST /backups``: 202 with the summary view."""
    body = req.body["backup"]
    policy.enforce(req.ctx, "backup:create")
    backup = req.cloud.volume.backups.create(
        req.ctx,
        BackupCreate(
            volume_id=body["volume_id"],
            name=body.get("name"),
            description=body.get("description"),
            container=body.get("container"),
            incremental=parse_bool(body.get("incremental", False), "incremental"),
            force=parse_bool(body.get("force", False), "force"),
            snapshot_id=body.get("snapshot_id"),
            metadata=dict(body.get("metadata") or {}),
        ),
    )
    return ApiResponse(202, {"backup": summary(req, backup)})


def _filters(req: ApiRequest) -> BackupFilters:
    query = req.query
    keys, dirs = [], []
    for item in (query.get("sort") or "").split(","):
        if item.strip():
            key, _, direction = item.strip().partition(":")
            keys.append(key)
            dirs.append(direction or "desc")
    if query.get("sort_key"):
        keys = query.get("sort_key").split(",")
        dirs = (query.get("sort_dir") or "desc").split(",")
    limit = query.get("limit")
    return BackupFilters(
        name=query.get("name"),
        status=query.get("status"),
        volume_id=query.get("volume_id"),
        all_tenants=parse_bool(query.get("all_tenants", "0"), "all_tenants"),
        project_id=query.get("project_id"),
        limit=parse_int(limit, "limit", minimum=0) if limit is not None else None,
        marker=query.get("marker"),
        sort_keys=keys,
        sort_dirs=dirs,
    )


def _list(req: ApiRequest, view: Any) -> dict[str, Any]:
    policy.enforce(req.ctx, "backup:get_all")
    filters = _filters(req)
    backups = req.cloud.volume.backups.list(req.ctx, filters)
    answer: dict[str, Any] = {"backups": [view(req, b) for b in backups]}
    if filters.limit and len(backups) == filters.limit:
        params = {k: v for k, v in req.query.items() if k != "marker"}
        params["marker"] = backups[-1].id
        path = "backups/detail" if view is detail else "backups"
        href = f"{req.base_url}/v3/{req.ctx.project_id}/{path}?{urlencode(params)}"
        answer["backups_links"] = [{"rel": "next", "href": href}]
    return answer


def list_backups(req: ApiRequest) -> dict[str, Any]:
    """``GET /backups``: summaries; filters ``name``, ``status``, ``volume_id``,
    ``all_tenants``/``project_id`` (admins), ``limit``/``marker``/``sort``."""
    return _list(req, summary)


def list_backups_detail(req: ApiRequest) -> dict[str, Any]:
    """``GET /backups/detail``: the same list, detail views."""
    return _list(req, detail)


def get_backup(req: ApiRequest) -> dict[str, Any]:
    """``GET /backups/{backup_id}``."""
    policy.enforce(req.ctx, "backup:get")
    backup = req.cloud.volume.backups.get(req.ctx, req.params["backup_id"])
    return {"backup": detail(req, backup)}


def update_backup(req: ApiRequest) -> dict[str, Any]:
    """``PUT /backups/{backup_id}`` (3.9): name, description, metadata (3.43)."""
    require(req, 9)
    body = req.body["backup"]
    policy.enforce(req.ctx, "backup:update")
    backup = req.cloud.volume.backups.update(
        req.ctx,
        req.params["backup_id"],
        {k: body[k] for k in ("name", "description", "metadata") if k in body},
    )
    return {"backup": detail(req, backup)}


def delete_backup(req: ApiRequest) -> ApiResponse:
    """``DELETE /backups/{backup_id}``: 202."""
    policy.enforce(req.ctx, "backup:delete")
    req.cloud.volume.backups.delete(req.ctx, req.params["backup_id"])
    return ApiResponse(202)


def restore_backup(req: ApiRequest) -> ApiResponse:
    """``POST /backups/{backup_id}/restore``: 202 ``{"restore": {"backup_id", "volume_id",
    "volume_name"}}``; without ``volume_id`` a new volume (named ``name``) is made."""
    body = req.body["restore"]
    policy.enforce(req.ctx, "backup:restore")
    done = req.cloud.volume.backups.restore(
        req.ctx, req.params["backup_id"], body.get("volume_id"), body.get("name")
    )
    view = {
        "backup_id": done.backup_id,
        "volume_id": done.volume_id,
        "volume_name": done.volume_name,
    }
    return ApiResponse(202, {"restore": view})


def backup_action(req: ApiRequest) -> ApiResponse:
    """``POST /backups/{backup_id}/action``: ``os-reset_status`` (``available``/``error``)
    or ``os-force_delete``, admins only; 202."""
    backup_id = req.params["backup_id"]
    backups = req.cloud.volume.backups
    if "os-reset_status" in req.body:
        policy.enforce(req.ctx, "volume_extension:backup_admin_actions:reset_status")
        backups.reset_status(req.ctx, backup_id, req.body["os-reset_status"]["status"])
    else:
        policy.enforce(req.ctx, "volume_extension:backup_admin_actions:force_delete")
        backups.delete(req.ctx, backup_id, force=True)
    return ApiResponse(202)


#: the backup routes, each under ``/v3`` and ``/v3/{project_id}`` (appended to ``api.ROUTES``)
BACKUP_ROUTES = [
    *volume_route("POST", "/backups", create_backup, status=202, schema=CREATE),
    *volume_route("GET", "/backups", list_backups),
    *volume_route("GET", "/backups/detail", list_backups_detail),
    *volume_route("GET", "/backups/{backup_id}", get_backup),
    *volume_route("PUT", "/backups/{backup_id}", update_backup, schema=UPDATE),
    *volume_route("DELETE", "/backups/{backup_id}", delete_backup, status=202),
    *volume_route(
        "POST", "/backups/{backup_id}/restore", restore_backup, status=202, schema=RESTORE
    ),
    *volume_route("POST", "/backups/{backup_id}/action", backup_action, status=202, schema=ACTION),
]
