"""Version discovery (``GET /image/``, ``GET /image/versions``) and JSON schemas
(``/v2/schemas/image(s)``, ``/v2/schemas/member(s)``) of the Image API."""

from __future__ import annotations

from typing import Any

from pocketstack.common.http import ApiRequest, ApiResponse
from pocketstack.image.access import MEMBER_STATUSES, VISIBILITIES
from pocketstack.image.formats import CONTAINER_FORMATS, DISK_FORMATS

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


def _image_schema() -> dict[str, Any]:
    string = {"type": ["null", "string"], "maxLength": 255}
    props: dict[str, Any] = {
        "id": {
            "type": "string",
            "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-"
            "([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$",
        },
        "name": string,
        "status": {
            "type": "string",
            "readOnly": True,
            "enum": [
                "queued",
                "saving",
                "active",
                "killed",
                "deleted",
                "uploading",
                "importing",
                "pending_delete",
                "deactivated",
            ],
        },
        "visibility": {"type": "string", "enum": list(VISIBILITIES)},
        "protected": {"type": "boolean"},
        "os_hidden": {"type": "boolean"},
        "checksum": {**string, "readOnly": True},
        "os_hash_algo": {**string, "readOnly": True},
        "os_hash_value": {"type": ["null", "string"], "readOnly": True, "maxLength": 128},
        "owner": string,
        "size": {"type": ["null", "integer"], "readOnly": True},
        "virtual_size": {"type": ["null", "integer"], "readOnly": True},
        "container_format": {"type": ["null", "string"], "enum": [None, *CONTAINER_FORMATS]},
        "disk_format": {"type": ["null", "string"], "enum": [None, *DISK_FORMATS]},
        "created_at": {"type": "string", "readOnly": True},
        "updated_at": {"type": "string", "readOnly": True},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 255}},
        "min_ram": {"type": "integer"},
        "min_disk": {"type": "integer"},
        "self": {"type": "string", "readOnly": True},
        "file": {"type": "string", "readOnly": True},
        "schema": {"type": "string", "readOnly": True},
    }
    return {
        "name": "image",
        "properties": props,
        "additionalProperties": {"type": "string"},
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def _member_schema() -> dict[str, Any]:
    return {
        "name": "member",
        "properties": {
            "created_at": {"type": "string"},
            "updated_at": {"type": "string"},
            "image_id": {"type": "string"},
            "member_id": {"type": "string"},
            "status": {"type": "string", "enum": list(MEMBER_STATUSES)},
            "schema": {"type": "string", "readOnly": True},
        },
    }


def image_schema(req: ApiRequest) -> dict[str, Any]:
    """GET /v2/schemas/image."""
    return _image_schema()


def images_schema(req: ApiRequest) -> dict[str, Any]:
    """GET /v2/schemas/images."""
    return {
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": _image_schema()},
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
    """GET /v2/schemas/member."""
    return _member_schema()


def members_schema(req: ApiRequest) -> dict[str, Any]:
    """GET /v2/schemas/members."""
    return {
        "name": "members",
        "properties": {
            "members": {"type": "array", "items": _member_schema()},
            "schema": {"type": "string"},
        },
        "links": [{"rel": "schema", "href": "{schema}"}],
    }
