"""OS-EP-FILTER (Identity API v3 extension "OS-EP-FILTER"): project-endpoint associations
and endpoint groups under ``/v3/OS-EP-FILTER``, handlers of
``cloud.identity.project_endpoints`` and ``cloud.identity.endpoint_groups``."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common import schema_types as t
from pocketstack.common.http import ApiRequest, ApiResponse, route
from pocketstack.identity.api import schemas, views
from pocketstack.identity.api.parsing import query
from pocketstack.identity.ext_models import EndpointGroup

_GROUP_FIELDS = {
    "name": t.name(255),
    "description": t.nullable(t.DESCRIPTION),
    "filters": {"type": "object"},
}
ENDPOINT_GROUP_CREATE = t.wrapped(
    "endpoint_group", t.obj(_GROUP_FIELDS, ["name", "filters"], additional=True)
)
"""POST /v3/OS-EP-FILTER/endpoint_groups ("Create endpoint group")."""
ENDPOINT_GROUP_UPDATE = t.wrapped(
    "endpoint_group", t.obj(_GROUP_FIELDS, additional=True, minProperties=1)
)
"""PATCH /v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}."""

_EPF = "/v3/OS-EP-FILTER"
_PE = _EPF + "/projects/{project_id}/endpoints/{endpoint_id}"
_EG = _EPF + "/endpoint_groups/{endpoint_group_id}"


def _group_view(req: ApiRequest, g: EndpointGroup) -> dict[str, Any]:
    return {
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "filters": g.filters or {},
        "links": {"self": f"{req.base_url}{_EPF}/endpoint_groups/{g.id}"},
    }


def _ep(req: ApiRequest) -> Any:
    return req.cloud.identity.project_endpoints


def _groups(req: ApiRequest) -> Any:
    return req.cloud.identity.endpoint_groups


def add_endpoint_to_project(req: ApiRequest) -> ApiResponse:
    """PUT .../projects/{project_id}/endpoints/{endpoint_id} (204)"""
    policy.enforce(req.ctx, "identity:add_endpoint_to_project")
    _ep(req).add(req.ctx, req.params["project_id"], req.params["endpoint_id"])
    return ApiResponse(204)


def check_endpoint_in_project(req: ApiRequest) -> ApiResponse:
    """GET/HEAD .../projects/{project_id}/endpoints/{endpoint_id} (204, 404)"""
    policy.enforce(req.ctx, "identity:check_endpoint_in_project")
    _ep(req).check(req.ctx, req.params["project_id"], req.params["endpoint_id"])
    return ApiResponse(204)


def remove_endpoint_from_project(req: ApiRequest) -> ApiResponse:
    """DELETE .../projects/{project_id}/endpoints/{endpoint_id} (204)"""
    policy.enforce(req.ctx, "identity:remove_endpoint_from_project")
    _ep(req).remove(req.ctx, req.params["project_id"], req.params["endpoint_id"])
    return ApiResponse(204)


def list_endpoints_for_project(req: ApiRequest) -> dict[str, Any]:
    """GET .../projects/{project_id}/endpoints"""
    policy.enforce(req.ctx, "identity:list_endpoints_for_project")
    rows = _ep(req).list_endpoints(req.ctx, req.params["project_id"])
    return views.collection(
        req,
        "endpoints",
        [views.endpoint(req, e) for e in rows],
        f"OS-EP-FILTER/projects/{req.params['project_id']}/endpoints",
    )


def list_projects_for_endpoint(req: ApiRequest) -> dict[str, Any]:
    """GET .../endpoints/{endpoint_id}/projects"""
    policy.enforce(req.ctx, "identity:list_projects_for_endpoint")
    rows = _ep(req).list_projects(req.ctx, req.params["endpoint_id"])
    return views.collection(
        req,
        "projects",
        [views.project(req, p) for p in rows],
        f"OS-EP-FILTER/endpoints/{req.params['endpoint_id']}/projects",
    )


def list_endpoint_groups(req: ApiRequest) -> dict[str, Any]:
    """GET .../endpoint_groups?name="""
    policy.enforce(req.ctx, "identity:list_endpoint_groups")
    rows = _groups(req).list(req.ctx, query(req, "name"))
    return views.collection(
        req, "endpoint_groups", [_group_view(req, g) for g in rows], "OS-EP-FILTER/endpoint_groups"
    )


def create_endpoint_group(req: ApiRequest) -> ApiResponse:
    """POST .../endpoint_groups (201; 400 for a filter on another attribute)"""
    policy.enforce(req.ctx, "identity:create_endpoint_group")
    b = req.require_body("endpoint_group")
    g = _groups(req).create(req.ctx, b["name"], b["filters"], b.get("description"))
    return ApiResponse(201, {"endpoint_group": _group_view(req, g)})


def get_endpoint_group(req: ApiRequest) -> dict[str, Any]:
    """GET/HEAD .../endpoint_groups/{endpoint_group_id}"""
    policy.enforce(req.ctx, "identity:get_endpoint_group")
    g = _groups(req).get(req.ctx, req.params["endpoint_group_id"])
    return {"endpoint_group": _group_view(req, g)}


def update_endpoint_group(req: ApiRequest) -> dict[str, Any]:
    """PATCH .../endpoint_groups/{endpoint_group_id}"""
    policy.enforce(req.ctx, "identity:update_endpoint_group")
    g = _groups(req).update(
        req.ctx, req.params["endpoint_group_id"], dict(req.require_body("endpoint_group"))
    )
    return {"endpoint_group": _group_view(req, g)}


def delete_endpoint_group(req: ApiRequest) -> ApiResponse:
    """DELETE .../endpoint_groups/{endpoint_group_id} (204)"""
    policy.enforce(req.ctx, "identity:delete_endpoint_group")
    _groups(req).delete(req.ctx, req.params["endpoint_group_id"])
    return ApiResponse(204)


def list_projects_associated_with_endpoint_group(req: ApiRequest) -> dict[str, Any]:
    """GET .../endpoint_groups/{endpoint_group_id}/projects"""
    policy.enforce(req.ctx, "identity:list_projects_associated_with_endpoint_group")
    gid = req.params["endpoint_group_id"]
    rows = _groups(req).list_projects(req.ctx, gid)
    return views.collection(
        req,
        "projects",
        [views.project(req, p) for p in rows],
        f"OS-EP-FILTER/endpoint_groups/{gid}/projects",
    )


def list_endpoints_associated_with_endpoint_group(req: ApiRequest) -> dict[str, Any]:
    """GET .../endpoint_groups/{endpoint_group_id}/endpoints"""
    policy.enforce(req.ctx, "identity:list_endpoints_associated_with_endpoint_group")
    gid = req.params["endpoint_group_id"]
    rows = _groups(req).list_endpoints(req.ctx, gid)
    return views.collection(
        req,
        "endpoints",
        [views.endpoint(req, e) for e in rows],
        f"OS-EP-FILTER/endpoint_groups/{gid}/endpoints",
    )


def list_endpoint_groups_for_project(req: ApiRequest) -> dict[str, Any]:
    """GET .../projects/{project_id}/endpoint_groups"""
    policy.enforce(req.ctx, "identity:list_endpoint_groups_for_project")
    pid = req.params["project_id"]
    rows = _groups(req).for_project(req.ctx, pid)
    return views.collection(
        req,
        "endpoint_groups",
        [_group_view(req, g) for g in rows],
        f"OS-EP-FILTER/projects/{pid}/endpoint_groups",
    )


def add_endpoint_group_to_project(req: ApiRequest) -> ApiResponse:
    """PUT .../endpoint_groups/{endpoint_group_id}/projects/{project_id} (204)"""
    policy.enforce(req.ctx, "identity:add_endpoint_group_to_project")
    _groups(req).add_project(req.ctx, req.params["endpoint_group_id"], req.params["project_id"])
    return ApiResponse(204)


def get_endpoint_group_in_project(req: ApiRequest) -> dict[str, Any]:
    """GET/HEAD .../endpoint_groups/{endpoint_group_id}/projects/{project_id}"""
    policy.enforce(req.ctx, "identity:get_endpoint_group_in_project")
    p = _groups(req).get_project(req.ctx, req.params["endpoint_group_id"], req.params["project_id"])
    return {"project": views.project(req, p)}


def remove_endpoint_group_from_project(req: ApiRequest) -> ApiResponse:
    """DELETE .../endpoint_groups/{endpoint_group_id}/projects/{project_id} (204)"""
    policy.enforce(req.ctx, "identity:remove_endpoint_group_from_project")
    _groups(req).remove_project(req.ctx, req.params["endpoint_group_id"], req.params["project_id"])
    return ApiResponse(204)


ROUTES = [
    route("PUT", _PE, add_endpoint_to_project, schema=schemas.NO_BODY),
    route("GET", _PE, check_endpoint_in_project),
    route("DELETE", _PE, remove_endpoint_from_project),
    route("GET", _EPF + "/projects/{project_id}/endpoints", list_endpoints_for_project),
    route("GET", _EPF + "/endpoints/{endpoint_id}/projects", list_projects_for_endpoint),
    route("GET", _EPF + "/projects/{project_id}/endpoint_groups", list_endpoint_groups_for_project),
    route("GET", _EPF + "/endpoint_groups", list_endpoint_groups),
    route("POST", _EPF + "/endpoint_groups", create_endpoint_group, schema=ENDPOINT_GROUP_CREATE),
    route("GET", _EG, get_endpoint_group),
    route("PATCH", _EG, update_endpoint_group, schema=ENDPOINT_GROUP_UPDATE),
    route("DELETE", _EG, delete_endpoint_group),
    route("GET", _EG + "/projects", list_projects_associated_with_endpoint_group),
    route("GET", _EG + "/endpoints", list_endpoints_associated_with_endpoint_group),
    route(
        "PUT", _EG + "/projects/{project_id}", add_endpoint_group_to_project, schema=schemas.NO_BODY
    ),
    route("GET", _EG + "/projects/{project_id}", get_endpoint_group_in_project),
    route("DELETE", _EG + "/projects/{project_id}", remove_endpoint_group_from_project),
]
