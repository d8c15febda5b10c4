"""Volumes and their metadata (Block Storage API v3 reference, "Volumes (volumes)",
"Volume metadata"): ``/volumes[/detail|/{volume_id}[/metadata[/{key}]]]``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse, parse_bool, parse_int
from pocketstack.volume import exceptions as exc
from pocketstack.volume.api import views
from pocketstack.volume.api.microversions import at_least, require
from pocketstack.volume.volumes import TIME_OPS, VolumeCreate, VolumeFilters


def sort_params(req: ApiRequest) -> tuple[list[str], list[str]]:
    """``sort=key[:dir],...`` or ``sort_key``/``sort_dir`` (Cinder takes both)."""
    keys: list[str] = []
    dirs: list[str] = []
    for part in (req.query.get("sort") or "").split(","):
        if part.strip():
            key, _, direction = part.strip().partition(":")
            keys.append(key)
            dirs.append(direction or "desc")
    if req.query.get("sort_key"):
        keys.append(req.query["sort_key"])
        dirs.append(req.query.get("sort_dir") or "desc")
    return keys, dirs


def paging(req: ApiRequest) -> dict[str, Any]:
    """``limit``, ``marker`` and the sort of a list."""
    limit = req.query.get("limit")
    keys, dirs = sort_params(req)
    return {
        "limit": parse_int(limit, "limit", minimum=0) if limit is not None else None,
        "marker": req.query.get("marker"),
        "sort_keys": keys,
        "sort_dirs": dirs,
    }


def metadata_filter(req: ApiRequest) -> dict[str, str]:
    """The ``metadata`` query filter: a JSON object (OSC sends ``{'k': 'v'}`` too)."""
    raw = req.query.get("metadata")
    if not raw:
        return {}
    try:
        value = json.loads(raw.replace("'", '"'))
    except ValueError:
        raise exc.InvalidInput(f"Invalid metadata filter {raw}.") from None
    if not isinstance(value, dict):
        raise exc.InvalidInput(f"Invalid metadata filter {raw}.")
    return {str(k): str(v) for k, v in value.items()}


def time_filters(req: ApiRequest) -> list[tuple[str, str, dt.datetime]]:
    """3.60's ``created_at``/``updated_at`` filters: ``<op>:<ISO 8601 time>`` (op ``gt``,
    ``gte``, ``lt``, ``lte``, ``eq``, ``neq``; several joined by ``,``).

    Raises:
        InvalidInput (400): a malformed operator or time.
    """
    found = []
    for column in ("created_at", "updated_at"):
        raw = req.query.get(column)
        if raw is None or not at_least(req, 60):
            continue
        for part in raw.split(","):
            op, _, text = part.partition(":")
            try:
                when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise exc.InvalidInput(f"Invalid filter {column}={raw}.") from None
            if op not in TIME_OPS:
                raise exc.InvalidInput(f"Invalid filter {column}={raw}.")
            if when.tzinfo is not None:
                when = when.astimezone(dt.UTC).replace(tzinfo=None)
            found.append((column, op, when))
    return found


def filters(req: ApiRequest) -> VolumeFilters:
    """The filters of ``GET /volumes[/detail|/summary]``."""
    q = req.query
    bootable = q.get("bootable")
    return VolumeFilters(
        name=q.get("name") or q.get("display_name"),
        name_like=q.get("name~") if at_least(req, 34) else None,
        status=q.get("status"),
        bootable=parse_bool(bootable, "bootable") if bootable is not None else None,
        availability_zone=q.get("availability_zone"),
        metadata=metadata_filter(req),
        all_tenants=parse_bool(q.get("all_tenants", "0"), "all_tenants"),
        project_id=q.get("project_id"),
        times=time_filters(req),
        **paging(req),
    )


def _list(req: ApiRequest, detail: bool) -> dict[str, Any]:
    policy.enforce(req.ctx, "volume:get_all")
    found = filters(req)
    records = req.cloud.volume.volumes.list(req.ctx, found)
    render = views.volume if detail else views.volume_summary
    body: dict[str, Any] = {"volumes": [render(req, r) for r in records]}
    more = views.next_links(
        req, "volumes/detail" if detail else "volumes", body["volumes"], found.limit
    )
    if more:
        body["volumes_links"] = more
    if at_least(req, 45) and parse_bool(req.query.get("with_count", "0"), "with_count"):
        body["count"] = req.cloud.volume.volumes.count(req.ctx, found)
    return body


def list_volumes(req: ApiRequest) -> dict[str, Any]:
    """``GET /volumes``: ``{"volumes": [{id, name, links}]}``."""
    return _list(req, detail=False)


def list_volumes_detail(req: ApiRequest) -> dict[str, Any]:
    """``GET /volumes/detail``: ``{"volumes": [volume]}``."""
    return _list(req, detail=True)


def get_volumes_summary(req: ApiRequest) -> dict[str, Any]:
    """``GET /volumes/summary`` (3.12+; ``metadata`` 3.36+)."""
    require(req, 12)
    policy.enforce(req.ctx, "volume:get_all")
    found = req.cloud.volume.volumes.summary(req.ctx, filters(req))
    body: dict[str, Any] = {"total_size": found.total_size, "total_count": found.total_count}
    if at_least(req, 36):
        body["metadata"] = found.metadata
    return {"volume-summary": body}


def get_volume(req: ApiRequest) -> dict[str, Any]:
    """``GET /volumes/{volume_id}``."""
    policy.enforce(req.ctx, "volume:get")
    return {
        "volume": views.volume(req, req.cloud.volume.volumes.get(req.ctx, req.params["volume_id"]))
    }


def empty_volume_id(req: ApiRequest) -> ApiResponse:
    """``GET``/``PUT``/``DELETE /volumes/`` (an empty volume id): 404, as Cinder answers,
    rather than the collection a slash-stripping redirect would reach."""
    raise exc.VolumeNotFound("")


def create_volume(req: ApiRequest) -> ApiResponse:
    """``POST /volumes`` (202): blank, from a snapshot, a volume or an image."""
    body = req.body["volume"]
    image = body.get("imageRef") or body.get("image_id")
    policy.enforce(req.ctx, "volume:create_from_image" if image else "volume:create")
    if body.get("multiattach"):
        raise exc.InvalidInput("multiattach volumes are not supported.")
    if body.get("backup_id"):
        raise exc.InvalidInput("Creating a volume from a backup is not supported here.")
    size = body.get("size")
    create = VolumeCreate(
        size=parse_int(size, "size", minimum=1) if size is not None else None,
        name=body.get("name", body.get("display_name")),
        description=body.get("description", body.get("display_description")),
        metadata=body.get("metadata") or {},
        volume_type=body.get("volume_type"),
        availability_zone=body.get("availability_zone"),
        snapshot_id=body.get("snapshot_id"),
        source_volid=body.get("source_volid"),
        image_id=image,
    )
    record = req.cloud.volume.volumes.create(req.ctx, create)
    return ApiResponse(202, {"volume": views.volume(req, record, extended=False)})


def update_volume(req: ApiRequest) -> dict[str, Any]:
    """``PUT /volumes/{volume_id}``: name, description, metadata."""
    policy.enforce(req.ctx, "volume:update")
    body = req.body["volume"]
    name_key = "name" if "name" in body else "display_name"
    desc_key = "description" if "description" in body else "display_description"
    record = req.cloud.volume.volumes.update(
        req.ctx,
        req.params["volume_id"],
        body.get(name_key),
        body.get(desc_key),
        body.get("metadata"),
        set_name=name_key in body,
        set_description=desc_key in body,
    )
    return {"volume": views.volume(req, record, extended=False)}


def delete_volume(req: ApiRequest) -> ApiResponse:
    """``DELETE /volumes/{volume_id}[?cascade=true]`` (202)."""
    policy.enforce(req.ctx, "volume:delete")
    cascade = parse_bool(req.query.get("cascade", "false"), "cascade")
    force = parse_bool(req.query.get("force", "false"), "force")
    if force:
        policy.enforce(req.ctx, "volume:force_delete")
    req.cloud.volume.volumes.delete(req.ctx, req.params["volume_id"], cascade=cascade, force=force)
    return ApiResponse(202)


# -- metadata ------------------------------------------------------------------------------
def get_metadata(req: ApiRequest) -> dict[str, Any]:
    """``GET /volumes/{volume_id}/metadata``."""
    policy.enforce(req.ctx, "volume:get_volume_metadata")
    return {"metadata": req.cloud.volume.volumes.get_metadata(req.ctx, req.params["volume_id"])}


def create_metadata(req: ApiRequest) -> dict[str, Any]:
    """``POST /volumes/{volume_id}/metadata``: merged in."""
    policy.enforce(req.ctx, "volume:create_volume_metadata")
    meta = req.cloud.volume.volumes.set_metadata(
        req.ctx, req.params["volume_id"], req.body["metadata"], replace=False
    )
    return {"metadata": meta}


def replace_metadata(req: ApiRequest) -> dict[str, Any]:
    """``PUT /volumes/{volume_id}/metadata``: replaced."""
    policy.enforce(req.ctx, "volume:update_volume_metadata")
    meta = req.cloud.volume.volumes.set_metadata(
        req.ctx, req.params["volume_id"], req.body["metadata"], replace=True
    )
    return {"metadata": meta}


def get_metadata_item(req: ApiRequest) -> dict[str, Any]:
    """``GET /volumes/{volume_id}/metadata/{key}``: ``{"meta": {key: value}}``."""
    policy.enforce(req.ctx, "volume:get_volume_metadata")
    key = req.params["key"]
    meta = req.cloud.volume.volumes.get_metadata(req.ctx, req.params["volume_id"])
    if key not in meta:
        raise exc.VolumeMetadataNotFound(req.params["volume_id"], key)
    return {"meta": {key: meta[key]}}


def update_metadata_item(req: ApiRequest) -> dict[str, Any]:
    """``PUT /volumes/{volume_id}/metadata/{key}`` with ``{"meta": {key: value}}``."""
    policy.enforce(req.ctx, "volume:update_volume_metadata")
    key, item = req.params["key"], req.body["meta"]
    if list(item) != [key]:
        raise exc.InvalidInput("Request body and URI mismatch")
    req.cloud.volume.volumes.set_metadata(req.ctx, req.params["volume_id"], item, replace=False)
    return {"meta": item}


def delete_metadata_item(req: ApiRequest) -> ApiResponse:
    """``DELETE /volumes/{volume_id}/metadata/{key}`` (200, as Cinder)."""
    policy.enforce(req.ctx, "volume:delete_volume_metadata")
    req.cloud.volume.volumes.delete_metadata(req.ctx, req.params["volume_id"], req.params["key"])
    return ApiResponse(200)
