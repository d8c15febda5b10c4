"""Shelving's agent and conductor sides (``ComputeAgent.shelve_instance``/
``shelve_offload_instance``/``unshelve_instance``, ``shelving.ShelveReports``): the tasks
shelving -> shelving_image_pending_upload -> shelving_image_uploading -> SHELVED, on to
shelving_offloading at once only when ``shelved_offload_time`` is 0, the periodic offload
after it when > 0; the offload frees the claim and clears the host; a failed shelve deletes
its image; a failed unshelve of an offloaded server leaves it offloaded; restarts."""

from __future__ import annotations

import time
from typing import Any

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.compute import actions, agent, states
from pocketstack.compute.conductor import Conductor
from pocketstack.compute.drivers.base import PowerState
from pocketstack.compute.drivers.fake import FakeDriver
from pocketstack.compute.models import Instance
from pocketstack.image.exceptions import ImageNotFound

UUID = "11111111-2222-3333-4444-777777777777"
CTX = RequestContext(user_id="u1", project_id="p1", roles=("member",))
SHELVE = {"image_id": "img-1", "upload_url": "http://127.0.0.1:9/image/v2/images/img-1/file"}
SPEC = {"uuid": UUID, "name": "vm1", "root_gb": 1, "image": {"id": "src"}, "shelve": SHELVE}


def test_the_shelve_tasks_are_in_the_table():
    ok = states.allowed
    assert ok((states.STOPPED, None), (states.STOPPED, states.SHELVING))
    assert ok((states.ACTIVE, states.SHELVING_IMAGE_UPLOADING), (states.SHELVED, None)) and not ok(
        (states.ACTIVE, states.SHELVING), (states.SHELVED, None)
    )
    assert ok((states.SHELVED, None), (states.SHELVED, states.SHELVING_OFFLOADING))
    assert ok((states.SHELVED, states.SHELVING_OFFLOADING), (states.SHELVED_OFFLOADED, None))
    assert ok(
        (states.SHELVED_OFFLOADED, states.UNSHELVING), (states.SHELVED_OFFLOADED, states.SPAWNING)
    )
    assert ok((states.SHELVED_OFFLOADED, states.SPAWNING), (states.ACTIVE, None))
    assert ok((states.SHELVED_OFFLOADED, states.SPAWNING), (states.SHELVED_OFFLOADED, None))
    assert not ok((states.RESCUED, None), (states.RESCUED, states.SHELVING))
    assert states.status_of(states.SHELVED, states.SHELVING_OFFLOADING) == "SHELVED"
    assert states.status_of(states.SHELVED_OFFLOADED, None) == "SHELVED_OFFLOADED"


# ---------------------------------------------------------------------------- agent


class Conductor_:
    """The conductor as the agent sees it."""

    def __init__(self, task: str) -> None:
        self.task: str | None = task
        self.moves: list[tuple[str, str]] = []
        self.reports: list[tuple[str, Any]] = []

    def action_event_start(self, ctx, uuid, event, host, expected):
        self.reports.append(("start", event))
        return (
            {"uuid": uuid, "task_state": self.task, "spec": SPEC} if self.task in expected else None
        )

    def snapshot_task_changed(self, ctx, uuid, from_task, to_task):
        self.moves.append((from_task, to_task))
        self.task = to_task
        return True

    def instance_shelved(self, ctx, uuid, image_id, power, fault):
        self.reports.append(("shelved", (image_id, power, fault)))

    def instance_offloaded(self, ctx, uuid, host, fault):
        self.reports.append(("offloaded", (host, fault)))

    def instance_unshelved(self, ctx, uuid, host, power, fault):
        self.reports.append(("unshelved", (host, power, fault)))


@pytest.fixture
def host(conf, bus, monkeypatch):
    conf = conf.replace(hostname="node1", periodic_interval=0)
    compute = agent.ComputeAgent(conf, bus, FakeDriver(conf), images_auth=None)
    compute.driver.spawn(dict(SPEC))
    uploads: list[str] = []
    monkeypatch.setattr(agent, "upload_image", lambda url, path, auth: uploads.append(url))
    monkeypatch.setattr(agent, "ensure_image", lambda conf, image, auth: "/nonexistent")
    compute.uploads = uploads  # type: ignore[attr-defined]
    return compute


def test_the_agent_powers_off_uploads_then_offloads_then_spawns_again(host):
    host.conductor = Conductor_(states.SHELVING)
    host.shelve_instance(CTX, UUID)
    assert host.conductor.moves == [
        (states.SHELVING, states.SHELVING_IMAGE_PENDING_UPLOAD),
        (states.SHELVING_IMAGE_PENDING_UPLOAD, states.SHELVING_IMAGE_UPLOADING),
    ]
    assert host.uploads == [SHELVE["upload_url"]]
    assert host.conductor.reports[-1] == ("shelved", ("img-1", int(PowerState.SHUTDOWN), None))
    host.conductor = Conductor_(states.SHELVING_OFFLOADING)
    host.shelve_offload_instance(CTX, UUID)
    assert host.conductor.reports[-1] == ("offloaded", ("node1", None))
    assert UUID not in host.driver.list_instances()
    host.conductor = Conductor_(states.SPAWNING)
    host.unshelve_instance(CTX, UUID, dict(SPEC))
    assert host.conductor.reports[-1] == ("unshelved", ("node1", int(PowerState.RUNNING), None))
    assert UUID in host.driver.list_instances()


def test_unshelve_of_a_shelved_guest_powers_it_on(host):
    host.driver.power_off(UUID)
    host.conductor = Conductor_(states.UNSHELVING)
    host.unshelve_instance(CTX, UUID)
    assert host.conductor.reports[-1] == ("unshelved", ("node1", int(PowerState.RUNNING), None))


def test_a_restart_mid_shelve_ends_it_with_a_fault(host):
    host.conductor = Conductor_(states.SHELVING_IMAGE_UPLOADING)
    inst = {
        "uuid": UUID,
        "vm_state": states.ACTIVE,
        "task_state": states.SHELVING_IMAGE_UPLOADING,
        "spec": SPEC,
        "request_id": "r",
    }
    assert host._settle(CTX, inst) is True
    kind, (image_id, _power, fault) = host.conductor.reports[-1]
    assert (kind, image_id, fault["message"]) == ("shelved", "img-1", agent.SHELVE_INTERRUPTED)
    # an interrupted unshelve spawn: offloaded again, not ERROR
    host.conductor = Conductor_(states.SPAWNING)
    inst = {**inst, "vm_state": states.SHELVED_OFFLOADED, "task_state": states.SPAWNING}
    assert host._settle(CTX, inst) is True
    kind, (_host, _power, fault) = host.conductor.reports[-1]
    assert (kind, fault["message"]) == ("unshelved", agent.UNSHELVE_INTERRUPTED)


# ---------------------------------------------------------------------------- conductor


class Agents:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def shelve_offload_instance(self, ctx, host, uuid):
        self.sent.append(("shelve_offload_instance", host))


@pytest.fixture
def conductor(cloud, monkeypatch):
    made = Conductor(cloud)
    made.agents = Agents()  # type: ignore[assignment]
    released: list[str] = []
    monkeypatch.setattr(made.scheduler, "release", released.append)
    made.released = released  # type: ignore[attr-defined]
    return made


def _server(db, vm_state: str, task_state: str | None, spec: dict | None = None) -> None:
    with db.transaction() as s:
        s.add(
            Instance(
                uuid=UUID,
                name="vm1",
                hostname="vm1",
                project_id=CTX.project_id,
                user_id=CTX.user_id,
                flavor={},
                vcpus=1,
                memory_mb=256,
                root_gb=1,
                host="node1",
                node="node1",
                spec=spec or SPEC,
                vm_state=vm_state,
                task_state=task_state,
            )
        )


def _image(cloud) -> str:
    core = {"name": "vm1-shelved", "disk_format": "qcow2", "container_format": "bare"}
    return str(cloud.image.images.create(CTX, core, {"instance_uuid": UUID}).id)


@pytest.mark.parametrize("offload_time", [0, -1, 3600])
def test_shelved_then_offloaded_only_at_zero(conductor, cloud, db, offload_time):
    conductor.conf = cloud.conf.replace(shelved_offload_time=offload_time)
    _server(db, states.ACTIVE, states.SHELVING_IMAGE_UPLOADING)
    image_id = _image(cloud)
    actions.start_action(db, CTX, UUID, "shelve")
    conductor.action_event_start(CTX, UUID, actions.EV_SHELVE, "node1", None)
    conductor.instance_shelved(CTX, UUID, image_id, int(PowerState.SHUTDOWN), None)
    row = actions.load_instance(db, UUID)
    task = states.SHELVING_OFFLOADING if offload_time == 0 else None
    assert (row.vm_state, row.task_state) == (states.SHELVED, task)
    assert row.spec["shelve"]["shelved_at"] <= time.time()
    assert conductor.agents.sent == ([("shelve_offload_instance", "node1")] if task else [])
    action, (event,) = cloud.compute.actions.get(CTX, UUID, CTX.request_id)
    assert (event.event, event.result) == (actions.EV_SHELVE, "Success")
    assert (action.finish_time is None) == (task is not None)
    # the periodic offload: only past shelved_offload_time (> 0)
    conductor.offload_shelved_instances()
    assert len(conductor.agents.sent) == (1 if offload_time == 0 else 0)
    if offload_time == 3600:
        spec = dict(row.spec)
        spec["shelve"] = {**spec["shelve"], "shelved_at": time.time() - 3601}
        actions.update_instance(db, UUID, None, spec=spec)
        conductor.offload_shelved_instances()
        assert conductor.agents.sent == [("shelve_offload_instance", "node1")]
        assert actions.load_instance(db, UUID).task_state == states.SHELVING_OFFLOADING


def test_a_failed_shelve_stays_and_deletes_its_image(conductor, cloud, db):
    _server(db, states.ACTIVE, states.SHELVING_IMAGE_PENDING_UPLOAD)
    image_id = _image(cloud)
    actions.start_action(db, CTX, UUID, "shelve")
    fault = {"message": "upload failed", "code": 500, "traceback": None}
    conductor.instance_shelved(CTX, UUID, image_id, int(PowerState.SHUTDOWN), fault)
    row = actions.load_instance(db, UUID)
    assert (row.vm_state, row.task_state) == (states.ACTIVE, None)
    with pytest.raises(ImageNotFound):
        cloud.image.get_image_info(CTX, image_id)


def test_the_offload_frees_the_claim_and_clears_the_host(conductor, cloud, db):
    _server(db, states.SHELVED, states.SHELVING_OFFLOADING)
    actions.start_action(db, CTX, UUID, "shelveOffload")
    conductor.action_event_start(CTX, UUID, actions.EV_SHELVE_OFFLOAD, "node1", None)
    conductor.instance_offloaded(CTX, UUID, "node1", None)
    row = actions.load_instance(db, UUID)
    assert (row.vm_state, row.task_state, row.host, row.node) == (
        states.SHELVED_OFFLOADED,
        None,
        None,
        None,
    )
    assert conductor.released == [UUID]
    action, (event,) = cloud.compute.actions.get(CTX, UUID, CTX.request_id)
    assert (event.event, event.result) == (actions.EV_SHELVE_OFFLOAD, "Success")
    assert action.finish_time is not None


def test_a_failed_unshelve_spawn_leaves_it_offloaded(conductor, cloud, db):
    _server(db, states.SHELVED_OFFLOADED, states.UNSHELVING)
    actions.update_instance(db, UUID, None, task_state=states.SPAWNING)
    actions.start_action(db, CTX, UUID, "unshelve")
    fault = {"message": "spawn failed", "code": 500, "traceback": None}
    conductor.instance_unshelved(CTX, UUID, "node1", 0, fault)
    row = actions.load_instance(db, UUID)
    assert (row.vm_state, row.task_state, row.host) == (states.SHELVED_OFFLOADED, None, None)
    assert conductor.released == [UUID]


def test_an_unshelve_nowhere_to_go_stays_offloaded_with_a_fault(conductor, cloud, db):
    _server(db, states.SHELVED_OFFLOADED, states.UNSHELVING)
    actions.start_action(db, CTX, UUID, "unshelve")
    conductor.unshelve_instance(CTX, UUID, None, "no-such-host")
    row = actions.load_instance(db, UUID)
    assert (row.vm_state, row.task_state, row.host) == (states.SHELVED_OFFLOADED, None, None)
    action, (event,) = cloud.compute.actions.get(CTX, UUID, CTX.request_id)
    assert (event.event, event.result) == (actions.EV_SCHEDULE, "Error")
