"""Projects (Identity API v3 "Projects", "Project tags"), and a user's projects."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse, route
from pocketstack.identity.api import schemas, views
from pocketstack.identity.api.parsing import (
    changes,
    domain_scoped,
    field,
    in_domain,
    listing_domain,
    owner,
    query,
    query_bool,
)
from pocketstack.identity.exceptions import ValidationError

_PROJECT_FIELDS = {
    "name": str,
    "description": str,
    "enabled": bool,
    "tags": list,
    "parent_id": str,  # refused (403) unless unchanged, as Keystone
}


def _tags(req: ApiRequest, name: str) -> list[str] | None:
    raw = query(req, name)
    return [t for t in raw.split(",") if t] if raw else None


def list_projects(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/projects?domain_id=&name=&enabled=&parent_id=&tags=&tags-any="""
    domain_id = listing_domain(req)
    policy.enforce(req.ctx, "identity:list_projects", {"domain_id": domain_id})
    filters = {
        "domain_id": domain_id,
        "name": query(req, "name"),
        "enabled": query_bool(req, "enabled"),
        "parent_id": query(req, "parent_id"),
        "tags": _tags(req, "tags"),
        "tags-any": _tags(req, "tags-any"),
    }
    rows = req.cloud.identity.projects.list(req.ctx, filters)
    return views.collection(req, "projects", [views.project(req, p) for p in rows])


def get_project(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/projects/{project_id}?parents_as_list&subtree_as_list (the ancestors,
    nearest first, and the descendants as ``[{"project": {...}}]``, as Keystone)"""
    project_id = req.params["project_id"]
    target = {"project_id": project_id, **in_domain(req, "project", project_id)}
    policy.enforce(req.ctx, "identity:get_project", target)
    p = req.cloud.identity.projects.get(req.ctx, req.params["project_id"])
    out = views.project(req, p)
    if "parents_as_list" in req.query or "subtree_as_list" in req.query:
        parents, subtree = req.cloud.identity.projects.hierarchy(req.ctx, p.id)
        if "parents_as_list" in req.query:
            out["parents"] = [{"project": views.project(req, x)} for x in parents]
        if "subtree_as_list" in req.query:
            out["subtree"] = [{"project": views.project(req, x)} for x in subtree]
    return {"project": out}


def create_project(req: ApiRequest) -> ApiResponse:
    """POST /v3/projects (201)"""
    body = req.require_body("project")
    domain_id = field(body, "domain_id")
    parent_id = field(body, "parent_id")
    if not domain_id and parent_id:  # a parent project's domain, or the parent domain
        domain_id = req.cloud.identity.domain_of("project", parent_id) or parent_id
    if not domain_id and domain_scoped(req):
        domain_id = req.ctx.domain_id
    policy.enforce(req.ctx, "identity:create_project", {"domain_id": domain_id or "default"})
    p = req.cloud.identity.projects.create(
        req.ctx,
        field(body, "name", required=True),
        field(body, "domain_id") or (req.ctx.domain_id if domain_scoped(req) else None),
        field(body, "description", default=""),
        field(body, "enabled", bool, default=True),
        field(body, "tags", list),
        field(body, "parent_id"),
    )
    return ApiResponse(201, {"project": views.project(req, p)})


def update_project(req: ApiRequest) -> dict[str, Any]:
    """PATCH /v3/projects/{project_id}"""
    target = in_domain(req, "project", req.params["project_id"])
    policy.enforce(req.ctx, "identity:update_project", target)
    p = req.cloud.identity.projects.update(
        req.ctx, req.params["project_id"], changes(req.require_body("project"), _PROJECT_FIELDS)
    )
    return {"project": views.project(req, p)}


def delete_project(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/projects/{project_id} (204)"""
    target = in_domain(req, "project", req.params["project_id"])
    policy.enforce(req.ctx, "identity:delete_project", target)
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


def _project_target(req: ApiRequest) -> dict[str, str]:
    return {"project_id": req.params["project_id"]}


def list_tags(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/projects/{project_id}/tags: ``{"tags": [...]}``"""
    policy.enforce(req.ctx, "identity:get_project_tags", _project_target(req))
    return {"tags": list(req.cloud.identity.projects.get(req.ctx, req.params["project_id"]).tags)}


def replace_tags(req: ApiRequest) -> dict[str, Any]:
    """PUT /v3/projects/{project_id}/tags ``{"tags": [...]}``: replaces them all (200)"""
    policy.enforce(req.ctx, "identity:update_project_tags")
    tags = req.body.get("tags") if isinstance(req.body, dict) else None
    if not isinstance(tags, list):
        raise ValidationError("'tags' must be a list of strings.")
    p = req.cloud.identity.projects.set_tags(req.ctx, req.params["project_id"], tags)
    return {"tags": list(p.tags)}


def delete_tags(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/projects/{project_id}/tags (204)"""
    policy.enforce(req.ctx, "identity:delete_project_tags")
    req.cloud.identity.projects.set_tags(req.ctx, req.params["project_id"], [])
    return ApiResponse(204)


def check_tag(req: ApiRequest) -> ApiResponse:
    """GET/HEAD /v3/projects/{project_id}/tags/{tag} (204, or 404)"""
    policy.enforce(req.ctx, "identity:get_project_tag", _project_target(req))
    req.cloud.identity.projects.check_tag(req.ctx, req.params["project_id"], req.params["tag"])
    return ApiResponse(204)


def add_tag(req: ApiRequest) -> ApiResponse:
    """PUT /v3/projects/{project_id}/tags/{tag} (201, with its ``Location``)"""
    policy.enforce(req.ctx, "identity:create_project_tag")
    project_id, tag = req.params["project_id"], req.params["tag"]
    req.cloud.identity.projects.add_tag(req.ctx, project_id, tag)
    location = f"{req.base_url}/v3/projects/{project_id}/tags/{tag}"
    return ApiResponse(201, None, {"Location": location})


def remove_tag(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/projects/{project_id}/tags/{tag} (204, or 404)"""
    policy.enforce(req.ctx, "identity:delete_project_tag")
    req.cloud.identity.projects.remove_tag(req.ctx, req.params["project_id"], req.params["tag"])
    return ApiResponse(204)


_T = "/v3/projects/{project_id}/tags"
ROUTES = [
    route("GET", "/v3/projects", list_projects),
    route("POST", "/v3/projects", create_project, schema=schemas.PROJECT_CREATE),
    route("GET", "/v3/projects/{project_id}", get_project),
    route("PATCH", "/v3/projects/{project_id}", update_project, schema=schemas.PROJECT_UPDATE),
    route("DELETE", "/v3/projects/{project_id}", delete_project),
    route("GET", "/v3/users/{user_id}/projects", list_user_projects),
    route("GET", _T, list_tags),
    route("PUT", _T, replace_tags, schema=schemas.PROJECT_TAGS),
    route("DELETE", _T, delete_tags),
    route("GET", _T + "/{tag}", check_tag),
    route("HEAD", _T + "/{tag}", check_tag),
    route("PUT", _T + "/{tag}", add_tag, schema=schemas.NO_BODY),
    route("DELETE", _T + "/{tag}", remove_tag),
]
