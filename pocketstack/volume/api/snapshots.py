"""Snapshots (Block Storage API v3 reference, "Volume snapshots (snapshots)", "Snapshot
actions"): ``/snapshots[/detail|/{snapshot_id}[/metadata[/{key}]|/action]]``."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse, parse_bool
from pocketstack.volume import exceptions as exc
from pocketstack.volume.api import views
from pocketstack.volume.api.microversions import at_least
from pocketstack.volume.api.volumes import metadata_filter, paging
from pocketstack.volume.snapshots import SnapshotFilters


def _list(req: ApiRequest, detail: bool) -> dict[str, Any]:
    policy.enforce(req.ctx, "volume:get_all_snapshots")
    q = req.query
    found = SnapshotFilters(
        name=q.get("name"),
        status=q.get("status"),
        volume_id=q.get("volume_id"),
        metadata=metadata_filter(req),
        all_tenants=parse_bool(q.get("all_tenants", "0"), "all_tenants"),
        project_id=q.get("project_id"),
        **paging(req),
    )
    snaps = req.cloud.volume.snapshots.list(req.ctx, found)
    body: dict[str, Any] = {"snapshots": [views.snapshot(req, x, extended=detail) for x in snaps]}
    collection = "snapshots/detail" if detail else "snapshots"
    more = views.next_links(req, collection, body["snapshots"], found.limit)
    if more:
        body["snapshots_links"] = more
    return body


def list_snapshots(req: ApiRequest) -> dict[str, Any]:
    """``GET /snapshots``."""
    return _list(req, detail=False)


def list_snapshots_detail(req: ApiRequest) -> dict[str, Any]:
    """``GET /snapshots/detail``."""
    return _list(req, detail=True)


def get_snapshot(req: ApiRequest) -> dict[str, Any]:
    """``GET /snapshots/{snapshot_id}``."""
    policy.enforce(req.ctx, "volume:get_snapshot")
    snap = req.cloud.volume.snapshots.get(req.ctx, req.params["snapshot_id"])
    return {"snapshot": views.snapshot(req, snap)}


def create_snapshot(req: ApiRequest) -> ApiResponse:
    """``POST /snapshots`` (202); an in-use volume needs ``force`` before 3.66; a null
    ``volume_id`` is 404 ``VolumeNotFound``, as in Cinder."""
    policy.enforce(req.ctx, "volume:create_snapshot")
    body = req.body["snapshot"]
    if body["volume_id"] is None:
        raise exc.VolumeNotFound("None")
    force = parse_bool(body.get("force", False), "force") or at_least(req, 66)
    snap = req.cloud.volume.snapshots.create(
        req.ctx,
        body["volume_id"],
        name=body.get("name", body.get("display_name")),
        description=body.get("description", body.get("display_description")),
        metadata=body.get("metadata") or {},
        force=force,
    )
    return ApiResponse(202, {"snapshot": views.snapshot(req, snap, extended=False)})


def update_snapshot(req: ApiRequest) -> dict[str, Any]:
    """``PUT /snapshots/{snapshot_id}``: name, description."""
    policy.enforce(req.ctx, "volume:update_snapshot")
    body = req.body["snapshot"]
    changes = {}
    for key, old in (("name", "display_name"), ("description", "display_description")):
        if key in body or old in body:
            changes[key] = body.get(key, body.get(old))
    snap = req.cloud.volume.snapshots.update(req.ctx, req.params["snapshot_id"], changes)
    return {"snapshot": views.snapshot(req, snap, extended=False)}


def delete_snapshot(req: ApiRequest) -> ApiResponse:
    """``DELETE /snapshots/{snapshot_id}`` (202)."""
    policy.enforce(req.ctx, "volume:delete_snapshot")
    req.cloud.volume.snapshots.delete(req.ctx, req.params["snapshot_id"])
    return ApiResponse(202)


def run_snapshot_action(req: ApiRequest) -> ApiResponse:
    """``POST /snapshots/{snapshot_id}/action``: ``os-reset_status``, ``os-force_delete``
    (admin)."""
    ((name, value),) = req.body.items()
    snapshot_id = req.params["snapshot_id"]
    if name == "os-reset_status":
        policy.enforce(req.ctx, "volume_extension:snapshot_admin_actions:reset_status")
        req.cloud.volume.snapshots.reset_status(req.ctx, snapshot_id, value["status"])
    else:
        policy.enforce(req.ctx, "volume_extension:snapshot_admin_actions:force_delete")
        req.cloud.volume.snapshots.delete(req.ctx, snapshot_id, force=True)
    return ApiResponse(202)


# -- metadata ------------------------------------------------------------------------------
def get_metadata(req: ApiRequest) -> dict[str, Any]:
    """``GET /snapshots/{snapshot_id}/metadata``."""
    policy.enforce(req.ctx, "volume:get_snapshot_metadata")
    snap = req.cloud.volume.snapshots.get(req.ctx, req.params["snapshot_id"])
    return {"metadata": dict(snap.metadata_ or {})}


def create_metadata(req: ApiRequest) -> dict[str, Any]:
    """``POST /snapshots/{snapshot_id}/metadata``: merged in."""
    policy.enforce(req.ctx, "volume:update_snapshot_metadata")
    meta = req.cloud.volume.snapshots.set_metadata(
        req.ctx, req.params["snapshot_id"], req.body["metadata"], replace=False
    )
    return {"metadata": meta}


def replace_metadata(req: ApiRequest) -> dict[str, Any]:
    """``PUT /snapshots/{snapshot_id}/metadata``: replaced."""
    policy.enforce(req.ctx, "volume:update_snapshot_metadata")
    meta = req.cloud.volume.snapshots.set_metadata(
        req.ctx, req.params["snapshot_id"], req.body["metadata"], replace=True
    )
    return {"metadata": meta}


def get_metadata_item(req: ApiRequest) -> dict[str, Any]:
    """``GET /snapshots/{snapshot_id}/metadata/{key}``."""
    policy.enforce(req.ctx, "volume:get_snapshot_metadata")
    key = req.params["key"]
    meta = req.cloud.volume.snapshots.get(req.ctx, req.params["snapshot_id"]).metadata_ or {}
    if key not in meta:
        raise exc.SnapshotMetadataNotFound(req.params["snapshot_id"], key)
    return {"meta": {key: meta[key]}}


def update_metadata_item(req: ApiRequest) -> dict[str, Any]:
    """``PUT /snapshots/{snapshot_id}/metadata/{key}``."""
    policy.enforce(req.ctx, "volume:update_snapshot_metadata")
    key, item = req.params["key"], req.body["meta"]
    if list(item) != [key]:
        raise exc.InvalidInput("Request body and URI mismatch")
    req.cloud.volume.snapshots.set_metadata(req.ctx, req.params["snapshot_id"], item, replace=False)
    return {"meta": item}


def delete_metadata_item(req: ApiRequest) -> ApiResponse:
    """``DELETE /snapshots/{snapshot_id}/metadata/{key}``."""
    policy.enforce(req.ctx, "volume:delete_snapshot_metadata")
    req.cloud.volume.snapshots.delete_metadata(
        req.ctx, req.params["snapshot_id"], req.params["key"]
    )
    return ApiResponse(200)
