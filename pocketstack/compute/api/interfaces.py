"""A server's interfaces (API reference "Port interfaces (servers, os-interface)"), 2.1
shapes: list, show, attach (``{"interfaceAttachment": {"port_id"} | {"net_id",
"fixed_ips"?} | {}}`` → 200 the interface), detach (202). ``openstack server add port`` /
``server add network`` / ``server remove port`` / ``server remove network``."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse
from pocketstack.compute.api import device_tags
from pocketstack.network.ports import PortRecord


def interface_view(
    req: ApiRequest, record: PortRecord, tags: dict[str, str] | None = None
) -> dict[str, Any]:
    """``{"port_id", "net_id", "mac_addr", "port_state", "fixed_ips": [{"subnet_id",
    "ip_address"}]}``, and ``tag`` from 2.70 (the port's device tag in ``tags``, or null)."""
    port = record.port
    view: dict[str, Any] = {
        "port_id": port.id,
        "net_id": port.network_id,
        "mac_addr": port.mac_address,
        "port_state": port.status,
        "fixed_ips": [
            {"subnet_id": ip.subnet_id, "ip_address": ip.ip_address} for ip in record.fixed_ips
        ],
    }
    if getattr(req, "api_version", (2, 1)) >= (2, 70):
        view["tag"] = (tags or {}).get(port.id)
    return view


def list_interfaces(req: ApiRequest) -> dict[str, Any]:
    """``GET /servers/{server_id}/os-interface``."""
    policy.enforce(req.ctx, "compute:os-attach-interfaces:list")
    ports = req.cloud.compute.interfaces.list(req.ctx, req.params["server_id"])
    tags = req.cloud.compute.interfaces.tags(req.params["server_id"])
    return {"interfaceAttachments": [interface_view(req, p, tags) for p in ports]}


def get_interface(req: ApiRequest) -> dict[str, Any]:
    """``GET /servers/{server_id}/os-interface/{port_id}``; 404 when not the server's."""
    policy.enforce(req.ctx, "compute:os-attach-interfaces:show")
    port = req.cloud.compute.interfaces.get(req.ctx, req.params["server_id"], req.params["port_id"])
    tags = req.cloud.compute.interfaces.tags(req.params["server_id"])
    return {"interfaceAttachment": interface_view(req, port, tags)}


def create_interface(req: ApiRequest) -> dict[str, Any]:
    """``POST /servers/{server_id}/os-interface`` → 200 the new interface."""
    policy.enforce(req.ctx, "compute:os-attach-interfaces:create")
    body = req.body.get("interfaceAttachment") or {}
    device_tags.check_interface_attach(req, body)
    fixed_ips = body.get("fixed_ips") or []
    port = req.cloud.compute.interfaces.attach(
        req.ctx,
        req.params["server_id"],
        port_id=body.get("port_id"),
        network_id=body.get("net_id"),
        fixed_ip=fixed_ips[0]["ip_address"] if fixed_ips else None,
        tag=body.get("tag"),
    )
    tags = req.cloud.compute.interfaces.tags(req.params["server_id"])
    return {"interfaceAttachment": interface_view(req, port, tags)}


def delete_interface(req: ApiRequest) -> ApiResponse:
    """``DELETE /servers/{server_id}/os-interface/{port_id}`` → 202."""
    policy.enforce(req.ctx, "compute:os-attach-interfaces:delete")
    req.cloud.compute.interfaces.detach(req.ctx, req.params["server_id"], req.params["port_id"])
    return ApiResponse(status=202)
