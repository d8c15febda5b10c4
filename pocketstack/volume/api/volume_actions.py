"""``POST /volumes/{volume_id}/action`` (Block Storage API v3 reference, "Volume actions
(volumes, action)"): one action per body, each its own policy rule and manager call."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse, parse_bool, parse_int
from pocketstack.volume import exceptions as exc
from pocketstack.volume.api.microversions import at_least
from pocketstack.volume.volume_actions import ImageUpload


def _extend(req: ApiRequest, volume_id: str, value: dict[str, Any]) -> ApiResponse:
    new_size = parse_int(value["new_size"], "new_size", minimum=1)
    attached_ok = at_least(req, 42)
    policy.enforce(req.ctx, "volume:extend")
    req.cloud.volume.volume_actions.extend(req.ctx, volume_id, new_size, attached_ok)
    return ApiResponse(202)


def _set_bootable(req: ApiRequest, volume_id: str, value: dict[str, Any]) -> ApiResponse:
    policy.enforce(req.ctx, "volume:update")
    bootable = parse_bool(value["bootable"], "bootable")
    req.cloud.volume.volume_actions.set_bootable(req.ctx, volume_id, bootable)
    return ApiResponse(200)


def _update_readonly_flag(req: ApiRequest, volume_id: str, value: dict[str, Any]) -> ApiResponse:
    policy.enforce(req.ctx, "volume:update_readonly_flag")
    readonly = parse_bool(value["readonly"], "readonly")
    req.cloud.volume.volume_actions.update_readonly_flag(req.ctx, volume_id, readonly)
    return ApiResponse(202)


def _set_image_metadata(req: ApiRequest, volume_id: str, value: dict[str, Any]) -> Any:
    policy.enforce(req.ctx, "volume_extension:volume_image_metadata:set")
    meta = req.cloud.volume.volume_actions.set_image_metadata(req.ctx, volume_id, value["metadata"])
    return {"metadata": meta}


def _unset_image_metadata(req: ApiRequest, volume_id: str, value: dict[str, Any]) -> ApiResponse:
    policy.enforce(req.ctx, "volume_extension:volume_image_metadata:remove")
    req.cloud.volume.volume_actions.unset_image_metadata(req.ctx, volume_id, value["key"])
    return ApiResponse(200)


def _show_image_metadata(req: ApiRequest, volume_id: str, value: Any) -> Any:
    policy.enforce(req.ctx, "volume_extension:volume_image_metadata:show")
    record = req.cloud.volume.volumes.get(req.ctx, volume_id)
    return {"metadata": dict(record.volume.image_metadata or {})}


def _upload_image(req: ApiRequest, volume_id: str, value: dict[str, Any]) -> ApiResponse:
    policy.enforce(req.ctx, "volume_extension:volume_actions:upload_image")
    visibility = value.get("visibility", "private")
    if visibility == "public":
        policy.enforce(req.ctx, "volume_extension:volume_actions:upload_public")
    upload = ImageUpload(
        image_name=value["image_name"],
        disk_format=value.get("disk_format") or "raw",
        container_format=value.get("container_format") or "bare",
        force=parse_bool(value.get("force", False), "force"),
        visibility=visibility,
        protected=parse_bool(value.get("protected", False), "protected"),
    )
    record, image = req.cloud.volume.volume_actions.upload_to_image(req.ctx, volume_id, upload)
    v = record.volume
    return ApiResponse(
        202,
        {
            "os-volume_upload_image": {
                "id": v.id,
                "updated_at": v.updated_at.isoformat() if v.updated_at else None,
                "status": v.status,
                "display_description": v.description,
                "size": v.size,
                "volume_type": {"name": record.type_name} if record.type_name else None,
                "image_id": image.id,
                "container_format": upload.container_format,
                "disk_format": upload.disk_format,
                "image_name": upload.image_name,
                "visibility": upload.visibility,
                "protected": upload.protected,
            }
        },
    )


def _reset_status(req: ApiRequest, volume_id: str, value: dict[str, Any]) -> ApiResponse:
    policy.enforce(req.ctx, "volume_extension:volume_admin_actions:reset_status")
    if not value:
        raise exc.InvalidInput("Must specify 'status', 'attach_status' or 'migration_status'.")
    req.cloud.volume.volume_actions.reset_status(
        req.ctx,
        volume_id,
        value.get("status"),
        value.get("attach_status"),
        value.get("migration_status"),
    )
    return ApiResponse(202)


def _force_delete(req: ApiRequest, volume_id: str, value: Any) -> ApiResponse:
    policy.enforce(req.ctx, "volume_extension:volume_admin_actions:force_delete")
    req.cloud.volume.volumes.delete(req.ctx, volume_id, force=True)
    return ApiResponse(202)


ACTIONS = {
    "os-extend": _extend,
    "os-set_bootable": _set_bootable,
    "os-update_readonly_flag": _update_readonly_flag,
    "os-set_image_metadata": _set_image_metadata,
    "os-unset_image_metadata": _unset_image_metadata,
    "os-show_image_metadata": _show_image_metadata,
    "os-volume_upload_image": _upload_image,
    "os-reset_status": _reset_status,
    "os-force_delete": _force_delete,
}


def run_volume_action(req: ApiRequest) -> Any:
    """``POST /volumes/{volume_id}/action``: the body's one action (the schema checked it)."""
    ((name, value),) = req.body.items()
    return ACTIONS[name](req, req.params["volume_id"], value)
