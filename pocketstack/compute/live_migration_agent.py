"""Live migration on the compute agent (a base of ``ComputeAgent``): the bus calls of
``live_migration_rpc`` on the source and destination hosts, over the driver's live-migration
operations.

The driver's contract (``FakeDriver`` the reference, ``QemuDriver`` the real one); every
operation cleans up what it made when it fails and raises ``DriverError``:

- ``live_migration_prepare(spec, block_migration, address) -> migrate_data`` (destination):
  shared instance storage when the instance directory already holds the disk, else block
  migration (``block_migration`` True/False must agree, None is ``auto``: a mismatch raises
  ``DriverError`` 400); the guest prepared to receive (QEMU ``-incoming`` on ``address``);
  ``migrate_data``: ``{"uri", "block_migration", "shared", ...}``, JSON.
- ``live_migration(uuid, migrate_data, progress) -> stats`` (source): copy until done;
  ``progress(stats)`` is called about every second with the bytes (``memory_total``,
  ``memory_processed``, ``memory_remaining``, ``disk_*``); ``stats`` adds ``status``
  (``completed`` or ``cancelled``), ``downtime_ms``, ``total_time_ms``. A failure raises
  (the source guest still runs).
- ``live_migration_abort(uuid)``, ``live_migration_force_complete(uuid)`` (source, while
  ``live_migration`` runs in another thread).
- ``live_migration_completed(uuid) -> bool`` (source): whether a copy from here completed
  (its guest runs on the destination) and was not cleaned up since; asked by an agent that
  restarts while its server is migrating (``live_migration_recovery``).
- ``live_migration_cleanup_source(uuid, shared)``: the source's guest ended and, unless
  ``shared``, its files removed.
- ``live_migration_finish(spec, running)`` (destination): the guest is the host's (listed by
  ``list_instances`` from now on), running unless ``running`` is False.
- ``live_migration_rollback_dest(uuid, shared)``: the incoming guest ended and what
  ``live_migration_prepare`` made removed (never a shared disk).

Until ``live_migration_finish``, an incoming guest is not in ``list_instances`` (so the
destination's orphan check, which the conductor does not yet list there, leaves it alone).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pocketstack.common.auth import RequestContext

if TYPE_CHECKING:
    from pocketstack.common.config import Config
    from pocketstack.compute.drivers.base import ComputeDriver
    from pocketstack.compute.rpcapi import ConductorClient

LOG = logging.getLogger(__name__)


class LiveMigrationAgent:
    """The agent's live-migration calls (see the module docstring)."""

    conf: Config
    driver: ComputeDriver
    conductor: ConductorClient
    host: str

    def _lm_driver(self) -> Any:
        return self.driver  # the operations are not in every driver's base (yet)

    def pre_live_migration(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        spec: dict[str, Any],
        block_migration: bool | None,
    ) -> dict[str, Any]:
        """Destination: prepare the disk and the incoming guest; the migrate data."""
        address = str(getattr(self.conf, "local_ip", "") or "127.0.0.1")
        LOG.info("%s: preparing the live migration of %s", self.host, instance_uuid)
        ensure_image = getattr(self, "_ensure_image", None)
        if ensure_image is not None:  # the destination's copy of the image (its cache)
            ensure_image(spec)
        data = self._lm_driver().live_migration_prepare(spec, block_migration, address)
        return dict(data)

    def live_migration(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        migration_id: int,
        migrate_data: dict[str, Any],
    ) -> dict[str, Any]:
        """Source: copy the guest, reporting progress to the conductor; the final stats."""

        def progress(stats: dict[str, Any]) -> None:
            try:
                self.conductor.live_migration_progress(ctx, migration_id, stats)
            except Exception:  # progress is informative: the copy goes on; logged
                LOG.warning("progress of migration %s not sent", migration_id, exc_info=True)

        LOG.info("%s: live-migrating %s to %s", self.host, instance_uuid, migrate_data.get("uri"))
        return dict(self._lm_driver().live_migration(instance_uuid, migrate_data, progress))

    def live_migration_abort(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Source: cancel the running copy (QMP ``migrate_cancel``)."""
        self._lm_driver().live_migration_abort(instance_uuid)

    def live_migration_force_complete(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Source: pause the guest so that the copy completes."""
        self._lm_driver().live_migration_force_complete(instance_uuid)

    def post_live_migration_at_source(
        self, ctx: RequestContext, instance_uuid: str, migrate_data: dict[str, Any]
    ) -> None:
        """Source: end the guest, remove its files unless on shared storage."""
        self._lm_driver().live_migration_cleanup_source(
            instance_uuid, bool(migrate_data.get("shared"))
        )

    def post_live_migration_at_destination(
        self, ctx: RequestContext, instance_uuid: str, spec: dict[str, Any], running: bool
    ) -> None:
        """Destination: the guest is this host's now."""
        self._lm_driver().live_migration_finish(spec, running)

    def rollback_live_migration_at_destination(
        self, ctx: RequestContext, instance_uuid: str, migrate_data: dict[str, Any]
    ) -> None:
        """Destination: end the incoming guest, remove what was prepared."""
        self._lm_driver().live_migration_rollback_dest(
            instance_uuid, bool(migrate_data.get("shared"))
        )
