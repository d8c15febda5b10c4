"""Resizes and cold migrations a controller restart left, and the automatic confirm of old
ones (issue 10; docs/server-actions.md, "Faults"): a base of the ``Conductor``.

- ``recover_resize_preps`` (at start-up): a move still in ``resize_prep`` (the conductor's
  own step: the Migration row, scheduling, the claim) whose controller was this one before
  it restarted, a dead one or nobody (``Instance.controller_id``) ends as a failed move
  does (``ResizeConductor._move_failed``): the server where it was with a fault, the
  Migration ``error``, the destination's claim released. Later steps are the agents' and
  their reports wait in the conductor's queue (the agents settle their own half at their
  restart: ``agent_migrations``).
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
from pocketstack.compute.models import Instance, Migration

if TYPE_CHECKING:
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

    #: ``ResizeConductor._move_failed``
    _move_failed: Callable[..., None]

    def recover_resize_preps(self) -> None:
        """Fail the moves left in ``resize_prep`` by this controller before it restarted,
        by a dead one or by nobody (module docstring)."""
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
            with self.db.reader() as s:
                mig = migrations.in_progress(s, uuid)
                migration_id = mig.id if mig is not None else None
            LOG.warning("the move of %s was interrupted in resize_prep; failing it", uuid)
            ctx = RequestContext.system(actions.pending_request_id(self.db, uuid))
            self._move_failed(
                ctx, uuid, PREP_INTERRUPTED, migration_id, expected=(states.RESIZE_PREP,)
            )

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
