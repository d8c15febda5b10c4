"""Attachments (Block Storage API v3 reference, "Attachments (attachments)", 3.27+;
``os-complete`` 3.44+): ``/attachments[/detail|/{attachment_id}[/action]]``."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse, parse_bool, parse_int
from pocketstack.volume.api import views
from pocketstack.volume.api.microversions import require
from pocketstack.volume.attachments import AttachmentFilters


def _list(req: ApiRequest, detail: bool) -> dict[str, Any]:
    require(req, 27)
    policy.enforce(req.ctx, "volume:attachment_get")
    q = req.query
    limit = q.get("limit")
    found = req.cloud.volume.attachments.list(
        req.ctx,
        AttachmentFilters(
            volume_id=q.get("volume_id"),
            instance_id=q.get("instance_id"),
            status=q.get("status"),
            all_tenants=parse_bool(q.get("all_tenants", "0"), "all_tenants"),
            limit=parse_int(limit, "limit", minimum=0) if limit is not None else None,
        ),
    )
    return {"attachments": [views.attachment(a, detail) for a in found]}


def list_attachments(req: ApiRequest) -> dict[str, Any]:
    """``GET /attachments``: id, status, instance, volume_id."""
    return _list(req, detail=False)


def list_attachments_detail(req: ApiRequest) -> dict[str, Any]:
    """``GET /attachments/detail``."""
    return _list(req, detail=True)


def get_attachment(req: ApiRequest) -> dict[str, Any]:
    """``GET /attachments/{attachment_id}``."""
    require(req, 27)
    policy.enforce(req.ctx, "volume:attachment_get")
    att = req.cloud.volume.attachments.get(req.ctx, req.params["attachment_id"])
    return {"attachment": views.attachment(att)}


def create_attachment(req: ApiRequest) -> dict[str, Any]:
    """``POST /attachments``: reserve a volume (and export it when a connector is given)."""
    require(req, 27)
    policy.enforce(req.ctx, "volume:attachment_create")
    body = req.body["attachment"]
    mode = body.get("mode", "rw") if body.get("mode") else "rw"
    if body.get("mode"):
        require(req, 54)
    att = req.cloud.volume.attachments.create(
        req.ctx, body["volume_uuid"], body.get("instance_uuid"), body.get("connector"), mode
    )
    return {"attachment": views.attachment(att)}


def update_attachment(req: ApiRequest) -> dict[str, Any]:
    """``PUT /attachments/{attachment_id}`` with the connector: the volume is exported."""
    require(req, 27)
    policy.enforce(req.ctx, "volume:attachment_update")
    att = req.cloud.volume.attachments.update(
        req.ctx, req.params["attachment_id"], req.body["attachment"]["connector"]
    )
    return {"attachment": views.attachment(att)}


def delete_attachment(req: ApiRequest) -> dict[str, Any]:
    """``DELETE /attachments/{attachment_id}``: 200 with the attachments left (Cinder)."""
    require(req, 27)
    policy.enforce(req.ctx, "volume:attachment_delete")
    req.cloud.volume.attachments.delete(req.ctx, req.params["attachment_id"])
    return {"attachments": []}


def run_attachment_action(req: ApiRequest) -> ApiResponse:
    """``POST /attachments/{attachment_id}/action`` ``os-complete`` (3.44+, 204)."""
    require(req, 44)
    policy.enforce(req.ctx, "volume:attachment_complete")
    req.cloud.volume.attachments.complete(req.ctx, req.params["attachment_id"])
    return ApiResponse(204)
