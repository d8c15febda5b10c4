"""The Glance v2 views of images and members (Image API v2 reference, "Show image", "List
images", "Show image member details" and "List image members"): model rows -> the API's JSON.
Links are relative (``/v2/images/<id>``) as in Glance."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pocketstack.common.db import isotime
from pocketstack.image.models import Image, ImageMember


def image_view(image: Image) -> dict[str, Any]:
    """The API dict of ``image``: standard fields, then extra properties as top-level keys.

    ``size``/``virtual_size`` in bytes (``None`` until data is uploaded), ``checksum`` MD5 hex,
    ``os_hash_value`` SHA-512 hex.
    """
    view: dict[str, Any] = dict(image.properties or {})
    view.update(
        {
            "id": image.id,
            "name": image.name,
            "status": image.status,
            "visibility": image.visibility,
            "protected": bool(image.protected),
            "os_hidden": bool(image.os_hidden),
            "owner": image.owner,
            "disk_format": image.disk_format,
            "container_format": image.container_format,
            "size": image.size,
            "virtual_size": image.virtual_size,
            "checksum": image.checksum,
            "os_hash_algo": image.os_hash_algo,
            "os_hash_value": image.os_hash_value,
            "min_disk": image.min_disk or 0,
            "min_ram": image.min_ram or 0,
            "tags": list(image.tags or []),
            "created_at": isotime(image.created_at),
            "updated_at": isotime(image.updated_at),
            "self": f"/v2/images/{image.id}",
            "file": f"/v2/images/{image.id}/file",
            "schema": "/v2/schemas/image",
        }
    )
    return view


def member_view(member: ImageMember) -> dict[str, Any]:
    """The API dict of an image member (``status``: pending, accepted or rejected)."""
    return {
        "image_id": member.image_id,
        "member_id": member.member_id,
        "status": member.status,
        "created_at": isotime(member.created_at),
        "updated_at": isotime(member.updated_at),
        "schema": "/v2/schemas/member",
    }


def images_view(images: Iterable[Image], next_link: str | None = None) -> dict[str, Any]:
    """The ``GET /v2/images`` body: ``{"images": [...], "first", "schema"[, "next"]}``;
    ``next_link`` is the relative URL of the next page (``None`` on the last page)."""
    body: dict[str, Any] = {
        "images": [image_view(i) for i in images],
        "first": "/v2/images",
        "schema": "/v2/schemas/images",
    }
    if next_link:
        body["next"] = next_link
    return body


def members_view(members: Iterable[ImageMember]) -> dict[str, Any]:
    """The ``GET /v2/images/{image_id}/members`` body: ``{"members": [...], "schema"}``."""
    return {"members": [member_view(m) for m in members], "schema": "/v2/schemas/members"}
