"""Compute services, hypervisors and availability zones (API reference: "Compute services
(os-services)", "Hypervisors (os-hypervisors)", "Availability zones (os-availability-zone)"),
2.1 shapes: integer ids; services are disabled/enabled with ``PUT /os-services/disable``,
``/disable-log-reason`` and ``/enable`` bodies naming host and binary."""

from __future__ import annotations

import json
from typing import Any

from pocketstack.common import errors, policy
from pocketstack.common.http import ApiRequest, ApiResponse
from pocketstack.compute.models import ComputeNode, Service


def _time(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def service_view(svc: Service, up: bool) -> dict[str, Any]:
    """One compute service (2.1)."""
    return {
        "id": svc.id,
        "binary": svc.binary,
        "host": svc.host,
        "zone": svc.availability_zone,
        "status": "disabled" if svc.disabled else "enabled",
        "state": "up" if up else "down",
        "updated_at": _time(svc.last_seen_up or svc.updated_at),
        "disabled_reason": svc.disabled_reason,
    }


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
    view = {
        "host": svc.host,
        "binary": svc.binary,
        "status": "disabled" if svc.disabled else "enabled",
    }
    if reason is not None:
        view["disabled_reason"] = reason
    return {"service": view}


def delete_service(req: ApiRequest) -> ApiResponse:
    """``DELETE /os-services/{service_id}`` (admin) → 204; 409 while it hosts servers."""
    policy.enforce(req.ctx, "compute:services:delete")
    req.cloud.compute.hypervisors.delete_service(req.ctx, req.params["service_id"])
    return ApiResponse(status=204)


def _cpu_info(value: str | None) -> str:
    """2.1's ``cpu_info`` is a JSON object in a string; wrap a plain driver string."""
    if not value:
        return "{}"
    try:
        if isinstance(json.loads(value), dict):
            return value
    except ValueError:
        pass
    return json.dumps({"model": value})


def hypervisor_view(
    node: ComputeNode, svc: Service | None, up: bool, detail: bool
) -> dict[str, Any]:
    """One hypervisor (2.1): id, hostname, state, status (+ resources when ``detail``)."""
    view: dict[str, Any] = {
        "id": node.id,
        "hypervisor_hostname": node.hypervisor_hostname,
        "state": "up" if up else "down",
        "status": "disabled" if svc is not None and svc.disabled else "enabled",
    }
    if detail:
        view.update(
            {
                "hypervisor_type": node.hypervisor_type,
                "hypervisor_version": node.hypervisor_version,
                "host_ip": node.host_ip,
                "cpu_info": _cpu_info(node.cpu_info),
                "vcpus": node.vcpus,
                "vcpus_used": node.vcpus_used,
                "memory_mb": node.memory_mb,
                "memory_mb_used": node.memory_mb_used,
                "free_ram_mb": node.memory_mb - node.memory_mb_used,
                "local_gb": node.local_gb,
                "local_gb_used": node.local_gb_used,
                "free_disk_gb": node.local_gb - node.local_gb_used,
                "disk_available_least": node.local_gb - node.local_gb_used,
                "running_vms": node.running_vms,
                "current_workload": 0,
                "service": {
                    "host": node.host,
                    "id": svc.id if svc else None,
                    "disabled_reason": svc.disabled_reason if svc else None,
                },
            }
        )
    return view


def _hypervisors(req: ApiRequest, detail: bool, pattern: str | None = None) -> dict[str, Any]:
    policy.enforce(req.ctx, "compute:hypervisors:index")
    found = req.cloud.compute.hypervisors.list_hypervisors(req.ctx, hostname_pattern=pattern)
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


def show_hypervisor(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-hypervisors/{hypervisor_id}`` (admin)."""
    policy.enforce(req.ctx, "compute:hypervisors:show")
    node, svc, up = req.cloud.compute.hypervisors.get_hypervisor(
        req.ctx, req.params["hypervisor_id"]
    )
    return {"hypervisor": hypervisor_view(node, svc, up, detail=True)}


def hypervisor_statistics(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-hypervisors/statistics`` (admin)."""
    policy.enforce(req.ctx, "compute:hypervisors:statistics")
    return {"hypervisor_statistics": req.cloud.compute.hypervisors.statistics(req.ctx)}


def _zones(req: ApiRequest, detail: bool) -> dict[str, Any]:
    zones = req.cloud.compute.hypervisors.availability_zones(req.ctx)
    info = []
    for name, members in sorted(zones.items()):
        entry: dict[str, Any] = {
            "zoneName": name,
            "zoneState": {"available": any(up for _s, up in members)},
            "hosts": None,
        }
        if detail and members:
            entry["hosts"] = {
                svc.host: {
                    svc.binary: {
                        "available": up,
                        "active": not svc.disabled,
                        "updated_at": _time(svc.last_seen_up),
                    }
                }
                for svc, up in members
            }
        info.append(entry)
    return {"availabilityZoneInfo": info}


def list_zones(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-availability-zone``: zones and whether they are available."""
    policy.enforce(req.ctx, "compute:availability-zone:index")
    return _zones(req, detail=False)


def list_zones_detail(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-availability-zone/detail`` (admin): zones with their hosts' services."""
    policy.enforce(req.ctx, "compute:availability-zone:detail")
    return _zones(req, detail=True)


def hypervisor_uptime(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-hypervisors/{hypervisor_id}/uptime`` (admin): 501, not reported here."""
    policy.enforce(req.ctx, "compute:hypervisors:show")
    hypervisor_id = req.params["hypervisor_id"]
    uptime = req.cloud.compute.hypervisors.uptime(req.ctx, hypervisor_id)
    return {"hypervisor": {"id": hypervisor_id, "uptime": uptime}}


def list_aggregates(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-aggregates`` (admin): host aggregates are not supported, so none."""
    policy.enforce(req.ctx, "compute:aggregates:index")
    return {"aggregates": []}
