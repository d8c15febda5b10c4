"""Version discovery (``GET /image/``, ``GET /image/versions``) and JSON schemas
(``/v2/schemas/image(s)``, ``/v2/schemas/member(s)``, ``/v2/schemas/task(s)``) of the
Image API.

The published image and member schemas come from ``schemas``, the same tables request bodies
are validated against; the task schemas describe ``tasks.task_view``."""

from __future__ import annotations

import copy
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


#: Glance's task properties (``glance.api.v2.tasks._TASK_SCHEMA``): every attribute a task
#: answer (``tasks.task_view``) carries; ``input``/``result`` JSON objects or null.
_TASK_PROPERTIES: dict[str, Any] = {
    "id": {
        "description": "An identifier for the task",
        "pattern": (
            "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}"
            "-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
        ),
        "type": "string",
    },
    "type": {
        "description": "The type of task represented by this content",
        "enum": ["import", "api_image_import", "location_import"],
        "type": "string",
    },
    "status": {
        "description": "The current status of this task",
        "enum": ["pending", "processing", "success", "failure"],
        "type": "string",
    },
    "input": {
        "description": "The parameters required by task, JSON blob",
        "type": ["null", "object"],
    },
    "result": {"description": "The result of current task, JSON blob", "type": ["null", "object"]},
    "owner": {"description": "An identifier for the owner of this task", "type": "string"},
    "message": {
        "description": "Human-readable informative message only included when appropriate "
        "(usually on failure)",
        "type": "string",
    },
    "image_id": {"description": "Image associated with the task", "type": "string"},
    "request_id": {"description": "Human-readable informative request-id", "type": "string"},
    "user_id": {"description": "User associated with the task", "type": "string"},
    "expires_at": {
        "description": "Datetime when this resource would be subject to removal",
        "type": ["null", "string"],
    },
    "created_at": {"description": "Datetime when this resource was created", "type": "string"},
    "updated_at": {"description": "Datetime when this resource was updated", "type": "string"},
    "self": {"readOnly": True, "type": "string"},
    "schema": {"readOnly": True, "type": "string"},
}


def _task_schema() -> dict[str, Any]:
    return {
        "name": "task",
        "properties": copy.deepcopy(_TASK_PROPERTIES),
        "additionalProperties": False,
    }


def task_schema(req: ApiRequest) -> dict[str, Any]:
    """GET /v2/schemas/task (Image API "Image Schemas": "Show task schema"): the shape of
    ``GET /v2/tasks/{task_id}``, as Glance's ``get_task_schema``."""
    return _task_schema()


def tasks_schema(req: ApiRequest) -> dict[str, Any]:
    """GET /v2/schemas/tasks (Image API "Image Schemas": "Show tasks schema"): the shape of
    ``GET /v2/tasks``, Glance's collection schema of tasks."""
    return {
        "name": "tasks",
        "properties": {
            "tasks": {"type": "array", "items": _task_schema()},
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }
