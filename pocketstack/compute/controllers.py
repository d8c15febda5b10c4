"""Controllers and the builds they own: identity, heartbeat, liveness.

Each controller (``pocketstack controller``, or ``pocketstack up``) has an id,
``<hostname>:<port>``, that stays the same across its restarts. The API records it on the
servers it creates and the conductor that takes a build records its own
(``Instance.controller_id``); the conductor's periodic task writes the controller's heartbeat
(a ``controllers`` row, as the compute agent writes its ``services`` row). A build in a
controller step is then recovered only by its own controller when it restarts, or by any
controller once the owner's heartbeat is older than ``conf.service_down_time``
(``orphaned_builds``); builds of a live controller are left alone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from pocketstack.common.db import Database, utcnow
from pocketstack.compute import states
from pocketstack.compute.models import ControllerService, Instance


def controller_id(conf: Any) -> str:
    """This controller's id: ``<hostname>:<port>`` (two controllers of one host differ by
    their API port)."""
    return f"{conf.hostname}:{conf.port}"


def report_controller(db: Database, ident: str) -> None:
    """Record a heartbeat of controller ``ident``: create or update its ``controllers`` row."""
    now = utcnow()
    with db.transaction() as s:
        row = s.get(ControllerService, ident)
        if row is None:
            s.add(ControllerService(id=ident, started_at=now, last_seen_up=now, report_count=1))
            return
        row.last_seen_up = now
        row.report_count = ControllerService.report_count + 1


def forget_controller(db: Database, ident: str) -> None:
    """Remove controller ``ident``'s heartbeat (it stops): its builds become orphans at once."""
    with db.transaction() as s:
        s.execute(sa.delete(ControllerService).where(ControllerService.id == ident))


def controller_is_up(row: ControllerService, conf: Any) -> bool:
    """True when ``row`` reported within ``conf.service_down_time`` seconds."""
    if row.last_seen_up is None:
        return False
    return utcnow() - row.last_seen_up <= dt.timedelta(seconds=float(conf.service_down_time))


def live_controllers(db: Database, conf: Any) -> set[str]:
    """The ids of the controllers whose heartbeat is recent."""
    with db.reader() as s:
        rows = list(s.scalars(sa.select(ControllerService)))
    return {row.id for row in rows if controller_is_up(row, conf)}


def orphaned_builds(
    db: Database, conf: Any, me: str, include_mine: bool = False
) -> list[tuple[str, str | None]]:
    """Builds in a controller step whose owner is dead: ``(uuid, controller_id)`` pairs.

    Dead means: no heartbeat within ``conf.service_down_time`` (or none at all). ``me`` is
    never dead; with ``include_mine`` (a controller starting: nothing of its own can be
    running yet) its builds are orphans too, and so are builds without an owner (left by a
    version before owners were recorded).
    """
    live = live_controllers(db, conf) - {me}
    with db.reader() as s:
        rows = s.execute(
            sa.select(Instance.uuid, Instance.controller_id).where(
                Instance.deleted.is_(False),
                Instance.vm_state == states.BUILDING,
                Instance.task_state.in_(states.BUILD_TASKS),
            )
        ).all()
    orphans = []
    for uuid, owner in rows:
        if owner is None or owner == me:
            if include_mine:
                orphans.append((uuid, owner))
        elif owner not in live:
            orphans.append((uuid, owner))
    return orphans
