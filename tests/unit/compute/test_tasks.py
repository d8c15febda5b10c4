"""Workflows (pocketstack.compute.tasks): steps run in order, each recorded as an event of
the server's action; a failure rolls back the completed steps in reverse order, and a
rollback that fails is recorded, not hidden."""

from __future__ import annotations

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.compute import actions, states
from pocketstack.compute.models import Instance, InstanceAction, InstanceActionEvent
from pocketstack.compute.tasks import Step, Task, Workflow

CTX = RequestContext(user_id="u", project_id="p", roles=("member",))


class Boom(Exception):
    pass


@pytest.fixture
def task(db):
    """A task on a new server that has a ``create`` action under ``CTX.request_id``."""
    with db.transaction() as s:
        inst = Instance(
            name="vm",
            hostname="vm",
            project_id="p",
            user_id="u",
            flavor={},
            vcpus=1,
            memory_mb=64,
            root_gb=0,
            vm_state=states.BUILDING,
            task_state=states.SCHEDULING,
        )
        s.add(inst)
        s.flush()
        actions.start_action(s, CTX, inst.uuid, "create")
        uuid = inst.uuid
    return Task(db=db, ctx=CTX, instance_uuid=uuid)


def _events(task) -> list[tuple[str, str]]:
    _, events = _action(task)
    return [(e.event, e.result) for e in events]


def _action(task):
    """The ``create`` action of the task's server and its events, in the order recorded."""
    with task.db.reader() as s:
        action = s.query(InstanceAction).filter_by(instance_uuid=task.instance_uuid).one()
        events = (
            s.query(InstanceActionEvent)
            .filter_by(action_id=action.id)
            .order_by(InstanceActionEvent.id)
            .all()
        )
    return action, events


def _step(name: str, calls: list[str], fail: str | None = None) -> Step[Task]:
    """A step that logs ``<name>.<phase>`` for each phase it runs; ``fail`` names the phase
    that raises ``Boom``."""

    def phase(which: str):
        def run(task: Task) -> None:
            calls.append(f"{name}.{which}")
            if which == fail:
                raise Boom(f"{name} {which} failed")

        return run

    return Step(name, phase("execute"), check=phase("check"), rollback=phase("rollback"))


def test_steps_run_in_order_check_before_execute_each_recorded(task):
    calls: list[str] = []
    Workflow("w", [_step("one", calls), _step("two", calls)]).run(task)
    assert calls == ["one.check", "one.execute", "two.check", "two.execute"]
    assert _events(task) == [("one", "Success"), ("two", "Success")]
    action, events = _action(task)
    assert action.message is None
    assert all(e.start_time <= e.finish_time for e in events)


def test_a_failure_rolls_back_the_completed_steps_in_reverse_order(task):
    calls: list[str] = []
    steps = [_step("one", calls), _step("two", calls), _step("three", calls, fail="execute")]
    with pytest.raises(Boom, match="three execute failed"):
        Workflow("w", steps).run(task)
    # the failing step undoes its own work: only the completed ones are rolled back
    assert calls[-2:] == ["two.rollback", "one.rollback"]
    assert "three.rollback" not in calls
    assert _events(task) == [
        ("one", "Success"),
        ("two", "Success"),
        ("three", "Error"),
        ("two_rollback", "Success"),
        ("one_rollback", "Success"),
    ]
    action, events = _action(task)
    assert action.message == "Error"
    assert "three execute failed" in events[2].traceback
    assert task.rollback_errors == []


def test_a_failing_check_stops_before_execute(task):
    calls: list[str] = []
    steps = [_step("one", calls), _step("two", calls, fail="check"), _step("three", calls)]
    with pytest.raises(Boom):
        Workflow("w", steps).run(task)
    assert calls == ["one.check", "one.execute", "two.check", "one.rollback"]
    assert _events(task) == [("one", "Success"), ("two", "Error"), ("one_rollback", "Success")]


def test_a_failing_rollback_is_recorded_and_the_others_still_run(task):
    calls: list[str] = []
    steps = [
        _step("one", calls),
        _step("two", calls, fail="rollback"),
        _step("three", calls, fail="execute"),
    ]
    with pytest.raises(Boom, match="three execute failed"):  # the cause, not the rollback's
        Workflow("w", steps).run(task)
    assert calls[-2:] == ["two.rollback", "one.rollback"]
    assert _events(task)[-2:] == [("two_rollback", "Error"), ("one_rollback", "Success")]
    _, events = _action(task)
    assert "two rollback failed" in events[-2].traceback
    assert task.rollback_errors == ["two_rollback: Boom: two rollback failed"]


def test_steps_without_an_event_or_a_rollback(task):
    calls: list[str] = []
    cast = Step(None, lambda t: calls.append("cast"))  # recorded by whoever receives it
    failing = _step("late", calls, fail="execute")
    with pytest.raises(Boom):
        Workflow("w", [_step("one", calls), cast, failing]).run(task)
    assert calls == ["one.check", "one.execute", "cast", "late.check", "late.execute"] + [
        "one.rollback"
    ]
    assert _events(task) == [("one", "Success"), ("late", "Error"), ("one_rollback", "Success")]


def test_without_an_action_the_steps_run_unrecorded(task):
    calls: list[str] = []
    other = Task(db=task.db, ctx=RequestContext.system(), instance_uuid=task.instance_uuid)
    Workflow("w", [_step("one", calls)]).run(other)
    assert calls == ["one.check", "one.execute"]
    assert _events(task) == []
