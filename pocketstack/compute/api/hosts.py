"""Compute services, hypervisors and availability zones (API reference: "Compute services
(os-services)", "Hypervisors (os-hypervisors)", "Availability zones (os-availability-zone)"),
at the request's microversion: integer ids before 2.53, UUIDs from 2.53; services are
disabled/enabled with ``PUT /os-services/disable``, ``/disable-log-reason`` and
``/enable`` (forced down with ``/force-down`` from 2.11) bodies naming host and binary
before 2.53, with ``PUT /os-services/{uuid}`` from 2.53; hypervisor shapes in
``views.hypervisor_view``."""

from __future__ import annotations

from typing import Any

from pocketstack.common import errors, policy
from pocketstack.common.http import ApiRequest, ApiResponse, parse_bool
from pocketstack.compute.api.microversion import at_least, refuse_newer
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
    return {"services": [service_view(req, svc, up) for svc, up in found]}


def update_service(req: ApiRequest) -> dict[str, Any]:
    """``PUT /os-services/{disable|disable-log-reason|enable}`` {"host", "binary",
    "disabled_reason"?} answering {"service": {"host", "binary", "status",
    "disabled_reason"?}}, and from 2.11 ``PUT /os-services/force-down`` {"host", "binary",
    "forced_down"} answering {"service": {"host", "binary", "forced_down"}}; from 2.53
    ``PUT /os-services/{service_uuid}`` {"status"?, "disabled_reason"?, "forced_down"?}
    answering the whole service (Nova's ``ServiceController.update``).

    Raises:
        errors.NotFound: an unknown action (``force-down`` before 2.11) or no service
        ``binary`` on ``host``. errors.BadRequest: host, binary, the reason of
        ``disable-log-reason`` or ``forced_down`` of ``force-down`` missing.
    """
    policy.enforce(req.ctx, "compute:services:update")
    if at_least(req, 2, 53):
        return _update_service_2_53(req)
    action = req.params["service_id"]  # 2.1: the path names the action
    actions = ["disable", "disable-log-reason", "enable"]
    if at_least(req, 2, 11):
        actions.append("force-down")
    if action not in actions:
        raise errors.NotFound(f"Unknown action {action}")
    body = req.body  # host and binary, strings (schemas.SERVICE_UPDATE)
    refuse_newer(req, body, {"status": (2, 53), "forced_down": (2, 11)}, "body")
    for key in ("host", "binary"):
        if key not in body:
            raise errors.BadRequest(
                f"Invalid input for field/attribute body. Value: {body!r}. "
                f"'{key}' is a required property"
            )
    host, binary = body["host"], body["binary"]
    if action == "force-down":
        return _force_down_service(req, host, binary)
    reason = body.get("disabled_reason") if action == "disable-log-reason" else None
    if action == "disable-log-reason" and reason is None:
        raise errors.BadRequest("Missing disabled reason field")
    svc = req.cloud.compute.hypervisors.update_service(
        req.ctx, host=host, binary=binary, disabled=action != "enable", disabled_reason=reason
    )
    return {"service": service_status_view(svc, reason)}


def _force_down_service(req: ApiRequest, host: str, binary: str) -> dict[str, Any]:
    """2.11-2.52's ``PUT /os-services/force-down``: set or clear ``forced_down`` (a host
    forced down counts as down at once, so its servers may be evacuated)."""
    if "forced_down" not in req.body:
        raise errors.BadRequest("Missing forced_down field")
    forced_down = parse_bool(req.body["forced_down"], "forced_down")
    req.cloud.compute.hypervisors.update_service(
        req.ctx, host=host, binary=binary, forced_down=forced_down
    )
    return {"service": {"host": host, "binary": binary, "forced_down": forced_down}}


def _update_service_2_53(req: ApiRequest) -> dict[str, Any]:
    """The 2.53 update: by the service's UUID, Nova's checks of the body."""
    body = req.body
    extra = sorted(set(body) - {"status", "disabled_reason", "forced_down"})
    if extra:
        raise errors.BadRequest(
            f"Invalid input for field/attribute body. Value: {body!r}. Additional "
            f"properties are not allowed ({', '.join(repr(k) for k in extra)} unexpected)"
        )
    if "status" not in body and "forced_down" not in body:
        raise errors.BadRequest(
            "No updates were requested. Fields 'status' or 'forced_down' should be specified."
        )
    if "disabled_reason" in body and body.get("status") != "disabled":
        raise errors.BadRequest("Specifying 'disabled_reason' with status 'enabled' is invalid.")
    service_id = req.params["service_id"]
    found = [
        svc
        for svc, _up in req.cloud.compute.hypervisors.list_services(req.ctx)
        if svc.uuid == service_id
    ]
    if not found:
        raise errors.NotFound(f"Service {service_id} could not be found.")
    svc = req.cloud.compute.hypervisors.update_service(
        req.ctx,
        host=found[0].host,
        binary=found[0].binary,
        disabled=None if "status" not in body else body["status"] == "disabled",
        disabled_reason=body.get("disabled_reason"),
        forced_down=None
        if "forced_down" not in body
        else parse_bool(body["forced_down"], "forced_down"),
    )
    ((svc, up),) = [
        (s, u)
        for s, u in req.cloud.compute.hypervisors.list_services(req.ctx)
        if s.uuid == svc.uuid
    ]
    return {"service": service_view(req, svc, up)}


def delete_service(req: ApiRequest) -> ApiResponse:
    """``DELETE /os-services/{service_id}`` (admin) → 204; 409 while it hosts servers."""
    policy.enforce(req.ctx, "compute:services:delete")
    req.cloud.compute.hypervisors.delete_service(req.ctx, req.params["service_id"])
    return ApiResponse(status=204)


def _hypervisors(req: ApiRequest, detail: bool, pattern: str | None = None) -> dict[str, Any]:
    policy.enforce(req.ctx, "compute:hypervisors:index")
    if pattern is None and at_least(req, 2, 53):  # 2.53 moved the search to a query
        pattern = req.query.get("hypervisor_hostname_pattern") or None
    found = req.cloud.compute.hypervisors.list(req.ctx, hostname_pattern=pattern)
    return {"hypervisors": [hypervisor_view(req, n, s, up, detail) for n, s, up in found]}


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
    return {"hypervisor": hypervisor_view(req, node, svc, up, detail=True)}


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
