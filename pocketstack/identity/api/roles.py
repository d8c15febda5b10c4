"""Roles, implied roles, grants and the role assignment listing (Identity API v3 "Roles",
"Implied roles", "Role assignments", "System Role Assignments", and OS-INHERIT's inherited
grants under ``/v3/OS-INHERIT/{domains|projects}/...``, which Keystone guards with the
same ``identity:*_grant(s)`` rules)."""

from __future__ import annotations

from functools import partial
from typing import Any

from pocketstack.common import errors, policy
from pocketstack.common.http import ApiRequest, ApiResponse, route
from pocketstack.identity.api import schemas, views
from pocketstack.identity.api.parsing import changes, field, query, query_bool
from pocketstack.identity.exceptions import RoleNotFound

_ROLE_FIELDS = {"name": str, "description": str}


def list_roles(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/roles?name="""
    policy.enforce(req.ctx, "identity:list_roles")
    rows = req.cloud.identity.roles.list(req.ctx, query(req, "name"))
    return views.collection(req, "roles", [views.role(req, r) for r in rows])


def get_role(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/roles/{role_id}"""
    policy.enforce(req.ctx, "identity:get_role")
    return {"role": views.role(req, req.cloud.identity.roles.get(req.ctx, req.params["role_id"]))}


def create_role(req: ApiRequest) -> ApiResponse:
    """POST /v3/roles (201)"""
    policy.enforce(req.ctx, "identity:create_role")
    b = req.require_body("role")
    r = req.cloud.identity.roles.create(
        req.ctx, field(b, "name", required=True), field(b, "description")
    )
    return ApiResponse(201, {"role": views.role(req, r)})


def update_role(req: ApiRequest) -> dict[str, Any]:
    """PATCH /v3/roles/{role_id}"""
    policy.enforce(req.ctx, "identity:update_role")
    r = req.cloud.identity.roles.update(
        req.ctx, req.params["role_id"], changes(req.require_body("role"), _ROLE_FIELDS)
    )
    return {"role": views.role(req, r)}


def delete_role(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/roles/{role_id} (204)"""
    policy.enforce(req.ctx, "identity:delete_role")
    req.cloud.identity.roles.delete(req.ctx, req.params["role_id"])
    return ApiResponse(204)


def create_implied_role(req: ApiRequest) -> ApiResponse:
    """PUT /v3/roles/{prior_id}/implies/{implied_id} (201)"""
    policy.enforce(req.ctx, "identity:create_implied_role")
    prior, implied = req.cloud.identity.roles.create_implied(
        req.ctx, req.params["prior_id"], req.params["implied_id"]
    )
    return ApiResponse(201, views.implied_role(req, prior, implied))


def get_implied_role(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/roles/{prior_id}/implies/{implied_id}"""
    policy.enforce(req.ctx, "identity:get_implied_role")
    prior, implied = req.cloud.identity.roles.get_implied(
        req.ctx, req.params["prior_id"], req.params["implied_id"]
    )
    return views.implied_role(req, prior, implied)


def check_implied_role(req: ApiRequest) -> ApiResponse:
    """HEAD /v3/roles/{prior_id}/implies/{implied_id} (204 or 404, as Keystone)"""
    policy.enforce(req.ctx, "identity:check_implied_role")
    req.cloud.identity.roles.get_implied(req.ctx, req.params["prior_id"], req.params["implied_id"])
    return ApiResponse(204)


def delete_implied_role(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/roles/{prior_id}/implies/{implied_id} (204)"""
    policy.enforce(req.ctx, "identity:delete_implied_role")
    req.cloud.identity.roles.delete_implied(
        req.ctx, req.params["prior_id"], req.params["implied_id"]
    )
    return ApiResponse(204)


def list_implied_roles(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/roles/{prior_id}/implies"""
    policy.enforce(req.ctx, "identity:list_implied_roles")
    [(prior, implied)] = req.cloud.identity.roles.list_implied(req.ctx, req.params["prior_id"])
    return views.implied_roles(req, prior, implied)


def list_role_inferences(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/role_inferences"""
    policy.enforce(req.ctx, "identity:list_role_inference_rules")
    rows = req.cloud.identity.roles.list_implied(req.ctx)
    return views.collection(req, "role_inferences", [views.inference(req, p, i) for p, i in rows])


def _grant_args(target: str, actor: str, req: ApiRequest) -> tuple[str, str, str, str]:
    target_id = "system" if target == "system" else req.params["target_id"]
    return actor, req.params["actor_id"], target, target_id


def _rule(action: str, target: str, actor: str) -> str:
    """Keystone's rule name: ``identity:create_grant``... for projects and domains,
    ``identity:create_system_grant_for_user``... for the system."""
    if target == "system":
        return f"identity:{action}_system_grant{'s' if action == 'list' else ''}_for_{actor}"
    return f"identity:{action}_grant{'s' if action == 'list' else ''}"


#: The roles a domain manager may grant (Keystone's ``domain_managed_target_role``).
DOMAIN_MANAGED_ROLES = ("manager", "member", "reader")


def _grant_target(target: str, actor: str, req: ApiRequest, granting: bool) -> dict[str, Any]:
    """The policy target of a grant call: ``{"domain_id"}`` when the actor and the project
    (or domain) are of one domain, and, for a grant or revocation, the role is one a domain
    manager may hand out; else None (only admins, and readers of the system, pass)."""
    if target == "system":
        return {}
    identity = req.cloud.identity
    actor_domain = identity.domain_of(actor, req.params["actor_id"])
    target_id = req.params["target_id"]
    target_domain = identity.domain_of("project", target_id) if target == "project" else target_id
    same = actor_domain is not None and actor_domain == target_domain
    if same and granting:
        try:
            same = identity.roles.get(req.ctx, req.params["role_id"]).name in DOMAIN_MANAGED_ROLES
        except RoleNotFound:
            same = False
    return {"domain_id": actor_domain if same else None}


def create_grant(target: str, actor: str, req: ApiRequest, inherited: bool = False) -> ApiResponse:
    """PUT /v3/{projects|domains}/{id}/{users|groups}/{id}/roles/{role_id} and
    PUT /v3/system/{users|groups}/{id}/roles/{role_id} and, ``inherited``,
    PUT /v3/OS-INHERIT/{domains|projects}/{id}/{users|groups}/{id}/roles/{role_id}/
    inherited_to_projects (204)"""
    policy.enforce(req.ctx, _rule("create", target, actor), _grant_target(target, actor, req, True))
    req.cloud.identity.roles.grant(
        req.ctx, req.params["role_id"], *_grant_args(target, actor, req), inherited=inherited
    )
    return ApiResponse(204)


def check_grant(target: str, actor: str, req: ApiRequest, inherited: bool = False) -> ApiResponse:
    """HEAD/GET .../roles/{role_id} (204 or 404)"""
    policy.enforce(req.ctx, _rule("check", target, actor), _grant_target(target, actor, req, False))
    req.cloud.identity.roles.check_grant(
        req.ctx, req.params["role_id"], *_grant_args(target, actor, req), inherited=inherited
    )
    return ApiResponse(204)


def revoke_grant(target: str, actor: str, req: ApiRequest, inherited: bool = False) -> ApiResponse:
    """DELETE .../roles/{role_id} (204)"""
    policy.enforce(req.ctx, _rule("revoke", target, actor), _grant_target(target, actor, req, True))
    req.cloud.identity.roles.revoke_grant(
        req.ctx, req.params["role_id"], *_grant_args(target, actor, req), inherited=inherited
    )
    return ApiResponse(204)


def list_grants(
    target: str, actor: str, req: ApiRequest, inherited: bool = False
) -> dict[str, Any]:
    """GET /v3/{projects|domains}/{id}/{users|groups}/{id}/roles,
    GET /v3/system/{users|groups}/{id}/roles and, ``inherited``,
    GET /v3/OS-INHERIT/{domains|projects}/{id}/{users|groups}/{id}/roles/inherited_to_projects
    """
    policy.enforce(req.ctx, _rule("list", target, actor), _grant_target(target, actor, req, False))
    rows = req.cloud.identity.roles.list_grants(
        req.ctx, *_grant_args(target, actor, req), inherited=inherited
    )
    if target == "system":
        path = f"system/{actor}s/{req.params['actor_id']}/roles"
    else:
        path = f"{target}s/{req.params['target_id']}/{actor}s/{req.params['actor_id']}/roles"
    if inherited:
        path = f"OS-INHERIT/{path}/inherited_to_projects"
    return views.collection(req, "roles", [views.role(req, r) for r in rows], path)


def list_role_assignments(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/role_assignments?user.id=&group.id=&scope.project.id=&scope.domain.id=
    &scope.system=all&scope.OS-INHERIT:inherited_to=projects&role.id=&effective
    &include_names&include_subtree (non-admins see only their own).

    Raises:
        BadRequest (400): ``include_subtree`` without ``scope.project.id`` (Keystone's
        wording).
    """
    policy.enforce(req.ctx, "identity:list_role_assignments")
    include_subtree = query_bool(req, "include_subtree")
    if include_subtree and query(req, "scope.project.id") is None:
        raise errors.BadRequest(
            "scope.project.id must be specified if include_subtree is also specified"
        )
    filters = {
        "user_id": query(req, "user.id"),
        "group_id": query(req, "group.id"),
        "project_id": query(req, "scope.project.id"),
        "domain_id": query(req, "scope.domain.id"),
        "system": query(req, "scope.system") is not None,
        "role_id": query(req, "role.id"),
        "inherited": query(req, "scope.OS-INHERIT:inherited_to") == "projects",
        "effective": query_bool(req, "effective"),
        "include_names": query_bool(req, "include_names"),
        "include_subtree": include_subtree,
    }
    rows = req.cloud.identity.roles.list_assignments(req.ctx, filters)
    return views.collection(req, "role_assignments", [views.assignment(req, a) for a in rows])


def _grant_routes() -> list[Any]:
    out = []
    for target in ("project", "domain", "system"):
        for actor in ("user", "group"):
            where = "system" if target == "system" else f"{target}s/{{target_id}}"
            base = f"/v3/{where}/{actor}s/{{actor_id}}/roles"
            out += [
                route("GET", base, partial(list_grants, target, actor)),
                route(
                    "PUT",
                    base + "/{role_id}",
                    partial(create_grant, target, actor),
                    schema=schemas.NO_BODY,
                ),
                route("GET", base + "/{role_id}", partial(check_grant, target, actor)),
                route("HEAD", base + "/{role_id}", partial(check_grant, target, actor)),
                route("DELETE", base + "/{role_id}", partial(revoke_grant, target, actor)),
            ]
    return out


def _inherited_grant_routes() -> list[Any]:
    """OS-INHERIT: PUT/HEAD/GET/DELETE .../roles/{role_id}/inherited_to_projects and
    GET .../roles/inherited_to_projects, on domains and on projects."""
    out = []
    for target in ("domain", "project"):
        for actor in ("user", "group"):
            base = f"/v3/OS-INHERIT/{target}s/{{target_id}}/{actor}s/{{actor_id}}/roles"
            one = base + "/{role_id}/inherited_to_projects"
            out += [
                route(
                    "GET",
                    base + "/inherited_to_projects",
                    partial(list_grants, target, actor, inherited=True),
                ),
                route(
                    "PUT",
                    one,
                    partial(create_grant, target, actor, inherited=True),
                    schema=schemas.NO_BODY,
                ),
                route("GET", one, partial(check_grant, target, actor, inherited=True)),
                route("HEAD", one, partial(check_grant, target, actor, inherited=True)),
                route("DELETE", one, partial(revoke_grant, target, actor, inherited=True)),
            ]
    return out


_I = "/v3/roles/{prior_id}/implies"
ROUTES = [
    route("GET", "/v3/roles", list_roles),
    route("POST", "/v3/roles", create_role, schema=schemas.ROLE_CREATE),
    route("GET", "/v3/roles/{role_id}", get_role),
    route("PATCH", "/v3/roles/{role_id}", update_role, schema=schemas.ROLE_UPDATE),
    route("DELETE", "/v3/roles/{role_id}", delete_role),
    route("GET", _I, list_implied_roles),
    route("PUT", _I + "/{implied_id}", create_implied_role, schema=schemas.NO_BODY),
    route("GET", _I + "/{implied_id}", get_implied_role),
    route("HEAD", _I + "/{implied_id}", check_implied_role),
    route("DELETE", _I + "/{implied_id}", delete_implied_role),
    route("GET", "/v3/role_inferences", list_role_inferences),
    route("GET", "/v3/role_assignments", list_role_assignments),
    *_grant_routes(),
    *_inherited_grant_routes(),
]
