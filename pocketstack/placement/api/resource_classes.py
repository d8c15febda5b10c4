"""Resource classes (Placement API reference, "Resource Classes"):
``/resource_classes[/{name}]`` (1.2)."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse
from pocketstack.placement.api import views
from pocketstack.placement.api.microversions import at_least
from pocketstack.placement.exceptions import InvalidQuery


def list_resource_classes(req: ApiRequest) -> dict[str, Any]:
    """``GET /resource_classes``."""
    policy.enforce(req.ctx, "placement:resource_classes:list")
    names = req.cloud.placement.resource_classes.list(req.ctx)
    return {"resource_classes": [views.resource_class(n) for n in names]}


def get_resource_class(req: ApiRequest) -> dict[str, Any]:
    """``GET /resource_classes/{name}``."""
    policy.enforce(req.ctx, "placement:resource_classes:show")
    return views.resource_class(
        req.cloud.placement.resource_classes.get(req.ctx, req.params["name"])
    )


def create_resource_class(req: ApiRequest) -> ApiResponse:
    """``POST /resource_classes`` (201, ``Location``; 409 if it exists)."""
    policy.enforce(req.ctx, "placement:resource_classes:create")
    name = req.cloud.placement.resource_classes.create(req.ctx, req.body["name"])
    return ApiResponse(201, None, {"Location": f"{req.base_url}/resource_classes/{name}"})


def update_resource_class(req: ApiRequest) -> ApiResponse | dict[str, Any]:
    """``PUT /resource_classes/{name}``: from 1.7 create it without a body (201, or 204
    when it exists); 1.2-1.6 rename a custom class to the body's ``name``."""
    name = req.params["name"]
    if at_least(req, 7):
        policy.enforce(req.ctx, "placement:resource_classes:update")
        created = req.cloud.placement.resource_classes.ensure(req.ctx, name)
        location = {"Location": f"{req.base_url}/resource_classes/{name}"}
        return ApiResponse(201 if created else 204, None, location)
    policy.enforce(req.ctx, "placement:resource_classes:update")
    body = req.body if isinstance(req.body, dict) else {}
    if not isinstance(body.get("name"), str):
        raise InvalidQuery("JSON does not validate: 'name' is a required property")
    renamed = req.cloud.placement.resource_classes.update(req.ctx, name, body["name"])
    return views.resource_class(renamed)


def delete_resource_class(req: ApiRequest) -> ApiResponse:
    """``DELETE /resource_classes/{name}`` (204)."""
    policy.enforce(req.ctx, "placement:resource_classes:delete")
    req.cloud.placement.resource_classes.delete(req.ctx, req.params["name"])
    return ApiResponse(204)
