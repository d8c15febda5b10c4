"""The Placement view of every resource (Placement API reference): model -> dict."""

from __future__ import annotations

from typing import Any

from pocketstack.common.http import ApiRequest
from pocketstack.placement.allocation_candidates import Summary
from pocketstack.placement.api.microversions import at_least
from pocketstack.placement.inventories import InventoryRecord
from pocketstack.placement.resource_providers import Provider


def _link(req: ApiRequest, rel: str, path: str) -> dict[str, str]:
    return {"rel": rel, "href": f"/placement{path}"}


def provider(req: ApiRequest, p: Provider) -> dict[str, Any]:
    """``{"uuid", "name", "generation", "links", "parent_provider_uuid",
    "root_provider_uuid"}`` (the last two from 1.14)."""
    base = f"/resource_providers/{p.uuid}"
    links = [
        _link(req, "self", base),
        _link(req, "inventories", base + "/inventories"),
        _link(req, "usages", base + "/usages"),
    ]
    if at_least(req, 1):
        links.append(_link(req, "aggregates", base + "/aggregates"))
    if at_least(req, 6):
        links.append(_link(req, "traits", base + "/traits"))
    if at_least(req, 11):
        links.append(_link(req, "allocations", base + "/allocations"))
    out: dict[str, Any] = {
        "uuid": p.uuid,
        "name": p.name,
        "generation": p.generation,
        "links": links,
    }
    if at_least(req, 14):
        out["parent_provider_uuid"] = p.parent_provider_uuid
        out["root_provider_uuid"] = p.root_provider_uuid
    return out


def inventory(record: InventoryRecord) -> dict[str, Any]:
    """One inventory's fields."""
    return {
        "total": record.total,
        "reserved": record.reserved,
        "min_unit": record.min_unit,
        "max_unit": record.max_unit,
        "step_size": record.step_size,
        "allocation_ratio": record.allocation_ratio,
    }


def resource_class(name: str) -> dict[str, Any]:
    """``{"name", "links"}``."""
    return {"name": name, "links": [{"rel": "self", "href": f"/placement/resource_classes/{name}"}]}


def allocation_candidates(
    req: ApiRequest, found: list[Summary], asked: dict[str, int]
) -> dict[str, Any]:
    """``{"allocation_requests": [...], "provider_summaries": {...}}`` in the request's
    microversion's shape (list allocations before 1.12, ``mappings`` from 1.34; summaries
    hold only the requested classes before 1.27, ``traits`` from 1.17, parent/root from
    1.29)."""
    requests = []
    summaries: dict[str, Any] = {}
    for summary in found:
        uuid = summary.provider.uuid
        if at_least(req, 12):
            entry: dict[str, Any] = {"allocations": {uuid: {"resources": dict(asked)}}}
            if at_least(req, 34):
                entry["mappings"] = {"": [uuid]}
        else:
            entry = {
                "allocations": [{"resource_provider": {"uuid": uuid}, "resources": dict(asked)}]
            }
        requests.append(entry)
        resources = {
            rc: {"capacity": capacity, "used": used}
            for rc, (capacity, used) in summary.resources.items()
            if at_least(req, 27) or rc in asked
        }
        body: dict[str, Any] = {"resources": resources}
        if at_least(req, 17):
            body["traits"] = summary.traits
        if at_least(req, 29):
            body["parent_provider_uuid"] = summary.provider.parent_provider_uuid
            body["root_provider_uuid"] = summary.provider.root_provider_uuid
        summaries[uuid] = body
    return {"allocation_requests": requests, "provider_summaries": summaries}
