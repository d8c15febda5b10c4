"""Compute's bus messages: one table per server kind, and typed clients on top.

Targets: the conductor serves ``conductor``; the agent of host ``h`` serves ``compute.h``.
Each table (``AGENT_MESSAGES``, ``CONDUCTOR_MESSAGES``) is the whole bus API of its server:
the typed client below sends only its messages and the server's ``bus.serve`` dispatches only
them, to the endpoint method of the same name (``ComputeAgent``, ``Conductor``); any other
name is refused. ``cast`` fires and forgets; ``call`` waits up to the message's timeout
(seconds) and raises ``MessagingTimeout`` (503) when the peer does not answer. Every payload
is JSON with a version field (the bus adds it and the caller's context without its token);
change a message's arguments incompatibly and you bump its ``version``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import CALL, CAST, Bus, Message, MessageTable

if TYPE_CHECKING:
    from pocketstack.compute.request_spec import RequestSpec

#: the compute agent's messages (target ``compute.<host>``), handled by ``ComputeAgent``
AGENT_MESSAGES = MessageTable(
    "compute",
    [
        Message("build_and_run_instance", CAST),
        Message("terminate_instance", CAST),
        Message("stop_instance", CAST),
        Message("start_instance", CAST),
        Message("reboot_instance", CAST),
        Message("get_console_output", CALL, timeout=30.0),
    ],
)

#: the conductor's messages (target ``conductor``), handled by ``Conductor``
CONDUCTOR_MESSAGES = MessageTable(
    "conductor",
    [
        # version 2: a request spec, and no user's token
        Message("build_instances", CAST, version=2),
        Message("delete_instance", CALL, timeout=30.0),
        Message("instance_build_failed", CAST),
        Message("terminate_finished", CAST),
    ],
)

#: every compute message table by topic
MESSAGES = {"compute": AGENT_MESSAGES, "conductor": CONDUCTOR_MESSAGES}


class ComputeAgentClient:
    """Messages to the compute agent of a host (target ``compute.<host>``)."""

    def __init__(self, bus: Bus):
        self.bus = bus

    def _send(self, ctx: RequestContext, host: str, method: str, **args: Any) -> Any:
        return self.bus.send(ctx, f"compute.{host}", AGENT_MESSAGES[method], **args)

    def build_and_run_instance(self, ctx: RequestContext, host: str, spec: dict[str, Any]) -> None:
        """Spawn the guest of ``spec`` (an InstanceSpec, ``conductor.build_spec``)."""
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
        return self.bus.send(ctx, "conductor", CONDUCTOR_MESSAGES[method], **args)

    def build_instances(
        self, ctx: RequestContext, instance_uuids: list[str], request_spec: RequestSpec
    ) -> None:
        """Schedule, allocate networks and hand the servers of one request to their compute
        agents; ``request_spec``: what the API learned (``request_spec.RequestSpec``)."""
        self._send(ctx, "build_instances", instance_uuids=instance_uuids, request_spec=request_spec)

    def delete_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Carry out a recorded delete: hand it to the server's agent, or finish it at once
        (no host, or its host is down); waits up to 30 s for that decision."""
        self._send(ctx, "delete_instance", instance_uuid=instance_uuid)

    def instance_build_failed(self, ctx: RequestContext, instance_uuid: str, message: str) -> None:
        """The agent could not spawn: release the claim and the ports."""
        self._send(ctx, "instance_build_failed", instance_uuid=instance_uuid, message=message)

    def terminate_finished(self, ctx: RequestContext, instance_uuid: str) -> None:
        """The agent destroyed the guest: release, deallocate, mark the server deleted."""
        self._send(ctx, "terminate_finished", instance_uuid=instance_uuid)
