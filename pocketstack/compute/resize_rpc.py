"""Resize and cold migration's bus messages (``resize_conductor``, ``agent_migrations``),
spliced into the tables of ``rpcapi`` (``AGENT_MESSAGES``, ``CONDUCTOR_MESSAGES``), and
their typed client methods, bases of ``rpcapi.ComputeAgentClient`` and
``rpcapi.ConductorClient``.

Agent (``compute.<host>``): ``resize_instance`` (source: park and copy),
``prepare_resize_target``/``cleanup_resize_target`` (destination, calls from the source),
``finish_resize`` (destination), ``confirm_resize`` (source), ``revert_resize``
(destination), ``finish_revert_resize`` (source). Conductor: ``migrate_server``,
``confirm_resize_instance``, ``revert_resize_instance`` (from the API), then the agents'
outcomes ``resize_migrated``, ``resize_finished``, ``resize_confirmed``,
``resize_dest_reverted``, ``resize_reverted``. All casts but the two directory calls.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import CALL, CAST, Message

AGENT_MESSAGES = [
    Message("resize_instance", CAST),
    Message("prepare_resize_target", CALL, timeout=60.0),
    Message("cleanup_resize_target", CALL, timeout=120.0),
    Message("finish_resize", CAST),
    Message("confirm_resize", CAST),
    Message("revert_resize", CAST),
    Message("finish_revert_resize", CAST),
]

CONDUCTOR_MESSAGES = [
    Message("migrate_server", CAST),
    Message("confirm_resize_instance", CAST),
    Message("revert_resize_instance", CAST),
    Message("resize_migrated", CAST),
    Message("resize_finished", CAST),
    Message("resize_confirmed", CAST),
    Message("resize_dest_reverted", CAST),
    Message("resize_reverted", CAST),
]


class ResizeAgentClient:
    """The agent's resize messages (a base of ``ComputeAgentClient``)."""

    def _send(self, ctx: RequestContext, host: str, method: str, **args: Any) -> Any:
        raise NotImplementedError

    def resize_instance(
        self, ctx: RequestContext, host: str, instance_uuid: str, dest_host: str, power_on: bool
    ) -> None:
        """Source: park the guest, copy its disks to ``dest_host``."""
        self._send(
            ctx,
            host,
            "resize_instance",
            instance_uuid=instance_uuid,
            dest_host=dest_host,
            power_on=power_on,
        )

    def prepare_resize_target(self, ctx: RequestContext, host: str, instance_uuid: str) -> str:
        """Destination: the directory to copy into ("" for drivers without files)."""
        return str(self._send(ctx, host, "prepare_resize_target", instance_uuid=instance_uuid))

    def cleanup_resize_target(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        """Destination: remove what a failed copy left."""
        self._send(ctx, host, "cleanup_resize_target", instance_uuid=instance_uuid)

    def finish_resize(
        self,
        ctx: RequestContext,
        host: str,
        instance_uuid: str,
        spec: dict[str, Any],
        power_on: bool,
    ) -> None:
        """Destination: grow the disk, start the guest with the new flavor."""
        self._send(
            ctx, host, "finish_resize", instance_uuid=instance_uuid, spec=spec, power_on=power_on
        )

    def confirm_resize(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        """Source: delete the parked guest."""
        self._send(ctx, host, "confirm_resize", instance_uuid=instance_uuid)

    def revert_resize(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        """Destination: destroy the new guest."""
        self._send(ctx, host, "revert_resize", instance_uuid=instance_uuid)

    def finish_revert_resize(
        self,
        ctx: RequestContext,
        host: str,
        instance_uuid: str,
        spec: dict[str, Any],
        power_on: bool,
    ) -> None:
        """Source: unpark the guest with its old flavor."""
        self._send(
            ctx,
            host,
            "finish_revert_resize",
            instance_uuid=instance_uuid,
            spec=spec,
            power_on=power_on,
        )


class ResizeConductorClient:
    """The conductor's resize messages (a base of ``ConductorClient``)."""

    def _send(self, ctx: RequestContext, method: str, **args: Any) -> Any:
        raise NotImplementedError

    def migrate_server(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        new_flavor: dict[str, Any] | None,
        host: str | None,
    ) -> None:
        """Run a resize (``new_flavor``) or cold migration the API began."""
        self._send(
            ctx, "migrate_server", instance_uuid=instance_uuid, new_flavor=new_flavor, host=host
        )

    def confirm_resize_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Confirm a move the API began confirming."""
        self._send(ctx, "confirm_resize_instance", instance_uuid=instance_uuid)

    def revert_resize_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Revert a move the API began reverting."""
        self._send(ctx, "revert_resize_instance", instance_uuid=instance_uuid)

    def resize_migrated(
        self, ctx: RequestContext, instance_uuid: str, host: str, fault: dict[str, Any] | None
    ) -> None:
        """The source's copy ended (``fault``: it failed, the guest is back)."""
        self._send(ctx, "resize_migrated", instance_uuid=instance_uuid, host=host, fault=fault)

    def resize_finished(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        host: str,
        power_state: int,
        fault: dict[str, Any] | None,
    ) -> None:
        """The destination's start ended."""
        self._send(
            ctx,
            "resize_finished",
            instance_uuid=instance_uuid,
            host=host,
            power_state=power_state,
            fault=fault,
        )

    def resize_confirmed(
        self, ctx: RequestContext, instance_uuid: str, host: str, fault: dict[str, Any] | None
    ) -> None:
        """The source deleted its parked guest."""
        self._send(ctx, "resize_confirmed", instance_uuid=instance_uuid, host=host, fault=fault)

    def resize_dest_reverted(
        self, ctx: RequestContext, instance_uuid: str, host: str, fault: dict[str, Any] | None
    ) -> None:
        """The destination destroyed its guest."""
        self._send(ctx, "resize_dest_reverted", instance_uuid=instance_uuid, host=host, fault=fault)

    def resize_reverted(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        host: str,
        power_state: int,
        fault: dict[str, Any] | None,
    ) -> None:
        """The source runs the guest again."""
        self._send(
            ctx,
            "resize_reverted",
            instance_uuid=instance_uuid,
            host=host,
            power_state=power_state,
            fault=fault,
        )
