"""Images through the Compute API (API reference "Images (DEPRECATED)"): Nova's proxy to the
Image API, ``GET``/``DELETE /images/{image_id}``, up to microversion 2.35 (404 from 2.36,
as Nova). tempest's server-snapshot tests (``createImage``) wait on it at 2.1."""

from __future__ import annotations

from typing import Any

from pocketstack.common import errors, policy
from pocketstack.common.db import isotime
from pocketstack.common.http import ApiRequest, ApiResponse
from pocketstack.compute.api.common import links
from pocketstack.compute.api.microversion import at_least

#: Glance status -> (Nova image status, progress), Nova's proxy's mapping
_STATUS = {
    "queued": ("SAVING", 25),
    "saving": ("SAVING", 50),
    "uploading": ("SAVING", 50),
    "importing": ("SAVING", 50),
    "active": ("ACTIVE", 100),
    "killed": ("ERROR", 0),
    "deleted": ("DELETED", 0),
    "pending_delete": ("DELETED", 0),
}


def _check_version(req: ApiRequest) -> None:
    """Raises errors.NotFound from 2.36, where Nova dropped the image proxy."""
    if at_least(req, 2, 36):
        raise errors.NotFound("The resource could not be found.")


def image_view(req: ApiRequest, image: Any) -> dict[str, Any]:
    """One image as Nova's proxy shows it: id, name, status (ACTIVE/SAVING/DELETED/ERROR/
    UNKNOWN), progress (0-100), minDisk (GiB), minRam (MiB), metadata (the image's
    properties), created/updated, links, ``OS-EXT-IMG-SIZE:size`` (bytes) and ``server``
    for a snapshot (its ``instance_uuid``)."""
    status, progress = _STATUS.get(image.status, ("UNKNOWN", 0))
    props = dict(image.properties or {})
    view: dict[str, Any] = {
        "id": image.id,
        "name": image.name,
        "status": status,
        "progress": progress,
        "minDisk": image.min_disk or 0,
        "minRam": image.min_ram or 0,
        "metadata": props,
        "created": isotime(image.created_at),
        "updated": isotime(image.updated_at or image.created_at),
        "links": links(req, "images", image.id),
        "OS-EXT-IMG-SIZE:size": image.size,
    }
    if props.get("instance_uuid"):
        server = str(props["instance_uuid"])
        view["server"] = {"id": server, "links": links(req, "servers", server)}
    return view


def get_image(req: ApiRequest) -> dict[str, Any]:
    """``GET /images/{image_id}`` → ``{"image": {...}}`` (see ``image_view``).

    Raises:
        errors.NotFound: unknown or invisible image, or a microversion from 2.36.
    """
    _check_version(req)
    policy.enforce(req.ctx, "compute:images")
    image = req.cloud.image.images.get(req.ctx, req.params["image_id"])
    return {"image": image_view(req, image)}


def delete_image(req: ApiRequest) -> ApiResponse:
    """``DELETE /images/{image_id}`` → 204 (the Image API's delete).

    Raises:
        errors.NotFound: unknown or invisible image, or a microversion from 2.36;
        the Image API's errors (403 a protected or foreign image).
    """
    _check_version(req)
    policy.enforce(req.ctx, "compute:images")
    req.cloud.image.images.delete(req.ctx, req.params["image_id"])
    return ApiResponse(status=204)
