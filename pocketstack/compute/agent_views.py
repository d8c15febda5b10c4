"""What a compute agent may know of a server, as the conductor sends it over the bus."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pocketstack.compute.models import Instance


def instance_view(inst: Instance) -> dict[str, Any]:
    """What an agent may know of a server: ``{"uuid", "host", "vm_state", "task_state",
    "power_state", "spec"}`` (``spec``: the stored ``InstanceSpec``, or None before the
    build stored one)."""
    return {
        "uuid": inst.uuid,
        "host": inst.host,
        "vm_state": inst.vm_state,
        "task_state": inst.task_state,
        "power_state": inst.power_state,
        "spec": dict(inst.spec) if inst.spec else None,
    }
