"""Projects (Identity API v3 "Projects"), and a user's projects."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse, route
from pocketstack.identity.api import schemas, views
from pocketstack.identity.api.parsing import changes, field, owner, query, query_bool

_PROJECT_FIELDS = {"name": str, "description": str, "enabled": bool, "tags": list}


def _tags(req: ApiRequest, name: str) -> list[str] | None:
    raw = query(req, name)
    return [t for t in raw.split(",") if t] if raw else None


def list_projects(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/projects?domain_id=&name=&enabled=&parent_id=&tags=&tags-any="""
    policy.enforce(req.ctx, "identity:list_projects")
    filters = {
        "domain_id": query(req, "domain_id"),
        "name": query(req, "name"),
        "enabled": query_bool(req, "enabled"),
        "parent_id": query(req, "parent_id"),
        "tags": _tags(req, "tags"),
        "tags-any": _tags(req, "tags-any"),
    }
    rows = req.cloud.identity.projects.list(req.ctx, filters)
    return views.collection(req, "projects", [views.project(req, p) for p in rows])


def get_project(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/projects/{project_id}"""
    policy.enforce(req.ctx, "identity:get_project", {"project_id": req.params["project_id"]})
    p = req.cloud.identity.projects.get(req.ctx, req.params["project_id"])
    return {"project": views.project(req, p)}


def create_project(req: ApiRequest) -> ApiResponse:
    """POST /v3/projects (201)"""
    policy.enforce(req.ctx, "identity:create_project")
    body = req.require_body("project")
    p = req.cloud.identity.projects.create(
        req.ctx,
        field(body, "name", required=True),
        field(body, "domain_id"),
        field(body, "description", default=""),
        field(body, "enabled", bool, default=True),
        field(body, "tags", list),
        field(body, "parent_id"),
    )
    return ApiResponse(201, {"project": views.project(req, p)})


def update_project(req: ApiRequest) -> dict[str, Any]:
    """PATCH /v3/projects/{project_id}"""
    policy.enforce(req.ctx, "identity:update_project")
    p = req.cloud.identity.projects.update(
        req.ctx, req.params["project_id"], changes(req.require_body("project"), _PROJECT_FIELDS)
    )
    return {"project": views.project(req, p)}


def delete_project(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/projects/{project_id} (204)"""
    policy.enforce(req.ctx, "identity:delete_project")
    req.cloud.identity.projects.delete(req.ctx, req.params["project_id"])
    return ApiResponse(204)


def list_user_projects(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/users/{user_id}/projects (self or admin)"""
    policy.enforce(req.ctx, "identity:list_user_projects", owner(req))
    rows = req.cloud.identity.projects.list_for_user(req.ctx, req.params["user_id"])
    return views.collection(
        req,
        "projects",
        [views.project(req, p) for p in rows],
        f"users/{req.params['user_id']}/projects",
    )


ROUTES = [
    route("GET", "/v3/projects", list_projects),
    route("POST", "/v3/projects", create_project, schema=schemas.PROJECT_CREATE),
    route("GET", "/v3/projects/{project_id}", get_project),
    route("PATCH", "/v3/projects/{project_id}", update_project, schema=schemas.PROJECT_UPDATE),
    route("DELETE", "/v3/projects/{project_id}", delete_project),
    route("GET", "/v3/users/{user_id}/projects", list_user_projects),
]
