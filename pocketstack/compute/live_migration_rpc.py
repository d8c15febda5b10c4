"""Live migration's bus messages (``compute.live_migration``), spliced into the tables of
``rpcapi`` (``AGENT_MESSAGES``, ``CONDUCTOR_MESSAGES``), and their typed client methods,
bases of ``rpcapi.ComputeAgentClient`` and ``rpcapi.ConductorClient``.

Agent (``compute.<host>``), all calls, handled by ``live_migration_agent``:

=========================================  ========  =====================================
message                                    timeout   where
=========================================  ========  =====================================
``pre_live_migration``                     300 s     destination: disk, QEMU ``-incoming``
``live_migration``                         900 s     source: QMP ``migrate`` until it ends
``live_migration_abort``                   30 s      source: ``migrate_cancel``
``live_migration_force_complete``          30 s      source: the guest paused
``post_live_migration_at_source``          120 s     source: QEMU ended, files removed
``post_live_migration_at_destination``     120 s     destination: the guest running
``rollback_live_migration_at_destination`` 120 s     destination: QEMU ended, files removed
=========================================  ========  =====================================

Conductor: ``live_migrate_instance`` (cast, from the API), ``live_migration_progress``
(cast, from the source agent while the copy runs), ``live_migrations_interrupted`` (cast,
from an agent as it restarts: ``live_migration_recovery``).
"""

from __future__ import annotations

from typing import Any

from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import CALL, CAST, Message

#: how long the conductor waits for the source's copy (a 256 MiB guest takes seconds; the
#: QEMU driver cancels a copy still running after its ``COMPLETION_TIMEOUT``, 800 s, as
#: Nova's ``live_migration_completion_timeout``): a source agent killed meanwhile makes the
#: conductor roll back after this long (the destination's QEMU ended, the server ACTIVE on
#: the source)
MIGRATE_TIMEOUT = 900.0

AGENT_MESSAGES = [
    Message("pre_live_migration", CALL, timeout=300.0),
    Message("live_migration", CALL, timeout=MIGRATE_TIMEOUT),
    Message("live_migration_abort", CALL, timeout=30.0),
    Message("live_migration_force_complete", CALL, timeout=30.0),
    Message("post_live_migration_at_source", CALL, timeout=120.0),
    Message("post_live_migration_at_destination", CALL, timeout=120.0),
    Message("rollback_live_migration_at_destination", CALL, timeout=120.0),
]

CONDUCTOR_MESSAGES = [
    Message("live_migrate_instance", CAST),
    Message("live_migration_progress", CAST),
    Message("live_migrations_interrupted", CAST),
]


class LiveMigrationAgentClient:
    """The agent's live-migration messages (a base of ``ComputeAgentClient``)."""

    def _send(self, ctx: RequestContext, host: str, method: str, **args: Any) -> Any:
        raise NotImplementedError

    def pre_live_migration(
        self,
        ctx: RequestContext,
        host: str,
        instance_uuid: str,
        spec: dict[str, Any],
        block_migration: bool | None,
    ) -> dict[str, Any]:
        """Prepare ``host`` (the destination); returns the migrate data (``uri``,
        ``block_migration``, ``shared``...)."""
        return dict(
            self._send(
                ctx,
                host,
                "pre_live_migration",
                instance_uuid=instance_uuid,
                spec=spec,
                block_migration=block_migration,
            )
        )

    def live_migration(
        self,
        ctx: RequestContext,
        host: str,
        instance_uuid: str,
        migration_id: int,
        migrate_data: dict[str, Any],
    ) -> dict[str, Any]:
        """Copy the guest from ``host`` (the source); returns ``{"status": "completed" |
        "cancelled", "downtime_ms", "total_time_ms", memory/disk figures}``."""
        return dict(
            self._send(
                ctx,
                host,
                "live_migration",
                instance_uuid=instance_uuid,
                migration_id=migration_id,
                migrate_data=migrate_data,
            )
        )

    def live_migration_abort(self, ctx: RequestContext, host: str, instance_uuid: str) -> None:
        """Cancel the running copy on the source ``host``."""
        self._send(ctx, host, "live_migration_abort", instance_uuid=instance_uuid)

    def live_migration_force_complete(
        self, ctx: RequestContext, host: str, instance_uuid: str
    ) -> None:
        """Pause the guest on the source ``host`` so that the copy completes."""
        self._send(ctx, host, "live_migration_force_complete", instance_uuid=instance_uuid)

    def post_live_migration_at_source(
        self, ctx: RequestContext, host: str, instance_uuid: str, migrate_data: dict[str, Any]
    ) -> None:
        """End the source's QEMU and remove its files (kept on shared storage)."""
        self._send(
            ctx,
            host,
            "post_live_migration_at_source",
            instance_uuid=instance_uuid,
            migrate_data=migrate_data,
        )

    def post_live_migration_at_destination(
        self,
        ctx: RequestContext,
        host: str,
        instance_uuid: str,
        spec: dict[str, Any],
        running: bool,
    ) -> None:
        """The guest is the destination's now; ``running``: it must run (a forced
        completion paused it)."""
        self._send(
            ctx,
            host,
            "post_live_migration_at_destination",
            instance_uuid=instance_uuid,
            spec=spec,
            running=running,
        )

    def rollback_live_migration_at_destination(
        self, ctx: RequestContext, host: str, instance_uuid: str, migrate_data: dict[str, Any]
    ) -> None:
        """End the destination's incoming QEMU and remove what pre_live_migration made."""
        self._send(
            ctx,
            host,
            "rollback_live_migration_at_destination",
            instance_uuid=instance_uuid,
            migrate_data=migrate_data,
        )


class LiveMigrationConductorClient:
    """The conductor's live-migration messages (a base of ``ConductorClient``)."""

    def _send(self, ctx: RequestContext, method: str, **args: Any) -> Any:
        raise NotImplementedError

    def live_migrate_instance(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        migration_id: int,
        host: str | None,
        block_migration: bool | None,
        force: bool,
    ) -> None:
        """Run the live-migration workflow (``LiveMigrationReports.live_migrate_instance``)."""
        self._send(
            ctx,
            "live_migrate_instance",
            instance_uuid=instance_uuid,
            migration_id=migration_id,
            host=host,
            block_migration=block_migration,
            force=force,
        )

    def live_migration_progress(
        self, ctx: RequestContext, migration_id: int, stats: dict[str, Any]
    ) -> None:
        """Progress of the copy (bytes) for the Migration row."""
        self._send(ctx, "live_migration_progress", migration_id=migration_id, stats=stats)

    def live_migrations_interrupted(
        self, ctx: RequestContext, host: str, copied: list[str] | None = None
    ) -> None:
        """The agent of ``host`` restarted: settle the live migrations from or to it
        (``LiveMigrationRecovery.live_migrations_interrupted``); ``copied``: the servers
        whose copy QEMU completed on this source meanwhile."""
        self._send(ctx, "live_migrations_interrupted", host=host, copied=list(copied or []))
