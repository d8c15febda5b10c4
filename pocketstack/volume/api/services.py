"""Services and availability zones (Block Storage API v3 reference, "Services
(os-services)", "Availability zones (os-availability-zone)")."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest
from pocketstack.volume import exceptions as exc
from pocketstack.volume.api import views


def list_services(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-services[?host=&binary=]`` (admin)."""
    policy.enforce(req.ctx, "volume_extension:services:index")
    found = req.cloud.volume.services.list(req.ctx, req.query.get("host"), req.query.get("binary"))
    return {"services": [views.service(req, r) for r in found]}


def update_service(req: ApiRequest) -> dict[str, Any]:
    """``PUT /os-services/{enable|disable|disable-log-reason}`` (admin)."""
    policy.enforce(req.ctx, "volume_extension:services:update")
    action = req.params["action"]
    if action not in ("enable", "disable", "disable-log-reason"):
        raise exc.InvalidInput(f"Unknown action {action}.")
    body = req.body
    reason = body.get("disabled_reason") if action == "disable-log-reason" else None
    if action == "disable-log-reason" and not reason:
        raise exc.InvalidInput("Disabled reason contains invalid characters or is too long")
    rec = req.cloud.volume.services.set_disabled(
        req.ctx, body["host"], body["binary"], action != "enable", reason
    )
    row = rec.service
    return {
        "host": rec.shown_host,
        "binary": row.binary,
        "status": "disabled" if row.disabled else "enabled",
        "disabled": row.disabled,
        "disabled_reason": row.disabled_reason,
    }


def list_availability_zones(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-availability-zone``."""
    policy.enforce(req.ctx, "volume:availability_zones")
    zones = req.cloud.volume.services.zones(req.ctx)
    return {
        "availabilityZoneInfo": [
            {"zoneName": name, "zoneState": {"available": up}} for name, up in zones
        ]
    }
