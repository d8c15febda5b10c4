"""Instance actions and their events: the recorded workflow of every server request.

An *action* is one user request on a server (``create``, ``stop``, ``delete``...) keyed by the
request id (``X-Openstack-Request-Id``); its *events* are the workflow steps, each with start
and finish times and a result (``Success``/``Error``), as in Nova's ``os-instance-actions``.
The API records the action; the conductor and the compute agent record the steps with
``event(...)``, which they find by ``(instance_uuid, ctx.request_id)`` — the request id
travels with the context on the bus.

Also here: the small row helpers the conductor and agent share (``update_instance`` with an
expected-state guard, which sends every change of ``vm_state``/``task_state`` through the
transition table of ``states``; ``add_fault``).

Event names (Nova's where Nova has them): ``api__authorize_and_validate`` (the API's checks),
``compute__schedule_instances``, ``compute__allocate_network``,
``compute__prepare_block_device``, ``compute__spawn``, ``compute_stop_instance``,
``compute_start_instance``, ``compute_reboot_instance``, ``compute_terminate_instance``,
``compute_pause_instance``/``compute_unpause_instance``, ``compute_suspend_instance``/
``compute_resume_instance``, ``compute_rescue_instance``/``compute_unrescue_instance`` (and
the API's steps of its calls, ``server_actions``), and
the end of a delete in the conductor: ``compute__deallocate_network``,
``compute__release_claim``, ``compute__detach_volumes``; volume attach/detach steps are
named in ``volumes``. A workflow's rollback of a step is ``<step>_rollback``
(``tasks``).
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import datetime as dt
import logging
import traceback
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.db import Database, utcnow
from pocketstack.compute import states
from pocketstack.compute.exceptions import InstanceActionNotFound
from pocketstack.compute.models import Instance, InstanceAction, InstanceActionEvent, InstanceFault

if TYPE_CHECKING:
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)

SUCCESS = "Success"
ERROR = "Error"

EV_AUTHORIZE = "api__authorize_and_validate"
EV_SCHEDULE = "compute__schedule_instances"
EV_NETWORK = "compute__allocate_network"
EV_BLOCK_DEVICE = "compute__prepare_block_device"
EV_SPAWN = "compute__spawn"
EV_STOP = "compute_stop_instance"
EV_START = "compute_start_instance"
EV_REBOOT = "compute_reboot_instance"
EV_TERMINATE = "compute_terminate_instance"
EV_PAUSE = "compute_pause_instance"
EV_UNPAUSE = "compute_unpause_instance"
EV_SUSPEND = "compute_suspend_instance"
EV_RESUME = "compute_resume_instance"
EV_RESCUE = "compute_rescue_instance"
EV_UNRESCUE = "compute_unrescue_instance"
EV_SNAPSHOT = "compute_snapshot_instance"
EV_BACKUP = "compute_backup_instance"
EV_SHELVE = "compute_shelve_instance"
EV_SHELVE_OFFLOAD = "compute_shelve_offload_instance"
EV_UNSHELVE = "compute_unshelve_instance"
EV_BIND_PORTS = "compute__bind_ports"
EV_DEALLOCATE_NETWORK = "compute__deallocate_network"
EV_RELEASE_CLAIM = "compute__release_claim"
EV_DETACH_VOLUMES = "compute__detach_volumes"


@contextlib.contextmanager
def _session(target: Session | Database) -> Iterator[Session]:
    if isinstance(target, Session):
        yield target
    else:
        with target.transaction() as s:
            yield s


def start_action(
    target: Session | Database,
    ctx: RequestContext,
    instance_uuid: str,
    action: str,
    start_time: dt.datetime | None = None,
) -> InstanceAction:
    """Record the start of ``action`` (``create``, ``stop``...) for ``ctx.request_id``.

    ``target`` is an open session (to share the caller's transaction) or the ``Database``.
    """
    row = InstanceAction(
        action=action,
        instance_uuid=instance_uuid,
        request_id=ctx.request_id,
        user_id=ctx.user_id,
        project_id=ctx.project_id,
        start_time=start_time or utcnow(),
    )
    with _session(target) as s:
        s.add(row)
        s.flush()
    return row


def record_event(
    session: Session,
    action: InstanceAction,
    name: str,
    start: dt.datetime,
    finish: dt.datetime,
    result: str = SUCCESS,
    host: str | None = None,
) -> None:
    """Record an event that already ran (the API's validation step, timed by the caller)."""
    session.add(
        InstanceActionEvent(
            action_id=action.id,
            event=name,
            start_time=start,
            finish_time=finish,
            result=result,
            host=host,
        )
    )


def find_action(session: Session, instance_uuid: str, request_id: str) -> InstanceAction | None:
    """The newest action of server ``instance_uuid`` recorded for ``request_id`` (the
    request's own), or None."""
    return session.scalars(
        sa.select(InstanceAction)
        .where(
            InstanceAction.instance_uuid == instance_uuid, InstanceAction.request_id == request_id
        )
        .order_by(InstanceAction.id.desc())
        .limit(1)
    ).first()


def pending_request_id(db: Database, instance_uuid: str) -> str | None:
    """The request id of the server's newest unfinished action (None when all finished)."""
    with db.reader() as s:
        return s.scalars(
            sa.select(InstanceAction.request_id)
            .where(
                InstanceAction.instance_uuid == instance_uuid,
                InstanceAction.finish_time.is_(None),
            )
            .order_by(InstanceAction.id.desc())
            .limit(1)
        ).first()


def has_event(db: Database, instance_uuid: str, name: str) -> bool:
    """True when any action of the server recorded the step ``name`` (e.g. ``EV_SPAWN``)."""
    with db.reader() as s:
        found = s.scalars(
            sa.select(InstanceActionEvent.id)
            .join(InstanceAction, InstanceAction.id == InstanceActionEvent.action_id)
            .where(InstanceAction.instance_uuid == instance_uuid, InstanceActionEvent.event == name)
            .limit(1)
        ).first()
    return found is not None


@dataclasses.dataclass
class EventNote:
    """What a running step tells about itself (microversion 2.84's ``details``, 2.62's
    ``host``): set by the body of ``event(...)`` and written when the step ends.

    Attributes:
        details: plain words on what the step found or did (which hosts each scheduler
            filter kept and which won with what weight; the ports and addresses made; the
            hypervisor that spawned the guest), at most 4000 characters kept.
        host: the compute host the step ran for (the chosen host, for the conductor's steps).
    """

    details: str | None = None
    host: str | None = None


@contextlib.contextmanager
def event(
    db: Database, ctx: RequestContext, instance_uuid: str, name: str, host: str | None = None
) -> Iterator[EventNote]:
    """Record the step ``name`` of the action of ``ctx.request_id`` around the ``with`` body.

    Writes the event with its start time at once (visible while it runs), then its finish
    time and ``Success``, or ``Error`` with the traceback (shown to admins only by the API),
    marks the action's message ``Error`` and re-raises. Without an action for this request
    (periodic work under a system context) the body runs unrecorded. The body gets an
    ``EventNote`` to fill with the step's details and host.
    """
    note = EventNote(host=host)
    with db.transaction() as s:
        action = find_action(s, instance_uuid, ctx.request_id)
        row = None
        if action is not None:
            row = InstanceActionEvent(
                action_id=action.id, event=name, host=host, start_time=utcnow()
            )
            s.add(row)
    try:
        yield note
    except BaseException as exc:
        if row is not None:
            _finish_event(db, row.id, ERROR, _traceback_of(exc), note)
        raise
    if row is not None:
        _finish_event(db, row.id, SUCCESS, None, note)


def _traceback_of(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-8000:]


def _finish_event(
    db: Database, event_id: int, result: str, tb: str | None, note: EventNote | None = None
) -> None:
    with db.transaction() as s:
        row = s.get(InstanceActionEvent, event_id)
        if row is None:
            return
        row.finish_time = utcnow()
        row.result = result
        row.traceback = tb
        if note is not None:
            row.details = note.details[:4000] if note.details else None
            row.host = note.host or row.host
        if result == ERROR:
            action = s.get(InstanceAction, row.action_id)
            if action is not None:
                action.message = ERROR


def finish_action(
    target: Session | Database, ctx: RequestContext, instance_uuid: str, error: bool = False
) -> None:
    """Set the finish time of the action of ``ctx.request_id`` (message ``Error`` if failed).

    ``target`` is an open session (to share the caller's transaction) or the ``Database``.
    """
    with _session(target) as s:
        action = find_action(s, instance_uuid, ctx.request_id)
        if action is None:
            return
        action.finish_time = utcnow()
        if error:
            action.message = ERROR


def add_fault(
    target: Session | Database,
    instance_uuid: str,
    message: str,
    code: int = 500,
    details: str | None = None,
) -> None:
    """Record the server's latest error (the API's ``fault``)."""
    with _session(target) as s:
        s.add(
            InstanceFault(
                instance_uuid=instance_uuid, code=code, message=message[:4000], details=details
            )
        )


def update_instance(
    target: Session | Database,
    instance_uuid: str,
    expected: dict[str, Any] | None = None,
    **values: Any,
) -> bool:
    """Change columns of a live server, only if its columns still hold ``expected``.

    ``expected`` maps a column to a value or a tuple of allowed values (``None`` allowed);
    the check and the write are one ``UPDATE`` so concurrent actors (API, conductor, agent,
    periodic sync) never overwrite a transition they did not see. Returns whether it changed.
    ``target`` is an open session (to commit the change with a fault, say) or the ``Database``.

    A change of ``vm_state``/``task_state`` goes through the transition table: the server's
    current state (read in the same transaction, and holding ``expected``) and the new one
    must be a transition of ``states.TRANSITIONS``, and the ``UPDATE`` also requires that current
    state (a concurrent change is read again, up to a few times).

    Raises:
        states.IllegalTransition: the table does not hold the change (nothing is written).
    """
    conds = [Instance.uuid == instance_uuid, Instance.deleted.is_(False)]
    for column, value in (expected or {}).items():
        conds.append(_one_of(getattr(Instance, column), value))
    values.setdefault("updated_at", utcnow())
    changes_state = "vm_state" in values or "task_state" in values
    with _session(target) as s:
        for _attempt in range(_STATE_READS if changes_state else 1):
            where = list(conds)
            if changes_state:
                current = s.execute(
                    sa.select(Instance.vm_state, Instance.task_state).where(*where)
                ).first()
                if current is None:
                    return False
                before = (current.vm_state, current.task_state)
                after = (values.get("vm_state", before[0]), values.get("task_state", before[1]))
                states.check_transition(instance_uuid, before, after)
                where += [Instance.vm_state == before[0], _one_of(Instance.task_state, before[1])]
            result = s.execute(
                sa.update(Instance)
                .where(*where)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0):
                return True
        return False


#: how many times ``update_instance`` reads a state that changed under it before giving up
_STATE_READS = 3


def _one_of(column: Any, value: Any) -> Any:
    """``column`` holds ``value``, or one of a tuple of values (``None`` is ``IS NULL``)."""
    allowed = value if isinstance(value, tuple) else (value,)
    parts = []
    non_null = [v for v in allowed if v is not None]
    if non_null:
        parts.append(column.in_(non_null))
    if None in allowed:
        parts.append(column.is_(None))
    return sa.or_(*parts)


def load_instance(db: Database, instance_uuid: str) -> Instance | None:
    """The server row (deleted ones too), detached; ``None`` when unknown."""
    with db.reader() as s:
        return s.get(Instance, instance_uuid)


class InstanceActions:
    """``cloud.compute.actions``: the ``os-instance-actions`` reads (API reference "Servers
    actions (servers, os-instance-actions)")."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.db: Database = cloud.db

    def list(
        self,
        ctx: RequestContext,
        server_id: str,
        *,
        limit: int | None = None,
        marker: str | None = None,
        changes_since: dt.datetime | None = None,
        changes_before: dt.datetime | None = None,
    ) -> list[InstanceAction]:
        """Actions of a visible server (deleted servers too), newest first; a page of at
        most ``limit`` after the action of request id ``marker``, changed (``updated_at``)
        at or after ``changes_since`` and at or before ``changes_before`` (microversions
        2.58 and 2.66).

        Raises:
            ServerNotFound: unknown or another project's server.
            errors.BadRequest: a ``marker`` that names no action of the server.
        """
        self.cloud.compute.servers.get(ctx, server_id, include_deleted=True)
        with self.db.reader() as s:
            found = list(
                s.scalars(
                    sa.select(InstanceAction)
                    .where(InstanceAction.instance_uuid == server_id)
                    .order_by(InstanceAction.start_time.desc(), InstanceAction.id.desc())
                )
            )
        if changes_since is not None or changes_before is not None:
            found = [
                a
                for a in found
                if (changes_since is None or (a.updated_at or a.start_time) >= changes_since)
                and (changes_before is None or (a.updated_at or a.start_time) <= changes_before)
            ]
        if marker is not None:
            ids = [a.request_id for a in found]
            if marker not in ids:
                raise errors.BadRequest(f"Marker {marker} could not be found.")
            found = found[ids.index(marker) + 1 :]
        return found if limit is None else found[:limit]

    def get(
        self, ctx: RequestContext, server_id: str, request_id: str
    ) -> tuple[InstanceAction, builtins.list[InstanceActionEvent]]:
        """One action and its events in the order they started.

        Raises:
            ServerNotFound: unknown or another project's server.
            InstanceActionNotFound: no action with ``request_id`` on this server.
        """
        self.cloud.compute.servers.get(ctx, server_id, include_deleted=True)
        with self.db.reader() as s:
            action = find_action(s, server_id, request_id)
            if action is None:
                raise InstanceActionNotFound.for_request(request_id, server_id)
            events = list(
                s.scalars(
                    sa.select(InstanceActionEvent)
                    .where(InstanceActionEvent.action_id == action.id)
                    .order_by(InstanceActionEvent.start_time, InstanceActionEvent.id)
                )
            )
            return action, events


def open_event(
    session: Session, ctx: RequestContext, instance_uuid: str, name: str
) -> InstanceActionEvent | None:
    """The newest unfinished event ``name`` of the action of ``ctx.request_id``."""
    return session.scalars(
        sa.select(InstanceActionEvent)
        .join(InstanceAction, InstanceAction.id == InstanceActionEvent.action_id)
        .where(
            InstanceAction.instance_uuid == instance_uuid,
            InstanceAction.request_id == ctx.request_id,
            InstanceActionEvent.event == name,
            InstanceActionEvent.finish_time.is_(None),
        )
        .order_by(InstanceActionEvent.id.desc())
        .limit(1)
    ).first()


def finish_event(
    session: Session,
    ctx: RequestContext,
    instance_uuid: str,
    name: str,
    traceback: str | None = None,
    details: str | None = None,
) -> None:
    """Finish the open step ``name`` of the action of ``ctx.request_id``: ``Success``, or
    ``Error`` with ``traceback`` (and the action's message ``Error``) when one is given;
    ``details``: what the step did, in words (microversion 2.84's event ``details``).
    Without such an open step (periodic work, a duplicate report) nothing is written."""
    row = open_event(session, ctx, instance_uuid, name)
    if row is None:
        return
    row.details = details
    row.finish_time = utcnow()
    row.result = SUCCESS if traceback is None else ERROR
    row.traceback = traceback[-8000:] if traceback else None
    if traceback is not None:
        action = session.get(InstanceAction, row.action_id)
        if action is not None:
            action.message = ERROR


def fault_traceback(fault: dict[str, Any] | None) -> str | None:
    """The traceback a failed step records: the fault's, else its message."""
    if fault is None:
        return None
    return fault.get("traceback") or fault["message"]
