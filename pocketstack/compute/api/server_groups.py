"""Server groups (API reference "Server groups (os-server-groups)").

Shapes by microversion: up to 2.63 a group has ``policies`` (a list of one policy) and
``metadata`` ``{}``, and create takes ``policies``; from 2.64 it has ``policy`` and
``rules`` and create takes those (``rules.max_server_per_host`` with anti-affinity only);
``project_id``/``user_id`` from 2.13. Delete answers 204. ``openstack server group
create/list/show/delete``.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import errors, policy
from pocketstack.common.http import ApiRequest, ApiResponse, parse_int
from pocketstack.compute.api.common import bool_param
from pocketstack.compute.server_groups import ServerGroupRecord


def _version(req: ApiRequest) -> tuple[int, int]:
    return getattr(req, "api_version", (2, 1))


def server_group_view(req: ApiRequest, record: ServerGroupRecord) -> dict[str, Any]:
    """One group in the request's microversion's shape."""
    group = record.group
    view: dict[str, Any] = {"id": group.uuid, "name": group.name, "members": record.members}
    if _version(req) >= (2, 64):
        view["policy"] = group.policy
        view["rules"] = dict(group.rules or {})
    else:
        view["policies"] = [group.policy]
        view["metadata"] = {}
    if _version(req) >= (2, 13):
        view["project_id"] = group.project_id
        view["user_id"] = group.user_id
    return view


def list_server_groups(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-server-groups`` (``all_projects`` admin, ``limit``/``offset``)."""
    policy.enforce(req.ctx, "compute:os-server-groups:index")
    all_projects = bool_param(req, "all_projects")
    if all_projects:
        policy.enforce(req.ctx, "compute:os-server-groups:index:all_projects")
    limit = req.query.get("limit")
    groups = req.cloud.compute.server_groups.list(
        req.ctx,
        all_projects=all_projects,
        limit=None if limit is None else parse_int(limit, "limit", minimum=0),
        offset=parse_int(req.query.get("offset", 0), "offset", minimum=0),
    )
    return {"server_groups": [server_group_view(req, g) for g in groups]}


def get_server_group(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-server-groups/{group_id}``; 404 unknown or another project's."""
    policy.enforce(req.ctx, "compute:os-server-groups:show")
    record = req.cloud.compute.server_groups.get(req.ctx, req.params["group_id"])
    return {"server_group": server_group_view(req, record)}


def create_server_group(req: ApiRequest) -> dict[str, Any]:
    """``POST /os-server-groups`` {"server_group": {"name", "policies": [p]}} (2.1) or
    {"name", "policy", "rules"?} (2.64) → 200 the group."""
    policy.enforce(req.ctx, "compute:os-server-groups:create")
    body = req.body["server_group"]
    if _version(req) >= (2, 64):
        if "policy" not in body or "policies" in body:
            raise errors.BadRequest("Invalid input: 'policy' is a required property")
        chosen, rules = body["policy"], body.get("rules") or {}
    else:
        if "policies" not in body or "policy" in body or "rules" in body:
            raise errors.BadRequest("Invalid input: 'policies' is a required property")
        chosen, rules = body["policies"][0], {}
    record = req.cloud.compute.server_groups.create(req.ctx, body["name"], chosen, rules)
    return {"server_group": server_group_view(req, record)}


def delete_server_group(req: ApiRequest) -> ApiResponse:
    """``DELETE /os-server-groups/{group_id}`` → 204."""
    policy.enforce(req.ctx, "compute:os-server-groups:delete")
    req.cloud.compute.server_groups.delete(req.ctx, req.params["group_id"])
    return ApiResponse(status=204)
