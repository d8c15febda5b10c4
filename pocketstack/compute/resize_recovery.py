"""Resizes and cold migrations a controller restart left, and the automatic confirm of old
ones (issue 10; docs/server-actions.md, "Faults"): a base of the ``Conductor``.

- ``recover_resize_preps`` (at start-up): a move still in ``resize_prep`` (the conductor's
  own step: the Migration row, scheduling, the claim) whose controller was this one before
  it restarted, a dead one or nobody (``Instance.controller_id``) ends as a failed move
  does (``ResizeConductor._move_failed``): the server where it was with a fault, the
  Migration ``error``, the destination's claim released. Later steps are the agents' and
  their reports wait in the conductor's queue (the agents settle their own half at their
  restart: ``agent_migrations``).
- ``recover_resize_handoffs`` (at start-up): the bus
  delivers a message at most once, so a controller killed while it wrote an agent's report
  (``resize_migrated``, ``resize_finished``, ``resize_dest_reverted``) may have moved the
  server on (its host switched, task ``resize_finish`` or ``resize_reverting``) without
  sending the next cast; the agent then no longer resends its report (the task changed).
  The server's controller (``Instance.controller_id``, recorded by each hand-over) being
  this one before it restarted, a dead one or nobody, the step the server now waits for is
  read from its Migration row and host, and when the agent has not begun it in the
  server's pending action (its ``action_event_start``, as ``_resend_spawns`` does for
  builds) it is cast again: ``finish_resize`` to the destination (on to VERIFY_RESIZE),
  ``revert_resize`` to the destination or ``finish_revert_resize`` to the source (back
  there, the destination's claim released by ``resize_reverted``). A step already begun is
  the agent's: it reports, and resends a lost report itself.
- ``confirm_old_resizes`` (periodic): a server in VERIFY_RESIZE whose move finished more than
  ``[compute] resize_confirm_window`` seconds ago is confirmed as a user's confirm would
  (Nova's ``_poll_unconfirmed_resizes``); 0 turns it off.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext, new_request_id
from pocketstack.common.db import utcnow
from pocketstack.compute import actions, controllers, migrations, states
from pocketstack.compute.agent_migrations import (
    EV_FINISH_RESIZE,
    EV_FINISH_REVERT,
    EV_REVERT_RESIZE,
)
from pocketstack.compute.models import Instance, InstanceAction, InstanceActionEvent, Migration

if TYPE_CHECKING:
    from pocketstack.compute.rpcapi import ComputeAgentClient
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)

#: the fault of a move whose controller restarted in its scheduling step
PREP_INTERRUPTED = "Resize interrupted by a controller restart"
_MOVE_TYPES = (migrations.RESIZE, migrations.MIGRATION)


class ResizeRecovery:
    """Start-up recovery and the periodic confirm of moves (module docstring); part of the
    ``Conductor``."""

    cloud: Cloud
    db: Any
    conf: Any
    controller_id: str
    agents: ComputeAgentClient

    #: ``ResizeConductor._move_failed``
    _move_failed: Callable[..., None]

    def recover_resize_preps(self, include_mine: bool = True) -> None:
        """Fail the moves left in ``resize_prep`` by this controller before it restarted,
        by a dead one or by nobody (module docstring); ``include_mine`` False (periodic):
        only a dead controller's."""
        live = controllers.live_controllers(self.db, self.conf) - {self.controller_id}
        with self.db.reader() as s:
            rows = list(
                s.execute(
                    sa.select(Instance.uuid, Instance.controller_id).where(
                        Instance.deleted.is_(False),
                        Instance.task_state == states.RESIZE_PREP,
                    )
                ).all()
            )
        for uuid, owner in rows:
            if owner in live:
                continue  # another controller runs it
            if not include_mine and owner in (None, self.controller_id):
                continue  # this running controller's (or nobody's: a restart's)
            with self.db.reader() as s:
                mig = migrations.in_progress(s, uuid)
                migration_id = mig.id if mig is not None else None
            LOG.warning("the move of %s was interrupted in resize_prep; failing it", uuid)
            ctx = RequestContext.system(actions.pending_request_id(self.db, uuid))
            self._move_failed(
                ctx, uuid, PREP_INTERRUPTED, migration_id, expected=(states.RESIZE_PREP,)
            )

    def recover_resize_handoffs(self, include_mine: bool = True) -> None:
        """Cast again the agent step a move waits for when its controller died before it
        sent it (module docstring). ``include_mine``: this controller's moves too (at its
        start-up: nothing of its own runs yet) and those of nobody; the periodic round
        passes False and takes only the dead controllers' ones."""
        live = controllers.live_controllers(self.db, self.conf) - {self.controller_id}
        with self.db.reader() as s:
            rows = list(
                s.scalars(
                    sa.select(Instance).where(
                        Instance.deleted.is_(False),
                        Instance.task_state.in_((states.RESIZE_FINISH, states.RESIZE_REVERTING)),
                    )
                )
            )
            for row in rows:
                s.expunge(row)
        for inst in rows:
            owner = inst.controller_id
            if owner in live or (not include_mine and owner in (None, self.controller_id)):
                continue  # a live controller's (or, periodically, this one's own)
            try:
                self._resend_handoff(inst)
            except Exception:  # the next round or restart tries again; logged
                LOG.exception("recovering the move of %s failed", inst.uuid)

    def _resend_handoff(self, inst: Instance) -> None:
        resize = dict((inst.spec or {}).get("resize") or {})
        if resize.get("migration_id") is None:
            return
        with self.db.reader() as s:
            mig = migrations.get(s, resize["migration_id"])
            s.expunge(mig)
        ctx = RequestContext.system(actions.pending_request_id(self.db, inst.uuid))
        host = str(inst.host)
        spec = {k: v for k, v in dict(inst.spec or {}).items() if k != "resize"}
        power_on = resize.get("old_vm_state") == states.ACTIVE
        if inst.task_state == states.RESIZE_FINISH and not resize.get("fault"):
            # forward: the destination starts the guest (host already switched to it)
            if mig.status != "post-migrating" or host != mig.dest_compute:
                return
            if self._begun(inst.uuid, EV_FINISH_RESIZE):
                return
            LOG.warning("sending the finish of the move of %s to %s again", inst.uuid, host)
            self.agents.finish_resize(ctx, host, inst.uuid, dict(inst.spec or {}), power_on)
            return
        reverting = inst.task_state == states.RESIZE_REVERTING
        if reverting and host == mig.dest_compute and not self._begun(inst.uuid, EV_REVERT_RESIZE):
            if mig.status != "reverting":
                return
            LOG.warning("sending the revert of the move of %s to %s again", inst.uuid, host)
            self.agents.revert_resize(ctx, host, inst.uuid)
            return
        # back on the source (a revert whose destination reverted, or a rollback): the
        # source unparks the guest
        if host != mig.source_compute or self._begun(inst.uuid, EV_FINISH_REVERT):
            return
        LOG.warning("sending the return of %s to its source %s again", inst.uuid, host)
        self.agents.finish_revert_resize(ctx, host, inst.uuid, spec, power_on)

    def _begun(self, instance_uuid: str, event: str) -> bool:
        """Whether the server's pending action (or, without one, any) recorded ``event``."""
        request_id = actions.pending_request_id(self.db, instance_uuid)
        if request_id is None:
            return actions.has_event(self.db, instance_uuid, event)
        with self.db.reader() as s:
            found = s.scalars(
                sa.select(InstanceActionEvent.id)
                .join(InstanceAction, InstanceAction.id == InstanceActionEvent.action_id)
                .where(
                    InstanceAction.instance_uuid == instance_uuid,
                    InstanceAction.request_id == request_id,
                    InstanceActionEvent.event == event,
                )
                .limit(1)
            ).first()
        return found is not None

    def confirm_old_resizes(self) -> None:
        """Periodic: confirm the servers in VERIFY_RESIZE whose move finished
        ``resize_confirm_window`` seconds ago or more (nothing when it is 0 or less)."""
        window = int(getattr(self.conf, "resize_confirm_window", 0) or 0)
        if window <= 0:
            return
        before = utcnow() - dt.timedelta(seconds=window)
        with self.db.reader() as s:
            uuids = list(
                s.scalars(
                    sa.select(Migration.instance_uuid)
                    .join(Instance, Instance.uuid == Migration.instance_uuid)
                    .where(
                        Migration.status == "finished",
                        Migration.migration_type.in_(_MOVE_TYPES),
                        Migration.updated_at <= before,
                        Instance.deleted.is_(False),
                        Instance.vm_state == states.RESIZED,
                        Instance.task_state.is_(None),
                    )
                )
            )
        for uuid in uuids:
            LOG.info("confirming the resize of %s: older than %s s", uuid, window)
            try:
                self.cloud.compute.resizes.confirm_resize(
                    RequestContext.system(new_request_id()), uuid
                )
            except errors.PocketError as exc:  # changed meanwhile: the next round sees it
                LOG.info("automatic confirm of %s skipped: %s", uuid, exc.message)
