"""Allocation candidates (Placement API reference, "Allocation candidates"):
``GET /allocation_candidates?resources=...`` (1.10)."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, parse_int
from pocketstack.placement import exceptions as exc
from pocketstack.placement.api import params, views
from pocketstack.placement.api.microversions import at_least


def list_allocation_candidates(req: ApiRequest) -> dict[str, Any]:
    """``GET /allocation_candidates?resources=VCPU:1,MEMORY_MB:512[&required=...]
    [&member_of=...][&in_tree=...][&limit=N]``: one allocation request per provider that
    can take all of ``resources``, and the summaries of those providers."""
    policy.enforce(req.ctx, "placement:allocation_candidates:list")
    for key, minor in (("limit", 16), ("required", 17), ("member_of", 21), ("in_tree", 31)):
        if key in req.query and not at_least(req, minor):
            raise exc.InvalidQuery(f"Invalid query string parameters: '{key}' was unexpected")
    text = req.query.get("resources")
    if not text:
        raise exc.InvalidQuery(
            "Invalid query string parameters: 'resources' is a required property"
        )
    wanted = params.resources(req, text)
    filters = params.filters(req, with_names=False)
    limit = parse_int(req.query["limit"], "limit", 1) if "limit" in req.query else None
    found = req.cloud.placement.allocation_candidates.find(req.ctx, wanted, filters, limit)
    return views.allocation_candidates(req, found, wanted)
