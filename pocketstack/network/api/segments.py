"""Handlers of Neutron's ``segment`` extension (Networking API v2.0 reference,
"Segments"): ``/v2.0/segments[/{id}]``, admins only (Neutron's ``get_segment``,
``create_segment``, ``update_segment``, ``delete_segment`` default to admin).

Every network has exactly one segment here (``network/segments.py``), so the read side is
whole (list with filters, sorting and paging; show) and the writes are refused as a cloud
without multi-segment networks does: 400 for a create or an update, 409 for a delete.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest
from pocketstack.network.api import listing, views


def list_segments(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/segments``: filters (``network_id``, ``network_type``,
    ``physical_network``, ``segmentation_id``, ``name``...), ``fields``, sorting,
    pagination; ``{"segments": [...], "segments_links"?: [...]}``."""
    policy.enforce(req.ctx, "get_segment")
    query = listing.parse(req)
    found = req.cloud.network.segments.list(req.ctx, query)
    return views.page(req, query, "segments", found, views.segment)


def get_segment(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/segments/{id}``: ``{"segment": {...}}``; SegmentNotFound (404)."""
    policy.enforce(req.ctx, "get_segment")
    network = req.cloud.network.segments.get(req.ctx, req.params["id"])
    return views.one(req, "segment", views.segment(network))


def create_segment(req: ApiRequest) -> dict[str, Any]:
    """``POST /v2.0/segments``: NetworkNotFound (404) or SegmentsUnsupported (400)."""
    network_id = str(req.require_body("segment")["network_id"])
    policy.enforce(req.ctx, "create_segment")
    network = req.cloud.network.segments.create(req.ctx, network_id)
    return views.one(req, "segment", views.segment(network))


def update_segment(req: ApiRequest) -> dict[str, Any]:
    """``PUT /v2.0/segments/{id}``: SegmentNotFound (404) or SegmentsUnsupported (400)."""
    req.require_body("segment")
    policy.enforce(req.ctx, "update_segment")
    network = req.cloud.network.segments.update(req.ctx, req.params["id"])
    return views.one(req, "segment", views.segment(network))


def delete_segment(req: ApiRequest) -> None:
    """``DELETE /v2.0/segments/{id}``: SegmentNotFound (404) or SegmentInUse (409)."""
    policy.enforce(req.ctx, "delete_segment")
    req.cloud.network.segments.delete(req.ctx, req.params["id"])
