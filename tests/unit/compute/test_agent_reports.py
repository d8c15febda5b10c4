"""The conductor's side of the compute agents' reports (pocketstack.compute.agent_reports):
each report changes a server only from the state the agent saw, and the new state, its fault
and the finished step and action commit together."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pocketstack.common.auth import RequestContext
from pocketstack.compute import actions, states
from pocketstack.compute.agent_reports import AgentReports
from pocketstack.compute.drivers.base import PowerState
from pocketstack.compute.models import ComputeNode, Instance, Service

OWNER = RequestContext(user_id="u1", project_id="p1", roles=("member",))
UUID = "11111111-2222-3333-4444-555555555555"
SPEC = {"uuid": UUID, "name": "vm1", "image": {"id": "img"}}
ALLOCATION = {
    "cpu_allocation_ratio": 2.0,
    "ram_allocation_ratio": 1.0,
    "disk_allocation_ratio": 1.0,
    "reserved_host_memory_mb": 128,
}
RESOURCES = {
    "vcpus": 4,
    "memory_mb": 2048,
    "local_gb": 20,
    "hypervisor_type": "fake",
    "hypervisor_version": 1,
    "cpu_info": None,
}


@pytest.fixture
def reports(cloud):
    return AgentReports(cloud)


def _server(db, uuid=UUID, host="node1", **values):
    row = Instance(
        uuid=uuid,
        name="vm1",
        hostname="vm1",
        project_id=OWNER.project_id,
        user_id=OWNER.user_id,
        flavor={},
        vcpus=1,
        memory_mb=256,
        root_gb=1,
        host=host,
        spec=SPEC,
        **{"vm_state": states.BUILDING, "task_state": states.SPAWNING, **values},
    )
    with db.transaction() as s:
        s.add(row)


def _row(db, uuid=UUID):
    return actions.load_instance(db, uuid)


def _events(cloud):
    return cloud.compute.actions.get(OWNER, UUID, OWNER.request_id)


def _fault(cloud):
    return cloud.compute.servers.faults([UUID]).get(UUID)


def test_spawn_starts_only_for_a_server_spawning_on_that_host(reports, cloud, db):
    _server(db)
    actions.start_action(db, OWNER, UUID, "create")
    begin = reports.action_event_start
    assert begin(OWNER, UUID, actions.EV_SPAWN, "node2", [states.SPAWNING]) is None
    assert begin(OWNER, UUID, actions.EV_SPAWN, "node1", [states.POWERING_OFF]) is None
    assert begin(OWNER, "unknown", actions.EV_SPAWN, "node1", [states.SPAWNING]) is None
    assert _events(cloud)[1] == []  # refused: nothing recorded
    view = begin(OWNER, UUID, actions.EV_SPAWN, "node1", [states.SPAWNING])
    assert view == {
        "uuid": UUID,
        "host": "node1",
        "vm_state": states.BUILDING,
        "task_state": states.SPAWNING,
        "power_state": 0,
        "spec": SPEC,
    }
    (event,) = _events(cloud)[1]
    assert (event.event, event.host, event.finish_time) == (actions.EV_SPAWN, "node1", None)


def test_a_repeated_start_whose_answer_was_lost_records_the_step_once(reports, cloud, db):
    """The agent asks again when a controller died after recording the step but before it
    answered; the step is still one event, and the server is still handed back."""
    _server(db)
    actions.start_action(db, OWNER, UUID, "create")
    begin = reports.action_event_start
    for _ in range(2):
        assert begin(OWNER, UUID, actions.EV_SPAWN, "node1", [states.SPAWNING])["uuid"] == UUID
    (event,) = _events(cloud)[1]
    assert (event.event, event.finish_time) == (actions.EV_SPAWN, None)


def test_spawned_makes_the_server_active_with_its_step_and_action_finished(reports, cloud, db):
    _server(db)
    actions.start_action(db, OWNER, UUID, "create")
    reports.action_event_start(OWNER, UUID, actions.EV_SPAWN, "node1", [states.SPAWNING])
    reports.instance_spawned(OWNER, UUID, "node1", int(PowerState.RUNNING))
    row = _row(db)
    assert (row.vm_state, row.task_state, row.power_state) == (states.ACTIVE, None, 1)
    assert row.launched_at is not None
    action, (event,) = _events(cloud)
    assert action.finish_time is not None and action.message is None
    assert event.result == "Success" and event.finish_time >= event.start_time


def test_a_late_spawned_report_does_not_revive_a_deleted_server(reports, db):
    _server(db, task_state=states.DELETING)
    reports.instance_spawned(OWNER, UUID, "node1", int(PowerState.RUNNING))
    row = _row(db)
    assert (row.vm_state, row.task_state) == (states.BUILDING, states.DELETING)


def test_spawn_failed_sets_error_with_fault_and_the_failed_step(reports, cloud, db):
    _server(db)
    actions.start_action(db, OWNER, UUID, "create")
    reports.action_event_start(OWNER, UUID, actions.EV_SPAWN, "node1", [states.SPAWNING])
    fault = {"message": "disk boom", "code": 500, "traceback": "Traceback...\nDriverError"}
    assert reports.instance_spawn_failed(OWNER, UUID, "node1", fault) is True
    row = _row(db)
    assert (row.vm_state, row.task_state) == (states.ERROR, None)
    assert _fault(cloud).message == "disk boom"
    action, (event,) = _events(cloud)
    assert action.message == "Error" and action.finish_time is not None
    assert event.result == "Error" and event.traceback == fault["traceback"]
    # a duplicate (the server is no longer spawning) changes nothing
    assert reports.instance_spawn_failed(OWNER, UUID, "node1", fault) is False


def test_power_action_finished_follows_the_guest_or_records_the_fault(reports, cloud, db):
    _server(db, vm_state=states.ACTIVE, task_state=states.POWERING_OFF)
    actions.start_action(db, OWNER, UUID, "stop")
    reports.action_event_start(OWNER, UUID, actions.EV_STOP, "node1", [states.POWERING_OFF])
    reports.instance_power_action_finished(
        OWNER, UUID, actions.EV_STOP, states.POWERING_OFF, int(PowerState.SHUTDOWN), None
    )
    row = _row(db)
    assert (row.vm_state, row.task_state, row.power_state) == (states.STOPPED, None, 4)
    assert _events(cloud)[0].finish_time is not None

    reboot = RequestContext(user_id="u1", project_id="p1", roles=("member",))
    actions.update_instance(db, UUID, None, task_state=states.REBOOTING_HARD)
    actions.start_action(db, reboot, UUID, "reboot")
    fault = {"message": "no ACPI", "code": 409, "traceback": None}
    reports.instance_power_action_finished(
        reboot, UUID, actions.EV_REBOOT, states.REBOOTING_HARD, int(PowerState.SHUTDOWN), fault
    )
    row = _row(db)
    assert (row.vm_state, row.task_state) == (states.STOPPED, None)  # the state stays
    assert (_fault(cloud).message, _fault(cloud).code) == ("no ACPI", 409)
    action, _events_ = cloud.compute.actions.get(OWNER, UUID, reboot.request_id)
    assert action.message == "Error" and action.finish_time is not None


def test_terminate_failed_leaves_error_with_the_fault(reports, cloud, db):
    _server(db, vm_state=states.ACTIVE, task_state=states.DELETING)
    actions.start_action(db, OWNER, UUID, "delete")
    reports.action_event_start(OWNER, UUID, actions.EV_TERMINATE, "node1", None)
    reports.instance_terminate_failed(OWNER, UUID, {"message": "busy", "code": 500})
    row = _row(db)
    assert (row.vm_state, row.task_state) == (states.ERROR, None)
    action, (event,) = _events(cloud)
    assert event.result == "Error" and action.message == "Error"
    assert _fault(cloud).message == "busy"


def test_action_event_finish_finishes_the_open_step_only(reports, cloud, db):
    _server(db, task_state=states.DELETING)
    actions.start_action(db, OWNER, UUID, "delete")
    reports.action_event_finish(OWNER, UUID, actions.EV_TERMINATE, None)  # none open: no-op
    reports.action_event_start(OWNER, UUID, actions.EV_TERMINATE, "node1", None)
    reports.action_event_finish(OWNER, UUID, actions.EV_TERMINATE, None)
    (event,) = _events(cloud)[1]
    assert event.result == "Success" and event.finish_time is not None


def test_power_state_changes_only_from_the_state_the_agent_saw(reports, db):
    _server(db, vm_state=states.ACTIVE, task_state=None, power_state=1)
    assert reports.instance_power_state_changed(OWNER, UUID, states.STOPPED, 4, None) is False
    assert reports.instance_power_state_changed(OWNER, UUID, states.ACTIVE, 4, states.STOPPED)
    row = _row(db)
    assert (row.vm_state, row.power_state) == (states.STOPPED, 4)
    actions.update_instance(db, UUID, None, task_state=states.POWERING_ON)
    assert not reports.instance_power_state_changed(OWNER, UUID, states.STOPPED, 1, None)


def test_instances_on_host_lists_live_servers_with_their_pending_request(reports, db):
    _server(db, vm_state=states.ACTIVE, task_state=states.POWERING_OFF)
    _server(db, uuid="other", host="node2", vm_state=states.ACTIVE, task_state=None)
    _server(db, uuid="gone", vm_state=states.DELETED, task_state=None, deleted=True)
    actions.start_action(db, OWNER, UUID, "stop")
    (view,) = reports.instances_on_host(OWNER, "node1")
    assert view["uuid"] == UUID and view["request_id"] == OWNER.request_id
    assert view["spec"] == SPEC and view["task_state"] == states.POWERING_OFF
    (other,) = reports.instances_on_host(OWNER, "node2")
    assert other["request_id"] is None


def test_reports_record_the_service_and_the_compute_node(reports, db):
    reports.report_service(OWNER, "node1", "nova-compute", "compute", "az1")
    reports.report_service(OWNER, "node1", "nova-compute", "compute", "az1")
    reports.report_compute_node(OWNER, "node1", RESOURCES, ALLOCATION)
    with db.reader() as s:
        svc = s.scalars(sa.select(Service).where(Service.host == "node1")).one()
        node = s.scalars(sa.select(ComputeNode).where(ComputeNode.host == "node1")).one()
    assert (svc.binary, svc.availability_zone, svc.report_count) == ("nova-compute", "az1", 2)
    assert (node.vcpus, node.cpu_allocation_ratio, node.reserved_host_memory_mb) == (4, 2.0, 128)
    with pytest.raises(KeyError):
        reports.report_compute_node(OWNER, "node1", RESOURCES, {"cpu_allocation_ratio": 1.0})


def test_the_conductor_serves_the_reports_over_the_bus(cloud, bus, db):
    from pocketstack.compute.conductor import Conductor
    from pocketstack.compute.rpcapi import CONDUCTOR_MESSAGES, ConductorClient

    _server(db)
    bus.serve("conductor", Conductor(cloud), CONDUCTOR_MESSAGES)
    try:
        client = ConductorClient(bus)
        client.report_service(OWNER, "node1", "nova-compute", "compute", "nova")
        client.report_compute_node(OWNER, "node1", RESOURCES, ALLOCATION)
        (view,) = client.instances_on_host(OWNER, "node1")
        assert view["uuid"] == UUID and view["request_id"] is None
    finally:
        bus.unserve("conductor")
