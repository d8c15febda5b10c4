"""The server view (API reference "Servers - show server details"), 2.1 shape.

``server_view`` renders one ``Instance``; callers fetch the faults of a whole page once with
``cloud.compute.servers.faults(uuids)`` and pass each server's fault in.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pocketstack.common.db import isotime
from pocketstack.common.http import ApiRequest
from pocketstack.compute.api.common import bookmark, links
from pocketstack.compute.models import Instance, InstanceFault


def host_id(project_id: str, host: str | None) -> str:
    """Nova's opaque ``hostId``: sha224 hex of project id + host, "" without a host."""
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode()).hexdigest()


def addresses(network_info: list[dict[str, Any]] | None) -> dict[str, list[dict[str, Any]]]:
    """``{network name: [{"version", "addr", "OS-EXT-IPS:type", "OS-EXT-IPS-MAC:mac_addr"}]}``
    from a server's ``network_info``."""
    result: dict[str, list[dict[str, Any]]] = {}
    for vif in network_info or []:
        label = (
            vif.get("network_name")
            or (vif.get("network") or {}).get("label")
            or vif.get("network_id")
            or "network"
        )
        entries = result.setdefault(label, [])
        mac = vif.get("mac_address")
        for ip in vif.get("fixed_ips") or []:
            addr = ip.get("ip_address")
            entries.append(
                {
                    "version": 6 if ":" in str(addr) else 4,
                    "addr": addr,
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": mac,
                }
            )
        for fip in vif.get("floating_ips") or []:
            addr = fip.get("floating_ip_address") if isinstance(fip, dict) else fip
            entries.append(
                {
                    "version": 4,
                    "addr": addr,
                    "OS-EXT-IPS:type": "floating",
                    "OS-EXT-IPS-MAC:mac_addr": mac,
                }
            )
    return result


def flavor_id_of(instance: Instance) -> str:
    """The API id of the flavor snapshot a server was booted with."""
    flavor = instance.flavor or {}
    return str(flavor.get("flavorid") or flavor.get("id") or "")


def _usage_time(value: Any) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat()


def security_group_names(instance: Instance) -> list[dict[str, Any]]:
    """``[{"name": ...}]`` of the server's security groups (stored as names)."""
    groups = []
    for group in instance.security_groups or []:
        groups.append({"name": group.get("name") if isinstance(group, dict) else str(group)})
    return groups


def fault_view(fault: InstanceFault, is_admin: bool) -> dict[str, Any]:
    """``{"code", "message", "created"}`` plus ``details`` for admins."""
    view: dict[str, Any] = {
        "code": fault.code,
        "message": fault.message,
        "created": isotime(fault.created_at),
    }
    if is_admin and fault.details:
        view["details"] = fault.details
    return view


def server_summary(req: ApiRequest, instance: Instance) -> dict[str, Any]:
    """The non-detail list entry: id, name, links."""
    return {
        "id": instance.uuid,
        "name": instance.name,
        "links": links(req, "servers", instance.uuid),
    }


def server_view(
    req: ApiRequest, instance: Instance, fault: InstanceFault | None = None
) -> dict[str, Any]:
    """The full 2.1 server view of ``instance`` for the caller of ``req``."""
    from pocketstack.compute.states import status_of

    status = status_of(instance.vm_state, instance.task_state)
    flavor_id = flavor_id_of(instance)
    view: dict[str, Any] = {
        **server_summary(req, instance),
        "status": status,
        "tenant_id": instance.project_id,
        "user_id": instance.user_id,
        "metadata": dict(instance.metadata_ or {}),
        "hostId": host_id(instance.project_id, instance.host),
        "image": (
            {"id": instance.image_ref, "links": bookmark(req, "images", instance.image_ref)}
            if instance.image_ref
            else ""
        ),
        "flavor": {"id": flavor_id, "links": bookmark(req, "flavors", flavor_id)},
        "created": isotime(instance.created_at),
        "updated": isotime(instance.updated_at or instance.created_at),
        "addresses": addresses(instance.network_info),
        "accessIPv4": instance.access_ip_v4 or "",
        "accessIPv6": "",
        "key_name": instance.key_name,
        "progress": 100 if status == "ACTIVE" else 0,
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": instance.availability_zone or "",
        "config_drive": "True" if instance.config_drive else "",
        "OS-EXT-STS:vm_state": instance.vm_state,
        "OS-EXT-STS:task_state": instance.task_state,
        "OS-EXT-STS:power_state": instance.power_state,
        "OS-SRV-USG:launched_at": _usage_time(instance.launched_at),
        "OS-SRV-USG:terminated_at": _usage_time(instance.terminated_at),
        "security_groups": security_group_names(instance),
        "os-extended-volumes:volumes_attached": [],
    }
    if fault is not None and status in ("ERROR", "DELETED"):
        view["fault"] = fault_view(fault, req.ctx.is_admin)
    if req.ctx.is_admin:
        view["OS-EXT-SRV-ATTR:host"] = instance.host
        view["OS-EXT-SRV-ATTR:hypervisor_hostname"] = instance.node
        view["OS-EXT-SRV-ATTR:instance_name"] = "instance-" + instance.uuid.replace("-", "")[:8]
    return view


def server_views(req: ApiRequest, instances: list[Instance]) -> list[dict[str, Any]]:
    """Full views of a page of servers, with their faults fetched in one call."""
    faults = req.cloud.compute.servers.faults([i.uuid for i in instances]) if instances else {}
    return [server_view(req, i, faults.get(i.uuid)) for i in instances]
