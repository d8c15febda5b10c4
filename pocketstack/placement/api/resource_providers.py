"""Resource providers and their aggregates and traits (Placement API reference,
"Resource Providers", "Resource provider aggregates", "Resource provider traits"):
``/resource_providers[/{uuid}[/aggregates|/traits]]``."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse
from pocketstack.placement import exceptions as exc
from pocketstack.placement.api import params, views
from pocketstack.placement.api.microversions import at_least


def list_resource_providers(req: ApiRequest) -> dict[str, Any]:
    """``GET /resource_providers[?name&uuid&member_of&resources&in_tree&required]``."""
    policy.enforce(req.ctx, "placement:resource_providers:list")
    for key, minor in (("member_of", 3), ("resources", 4), ("in_tree", 14), ("required", 18)):
        if key in req.query and not at_least(req, minor):
            raise exc.InvalidQuery(f"Invalid query string parameters: '{key}' was unexpected")
    filters = params.filters(req, with_names=True)
    wanted = params.resources(req, req.query["resources"]) if "resources" in req.query else None
    found = req.cloud.placement.resource_providers.list(req.ctx, filters, wanted)
    return {"resource_providers": [views.provider(req, p) for p in found]}


def get_resource_provider(req: ApiRequest) -> dict[str, Any]:
    """``GET /resource_providers/{uuid}``."""
    policy.enforce(req.ctx, "placement:resource_providers:show")
    found = req.cloud.placement.resource_providers.get(req.ctx, req.params["uuid"])
    return views.provider(req, found)


def create_resource_provider(req: ApiRequest) -> ApiResponse:
    """``POST /resource_providers``: 201 with a ``Location`` and no body; from 1.20, 200
    with the provider."""
    policy.enforce(req.ctx, "placement:resource_providers:create")
    body = req.body
    if "parent_provider_uuid" in body and not at_least(req, 14):
        raise exc.InvalidQuery("JSON does not validate: 'parent_provider_uuid' was unexpected")
    created = req.cloud.placement.resource_providers.create(
        req.ctx, body["name"], body.get("uuid"), body.get("parent_provider_uuid")
    )
    location = f"{req.base_url}/resource_providers/{created.uuid}"
    if at_least(req, 20):
        return ApiResponse(200, views.provider(req, created), {"Location": location})
    return ApiResponse(201, None, {"Location": location})


def update_resource_provider(req: ApiRequest) -> dict[str, Any]:
    """``PUT /resource_providers/{uuid}``: name, and (1.14) a parent for a root."""
    policy.enforce(req.ctx, "placement:resource_providers:update")
    body = req.body
    if "parent_provider_uuid" in body and not at_least(req, 14):
        raise exc.InvalidQuery("JSON does not validate: 'parent_provider_uuid' was unexpected")
    updated = req.cloud.placement.resource_providers.update(
        req.ctx,
        req.params["uuid"],
        body["name"],
        body.get("parent_provider_uuid"),
        "parent_provider_uuid" in body,
    )
    return views.provider(req, updated)


def delete_resource_provider(req: ApiRequest) -> ApiResponse:
    """``DELETE /resource_providers/{uuid}`` (204)."""
    policy.enforce(req.ctx, "placement:resource_providers:delete")
    req.cloud.placement.resource_providers.delete(req.ctx, req.params["uuid"])
    return ApiResponse(204)


def _aggregates(req: ApiRequest, generation: int, aggregates: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"aggregates": aggregates}
    if at_least(req, 19):
        out["resource_provider_generation"] = generation
    return out


def list_aggregates(req: ApiRequest) -> dict[str, Any]:
    """``GET /resource_providers/{uuid}/aggregates`` (1.1)."""
    policy.enforce(req.ctx, "placement:resource_providers:aggregates:list")
    generation, aggs = req.cloud.placement.resource_providers.get_aggregates(
        req.ctx, req.params["uuid"]
    )
    return _aggregates(req, generation, aggs)


def update_aggregates(req: ApiRequest) -> dict[str, Any]:
    """``PUT /resource_providers/{uuid}/aggregates``: a list (1.1-1.18) or, from 1.19,
    ``{"aggregates", "resource_provider_generation"}``."""
    policy.enforce(req.ctx, "placement:resource_providers:aggregates:update")
    body = req.body
    if at_least(req, 19) != isinstance(body, dict):
        raise exc.InvalidQuery(
            "JSON does not validate: aggregates must be "
            + ("an object with the provider generation" if at_least(req, 19) else "a list")
        )
    aggs, generation = (
        (body["aggregates"], body["resource_provider_generation"])
        if isinstance(body, dict)
        else (body, None)
    )
    generation, found = req.cloud.placement.resource_providers.set_aggregates(
        req.ctx, req.params["uuid"], aggs, generation
    )
    return _aggregates(req, generation, found)


def list_provider_traits(req: ApiRequest) -> dict[str, Any]:
    """``GET /resource_providers/{uuid}/traits`` (1.6)."""
    policy.enforce(req.ctx, "placement:resource_providers:traits:list")
    generation, names = req.cloud.placement.resource_providers.get_traits(
        req.ctx, req.params["uuid"]
    )
    return {"traits": names, "resource_provider_generation": generation}


def update_provider_traits(req: ApiRequest) -> dict[str, Any]:
    """``PUT /resource_providers/{uuid}/traits`` (1.6): replace them all."""
    policy.enforce(req.ctx, "placement:resource_providers:traits:update")
    generation, names = req.cloud.placement.resource_providers.set_traits(
        req.ctx, req.params["uuid"], req.body["traits"], req.body["resource_provider_generation"]
    )
    return {"traits": names, "resource_provider_generation": generation}


def delete_provider_traits(req: ApiRequest) -> ApiResponse:
    """``DELETE /resource_providers/{uuid}/traits`` (1.6, 204)."""
    policy.enforce(req.ctx, "placement:resource_providers:traits:delete")
    req.cloud.placement.resource_providers.delete_traits(req.ctx, req.params["uuid"])
    return ApiResponse(204)
