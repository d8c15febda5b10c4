"""Volume types, their extra specs and access (Block Storage API v3 reference, "Volume
types (types)", "Volume type access (types, action)"): ``/types[/{type_id}[/extra_specs
[/{key}]|/action|/os-volume-type-access]]``."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse, parse_bool
from pocketstack.volume import exceptions as exc
from pocketstack.volume.api import views


def list_types(req: ApiRequest) -> dict[str, Any]:
    """``GET /types[?is_public=...]``."""
    policy.enforce(req.ctx, "volume_extension:type_get_all")
    raw = req.query.get("is_public")
    is_public = None if raw in (None, "None", "none") else parse_bool(raw, "is_public")
    found = req.cloud.volume.types.list(req.ctx, is_public=is_public)
    return {"volume_types": [views.volume_type(req, t) for t in found]}


def get_type(req: ApiRequest) -> dict[str, Any]:
    """``GET /types/{type_id}`` (``default``: the default type)."""
    policy.enforce(req.ctx, "volume_extension:type_get")
    vtype = req.cloud.volume.types.get(req.ctx, req.params["type_id"])
    return {"volume_type": views.volume_type(req, vtype)}


def create_type(req: ApiRequest) -> dict[str, Any]:
    """``POST /types`` (admin)."""
    policy.enforce(req.ctx, "volume_extension:type_create")
    body = req.body["volume_type"]
    vtype = req.cloud.volume.types.create(
        req.ctx,
        body["name"],
        body.get("description"),
        parse_bool(body.get("os-volume-type-access:is_public", True), "is_public"),
        body.get("extra_specs") or {},
    )
    return {"volume_type": views.volume_type(req, vtype)}


def update_type(req: ApiRequest) -> dict[str, Any]:
    """``PUT /types/{type_id}`` (admin): name, description, is_public."""
    policy.enforce(req.ctx, "volume_extension:type_update")
    body = dict(req.body["volume_type"])
    if "is_public" in body:
        body["is_public"] = parse_bool(body["is_public"], "is_public")
    if not body:
        raise exc.InvalidVolumeType(
            "Specify volume type name, description, is_public or a combination thereof."
        )
    vtype = req.cloud.volume.types.update(req.ctx, req.params["type_id"], body)
    return {"volume_type": views.volume_type(req, vtype)}


def delete_type(req: ApiRequest) -> ApiResponse:
    """``DELETE /types/{type_id}`` (admin, 202)."""
    policy.enforce(req.ctx, "volume_extension:type_delete")
    req.cloud.volume.types.delete(req.ctx, req.params["type_id"])
    return ApiResponse(202)


# -- extra specs ---------------------------------------------------------------------------
def list_extra_specs(req: ApiRequest) -> dict[str, Any]:
    """``GET /types/{type_id}/extra_specs``."""
    policy.enforce(req.ctx, "volume_extension:types_extra_specs:index")
    specs = req.cloud.volume.types.get_extra_specs(req.ctx, req.params["type_id"])
    if not req.ctx.is_admin:
        specs = {k: v for k, v in specs.items() if k in views.USER_VISIBLE_SPECS}
    return {"extra_specs": specs}


def create_extra_specs(req: ApiRequest) -> dict[str, Any]:
    """``POST /types/{type_id}/extra_specs`` (admin): merged in."""
    policy.enforce(req.ctx, "volume_extension:types_extra_specs:create")
    specs = req.cloud.volume.types.set_extra_specs(
        req.ctx, req.params["type_id"], req.body["extra_specs"]
    )
    return {"extra_specs": specs}


def get_extra_spec(req: ApiRequest) -> dict[str, Any]:
    """``GET /types/{type_id}/extra_specs/{key}``."""
    policy.enforce(req.ctx, "volume_extension:types_extra_specs:show")
    key = req.params["key"]
    specs = req.cloud.volume.types.get_extra_specs(req.ctx, req.params["type_id"])
    if key not in specs or not (req.ctx.is_admin or key in views.USER_VISIBLE_SPECS):
        raise exc.VolumeTypeExtraSpecsNotFound(req.params["type_id"], key)
    return {key: specs[key]}


def update_extra_spec(req: ApiRequest) -> dict[str, Any]:
    """``PUT /types/{type_id}/extra_specs/{key}`` (admin) with ``{key: value}``."""
    policy.enforce(req.ctx, "volume_extension:types_extra_specs:update")
    key = req.params["key"]
    if list(req.body) != [key]:
        raise exc.InvalidInput("Request body and URI mismatch")
    return req.cloud.volume.types.set_extra_specs(req.ctx, req.params["type_id"], req.body)


def delete_extra_spec(req: ApiRequest) -> ApiResponse:
    """``DELETE /types/{type_id}/extra_specs/{key}`` (admin, 202)."""
    policy.enforce(req.ctx, "volume_extension:types_extra_specs:delete")
    req.cloud.volume.types.delete_extra_spec(req.ctx, req.params["type_id"], req.params["key"])
    return ApiResponse(202)


# -- access --------------------------------------------------------------------------------
def list_type_access(req: ApiRequest) -> dict[str, Any]:
    """``GET /types/{type_id}/os-volume-type-access`` (admin)."""
    policy.enforce(req.ctx, "volume_extension:volume_type_access:get_all_for_type")
    type_id = req.params["type_id"]
    projects = req.cloud.volume.types.list_access(req.ctx, type_id)
    return {"volume_type_access": [{"volume_type_id": type_id, "project_id": p} for p in projects]}


def run_type_action(req: ApiRequest) -> ApiResponse:
    """``POST /types/{type_id}/action``: ``addProjectAccess`` / ``removeProjectAccess``
    (admin, 202)."""
    ((name, value),) = req.body.items()
    type_id = req.params["type_id"]
    if name == "addProjectAccess":
        policy.enforce(req.ctx, "volume_extension:volume_type_access:addProjectAccess")
        req.cloud.volume.types.add_access(req.ctx, type_id, value["project"])
    else:
        policy.enforce(req.ctx, "volume_extension:volume_type_access:removeProjectAccess")
        req.cloud.volume.types.remove_access(req.ctx, type_id, value["project"])
    return ApiResponse(202)
