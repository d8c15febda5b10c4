"""Resource provider inventories (Placement API reference, "Resource provider
inventories"): ``/resource_providers/{uuid}/inventories[/{resource_class}]``."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse
from pocketstack.placement.api import views
from pocketstack.placement.api.microversions import at_least, require
from pocketstack.placement.inventories import InventoryRecord, make_record


def _inventories(generation: int, records: list[InventoryRecord]) -> dict[str, Any]:
    return {
        "resource_provider_generation": generation,
        "inventories": {r.resource_class: views.inventory(r) for r in records},
    }


def _one(generation: int, record: InventoryRecord) -> dict[str, Any]:
    return {"resource_provider_generation": generation, **views.inventory(record)}


def list_inventories(req: ApiRequest) -> dict[str, Any]:
    """``GET .../inventories``."""
    policy.enforce(req.ctx, "placement:resource_providers:inventories:list")
    return _inventories(*req.cloud.placement.inventories.list(req.ctx, req.params["uuid"]))


def replace_inventories(req: ApiRequest) -> dict[str, Any]:
    """``PUT .../inventories``: the whole inventory, checked against the generation."""
    policy.enforce(req.ctx, "placement:resource_providers:inventories:update")
    records = [
        make_record(rc, values, at_least(req, 26))
        for rc, values in sorted(req.body["inventories"].items())
    ]
    found = req.cloud.placement.inventories.replace(
        req.ctx, req.params["uuid"], req.body["resource_provider_generation"], records
    )
    return _inventories(*found)


def delete_inventories(req: ApiRequest) -> ApiResponse:
    """``DELETE .../inventories`` (1.5, 204)."""
    require(req, 5)
    policy.enforce(req.ctx, "placement:resource_providers:inventories:delete")
    req.cloud.placement.inventories.delete(req.ctx, req.params["uuid"], None)
    return ApiResponse(204)


def create_inventory(req: ApiRequest) -> ApiResponse:
    """``POST .../inventories``: one more class (201, ``Location``)."""
    policy.enforce(req.ctx, "placement:resource_providers:inventories:create")
    body = req.body
    record = make_record(body["resource_class"], body, at_least(req, 26))
    generation, made = req.cloud.placement.inventories.update_one(
        req.ctx, req.params["uuid"], body["resource_provider_generation"], record, True
    )
    location = (
        f"{req.base_url}/resource_providers/{req.params['uuid']}/inventories/{made.resource_class}"
    )
    return ApiResponse(201, _one(generation, made), {"Location": location})


def get_inventory(req: ApiRequest) -> dict[str, Any]:
    """``GET .../inventories/{resource_class}``."""
    policy.enforce(req.ctx, "placement:resource_providers:inventories:show")
    return _one(
        *req.cloud.placement.inventories.get(
            req.ctx, req.params["uuid"], req.params["resource_class"]
        )
    )


def update_inventory(req: ApiRequest) -> dict[str, Any]:
    """``PUT .../inventories/{resource_class}``."""
    policy.enforce(req.ctx, "placement:resource_providers:inventories:update")
    record = make_record(req.params["resource_class"], req.body, at_least(req, 26))
    return _one(
        *req.cloud.placement.inventories.update_one(
            req.ctx, req.params["uuid"], req.body["resource_provider_generation"], record, False
        )
    )


def delete_inventory(req: ApiRequest) -> ApiResponse:
    """``DELETE .../inventories/{resource_class}`` (204)."""
    policy.enforce(req.ctx, "placement:resource_providers:inventories:delete")
    req.cloud.placement.inventories.delete(
        req.ctx, req.params["uuid"], req.params["resource_class"]
    )
    return ApiResponse(204)
