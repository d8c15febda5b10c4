"""Version discovery (``GET /image/``, ``GET /image/versions``) and JSON schemas
(``/v2/schemas/image(s)``, ``/v2/schemas/member(s)``) of the Image API.

The published image and member schemas come from ``schemas``, the same tables request bodies
are validated against."""

from __future__ import annotations

from typing import Any

from pocketstack.common.http import ApiRequest, ApiResponse
from pocketstack.image.api import schemas

#: the newest minor version first; v2.6+ have interoperable import, v2.7 os_hidden
CURRENT = "v2.16"
SUPPORTED = tuple(f"v2.{n}" for n in range(15, -1, -1))


def _versions(req: ApiRequest) -> dict[str, Any]:
    link = [{"rel": "self", "href": f"{req.base_url}/v2/"}]
    versions = [{"id": CURRENT, "status": "CURRENT", "links": link}]
    versions += [{"id": v, "status": "SUPPORTED", "links": link} for v in SUPPORTED]
    return {"versions": versions}


def list_versions(req: ApiRequest) -> ApiResponse:
    """GET /image/: 300 Multiple Choices with the versions, as Glance answers."""
    return ApiResponse(300, _versions(req))


def show_versions(req: ApiRequest) -> dict[str, Any]:
    """GET /image/versions: 200 with the versions."""
    return _versions(req)


def image_schema(req: ApiRequest) -> dict[str, Any]:
    """GET /v2/schemas/image (Image API "Image Schemas": "Show image schema")."""
    return schemas.image_schema()


def images_schema(req: ApiRequest) -> dict[str, Any]:
    """GET /v2/schemas/images (Image API "Image Schemas": "Show images schema")."""
    return {
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": schemas.image_schema()},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def member_schema(req: ApiRequest) -> dict[str, Any]:
    """GET /v2/schemas/member (Image API "Image Schemas": "Show image member schema")."""
    return schemas.member_schema()


def members_schema(req: ApiRequest) -> dict[str, Any]:
    """GET /v2/schemas/members (Image API "Image Schemas": "Show image members schema")."""
    return {
        "name": "members",
        "properties": {
            "members": {"type": "array", "items": schemas.member_schema()},
            "schema": {"type": "string"},
        },
        "links": [{"rel": "schema", "href": "{schema}"}],
    }
