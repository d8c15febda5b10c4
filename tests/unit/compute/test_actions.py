"""Instance actions and events: what ``openstack server event list/show`` reads."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import utcnow
from pocketstack.compute import actions, states
from pocketstack.compute.exceptions import InstanceActionNotFound, ServerNotFound
from pocketstack.compute.models import Instance
from tests.unit.compute.test_states import TABLE


@pytest.fixture
def owner():
    return RequestContext(user_id="u1", project_id="p1", roles=("member",))


@pytest.fixture
def server(db, owner):
    row = Instance(
        uuid="11111111-2222-3333-4444-555555555555",
        name="vm1",
        hostname="vm1",
        project_id=owner.project_id,
        user_id=owner.user_id,
        flavor={},
        vcpus=1,
        memory_mb=256,
        root_gb=1,
        vm_state="active",
    )
    with db.transaction() as s:
        s.add(row)
    return actions.load_instance(db, row.uuid)


def test_events_record_times_and_results(cloud, db, owner, server):
    actions.start_action(db, owner, server.uuid, "create")
    with actions.event(db, owner, server.uuid, actions.EV_SCHEDULE, host="h1"):
        pass
    with pytest.raises(RuntimeError):
        with actions.event(db, owner, server.uuid, actions.EV_SPAWN):
            raise RuntimeError("disk full")
    actions.finish_action(db, owner, server.uuid, error=True)

    action, events = cloud.compute.actions.get(owner, server.uuid, owner.request_id)
    assert action.action == "create" and action.message == "Error"
    assert action.finish_time is not None and action.user_id == "u1"
    assert [e.event for e in events] == [actions.EV_SCHEDULE, actions.EV_SPAWN]
    ok, failed = events
    assert ok.result == "Success" and ok.host == "h1" and ok.finish_time >= ok.start_time
    assert failed.result == "Error" and "disk full" in failed.traceback


def test_list_is_newest_first(cloud, db, owner, server):
    for name in ("create", "stop", "start"):
        ctx = RequestContext(user_id="u1", project_id="p1", roles=("member",))
        actions.start_action(db, ctx, server.uuid, name)
    assert [a.action for a in cloud.compute.actions.list(owner, server.uuid)] == [
        "start",
        "stop",
        "create",
    ]


def test_recorded_event_and_unrecorded_periodic_work(cloud, db, owner, server):
    with db.transaction() as s:
        action = actions.start_action(s, owner, server.uuid, "create")
        actions.record_event(s, action, actions.EV_AUTHORIZE, utcnow(), utcnow())
    with actions.event(db, RequestContext.system(), server.uuid, "periodic"):
        pass  # no action of that request: runs, records nothing
    _, events = cloud.compute.actions.get(owner, server.uuid, owner.request_id)
    assert [e.event for e in events] == [actions.EV_AUTHORIZE]


def test_other_projects_and_unknown_requests_are_404(cloud, db, owner, server):
    actions.start_action(db, owner, server.uuid, "create")
    stranger = RequestContext(user_id="u2", project_id="p2", roles=("member",))
    with pytest.raises(ServerNotFound):
        cloud.compute.actions.list(stranger, server.uuid)
    with pytest.raises(InstanceActionNotFound):
        cloud.compute.actions.get(owner, server.uuid, "req-nope")
    admin = RequestContext(user_id="a", project_id="admin", roles=("admin",))
    assert len(cloud.compute.actions.list(admin, server.uuid)) == 1


def test_update_instance_is_guarded_by_expected_state(db, server):
    assert not actions.update_instance(
        db, server.uuid, {"task_state": "spawning"}, vm_state="error"
    )
    assert actions.update_instance(
        db,
        server.uuid,
        {"task_state": None, "vm_state": ("active", "error")},
        task_state="powering-off",
    )
    assert actions.load_instance(db, server.uuid).task_state == "powering-off"


def _state(db, uuid):
    row = actions.load_instance(db, uuid)
    return row.vm_state, row.task_state


def test_update_instance_writes_transitions_of_the_table(db, server):
    assert actions.update_instance(db, server.uuid, None, task_state=states.DELETING)
    assert actions.update_instance(
        db, server.uuid, {"task_state": states.DELETING}, vm_state="error", task_state=None
    )
    assert _state(db, server.uuid) == ("error", None)


@pytest.mark.parametrize(
    ("expected", "values"),
    [
        (None, {"vm_state": states.BUILDING, "task_state": states.SPAWNING}),
        ({"vm_state": "active"}, {"vm_state": states.ERROR}),
        (None, {"task_state": states.POWERING_ON}),
        ({"task_state": None}, {"vm_state": states.DELETED}),
    ],
)
def test_update_instance_refuses_transitions_outside_the_table(db, server, expected, values):
    before = actions.load_instance(db, server.uuid)
    with pytest.raises(states.IllegalTransition):
        actions.update_instance(db, server.uuid, expected, **values)
    after = actions.load_instance(db, server.uuid)
    assert (after.vm_state, after.task_state, after.updated_at) == (
        before.vm_state,
        before.task_state,
        before.updated_at,
    )


def test_update_instance_checks_nothing_when_the_state_does_not_change(db, server):
    assert actions.update_instance(db, server.uuid, None, power_state=4, host="h1")
    assert not actions.update_instance(db, "no-such-server", None, vm_state="error")


@pytest.mark.parametrize(("before", "after"), TABLE)
def test_update_instance_writes_every_transition_of_the_table(db, server, before, after):
    with db.transaction() as s:  # plant the starting state as it is, outside the table
        s.execute(
            sa.update(Instance)
            .where(Instance.uuid == server.uuid)
            .values(vm_state=before[0], task_state=before[1])
        )
    expected = {"vm_state": before[0], "task_state": before[1]}
    assert actions.update_instance(
        db, server.uuid, expected, vm_state=after[0], task_state=after[1]
    )
    assert _state(db, server.uuid) == after
