"""Rebuild's bus messages (``compute.rebuild``, ``rebuild_agent``), spliced into the tables of
``rpcapi`` (``AGENT_MESSAGES``, ``CONDUCTOR_MESSAGES``), and their typed client methods,
bases of ``rpcapi.ComputeAgentClient`` and ``rpcapi.ConductorClient``.

Agent (``compute.<host>``): ``rebuild_instance`` (cast, from the API or, for an evacuation,
the conductor). Conductor: ``evacuate_instance`` (cast, from the API: ``compute.evacuate``),
``rebuild_task_changed`` (call: the agent moves the task on), ``instance_rebuilt`` (cast:
the outcome).
"""

from __future__ import annotations

from typing import Any

from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import CALL, CAST, Message

AGENT_MESSAGES = [Message("rebuild_instance", CAST)]

CONDUCTOR_MESSAGES = [
    Message("evacuate_instance", CAST),
    Message("rebuild_task_changed", CALL, timeout=30.0),
    Message("instance_rebuilt", CAST),
]


class RebuildAgentClient:
    """The agent's rebuild message (a base of ``ComputeAgentClient``)."""

    def _send(self, ctx: RequestContext, host: str, method: str, **args: Any) -> Any:
        raise NotImplementedError

    def rebuild_instance(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        """Destroy the guest and spawn it again from the stored spec's (new) image."""
        self._send(ctx, host, "rebuild_instance", instance_uuid=instance_uuid)


class RebuildConductorClient:
    """The conductor's rebuild messages (a base of ``ConductorClient``)."""

    def _send(self, ctx: RequestContext, method: str, **args: Any) -> Any:
        raise NotImplementedError

    def evacuate_instance(
        self, ctx: RequestContext, instance_uuid: str, host: str | None, migration_id: int
    ) -> None:
        """Place an evacuated server on another host (``host``: the admin's) and rebuild it."""
        self._send(
            ctx,
            "evacuate_instance",
            instance_uuid=instance_uuid,
            host=host,
            migration_id=migration_id,
        )

    def rebuild_task_changed(
        self, ctx: RequestContext, instance_uuid: str, from_task: str, to_task: str
    ) -> bool:
        """The rebuild moved on from ``from_task``; whether the server was still in it."""
        result: bool = self._send(
            ctx,
            "rebuild_task_changed",
            instance_uuid=instance_uuid,
            from_task=from_task,
            to_task=to_task,
        )
        return result

    def instance_rebuilt(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        task_state: str,
        power_state: int,
        fault: dict[str, Any] | None,
    ) -> None:
        """The rebuild ended in ``task_state`` (``fault`` when it failed)."""
        self._send(
            ctx,
            "instance_rebuilt",
            instance_uuid=instance_uuid,
            task_state=task_state,
            power_state=power_state,
            fault=fault,
        )
