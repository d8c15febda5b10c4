"""Compute's bus messages: one table per server kind, and typed clients on top.

Targets: the conductor serves ``conductor``; the agent of host ``h`` serves ``compute.h``.
Every message is JSON (the bus adds the version field and the caller's context without its
token). ``cast`` fires and forgets; ``call`` waits up to the timeout (seconds) and raises
``MessagingTimeout`` (503) when the peer does not answer.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import Bus

#: compute agent messages: name -> (verb, timeout seconds or None for casts)
AGENT_MESSAGES: dict[str, tuple[str, float | None]] = {
    "build_and_run_instance": ("cast", None),
    "terminate_instance": ("cast", None),
    "stop_instance": ("cast", None),
    "start_instance": ("cast", None),
    "reboot_instance": ("cast", None),
    "get_console_output": ("call", 30.0),
}

#: conductor messages
CONDUCTOR_MESSAGES: dict[str, tuple[str, float | None]] = {
    "build_instances": ("cast", None),
    "instance_build_failed": ("cast", None),
    "terminate_finished": ("cast", None),
}

#: every compute message by topic
MESSAGES = {"compute": AGENT_MESSAGES, "conductor": CONDUCTOR_MESSAGES}


def _send(
    bus: Bus,
    table: dict[str, tuple[str, float | None]],
    ctx: RequestContext,
    target: str,
    method: str,
    **args: Any,
) -> Any:
    verb, timeout = table[method]
    if verb == "call":
        return bus.call(ctx, target, method, timeout=timeout or 60.0, **args)
    bus.cast(ctx, target, method, **args)
    return None


class ComputeAgentClient:
    """Messages to the compute agent of a host (target ``compute.<host>``)."""

    def __init__(self, bus: Bus):
        self.bus = bus

    def _send(self, ctx: RequestContext, host: str, method: str, **args: Any) -> Any:
        return _send(self.bus, AGENT_MESSAGES, ctx, f"compute.{host}", method, **args)

    def build_and_run_instance(self, ctx: RequestContext, host: str, spec: dict[str, Any]) -> None:
        """Spawn the guest of ``spec`` (an InstanceSpec plus ``auth_token``)."""
        self._send(ctx, host, "build_and_run_instance", spec=spec)

    def terminate_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        """Destroy the guest, then let the conductor finish the delete."""
        self._send(ctx, host, "terminate_instance", instance_uuid=instance_uuid)

    def stop_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        """Power the guest off."""
        self._send(ctx, host, "stop_instance", instance_uuid=instance_uuid)

    def start_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        """Power the guest on."""
        self._send(ctx, host, "start_instance", instance_uuid=instance_uuid)

    def reboot_instance(
        self, ctx: RequestContext, host: str, instance_uuid: str, hard: bool
    ) -> None:
        """Reboot the guest (soft: ACPI first; hard: reset)."""
        self._send(ctx, host, "reboot_instance", instance_uuid=instance_uuid, hard=hard)

    def get_console_output(
        self, ctx: RequestContext, host: str, instance_uuid: str, length: int | None
    ) -> str:
        """The serial console log (last ``length`` lines); waits up to 30 s."""
        return self._send(
            ctx, host, "get_console_output", instance_uuid=instance_uuid, length=length
        )


class ConductorClient:
    """Messages to the conductor (target ``conductor``, any controller)."""

    def __init__(self, bus: Bus):
        self.bus = bus

    def _send(self, ctx: RequestContext, method: str, **args: Any) -> Any:
        return _send(self.bus, CONDUCTOR_MESSAGES, ctx, "conductor", method, **args)

    def build_instances(
        self, ctx: RequestContext, instance_uuids: list[str], auth_token: str | None = None
    ) -> None:
        """Schedule, allocate networks and hand the servers to their compute agents.

        ``auth_token`` is the user's token (not part of a bus context) so a remote agent can
        download the image.
        """
        self._send(ctx, "build_instances", instance_uuids=instance_uuids, auth_token=auth_token)

    def instance_build_failed(self, ctx: RequestContext, instance_uuid: str, message: str) -> None:
        """The agent could not spawn: release the claim and the ports."""
        self._send(ctx, "instance_build_failed", instance_uuid=instance_uuid, message=message)

    def terminate_finished(self, ctx: RequestContext, instance_uuid: str) -> None:
        """The agent destroyed the guest: release, deallocate, mark the server deleted."""
        self._send(ctx, "terminate_finished", instance_uuid=instance_uuid)
