"""Allocations and usages (Placement API reference, "Allocations", "Resource provider
allocations", "Usages", "Resource provider usages"): ``/allocations[/{consumer_uuid}]``,
``/resource_providers/{uuid}/allocations``, ``/usages``, ``/resource_providers/{uuid}/usages``."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse
from pocketstack.placement import exceptions as exc
from pocketstack.placement.allocations import UNCHECKED, ConsumerAllocations, ConsumerView
from pocketstack.placement.api.microversions import at_least


def _consumer_write(req: ApiRequest, consumer: str, body: dict[str, Any]) -> ConsumerAllocations:
    """The manager's ``ConsumerAllocations`` from one consumer's body, in the request's
    microversion's shape."""
    allocations = body["allocations"]
    if at_least(req, 12) != isinstance(allocations, dict):
        raise exc.InvalidQuery(
            "JSON does not validate: 'allocations' must be "
            + ("an object keyed by provider UUID" if at_least(req, 12) else "a list")
        )
    if isinstance(allocations, dict):
        wanted = {uuid: dict(a["resources"]) for uuid, a in allocations.items()}
    else:
        wanted = {}
        for a in allocations:
            wanted.setdefault(a["resource_provider"]["uuid"], {}).update(a["resources"])
    if not at_least(req, 28) and not wanted:
        raise exc.InvalidQuery("JSON does not validate: allocations must not be empty")
    for key, minor in (("consumer_generation", 28), ("consumer_type", 38), ("mappings", 34)):
        if key in body and not at_least(req, minor):
            raise exc.InvalidQuery(f"JSON does not validate: '{key}' was unexpected")
    missing = [k for k in ("project_id", "user_id") if k not in body]
    if at_least(req, 8) and missing:
        raise exc.InvalidQuery(f"JSON does not validate: '{missing[0]}' is a required property")
    if at_least(req, 28) and "consumer_generation" not in body:
        raise exc.InvalidQuery(
            "JSON does not validate: 'consumer_generation' is a required property"
        )
    if at_least(req, 38) and "consumer_type" not in body:
        raise exc.InvalidQuery("JSON does not validate: 'consumer_type' is a required property")
    return ConsumerAllocations(
        consumer,
        wanted,
        body.get("project_id") or req.ctx.project_id or "",
        body.get("user_id") or req.ctx.user_id or "",
        body["consumer_generation"] if at_least(req, 28) else UNCHECKED,
        body.get("consumer_type"),
    )


def _consumer_view(req: ApiRequest, view: ConsumerView) -> dict[str, Any]:
    allocations = {}
    for uuid, (generation, resources) in view.allocations.items():
        allocations[uuid] = {"generation": generation, "resources": resources}
    out: dict[str, Any] = {"allocations": allocations}
    if at_least(req, 12) and view.allocations:
        out["project_id"] = view.project_id
        out["user_id"] = view.user_id
    if at_least(req, 28) and view.allocations:
        out["consumer_generation"] = view.generation
    if at_least(req, 38) and view.allocations:
        out["consumer_type"] = view.consumer_type or "UNKNOWN"
    return out


def get_allocations(req: ApiRequest) -> dict[str, Any]:
    """``GET /allocations/{consumer_uuid}``: ``{"allocations": {provider: {"generation",
    "resources"}}, "project_id", "user_id" (1.12), "consumer_generation" (1.28),
    "consumer_type" (1.38)}``; an unknown consumer has ``{}``."""
    policy.enforce(req.ctx, "placement:allocations:list")
    view = req.cloud.placement.allocations.get(req.ctx, req.params["consumer_uuid"])
    return _consumer_view(req, view)


def update_allocations(req: ApiRequest) -> ApiResponse:
    """``PUT /allocations/{consumer_uuid}``: replace the consumer's allocations (204)."""
    policy.enforce(req.ctx, "placement:allocations:update")
    write = _consumer_write(req, req.params["consumer_uuid"], req.body)
    req.cloud.placement.allocations.replace(req.ctx, [write])
    return ApiResponse(204)


def manage_allocations(req: ApiRequest) -> ApiResponse:
    """``POST /allocations`` (1.13): several consumers' allocations at once (204), e.g.
    moving a server's allocation to a migration consumer and the target host."""
    policy.enforce(req.ctx, "placement:allocations:manage")
    writes = [_consumer_write(req, c, body) for c, body in sorted(req.body.items())]
    req.cloud.placement.allocations.replace(req.ctx, writes)
    return ApiResponse(204)


def delete_allocations(req: ApiRequest) -> ApiResponse:
    """``DELETE /allocations/{consumer_uuid}`` (204; 404 when it has none)."""
    policy.enforce(req.ctx, "placement:allocations:delete")
    req.cloud.placement.allocations.delete(req.ctx, req.params["consumer_uuid"])
    return ApiResponse(204)


def list_provider_allocations(req: ApiRequest) -> dict[str, Any]:
    """``GET /resource_providers/{uuid}/allocations``."""
    policy.enforce(req.ctx, "placement:resource_providers:allocations:list")
    generation, found = req.cloud.placement.allocations.for_provider(req.ctx, req.params["uuid"])
    return {
        "resource_provider_generation": generation,
        "allocations": {c: {"resources": r} for c, r in found.items()},
    }


def get_provider_usages(req: ApiRequest) -> dict[str, Any]:
    """``GET /resource_providers/{uuid}/usages``."""
    policy.enforce(req.ctx, "placement:resource_providers:usages")
    generation, usages = req.cloud.placement.allocations.provider_usages(
        req.ctx, req.params["uuid"]
    )
    return {"resource_provider_generation": generation, "usages": usages}


def get_usages(req: ApiRequest) -> dict[str, Any]:
    """``GET /usages?project_id[&user_id][&consumer_type]`` (1.9)."""
    policy.enforce(req.ctx, "placement:usages")
    project = req.query.get("project_id")
    if not project:
        raise exc.InvalidQuery(
            "Invalid query string parameters: 'project_id' is a required property"
        )
    user = req.query.get("user_id")
    if not at_least(req, 38):
        return {"usages": req.cloud.placement.allocations.project_usages(req.ctx, project, user)}
    by_type = req.cloud.placement.allocations.project_usages_by_type(
        req.ctx, project, user, req.query.get("consumer_type")
    )
    return {
        "usages": {
            kind: {"consumer_count": count, **usages} for kind, (count, usages) in by_type.items()
        }
    }
