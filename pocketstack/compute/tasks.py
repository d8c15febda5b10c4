"""Workflows as task objects: a fixed list of steps, each with check, execute and rollback.

A multi-step operation on a server (build and delete now; attach, snapshot, migrate later) is
a ``Workflow`` owned by the conductor (STYLE.md habit 4). It runs its ``Step``s in order on one
``Task``: the operation's state (the server, the caller's context, what the steps learned).
Each step runs Ganeti's phases for one piece of work: ``check`` (prerequisites, no side
effects), then ``execute``; on a later failure, ``rollback``. Both phases of a step run inside
one instance-action event named after it (``actions.event``), so ``openstack server event
show`` lists the workflow with each step's start, finish and result.

When a step fails, the steps that completed are rolled back in reverse order, each rollback
recorded as the event ``<step event>_rollback``. The failing step itself is not rolled back:
like a driver call, an ``execute`` that fails undoes what it did before raising. A rollback
that fails is recorded, never hidden: its event is ``Error`` with the traceback, the log has
it and ``Task.rollback_errors`` names it; the remaining rollbacks still run. Then the step's
exception propagates to the workflow's owner, which leaves the fault on the server (the
conductor's ``fail_build``).

Like OpenStack's taskflow (``Task.execute``/``Task.revert``) and Ganeti's logical units
(``CheckPrereq``/``Exec``), in a few lines::

    build = Workflow("build", [
        Step(actions.EV_SCHEDULE, schedule, rollback=release_claim),
        Step(actions.EV_NETWORK, allocate_network, rollback=deallocate_network),
    ])
    build.run(BuildTask(db=db, ctx=ctx, instance_uuid=uuid, ...))
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import Database
from pocketstack.compute import actions

LOG = logging.getLogger(__name__)

#: suffix of the event that records a step's rollback
ROLLBACK_SUFFIX = "_rollback"


@dataclasses.dataclass(kw_only=True)
class Task:
    """The state one run of a workflow works on; a workflow's own subclass adds its fields.

    Attributes:
        db: where the events are recorded.
        ctx: the caller's context; its ``request_id`` names the action the events belong to
            (no action under that id: the steps run unrecorded, see ``actions.event``).
        instance_uuid: the server the workflow works on.
        rollback_errors: ``"<step event>: <error>"`` of each rollback that failed (filled by
            ``Workflow.run``), for the owner's fault.
        note: the running step's ``actions.EventNote`` (its event's details and host; a
            throwaway one while a step runs unrecorded).
    """

    db: Database
    ctx: RequestContext
    instance_uuid: str
    rollback_errors: list[str] = dataclasses.field(default_factory=list)
    note: actions.EventNote = dataclasses.field(default_factory=actions.EventNote)


T = TypeVar("T", bound=Task)


def _nothing(task: Task) -> None:
    """A phase with nothing to do."""


@dataclasses.dataclass(frozen=True)
class Step(Generic[T]):
    """One step of a workflow.

    Attributes:
        event: the instance-action event it is recorded as (e.g. ``actions.EV_SCHEDULE``);
            ``None`` for a step recorded elsewhere (a cast whose receiver records its work).
        execute: does the work; raises to fail the workflow, after undoing its own part.
        check: prerequisites without side effects, run just before ``execute`` inside the
            same event; raises to fail the workflow.
        rollback: undoes a completed ``execute`` when a later step fails; must be idempotent
            (a delete running meanwhile may have undone it already).
    """

    event: str | None
    execute: Callable[[T], None]
    check: Callable[[T], None] = _nothing
    rollback: Callable[[T], None] | None = None


class Workflow(Generic[T]):
    """A named, fixed list of steps run in order on a ``Task``.

    Args:
        name: what the log calls it (``build``, ``delete``).
        steps: the steps, in the order they run.
    """

    def __init__(self, name: str, steps: Sequence[Step[T]]):
        self.name = name
        self.steps = tuple(steps)

    def run(self, task: T) -> None:
        """Run every step (check, then execute), each recorded as its event.

        Raises:
            whatever a step's ``check`` or ``execute`` raised, after the completed steps
            were rolled back in reverse order (rollback failures do not replace it: they
            are recorded, see the module's docstring).
        """
        done: list[Step[T]] = []
        for step in self.steps:
            try:
                with self._recorded(task, step.event):
                    step.check(task)
                    step.execute(task)
            except BaseException as exc:
                LOG.info(
                    "%s of %s failed at %s (%s); rolling back %d step(s)",
                    self.name,
                    task.instance_uuid,
                    step.event,
                    type(exc).__name__,
                    len(done),
                )
                self.roll_back(task, done)
                raise
            done.append(step)

    def roll_back(self, task: T, done: Sequence[Step[T]]) -> None:
        """Roll back the completed steps ``done`` in reverse order; a failing rollback is
        recorded (event ``Error``, log, ``task.rollback_errors``) and the others still run."""
        for step in reversed(done):
            if step.rollback is None:
                continue
            event = step.event and step.event + ROLLBACK_SUFFIX  # unrecorded steps stay so
            try:
                with self._recorded(task, event):
                    step.rollback(task)
            except Exception as exc:  # recorded and logged; the other rollbacks must run
                name = event or f"{self.name} rollback"
                LOG.exception("%s of %s failed", name, task.instance_uuid)
                task.rollback_errors.append(f"{name}: {type(exc).__name__}: {exc}")

    @staticmethod
    @contextlib.contextmanager
    def _recorded(task: Task, event: str | None) -> Iterator[None]:
        if event is None:
            task.note = actions.EventNote()
            yield
            return
        with actions.event(task.db, task.ctx, task.instance_uuid, event) as note:
            task.note = note
            yield
