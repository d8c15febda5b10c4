"""Handlers of ``/v2/images`` (Image API v2 "Images", "Image data", "Image tags",
"Interoperable image import"): parse, authorize, call one manager function, render."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import StreamingResponse

from pocketstack.common import policy
from pocketstack.common.errors import BadRequest, NotFound
from pocketstack.common.http import ApiRequest, ApiResponse, parse_bool, parse_int
from pocketstack.image import access, fields
from pocketstack.image.api import views
from pocketstack.image.data import ImageData, byte_range
from pocketstack.image.images import Images

PATCH_TYPES = (
    "application/openstack-images-v2.1-json-patch",
    "application/openstack-images-v2.0-json-patch",
)
#: query parameters that are not property filters
_RESERVED_QUERY = {
    "limit",
    "marker",
    "sort_key",
    "sort_dir",
    "sort",
    "visibility",
    "member_status",
    "owner",
    "size_min",
    "size_max",
    "size",
    "protected",
    "os_hidden",
    "tag",
    "id",
    "name",
    "status",
    "disk_format",
    "container_format",
    "created_at",
    "updated_at",
    "all_tenants",
    "all_projects",
}


def _images(req: ApiRequest) -> Images:
    return req.cloud.image.images


def _data(req: ApiRequest) -> ImageData:
    return req.cloud.image.data


def list_images(req: ApiRequest) -> dict[str, Any]:
    """GET /v2/images: ``{"images": [...], "first", "schema"[, "next"]}`` (25 a page by
    default, at most 1000; ``next`` repeats the query with the last image as ``marker``)."""
    policy.enforce(req.ctx, "image:get_images")
    filters = _list_filters(req)
    limit = parse_int(req.query["limit"], "limit", minimum=0) if "limit" in req.query else None
    page = _images(req).list(
        req.ctx, filters, sort=_sort(req), limit=limit, marker=req.query.get("marker")
    )
    next_link = None
    if page.next_marker:
        query = [(k, v) for k, v in req.query.multi_items() if k != "marker"]
        next_link = "/v2/images?" + urlencode([*query, ("marker", page.next_marker)])
    return views.images_view(page.images, next_link)


def _list_filters(req: ApiRequest) -> dict[str, Any]:
    q = req.query
    filters: dict[str, Any] = {
        k: q[k]
        for k in ("id", "name", "status", "disk_format", "container_format", "owner")
        if k in q
    }
    if "visibility" in q:
        if q["visibility"] not in (*access.VISIBILITIES, "all"):
            raise BadRequest(f"Invalid visibility value: {q['visibility']}")
        filters["visibility"] = q["visibility"]
    if "member_status" in q:
        if q["member_status"] not in (*access.MEMBER_STATUSES, "all"):
            raise BadRequest(f"Invalid status value: {q['member_status']}")
        filters["member_status"] = q["member_status"]
    for key in ("size_min", "size_max", "size"):
        if key in q:
            filters[key] = parse_int(q[key], key, minimum=0)
    for key in ("protected", "os_hidden"):
        if key in q:
            filters[key] = parse_bool(q[key], key)
    filters["tags"] = req.query_all("tag")
    filters["properties"] = {k: v for k, v in q.items() if k not in _RESERVED_QUERY}
    return filters


def _sort(req: ApiRequest) -> list[tuple[str, str]] | None:
    keys, dirs = req.query_all("sort_key"), req.query_all("sort_dir")
    if "sort" in req.query:
        if keys or dirs:
            raise BadRequest("The 'sort' parameter cannot be used with sort_key/sort_dir.")
        pairs = []
        for item in req.query["sort"].split(","):
            key, _, direction = item.strip().partition(":")
            pairs.append((key, direction or "desc"))
        return pairs
    if not keys:
        return [("created_at", dirs[0])] if dirs else None
    if len(dirs) > 1 and len(dirs) != len(keys):
        raise BadRequest("The number of sort_dir and sort_key values must match.")
    return [
        (k, dirs[i] if len(dirs) > 1 else (dirs[0] if dirs else "desc")) for i, k in enumerate(keys)
    ]


def create_image(req: ApiRequest) -> ApiResponse:
    """POST /v2/images (body: ``schemas.IMAGE_CREATE``): 201 with the image; ``Location``
    and the import methods header."""
    policy.enforce(req.ctx, "image:add_image")
    core, props = fields.parse_create(req.body)
    image = _images(req).create(req.ctx, core, props)
    return ApiResponse(
        201,
        views.image_view(image),
        {
            "Location": f"{req.base_url}/v2/images/{image.id}",
            "OpenStack-image-import-methods": "glance-direct",
        },
    )


def get_image(req: ApiRequest) -> dict[str, Any]:
    """GET /v2/images/{image_id}: the image (``views.image_view``)."""
    policy.enforce(req.ctx, "image:get_image")
    return views.image_view(_images(req).get(req.ctx, req.params["image_id"]))


def null_image_id(req: ApiRequest) -> dict[str, Any]:
    """GET/DELETE /v2/images/ (an empty image id): 404, as Glance answers, not the
    collection."""
    raise NotFound("No image found with ID ")


def update_image(req: ApiRequest) -> dict[str, Any]:
    """PATCH /v2/images/{image_id} with a JSON patch (``schemas.IMAGE_UPDATE``; 415 for
    another content type)."""
    policy.enforce(req.ctx, "image:modify_image")
    ops = fields.parse_patch(req.body)
    return views.image_view(_images(req).update(req.ctx, req.params["image_id"], ops))


def delete_image(req: ApiRequest) -> ApiResponse:
    """DELETE /v2/images/{image_id}: 204."""
    policy.enforce(req.ctx, "image:delete_image")
    _images(req).delete(req.ctx, req.params["image_id"])
    return ApiResponse(204)


def _content_length(req: ApiRequest) -> int | None:
    """The announced body size in bytes, ``None`` when absent (chunked) or not a number."""
    value = req.headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None


def upload_image(req: ApiRequest) -> ApiResponse:
    """PUT /v2/images/{image_id}/file (raw body, streamed): 204; 409 unless the image is
    queued; 413 over ``image_size_cap`` or the project's ``image_user_storage_quota``."""
    policy.enforce(req.ctx, "image:upload_image")
    _data(req).upload(req.ctx, req.params["image_id"], req.body_file, _content_length(req))
    return ApiResponse(204)


def download_image(req: ApiRequest) -> Any:
    """GET /v2/images/{image_id}/file: the data with Content-MD5; 204 when there is none;
    with ``Range: bytes=first-last`` (one range) 206 and ``Content-Range``, 416 outside
    the data."""
    policy.enforce(req.ctx, "image:download_image")
    wanted = req.headers.get("range")
    chunks, image = _data(req).download(req.ctx, req.params["image_id"], wanted)
    if chunks is None:
        return ApiResponse(204)
    part = byte_range(wanted, image.size or 0)
    if part is not None:
        return StreamingResponse(
            chunks,
            status_code=206,
            media_type="application/octet-stream",
            headers={
                "Content-Range": f"bytes {part[0]}-{part[1]}/{image.size}",
                "Content-Length": str(part[1] - part[0] + 1),
            },
        )
    return StreamingResponse(
        chunks,
        media_type="application/octet-stream",
        headers={"Content-MD5": image.checksum or "", "Content-Length": str(image.size)},
    )


def stage_image(req: ApiRequest) -> ApiResponse:
    """PUT /v2/images/{image_id}/stage (raw body, streamed): 204; the image becomes
    ``uploading``; 413 as for an upload."""
    policy.enforce(req.ctx, "image:import_image")
    _data(req).stage(req.ctx, req.params["image_id"], req.body_file, _content_length(req))
    return ApiResponse(204)


def import_image(req: ApiRequest) -> ApiResponse:
    """POST /v2/images/{image_id}/import ``{"method": {"name": "glance-direct"}}`` or
    ``{"method": {"name": "web-download", "uri": ...}}`` (``schemas.IMAGE_IMPORT``): 202."""
    policy.enforce(req.ctx, "image:import_image")
    req.cloud.image.imports.run(req.ctx, req.params["image_id"], req.body["method"])
    return ApiResponse(202)


def import_info(req: ApiRequest) -> dict[str, Any]:
    """GET /v2/info/import: the supported import methods."""
    return _data(req).import_info()


def add_tag(req: ApiRequest) -> ApiResponse:
    """PUT /v2/images/{image_id}/tags/{tag}: 204."""
    policy.enforce(req.ctx, "image:modify_image")
    _images(req).add_tag(req.ctx, req.params["image_id"], req.params["tag"])
    return ApiResponse(204)


def delete_tag(req: ApiRequest) -> ApiResponse:
    """DELETE /v2/images/{image_id}/tags/{tag}: 204; 404 for a tag the image lacks."""
    policy.enforce(req.ctx, "image:modify_image")
    _images(req).delete_tag(req.ctx, req.params["image_id"], req.params["tag"])
    return ApiResponse(204)


def deactivate_image(req: ApiRequest) -> ApiResponse:
    """POST /v2/images/{image_id}/actions/deactivate (admin): 204; 403 unless the image is
    active or deactivated (``states.ACTIONS``)."""
    policy.enforce(req.ctx, "image:deactivate")
    _images(req).deactivate(req.ctx, req.params["image_id"])
    return ApiResponse(204)


def reactivate_image(req: ApiRequest) -> ApiResponse:
    """POST /v2/images/{image_id}/actions/reactivate (admin): 204; 403 unless the image is
    deactivated or active (``states.ACTIONS``)."""
    policy.enforce(req.ctx, "image:reactivate")
    _images(req).reactivate(req.ctx, req.params["image_id"])
    return ApiResponse(204)
