"""Server diagnostics (API reference "Servers diagnostics (servers, diagnostics)"), admin
only: ``GET /servers/{server_id}/diagnostics``. From microversion 2.48 Nova's standard
shape (``state``, ``driver``, ``uptime``, ``cpu_details``, ``nic_details``,
``disk_details``, ``memory_details``...); below it the libvirt driver's free-form keys
(``cpu0_time``, ``memory``, ``vda_read``, ``tap…_rx``...), built from the same figures.
``openstack server show --diagnostics``."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest


def legacy_view(diag: dict[str, Any]) -> dict[str, Any]:
    """The pre-2.48 free-form keys of libvirt's driver from the 2.48 figures: ``cpuN_time``
    (ns), ``memory`` (KiB), ``vdX_read``/``_read_req``/``_write``/``_write_req``/
    ``_errors``, ``nicN_rx``/``_rx_packets``/``_rx_errors``/``_rx_drop`` and ``tx``."""
    view: dict[str, Any] = {}
    for cpu in diag.get("cpu_details") or []:
        view[f"cpu{cpu['id']}_time"] = cpu.get("time")
    memory = diag.get("memory_details") or {}
    view["memory"] = int(memory.get("maximum") or 0) * 1024
    for i, disk in enumerate(diag.get("disk_details") or []):
        name = "vd" + chr(ord("a") + i)
        view[f"{name}_read"] = disk.get("read_bytes")
        view[f"{name}_read_req"] = disk.get("read_requests")
        view[f"{name}_write"] = disk.get("write_bytes")
        view[f"{name}_write_req"] = disk.get("write_requests")
        view[f"{name}_errors"] = disk.get("errors_count")
    for i, nic in enumerate(diag.get("nic_details") or []):
        for key in ("rx", "tx"):
            view[f"nic{i}_{key}"] = nic.get(f"{key}_octets")
            view[f"nic{i}_{key}_packets"] = nic.get(f"{key}_packets")
            view[f"nic{i}_{key}_errors"] = nic.get(f"{key}_errors")
            view[f"nic{i}_{key}_drop"] = nic.get(f"{key}_drop")
    return view


def get_server_diagnostics(req: ApiRequest) -> dict[str, Any]:
    """``GET /servers/{server_id}/diagnostics`` (admin); 404 unknown server, 409 without a
    host yet."""
    policy.enforce(req.ctx, "compute:os-server-diagnostics")
    diag = req.cloud.compute.diagnostics.get(req.ctx, req.params["server_id"])
    if getattr(req, "api_version", (2, 1)) >= (2, 48):
        return diag
    return legacy_view(diag)
