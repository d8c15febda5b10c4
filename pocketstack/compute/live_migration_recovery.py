"""Live migrations a killed process left half-way (issue 10, "Faults"; docs/server-actions.md,
"Faults"): a base of the ``Conductor``.

A live migration is a conductor workflow of bus calls to the two agents
(``live_migration``). When one of them, or the controller, dies in the middle, nobody is
left to end it: the server would stay ``migrating`` until the calls time out (up to
``live_migration_rpc.MIGRATE_TIMEOUT``), or forever when the conductor itself died. It is
settled instead:

- by the conductor when an agent restarts (its ``reconcile`` casts
  ``live_migrations_interrupted(host, copied)``): every live migration in progress from or
  to that host; ``copied`` names the servers whose copy the source's QEMU completed while
  the agent was away (``QemuDriver.live_migration_completed``): they are settled forward;
- by a controller when it starts (``recover_live_migrations``, in the background once it
  serves: the agents may start after it): the live migrations whose server this controller
  (or a dead one) was moving (``Instance.controller_id``); then the source's volume
  attachments a completed one failed to delete (``drop_left_attachments``).

Settling decides from the Migration row's status, as Nova's ``_rollback_live_migration``
and ``_post_live_migration`` do:

- ``queued``, ``preparing``, ``running`` (the copy had not finished): backward. The row is
  set ``error`` first (compare-and-set: the one settler), the source's copy cancelled, the
  destination's incoming guest ended and its files removed, the ports bound back to the
  source, the destination's claim released; the server ACTIVE (or PAUSED) on its source with
  no task, the action ``Error`` with the event ``compute_live_migration_interrupted``.
- ``post-migrating`` (the guest was copied): forward. The source's guest ended, the
  destination's made the host's (``post_live_migration_at_destination``), the claim moved
  to the server, the server's host the destination, the Migration ``completed``. When the
  destination cannot take the guest the server goes to ERROR with the reason.

The workflow's own thread, still waiting on a dead agent, finds the row ended when its call
fails and leaves everything as the settler wrote it (``LiveMigrationReports._lm_settled``).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import MessagingTimeout
from pocketstack.common.db import utcnow
from pocketstack.compute import actions, controllers, migrations, states
from pocketstack.compute.models import Instance, Migration
from pocketstack.compute.volume_moves import VolumeMoves

if TYPE_CHECKING:
    from pocketstack.compute.rpcapi import ComputeAgentClient
    from pocketstack.compute.scheduler.manager import SchedulerManager
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)

#: the event recording a settled live migration
EV_INTERRUPTED = "compute_live_migration_interrupted"
#: the fault of a live migration settled backward
INTERRUPTED = "Live migration interrupted by a restart; the server stays on its source host"
#: the fault of one whose guest could not be taken over by the destination
LOST = "Live migration interrupted after the copy, and the destination could not take the guest"
#: how long a settling call waits for a restarting agent to serve its queue (seconds)
AGENT_WAIT = 120.0
#: the statuses settled backward (the copy had not finished)
_BACKWARD = ("queued", "preparing", "running")
#: how far back a completed live migration's leftover source attachments are looked for at
#: a controller's start (``drop_left_attachments``)
LEFT_ATTACHMENTS_WINDOW = dt.timedelta(days=1)


class LiveMigrationRecovery:
    """Settling interrupted live migrations (see the module docstring); part of the
    ``Conductor``."""

    cloud: Cloud
    db: Any
    conf: Any
    scheduler: SchedulerManager
    agents: ComputeAgentClient
    controller_id: str

    #: ``ShelveReports._set_port_hosts``
    _set_port_hosts: Callable[[RequestContext, Instance, str], None]

    # -- bus method (``rpcapi.CONDUCTOR_MESSAGES``)

    def live_migrations_interrupted(
        self, ctx: RequestContext, host: str, copied: list[str] | None = None
    ) -> None:
        """An agent restarted: settle every live migration in progress from or to ``host``.
        ``copied``: servers whose copy the source's QEMU completed while its agent was away
        (their Migration, still ``running``, becomes ``post-migrating``: settled forward)."""
        for mig in self._live_in_progress(Migration.source_compute == host) + (
            self._live_in_progress(Migration.dest_compute == host)
        ):
            if mig.instance_uuid in (copied or []) and mig.source_compute == host:
                with self.db.transaction() as s:
                    try:
                        migrations.update_status(s, mig.id, "post-migrating", expected="running")
                    except migrations.MigrationStateConflict:
                        pass  # ended or moved on meanwhile: settled from what it is
            self.settle_live_migration(mig.instance_uuid, mig.id)

    # -- start-up

    def recover_live_migrations(self) -> None:
        """Settle the live migrations of this controller before it restarted, of a dead one,
        or of nobody (its server's ``controller_id``): their workflow is gone."""
        live = controllers.live_controllers(self.db, self.conf) - {self.controller_id}
        for mig in self._live_in_progress():
            inst = actions.load_instance(self.db, mig.instance_uuid)
            if inst is None or inst.task_state != states.MIGRATING:
                continue
            if inst.controller_id in live:
                continue  # another controller is moving it
            self.settle_live_migration(mig.instance_uuid, mig.id)
        self.drop_left_attachments()

    def drop_left_attachments(self) -> None:
        """The source's volume attachments a completed live migration failed to delete
        (``VolumeMoves.drop_old`` failed, or the controller died right after the commit):
        for each live migration ``completed`` within ``LEFT_ATTACHMENTS_WINDOW`` whose
        server is still on its destination with no task and not in VERIFY_RESIZE, its
        mappings are settled on that host (``VolumeMoves.settle_on``: the others deleted).
        Failures are logged; the next start tries again."""
        since = utcnow() - LEFT_ATTACHMENTS_WINDOW
        with self.db.reader() as s:
            done = s.execute(
                sa.select(Migration.instance_uuid, Migration.dest_compute).where(
                    Migration.migration_type == migrations.LIVE_MIGRATION,
                    Migration.status == "completed",
                    Migration.updated_at >= since,
                )
            ).all()
        ctx = RequestContext.system()
        for uuid, dest in {(u, d) for u, d in done if d}:
            inst = actions.load_instance(self.db, uuid)
            if inst is None or inst.host != dest or inst.task_state is not None:
                continue
            if inst.vm_state in (states.RESIZED, states.ERROR) or inst.deleted:
                continue
            try:
                VolumeMoves(self.cloud).settle_on(ctx, uuid, dest)
            except Exception:  # the volume API away: the next start tries again
                LOG.exception("deleting the leftover attachments of %s failed", uuid)

    def _live_in_progress(self, *where: Any) -> list[Migration]:
        with self.db.reader() as s:
            rows = list(
                s.scalars(
                    sa.select(Migration).where(
                        Migration.migration_type == migrations.LIVE_MIGRATION,
                        Migration.status.in_(migrations.LIVE_IN_PROGRESS),
                        *where,
                    )
                )
            )
            for row in rows:
                s.expunge(row)
        return rows

    # -- settling

    def settle_live_migration(self, instance_uuid: str, migration_id: int) -> None:
        """End one interrupted live migration, backward or forward from its status (module
        docstring). Safe to call twice or from two controllers: the first status change
        wins."""
        with self.db.reader() as s:
            try:
                mig = migrations.get(s, migration_id)
            except migrations.MigrationNotFound:
                return
            s.expunge(mig)
        inst = actions.load_instance(self.db, instance_uuid)
        if inst is None or inst.task_state != states.MIGRATING:
            return
        ctx = RequestContext.system(actions.pending_request_id(self.db, instance_uuid))
        if mig.status in _BACKWARD:
            self._settle_backward(ctx, inst, mig)
        elif mig.status == "post-migrating":
            self._settle_forward(ctx, inst, mig)

    def _settle_backward(self, ctx: RequestContext, inst: Instance, mig: Migration) -> None:
        with self.db.transaction() as s:
            try:
                migrations.update_status(s, mig.id, "error", expected=_BACKWARD)
            except migrations.MigrationStateConflict:
                return  # ended meanwhile, by the workflow or another settler
        LOG.warning(
            "live migration %s of %s (%s -> %s) was interrupted; back on the source",
            mig.id,
            inst.uuid,
            mig.source_compute,
            mig.dest_compute,
        )
        source, dest = str(mig.source_compute or inst.host), mig.dest_compute
        if mig.status == "running":
            self._agent_call(lambda: self.agents.live_migration_abort(ctx, source, inst.uuid))
        if dest:
            shared = self._shared(source, dest)
            self._agent_call(
                lambda: self.agents.rollback_live_migration_at_destination(
                    ctx, dest, inst.uuid, {"shared": shared}
                )
            )
            self._set_port_hosts(ctx, inst, source)
        self.scheduler.release(mig.uuid)
        with self.db.transaction() as s:
            actions.update_instance(s, inst.uuid, {"task_state": states.MIGRATING}, task_state=None)
            self._record(s, ctx, inst.uuid, source)
            actions.add_fault(s, inst.uuid, INTERRUPTED, 500)
            actions.finish_action(s, ctx, inst.uuid, error=True)
        VolumeMoves(self.cloud).settle_on(ctx, inst.uuid, source)  # dest's attachments go

    def _settle_forward(self, ctx: RequestContext, inst: Instance, mig: Migration) -> None:
        source, dest = str(mig.source_compute or inst.host), str(mig.dest_compute)
        LOG.warning(
            "live migration %s of %s was interrupted after the copy; finishing it on %s",
            mig.id,
            inst.uuid,
            dest,
        )
        shared = self._shared(source, dest)
        self._agent_call(
            lambda: self.agents.post_live_migration_at_source(
                ctx, source, inst.uuid, {"shared": shared}
            )
        )
        # the mappings on dest's attachments first: the guest opens those there
        VolumeMoves(self.cloud).settle_on(ctx, inst.uuid, dest)
        inst = actions.load_instance(self.db, inst.uuid) or inst
        network_info = self.cloud.network.get_instance_network_info(ctx.elevated(), inst.uuid)
        spec = dict(inst.spec or {}) | {"host": dest, "network_info": network_info}
        taken = self._agent_call(
            lambda: self.agents.post_live_migration_at_destination(
                ctx, dest, inst.uuid, spec, inst.vm_state == states.ACTIVE
            )
        )
        with self.db.transaction() as s:
            try:
                migrations.update_status(
                    s, mig.id, "completed" if taken else "error", expected="post-migrating"
                )
            except migrations.MigrationStateConflict:
                return
            if taken:
                actions.update_instance(
                    s,
                    inst.uuid,
                    {"task_state": states.MIGRATING},
                    task_state=None,
                    host=dest,
                    node=mig.dest_node or dest,
                    spec=spec,
                    network_info=network_info,
                )
            else:
                actions.update_instance(
                    s,
                    inst.uuid,
                    {"task_state": states.MIGRATING},
                    vm_state=states.ERROR,
                    task_state=None,
                    host=dest,
                    node=mig.dest_node or dest,
                )
                actions.add_fault(s, inst.uuid, LOST, 500)
            self._record(s, ctx, inst.uuid, dest)
            actions.finish_action(s, ctx, inst.uuid, error=True)
        # the server is the destination's either way: its claim and volumes too
        self.scheduler.move_claim(mig.uuid, inst.uuid)
        VolumeMoves(self.cloud).settle_on(ctx, inst.uuid, dest)  # idempotent

    def _record(self, s: Any, ctx: RequestContext, uuid: str, host: str) -> None:
        action = actions.find_action(s, uuid, ctx.request_id)
        if action is not None:
            now = utcnow()
            actions.record_event(s, action, EV_INTERRUPTED, now, now, actions.ERROR, host)

    def _shared(self, source: str, dest: str) -> bool:
        from pocketstack.compute.instance_storage import instance_storage_shared

        return instance_storage_shared(self.cloud, source, dest)

    @staticmethod
    def _agent_call(call: Callable[[], Any]) -> bool:
        """Run one call to an agent; an agent restarting now (not serving yet) is waited for
        up to ``AGENT_WAIT`` s. Whether it succeeded (a failure is logged: the agent's own
        orphan sweep ends what is left)."""
        deadline = time.monotonic() + AGENT_WAIT
        while True:
            try:
                call()
                return True
            except MessagingTimeout as exc:
                if time.monotonic() >= deadline:
                    LOG.warning("settling a live migration: %s", exc)
                    return False
                time.sleep(0.2)
            except errors.PocketError as exc:
                LOG.warning("settling a live migration: %s", exc.message)
                return False
