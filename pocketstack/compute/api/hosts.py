"""Compute services, hypervisors and availability zones (API reference: "Compute services
(os-services)", "Hypervisors (os-hypervisors)", "Availability zones (os-availability-zone)"),
2.1 shapes: integer ids; services are disabled/enabled with ``PUT /os-services/disable``,
``/disable-log-reason`` and ``/enable`` bodies naming host and binary."""

from __future__ import annotations

from typing import Any

from pocketstack.common import errors, policy
from pocketstack.common.http import ApiRequest, ApiResponse
from pocketstack.compute.api.views import (
    hypervisor_statistics_view,
    hypervisor_view,
    service_status_view,
    service_view,
    zones_view,
)


def list_services(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-services`` (admin), filters ``host`` and ``binary``."""
    policy.enforce(req.ctx, "compute:services:index")
    found = req.cloud.compute.hypervisors.list_services(
        req.ctx, host=req.query.get("host"), binary=req.query.get("binary")
    )
    return {"services": [service_view(svc, up) for svc, up in found]}


def update_service(req: ApiRequest) -> dict[str, Any]:
    """``PUT /os-services/{disable|disable-log-reason|enable}`` {"host", "binary"}."""
    policy.enforce(req.ctx, "compute:services:update")
    action = req.params["service_id"]  # 2.1: the path names the action
    if action not in ("disable", "disable-log-reason", "enable"):
        raise errors.NotFound(f"Unknown action {action}")
    body = req.body  # host and binary, strings (schemas.SERVICE_UPDATE)
    host, binary = body["host"], body["binary"]
    reason = body.get("disabled_reason") if action == "disable-log-reason" else None
    if action == "disable-log-reason" and reason is None:
        raise errors.BadRequest("Missing disabled reason field")
    svc = req.cloud.compute.hypervisors.update_service(
        req.ctx, host=host, binary=binary, disabled=action != "enable", disabled_reason=reason
    )
    return {"service": service_status_view(svc, reason)}


def delete_service(req: ApiRequest) -> ApiResponse:
    """``DELETE /os-services/{service_id}`` (admin) → 204; 409 while it hosts servers."""
    policy.enforce(req.ctx, "compute:services:delete")
    req.cloud.compute.hypervisors.delete_service(req.ctx, req.params["service_id"])
    return ApiResponse(status=204)


def _hypervisors(req: ApiRequest, detail: bool, pattern: str | None = None) -> dict[str, Any]:
    policy.enforce(req.ctx, "compute:hypervisors:index")
    found = req.cloud.compute.hypervisors.list(req.ctx, hostname_pattern=pattern)
    return {"hypervisors": [hypervisor_view(n, s, up, detail) for n, s, up in found]}


def list_hypervisors(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-hypervisors`` (admin)."""
    return _hypervisors(req, detail=False)


def list_hypervisors_detail(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-hypervisors/detail`` (admin)."""
    return _hypervisors(req, detail=True)


def search_hypervisors(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-hypervisors/{pattern}/search`` (admin); 404 when nothing matches."""
    body = _hypervisors(req, detail=False, pattern=req.params["pattern"])
    if not body["hypervisors"]:
        raise errors.NotFound(f"No hypervisor matching '{req.params['pattern']}' could be found.")
    return body


def get_hypervisor(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-hypervisors/{hypervisor_id}`` (admin)."""
    policy.enforce(req.ctx, "compute:hypervisors:show")
    node, svc, up = req.cloud.compute.hypervisors.get(req.ctx, req.params["hypervisor_id"])
    return {"hypervisor": hypervisor_view(node, svc, up, detail=True)}


def get_hypervisor_statistics(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-hypervisors/statistics`` (admin)."""
    policy.enforce(req.ctx, "compute:hypervisors:statistics")
    stats = req.cloud.compute.hypervisors.statistics(req.ctx)
    return {"hypervisor_statistics": hypervisor_statistics_view(stats)}


def _zones(req: ApiRequest, detail: bool) -> dict[str, Any]:
    zones = req.cloud.compute.hypervisors.availability_zones(req.ctx)
    return {"availabilityZoneInfo": zones_view(zones, detail)}


def list_availability_zones(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-availability-zone``: zones and whether they are available."""
    policy.enforce(req.ctx, "compute:availability-zone:index")
    return _zones(req, detail=False)


def list_availability_zones_detail(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-availability-zone/detail`` (admin): zones with their hosts' services."""
    policy.enforce(req.ctx, "compute:availability-zone:detail")
    return _zones(req, detail=True)


def get_hypervisor_uptime(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-hypervisors/{hypervisor_id}/uptime`` (admin): 501, not reported here."""
    policy.enforce(req.ctx, "compute:hypervisors:show")
    hypervisor_id = req.params["hypervisor_id"]
    uptime = req.cloud.compute.hypervisors.uptime(req.ctx, hypervisor_id)
    return {"hypervisor": {"id": hypervisor_id, "uptime": uptime}}
