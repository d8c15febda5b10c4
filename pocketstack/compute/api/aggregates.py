"""Host aggregates (API reference "Host aggregates (os-aggregates)"), admin only.

Views: create answers the aggregate without ``hosts`` and ``metadata`` (as Nova), every
other call with them; ``uuid`` from microversion 2.41. Actions: ``add_host``,
``remove_host``, ``set_metadata`` (``POST /os-aggregates/{id}/action``). Delete answers
200 with no body. ``openstack aggregate create/list/show/set/unset/add host/remove host/
delete``.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse
from pocketstack.compute.aggregates import AggregateRecord


def _time(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def aggregate_view(req: ApiRequest, record: AggregateRecord, full: bool = True) -> dict[str, Any]:
    """One aggregate in Nova's shape (``hosts``/``metadata`` unless ``full`` is false)."""
    agg = record.aggregate
    view: dict[str, Any] = {
        "id": agg.id,
        "name": agg.name,
        "availability_zone": record.availability_zone,
        "created_at": _time(agg.created_at),
        "updated_at": _time(agg.updated_at),
        "deleted_at": None,
        "deleted": False,
    }
    if full:
        view["hosts"] = list(record.hosts)
        view["metadata"] = dict(agg.metadata_ or {})
    if getattr(req, "api_version", (2, 1)) >= (2, 41):
        view["uuid"] = agg.uuid
    return view


def list_aggregates(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-aggregates``."""
    policy.enforce(req.ctx, "compute:aggregates:index")
    found = req.cloud.compute.aggregates.list(req.ctx)
    return {"aggregates": [aggregate_view(req, a) for a in found]}


def get_aggregate(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-aggregates/{aggregate_id}``; 404 unknown."""
    policy.enforce(req.ctx, "compute:aggregates:show")
    record = req.cloud.compute.aggregates.get(req.ctx, req.params["aggregate_id"])
    return {"aggregate": aggregate_view(req, record)}


def create_aggregate(req: ApiRequest) -> dict[str, Any]:
    """``POST /os-aggregates`` {"aggregate": {"name", "availability_zone"?}} → 200; 409
    when the name is taken."""
    policy.enforce(req.ctx, "compute:aggregates:create")
    body = req.body["aggregate"]
    record = req.cloud.compute.aggregates.create(
        req.ctx, body["name"], body.get("availability_zone")
    )
    return {"aggregate": aggregate_view(req, record, full=False)}


def update_aggregate(req: ApiRequest) -> dict[str, Any]:
    """``PUT /os-aggregates/{aggregate_id}`` {"aggregate": {"name"?, "availability_zone"?}}."""
    policy.enforce(req.ctx, "compute:aggregates:update")
    body = req.body["aggregate"]
    record = req.cloud.compute.aggregates.update(
        req.ctx, req.params["aggregate_id"], body.get("name"), body.get("availability_zone")
    )
    return {"aggregate": aggregate_view(req, record)}


def delete_aggregate(req: ApiRequest) -> ApiResponse:
    """``DELETE /os-aggregates/{aggregate_id}`` → 200; 400 while it has hosts."""
    policy.enforce(req.ctx, "compute:aggregates:delete")
    req.cloud.compute.aggregates.delete(req.ctx, req.params["aggregate_id"])
    return ApiResponse(status=200)


def run_aggregate_action(req: ApiRequest) -> dict[str, Any]:
    """``POST /os-aggregates/{aggregate_id}/action``: ``add_host``/``remove_host``
    {"host"} or ``set_metadata`` {"metadata"} → 200 the aggregate."""
    ((name, args),) = req.body.items()
    aggregates = req.cloud.compute.aggregates
    aggregate_id = req.params["aggregate_id"]
    policy.enforce(req.ctx, f"compute:aggregates:{name}")
    if name == "add_host":
        record = aggregates.add_host(req.ctx, aggregate_id, args["host"])
    elif name == "remove_host":
        record = aggregates.remove_host(req.ctx, aggregate_id, args["host"])
    else:
        record = aggregates.set_metadata(req.ctx, aggregate_id, args["metadata"])
    return {"aggregate": aggregate_view(req, record)}
