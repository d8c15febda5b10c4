"""Live migration (Nova's ``os-migrateLive``; API reference "Live-Migrate Server
(os-migrateLive Action)", "Server migrations": "Force Migration Complete Action
(force_complete Action)", "Delete (Abort) Migration"), controller side.

The guest keeps running while its memory (and, for local instance storage, its disks) is
copied to another host; ``openstack server migrate --live-migration [--host H]
[--block-migration|--shared-migration]``, ``openstack server migration list/show/abort/
force complete``.

- ``LiveMigrationAPI`` (the API's side, admin only): checks the server (ACTIVE or PAUSED, no
  task: else 409), the host an admin names (400 unknown, or the server's own host), writes a
  ``live-migration`` Migration row (``queued``) and the task ``migrating`` with the
  instance action ``live-migration``, then casts ``live_migrate_instance`` to the conductor.
  ``abort`` (``DELETE /servers/{id}/migrations/{mid}``) and ``force_complete``.
- ``LiveMigrationReports`` (a base of the ``Conductor``): the workflow ``live_migrate``:

  ===================================  =========================================================
  event                                step (rollback)
  ===================================  =========================================================
  ``conductor_live_migrate_instance``  the scheduler picks the destination (or checks the
                                       admin's host when forced) and claims the flavor's
                                       resources there for the migration's uuid (release)
  ``compute__bind_ports``              the ports bound to the destination (bound back)
  ``compute_pre_live_migration``       destination agent: the disk prepared (block migration:
                                       an empty overlay on the same backing image), QEMU
                                       started with ``-incoming`` (killed, files removed)
  ``compute_live_migration``           source agent: QMP ``migrate``, progress written to the
                                       Migration row; abort -> ``cancelled``
  ``compute_post_live_migration_at_source``       the source QEMU ended, its files removed
  ``compute_post_live_migration_at_destination``  the guest running on the destination
  ===================================  =========================================================

  Then the volume mappings are switched to the destination's attachments, the migration's
  claim becomes the instance's (``claims.move_claim``, which also drops the source's), and
  one transaction sets the Migration ``completed`` (compare-and-set from
  ``post-migrating``: a settler's end wins), the server's host and node the destination's.
  A failure before the copy completes rolls back: the server stays ACTIVE on the source, no
  claim leaked, no QEMU left on the destination, the Migration ``error`` (``cancelled``
  after an abort), the action ``Error``. From ``post-migrating`` on (the source's guest
  ends) nothing is undone: a failure is finished forward by
  ``LiveMigrationRecovery.settle_live_migration`` (ACTIVE on the destination, or ERROR
  there with the reason).

Volumes (attached ones and a boot volume) follow the guest (``volume_moves``): after the
ports, each gets a second attachment exported to the destination, whose QEMU opens it with
that ``connection_info``; at the end the mappings point at the new attachments and the
source's are deleted; a rollback deletes the new ones (the source's untouched).

Block or shared: ``block_migration`` True/False, or ``auto`` (2.25+), decided from the two
hosts' reported instance storage (``instance_storage.instance_storage_shared``): shared means
memory only, else block migration. Asking for block migration on shared storage, or for
memory only on local storage, fails the migration (the reason in the event
``compute_pre_live_migration``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pocketstack.common import errors, policy
from pocketstack.common.auth import RequestContext
from pocketstack.compute import actions, migrations, states, tasks
from pocketstack.compute.exceptions import InstanceInvalidState
from pocketstack.compute.models import Instance
from pocketstack.compute.scheduler import claims
from pocketstack.compute.volume_moves import VolumeMoves

if TYPE_CHECKING:
    from pocketstack.compute.rpcapi import ComputeAgentClient
    from pocketstack.compute.scheduler.manager import SchedulerManager
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)

#: the task of a live migration (Nova's ``task_states.MIGRATING``)
MIGRATING = states.MIGRATING
#: the instance action (Nova's ``instance_actions.LIVE_MIGRATION``)
ACTION = "live-migration"
EV_SCHEDULE = "conductor_live_migrate_instance"
EV_BIND_PORTS = "compute__bind_ports"
EV_PRE = "compute_pre_live_migration"
EV_MIGRATE = "compute_live_migration"
EV_POST_SOURCE = "compute_post_live_migration_at_source"
EV_POST_DEST = "compute_post_live_migration_at_destination"
#: the progress columns of a Migration row, after ``memory_``/``disk_`` (bytes)
_PROGRESS = ("total", "processed", "remaining")
#: the statuses of a migration a settler ended (``live_migration_recovery``)
SETTLED = ("error", "completed")
#: the statuses after which nothing is undone: the copy completed and the source's guest
#: ends, so the guest lives on the destination only (finished forward, never rolled back)
PAST_COPY = ("post-migrating", *SETTLED)
#: the statuses in which an abort is allowed (Nova 2.65: also queued and preparing)
ABORTABLE = ("queued", "preparing", "running")

#: Nova's os_compute_api:os-migrate-server:migrate_live, servers:migrations:delete/force_complete
RULES = {
    "compute:os-migrate-server:migrate_live": "admin",
    "compute:servers:migrations:delete": "admin",
    "compute:servers:migrations:force_complete": "admin",
}
policy.register(RULES)


class LiveMigrationAborted(errors.Conflict):
    """The migration was cancelled (``DELETE /servers/{id}/migrations/{mid}``)."""


def _resources(inst: Instance) -> dict[str, int]:
    swap_gb = -(-int((inst.flavor or {}).get("swap") or 0) // 1024)
    return claims.resources_of(
        inst.vcpus, inst.memory_mb, inst.root_gb + inst.ephemeral_gb + swap_gb
    )


# ---------------------------------------------------------------------------- API side


def check_storage(
    cloud: Cloud,
    source: str,
    dest: str,
    block_migration: bool | None,
    volume_only: bool = False,
) -> bool:
    """Resolve ``block_migration`` for a move from ``source`` to ``dest`` (compute hosts)
    from their instance storage (``instance_storage.instance_storage_shared``): None
    (``auto``) is block migration unless both share it, memory only when they do.
    ``volume_only``: the server boots from a volume and has no local disk
    (``volume_only``), so its storage counts as shared (Nova's shared block storage).

    Raises:
        errors.BadRequest (400, Nova's ``InvalidSharedStorage`` and
        ``InvalidLocalStorage``): block migration asked for on shared storage, or memory
        only on local storage.
    """
    from pocketstack.compute.instance_storage import instance_storage_shared

    shared = volume_only or instance_storage_shared(cloud, source, dest)
    if block_migration is None:
        return not shared
    if block_migration and shared:
        raise errors.BadRequest(
            f"{source} is not on local storage: Block migration can not be used with "
            "shared storage."
        )
    if not block_migration and not shared:
        raise errors.BadRequest(
            f"{dest} is not on shared storage: Shared storage live-migration requires "
            "either shared storage or boot-from-volume with no local disks."
        )
    return block_migration


def volume_only(inst: Instance) -> bool:
    """Whether every disk of ``inst`` is a volume: volume-backed, no ephemeral or swap
    disk (the config drive is made again on the destination). Its live migration copies
    memory only, never the volumes (Nova's ``is_shared_block_storage``)."""
    swap = int((inst.flavor or {}).get("swap") or 0)
    backed = bool((inst.spec or {}).get("boot_from_volume"))
    return backed and not inst.ephemeral_gb and not swap


class LiveMigrationAPI:
    """The API's live-migration calls (``cloud`` the ``Cloud``)."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.db = cloud.db

    def live_migrate(
        self,
        ctx: RequestContext,
        server_id: str,
        host: str | None,
        block_migration: bool | None,
        force: bool = False,
    ) -> int:
        """Begin a live migration (202); returns the Migration's id.

        Args:
            host: the destination an admin names (checked by the scheduler unless ``force``).
            block_migration: True/False, or None for ``auto``.

        Raises:
            ServerNotFound (404); InstanceInvalidState (409) unless ACTIVE or PAUSED with no
            task; BadRequest (400): ``host`` is no compute host, or the server's own, or
            ``block_migration`` contradicts the two hosts' instance storage
            (``check_storage``).
        """
        from pocketstack.compute.rpcapi import ConductorClient
        from pocketstack.compute.server_actions import check_lock

        row = self.cloud.compute.servers.get(ctx, server_id)
        check_lock(ctx, row)
        states.check_action(row, "live_migrate")
        if host is not None:
            self._check_host(row, host)
            if block_migration is not None:
                check_storage(self.cloud, str(row.host), host, block_migration, volume_only(row))
        with self.db.transaction() as s:
            if not actions.update_instance(
                s,
                row.uuid,
                {"vm_state": row.vm_state, "task_state": None},
                task_state=MIGRATING,
            ):
                raise InstanceInvalidState(f"Instance {row.uuid} changed state; try again.")
            mig = migrations.create(
                s,
                row,
                migration_type=migrations.LIVE_MIGRATION,
                source_compute=row.host,
                source_node=row.node,
                dest_compute=host,
                status="queued",
                project_id=ctx.project_id,
                user_id=ctx.user_id,
            )
            mig_id = mig.id
        actions.start_action(self.db, ctx, row.uuid, ACTION)
        ConductorClient(self.cloud.bus).live_migrate_instance(
            ctx, row.uuid, mig_id, host, block_migration, force
        )
        return mig_id

    def _check_host(self, row: Instance, host: str) -> None:
        from pocketstack.compute.liveness import COMPUTE_BINARY
        from pocketstack.compute.models import Service

        with self.db.reader() as s:
            found = s.query(Service).filter_by(host=host, binary=COMPUTE_BINARY).first()
        if found is None:
            raise errors.BadRequest(f"Compute host {host} could not be found.")
        if host == row.host:
            raise errors.BadRequest(
                f"Unable to migrate instance ({row.uuid}) to current host ({host})."
            )

    def _in_progress(self, ctx: RequestContext, server_id: str, migration_id: str) -> Any:
        row = self.cloud.compute.servers.get(ctx, server_id)
        with self.db.reader() as s:
            try:
                mig = migrations.get(s, migration_id) if str(migration_id).isdigit() else None
            except migrations.MigrationNotFound:
                mig = None
            if mig is None or mig.instance_uuid != row.uuid:
                raise migrations.MigrationNotFound(
                    f"Migration {migration_id} for instance {row.uuid} could not be found."
                )
            s.expunge(mig)
        if row.task_state != MIGRATING:
            raise InstanceInvalidState(
                f"Instance {row.uuid} is in an invalid state for this action: "
                f"task_state {row.task_state}"
            )
        return row, mig

    def abort(self, ctx: RequestContext, server_id: str, migration_id: str) -> None:
        """Abort (``DELETE /servers/{id}/migrations/{mid}``, 202): a queued or preparing
        migration is marked ``cancelled`` (the conductor stops before the copy); a running
        one is cancelled on the source (QMP ``migrate_cancel``); the server stays on the
        source, running.

        Raises:
            404 unknown server or migration; 409 the server is not migrating; 400 the
            migration is not queued, preparing or running.
        """
        from pocketstack.compute.rpcapi import ComputeAgentClient

        row, mig = self._in_progress(ctx, server_id, migration_id)
        if mig.migration_type != migrations.LIVE_MIGRATION or mig.status not in ABORTABLE:
            raise errors.BadRequest(
                f"Migration {mig.id} state of instance {row.uuid} is {mig.status}. Cannot "
                "abort live migration whose state is not queued, preparing or running."
            )
        if mig.status in ("queued", "preparing"):
            with self.db.transaction() as s:
                try:
                    migrations.update_status(
                        s, mig.id, "cancelled", expected=("queued", "preparing")
                    )
                    return
                except migrations.MigrationStateConflict:
                    pass  # it began running meanwhile: cancel it on the source
        ComputeAgentClient(self.cloud.bus).live_migration_abort(
            ctx, str(mig.source_compute), row.uuid
        )

    def force_complete(self, ctx: RequestContext, server_id: str, migration_id: str) -> None:
        """Force a running live migration to complete (202): the guest is paused on the
        source so that the copy converges (Nova's default), and runs again on the
        destination.

        Raises:
            404 unknown server or migration; 409 the server is not migrating; 400 the
            migration is not running.
        """
        from pocketstack.compute.rpcapi import ComputeAgentClient

        row, mig = self._in_progress(ctx, server_id, migration_id)
        if mig.migration_type != migrations.LIVE_MIGRATION or mig.status != "running":
            raise errors.BadRequest(
                f"Migration {mig.id} state of instance {row.uuid} is {mig.status}. Cannot "
                "force_complete while the migration is in this state."
            )
        ComputeAgentClient(self.cloud.bus).live_migration_force_complete(
            ctx, str(mig.source_compute), row.uuid
        )


# ---------------------------------------------------------------------------- conductor


@dataclasses.dataclass(kw_only=True)
class LiveMigrationTask(tasks.Task):
    """One live migration (``LiveMigrationReports.live_migrate``).

    Attributes:
        inst: the server as read when the workflow began; migration_id: the Migration's id.
        host, force, block_migration: the request (None: scheduler / ``auto``).
        source, dest, dest_node: the hosts; migrate_data: what the destination answered
            (``uri``, ``block_migration``, ``shared``); stats: the source's final figures.
    """

    inst: Instance
    migration_id: int
    migration_uuid: str = ""
    host: str | None = None
    force: bool = False
    block_migration: bool | None = None
    source: str = ""
    dest: str = ""
    dest_node: str = ""
    network_info: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    volumes: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    migrate_data: dict[str, Any] = dataclasses.field(default_factory=dict)
    stats: dict[str, Any] = dataclasses.field(default_factory=dict)


class LiveMigrationReports:
    """The live-migration half of the ``Conductor`` (see the module docstring)."""

    cloud: Cloud
    db: Any
    scheduler: SchedulerManager
    agents: ComputeAgentClient
    controller_id: str

    #: ``ShelveReports._set_port_hosts``: bind the server's ports to a host
    _set_port_hosts: Callable[[RequestContext, Instance, str], None]
    #: ``LiveMigrationRecovery.settle_live_migration``: the forward (or backward) settling
    settle_live_migration: Callable[[str, int], None]

    @property
    def live_migrate(self) -> tasks.Workflow[LiveMigrationTask]:
        """The live-migration workflow."""
        return tasks.Workflow(
            "live-migrate",
            [
                tasks.Step(EV_SCHEDULE, self._lm_schedule, rollback=self._lm_unclaim),
                tasks.Step(EV_BIND_PORTS, self._lm_bind, rollback=self._lm_unbind),
                # no event of its own: Nova's pre_live_migration makes the attachments
                tasks.Step(None, self._lm_volumes, rollback=self._lm_unvolumes),
                tasks.Step(
                    EV_PRE,
                    self._lm_pre,
                    check=self._lm_check_storage,
                    rollback=self._lm_rollback_dest,
                ),
                tasks.Step(EV_MIGRATE, self._lm_migrate),
                tasks.Step(EV_POST_SOURCE, self._lm_post_source),
                tasks.Step(EV_POST_DEST, self._lm_post_dest),
            ],
        )

    # -- bus methods (``rpcapi.CONDUCTOR_MESSAGES``)

    def live_migrate_instance(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        migration_id: int,
        host: str | None,
        block_migration: bool | None,
        force: bool,
    ) -> None:
        """Run the workflow ``live_migrate``; its end is written here (see the module doc)."""
        inst = actions.load_instance(self.db, instance_uuid)
        if inst is None or not actions.update_instance(  # this controller's to settle now
            self.db, instance_uuid, {"task_state": MIGRATING}, controller_id=self.controller_id
        ):
            LOG.info("%s left migrating before its live migration began", instance_uuid)
            self._lm_end(ctx, instance_uuid, migration_id, "error")
            return
        task = LiveMigrationTask(
            db=self.db,
            ctx=ctx,
            instance_uuid=instance_uuid,
            inst=inst,
            migration_id=migration_id,
            host=host,
            force=force,
            block_migration=block_migration,
            source=str(inst.host),
        )
        try:
            self.live_migrate.run(task)
            # before the commit that makes the server dest's: the mappings on dest's
            # attachments (idempotent; a failure here is finished forward below)
            VolumeMoves(self.cloud).switch(task.ctx, task.instance_uuid, task.volumes)
        except Exception as exc:
            if self._lm_status(migration_id) == "post-migrating":
                # the copy completed and the source's guest ended: never undone, finished
                # forward as a settler does (the server ACTIVE on dest, or ERROR with why)
                LOG.warning(
                    "live migration of %s failed after the copy (%s); finishing it on %s",
                    instance_uuid,
                    exc,
                    task.dest,
                )
                self.settle_live_migration(instance_uuid, migration_id)
                return
            status = "cancelled" if isinstance(exc, LiveMigrationAborted) else "error"
            LOG.warning("live migration of %s failed: %s", instance_uuid, exc)
            self._lm_end(ctx, instance_uuid, migration_id, status)
            return
        self._lm_complete(task)

    def live_migration_progress(
        self, ctx: RequestContext, migration_id: int, stats: dict[str, Any]
    ) -> None:
        """The source's progress (bytes): ``memory_total/processed/remaining``,
        ``disk_total/processed/remaining``, written on the running Migration row."""
        keys = [f"{kind}_{what}" for kind in ("memory", "disk") for what in _PROGRESS]
        values = {k: int(stats[k]) for k in keys if stats.get(k) is not None}
        with self.db.transaction() as s:
            try:
                migrations.update_status(s, migration_id, "running", expected="running", **values)
            except errors.PocketError:
                pass  # ended or cancelled meanwhile: nothing to show

    # -- steps

    def _lm_schedule(self, task: LiveMigrationTask) -> None:
        inst = task.inst
        with self.db.reader() as s:
            task.migration_uuid = migrations.get(s, task.migration_id).uuid
        if task.host and task.force:
            if not self.scheduler.claim_for_consumer(
                task.migration_uuid,
                task.host,
                _resources(inst),
                project_id=inst.project_id,
                consumer_type=claims.MIGRATION,
            ):
                raise errors.BadRequest(f"Host {task.host} has no room for {inst.uuid}.")
            task.dest, task.dest_node = task.host, task.host
            task.note.details = f"Forced host {task.host}: claimed."
        else:
            spec = dict(inst.spec or {})
            dest = self.scheduler.select_destination(
                task.ctx,
                {
                    "instance_uuid": task.migration_uuid,  # the claim's consumer
                    "consumer_type": claims.MIGRATION,
                    "project_id": inst.project_id,
                    "vcpus": inst.vcpus,
                    "memory_mb": inst.memory_mb,
                    "disk_gb": _resources(inst).get("DISK_GB", 0),
                    "availability_zone": None,
                    "image_properties": dict((spec.get("image") or {}).get("properties") or {}),
                    "ignore_hosts": [task.source],
                    "force_host": task.host,
                    "group": self.cloud.compute.server_groups.scheduling(inst.uuid),
                },
            )
            task.dest, task.dest_node = dest["host"], dest["node"]
            task.note.details = dest.get("details")
        if task.dest == task.source:
            self.scheduler.release(task.migration_uuid)
            raise errors.BadRequest(f"Unable to migrate {inst.uuid} to its current host.")
        task.note.host = task.dest
        with self.db.transaction() as s:
            migrations.update_status(
                s,
                task.migration_id,
                "preparing",
                expected="queued",
                dest_compute=task.dest,
                dest_node=task.dest_node,
                dest_host=task.dest,
            )

    def _lm_status(self, migration_id: int) -> str | None:
        """The Migration row's status (None: no such row)."""
        with self.db.reader() as s:
            try:
                return str(migrations.get(s, migration_id).status)
            except migrations.MigrationNotFound:
                return None

    def _lm_settled(self, task: LiveMigrationTask | None, migration_id: int | None = None) -> bool:
        """Whether the migration was ended by a settler (``live_migration_recovery``) while
        this workflow waited on a dead agent: then nothing more is done here."""
        return self._lm_status(task.migration_id if task else int(migration_id or 0)) in SETTLED

    def _lm_past_copy(self, task: LiveMigrationTask) -> bool:
        """Whether the copy completed (``post-migrating``) or a settler ended the migration:
        the rollbacks then do nothing (the guest lives on the destination only)."""
        return self._lm_status(task.migration_id) in PAST_COPY

    def _lm_unclaim(self, task: LiveMigrationTask) -> None:
        if self._lm_past_copy(task):
            return
        if task.migration_uuid:
            self.scheduler.release(task.migration_uuid)

    def _lm_bind(self, task: LiveMigrationTask) -> None:
        self._set_port_hosts(task.ctx, task.inst, task.dest)
        task.network_info = self.cloud.network.get_instance_network_info(
            task.ctx.elevated(), task.instance_uuid
        )
        task.note.host = task.dest

    def _lm_unbind(self, task: LiveMigrationTask) -> None:
        if self._lm_past_copy(task):
            return
        self._set_port_hosts(task.ctx, task.inst, task.source)

    def _lm_volumes(self, task: LiveMigrationTask) -> None:
        """The server's volumes exported to the destination too (``volume_moves``)."""
        task.volumes = VolumeMoves(self.cloud).prepare(task.ctx, task.instance_uuid, task.dest)

    def _lm_unvolumes(self, task: LiveMigrationTask) -> None:
        if self._lm_past_copy(task):
            return
        VolumeMoves(self.cloud).abort(task.ctx, task.instance_uuid, task.volumes)

    def _dest_spec(self, task: LiveMigrationTask) -> dict[str, Any]:
        spec = dict(task.inst.spec or {})
        spec["host"] = task.dest
        spec["network_info"] = task.network_info
        if task.volumes:
            moves = VolumeMoves(self.cloud)
            spec["block_devices"] = moves.block_devices(task.instance_uuid, task.volumes)
        return spec

    def _lm_check_storage(self, task: LiveMigrationTask) -> None:
        """Block or shared from the hosts' instance storage (``instance_storage``): ``auto``
        becomes block migration unless both share it; a contradicting request fails (400,
        Nova's "Block migration can not be used with shared storage" and its converse)."""
        task.block_migration = check_storage(
            self.cloud, task.source, task.dest, task.block_migration, volume_only(task.inst)
        )

    def _lm_pre(self, task: LiveMigrationTask) -> None:
        task.note.host = task.dest
        task.migrate_data = self.agents.pre_live_migration(
            task.ctx, task.dest, task.instance_uuid, self._dest_spec(task), task.block_migration
        )
        kind = "block migration" if task.migrate_data.get("block_migration") else "shared storage"
        task.note.details = f"{kind}; incoming on {task.migrate_data.get('uri')}"

    def _lm_rollback_dest(self, task: LiveMigrationTask) -> None:
        if self._lm_past_copy(task):
            return
        self.agents.rollback_live_migration_at_destination(
            task.ctx, task.dest, task.instance_uuid, task.migrate_data
        )

    def _lm_migrate(self, task: LiveMigrationTask) -> None:
        task.note.host = task.source
        with self.db.transaction() as s:
            try:
                migrations.update_status(s, task.migration_id, "running", expected="preparing")
            except migrations.MigrationStateConflict as exc:
                raise LiveMigrationAborted(f"Live migration cancelled: {exc.message}") from exc
        result = self.agents.live_migration(
            task.ctx, task.source, task.instance_uuid, task.migration_id, task.migrate_data
        )
        if result.get("status") == "cancelled":
            raise LiveMigrationAborted(f"Live migration of {task.instance_uuid} was cancelled.")
        task.stats = result
        task.note.details = (
            f"total {result.get('total_time_ms')} ms, downtime {result.get('downtime_ms')} ms"
        )
        self.live_migration_progress(task.ctx, task.migration_id, result)
        with self.db.transaction() as s:
            migrations.update_status(s, task.migration_id, "post-migrating", expected="running")

    def _lm_post_source(self, task: LiveMigrationTask) -> None:
        task.note.host = task.source
        try:  # the guest runs on the destination now: a failure here is logged, not undone
            self.agents.post_live_migration_at_source(
                task.ctx, task.source, task.instance_uuid, task.migrate_data
            )
        except errors.PocketError as exc:
            LOG.warning("cleanup of %s on %s failed: %s", task.instance_uuid, task.source, exc)
            task.note.details = f"cleanup failed: {exc.message} (the periodic orphan check ends it)"

    def _lm_post_dest(self, task: LiveMigrationTask) -> None:
        task.note.host = task.dest
        self.agents.post_live_migration_at_destination(
            task.ctx,
            task.dest,
            task.instance_uuid,
            self._dest_spec(task),
            task.inst.vm_state == states.ACTIVE,
        )

    # -- ends

    def _lm_complete(self, task: LiveMigrationTask) -> None:
        if self._lm_settled(task):
            return
        self.scheduler.move_claim(task.migration_uuid, task.instance_uuid)  # idempotent
        with self.db.transaction() as s:
            try:  # compare-and-set: a settler that ended it meanwhile wins
                migrations.update_status(
                    s, task.migration_id, "completed", expected="post-migrating"
                )
            except migrations.MigrationStateConflict as exc:
                LOG.info("live migration of %s settled meanwhile: %s", task.instance_uuid, exc)
                return
            actions.update_instance(
                s,
                task.instance_uuid,
                {"task_state": MIGRATING},
                task_state=None,
                host=task.dest,
                node=task.dest_node,
                spec=self._dest_spec(task),
                network_info=task.network_info,
            )
            actions.finish_action(s, task.ctx, task.instance_uuid)
        # the server is dest's now, its mappings on dest's attachments (``switch`` above):
        # the source's deleted (one that stays is deleted by ``settle_on`` at the next
        # controller start, ``recover_live_migrations``)
        VolumeMoves(self.cloud).drop_old(task.ctx, task.volumes)
        LOG.info("live migration of %s to %s completed", task.instance_uuid, task.dest)

    def _lm_end(self, ctx: RequestContext, uuid: str, migration_id: int, status: str) -> None:
        """A migration that did not happen: the server back to no task on its host."""
        if self._lm_settled(None, migration_id):
            return
        with self.db.transaction() as s:
            actions.update_instance(s, uuid, {"task_state": MIGRATING}, task_state=None)
            try:
                row = migrations.get(s, migration_id)
                if row.status not in ("completed", "cancelled"):
                    migrations.update_status(s, migration_id, status)
                consumer = row.uuid
            except migrations.MigrationNotFound:
                consumer = None
            actions.finish_action(s, ctx, uuid, error=True)
        if consumer:
            self.scheduler.release(consumer)  # idempotent: the rollback may have done it
