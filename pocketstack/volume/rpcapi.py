"""Block storage's bus messages: one table per direction, typed clients on top.

docs/block-storage.md, "Bus". Targets:

- ``volume_server``: the controller side (``agent_reports.VolumeAgentReports``, served by
  every controller): the volume agents' heartbeats with their capacity (``report_state``),
  the wanted state of a storage host (``get_host_state``), and the outcome of every
  operation an agent ran (``volume_created``, ``volume_deleted``... casts carrying
  ``status`` and, on failure, ``fault``), which the controller writes through the transition
  table of ``states.py``.
- ``volume.<host>``: the volume agent of one storage host (``agent.VolumeAgent``), which owns
  the backend driver and the export (iSCSI target); ``fanout("volume", "sync")`` asks every
  agent to pull its host's state again.

As Cinder's ``cinder-volume``/``cinder-scheduler`` topics, on this repository's bus
(``common/bus.py``): only the messages declared here reach an endpoint; every payload is JSON
with a version field; the user's token never travels (an agent that downloads an image uses
the service credential, as the compute agent does).
"""

from __future__ import annotations

from typing import Any

from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import CALL, CAST, Bus, Message, MessageTable

#: the controller side (any controller)
SERVER_TOPIC = "volume_server"
#: the agents' topic; an agent serves ``volume.<host>``
AGENT_TOPIC = "volume"

#: the outcome casts of the agents, by operation (each: ``status``, ``fault`` on failure)
RESULT_MESSAGES = (
    "volume_created",
    "volume_deleted",
    "volume_extended",
    "snapshot_created",
    "snapshot_deleted",
    "backup_finished",
    "volume_uploaded",
)

#: the controller's messages (target ``volume_server``), handled by ``VolumeAgentReports``
SERVER_MESSAGES = MessageTable(
    SERVER_TOPIC,
    [
        Message("report_state", CAST),
        Message("get_host_state", CALL, timeout=30.0),
        *(Message(name, CAST) for name in RESULT_MESSAGES),
    ],
)

#: the volume agent's messages (target ``volume.<host>``, or the fanout to all)
AGENT_MESSAGES = MessageTable(
    AGENT_TOPIC,
    [
        Message("create_volume", CAST),
        Message("delete_volume", CAST),
        Message("extend_volume", CAST),
        Message("create_snapshot", CAST),
        Message("delete_snapshot", CAST),
        Message("initialize_connection", CALL, timeout=60.0),
        Message("terminate_connection", CALL, timeout=60.0),
        Message("create_backup", CAST),
        Message("restore_backup", CAST),
        Message("delete_backup", CAST),
        Message("copy_volume_to_image", CAST),
        Message("sync", CAST),
    ],
)

#: every block storage message table by topic
MESSAGES = {SERVER_TOPIC: SERVER_MESSAGES, AGENT_TOPIC: AGENT_MESSAGES}


def agent_target(host: str) -> str:
    """The bus target the volume agent of ``host`` serves: ``volume.<host>``."""
    return f"{AGENT_TOPIC}.{host}"


class VolumeServerClient:
    """Messages of a volume agent to the controllers (target ``volume_server``)."""

    def __init__(self, bus: Bus):
        self.bus = bus

    def _send(self, ctx: RequestContext, method: str, **args: Any) -> Any:
        return self.bus.send(ctx, SERVER_TOPIC, SERVER_MESSAGES[method], **args)

    def report_state(self, ctx: RequestContext, service: dict[str, Any]) -> None:
        """Heartbeat of one storage host's volume service; a cast.

        ``service``: ``{"host", "backend", "availability_zone", "start_flag": bool,
        "capabilities": {"total_capacity_gb", "free_capacity_gb", "provisioned_capacity_gb",
        "thin_provisioning_support", "max_over_subscription_ratio", "storage_protocol",
        "volume_backend_name"}}`` (capacities in GiB, floats; Cinder's capability names).
        """
        self._send(ctx, "report_state", service=service)

    def get_host_state(self, ctx: RequestContext, host: str) -> dict[str, Any]:
        """Everything the controller says ``host`` holds: ``{"volumes": [...],
        "snapshots": [...], "backups": [...], "attachments": [...]}`` with their states
        (docs/block-storage.md, "Recovery"); waits up to 30 s (``MessagingTimeout``)."""
        result: dict[str, Any] = self._send(ctx, "get_host_state", host=host)
        return result

    def result(self, ctx: RequestContext, message: str, **args: Any) -> None:
        """Cast the outcome of one operation (``message`` one of ``RESULT_MESSAGES``), e.g.
        ``result(ctx, "volume_created", volume_id=..., status="available")`` or with
        ``status="error", fault="..."``.

        Raises:
            KeyError: ``message`` is not declared.
        """
        self._send(ctx, message, **args)


class VolumeAgentClient:
    """Messages of the controller to the volume agents (target ``volume[.<host>]``)."""

    def __init__(self, bus: Bus):
        self.bus = bus

    def cast(self, ctx: RequestContext, host: str, method: str, **args: Any) -> None:
        """Cast ``method`` (a cast of ``AGENT_MESSAGES``: ``create_volume``...) to the agent
        of ``host``; the agent answers later with a result cast to ``volume_server``."""
        self.bus.cast(ctx, agent_target(host), AGENT_MESSAGES[method], **args)

    def initialize_connection(
        self,
        ctx: RequestContext,
        host: str,
        volume_id: str,
        attachment_id: str,
        connector: dict[str, Any],
    ) -> dict[str, Any]:
        """Export ``volume_id`` for one attachment (an iSCSI target with a CHAP account of
        its own) and return Cinder's ``connection_info`` (docs/block-storage.md); waits up
        to 60 s."""
        message = AGENT_MESSAGES["initialize_connection"]
        result: dict[str, Any] = self.bus.call(
            ctx,
            agent_target(host),
            message,
            volume_id=volume_id,
            attachment_id=attachment_id,
            connector=connector,
        )
        return result

    def terminate_connection(
        self, ctx: RequestContext, host: str, volume_id: str, attachment_id: str
    ) -> None:
        """Remove the attachment's access to the export (and the export with its last
        attachment); removing what is gone succeeds."""
        message = AGENT_MESSAGES["terminate_connection"]
        self.bus.call(
            ctx, agent_target(host), message, volume_id=volume_id, attachment_id=attachment_id
        )

    def sync(self, ctx: RequestContext, host: str | None = None) -> None:
        """Ask the agent of ``host`` (None: every agent, a fanout) to pull its state now."""
        message = AGENT_MESSAGES["sync"]
        if host is None:
            self.bus.fanout(ctx, AGENT_TOPIC, message)
        else:
            self.bus.cast(ctx, agent_target(host), message)
