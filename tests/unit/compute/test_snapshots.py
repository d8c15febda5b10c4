"""Server snapshots' agent and conductor sides (``ComputeAgent.snapshot_instance``,
``AgentReports.snapshot_task_changed``/``instance_snapshot_finished``): the task moves
image_snapshot -> image_pending_upload -> image_uploading and ends with the server's vm_state
unchanged; a failed copy or upload, or an agent restart mid-snapshot, ends the task with a
fault and deletes the image; the temporary copy never stays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.compute import actions, agent, states
from pocketstack.compute.agent_reports import AgentReports
from pocketstack.compute.drivers.base import DriverError
from pocketstack.compute.drivers.fake import FakeDriver
from pocketstack.compute.models import Instance

UUID = "11111111-2222-3333-4444-555555555555"
CTX = RequestContext(user_id="u1", project_id="p1", roles=("member",))
SNAP = {"image_id": "img-1", "upload_url": "http://127.0.0.1:9/image/v2/images/img-1/file"}
SPEC = {"uuid": UUID, "name": "vm1", "root_gb": 1, "image": {"id": "src"}, "snapshot": SNAP}


class Conductor:
    """The conductor as the agent sees it: the server is in ``task`` until it is finished."""

    def __init__(self) -> None:
        self.task: str | None = states.IMAGE_SNAPSHOT
        self.moves: list[tuple[str, str]] = []
        self.finished: list[tuple[str | None, str | None, dict[str, Any] | None]] = []

    def action_event_start(self, ctx, uuid, event, host, expected):
        assert event == actions.EV_SNAPSHOT
        return {"uuid": uuid, "task_state": self.task, "spec": SPEC}

    def snapshot_task_changed(self, ctx, uuid, from_task, to_task):
        assert from_task == self.task
        self.moves.append((from_task, to_task))
        self.task = to_task
        return True

    def instance_snapshot_finished(self, ctx, uuid, image_id, details, fault):
        self.finished.append((image_id, details, fault))


@pytest.fixture
def host(conf, bus, monkeypatch):
    conf = conf.replace(hostname="node1", periodic_interval=0)
    compute = agent.ComputeAgent(conf, bus, FakeDriver(conf), images_auth=None)
    compute.driver.spawn(dict(SPEC))
    compute.conductor = Conductor()
    uploads: list[tuple[str, bytes]] = []
    monkeypatch.setattr(
        agent, "upload_image", lambda url, path, auth: uploads.append((url, path.read_bytes()))
    )
    compute.uploads = uploads  # type: ignore[attr-defined]
    return compute


def _leftovers(compute) -> list[Path]:
    return list(Path(compute.conf.state_dir, "snapshots").iterdir())


def test_a_snapshot_moves_through_its_tasks_uploads_a_qcow2_and_reports(host):
    host.snapshot_instance(CTX, UUID)
    assert host.conductor.moves == [
        (states.IMAGE_SNAPSHOT, states.IMAGE_PENDING_UPLOAD),
        (states.IMAGE_PENDING_UPLOAD, states.IMAGE_UPLOADING),
    ]
    ((url, data),) = host.uploads
    assert url == SNAP["upload_url"] and data.startswith(b"QFI\xfb")
    ((image_id, details, fault),) = host.conductor.finished
    assert (image_id, fault) == ("img-1", None)
    assert "not quiesced" in details
    assert _leftovers(host) == []


def test_a_failed_copy_reports_the_fault_and_uploads_nothing(host):
    host.driver.fail_snapshot = "disk copy failed"
    host.snapshot_instance(CTX, UUID)
    assert host.uploads == [] and host.conductor.moves == []
    ((image_id, _details, fault),) = host.conductor.finished
    assert image_id == "img-1" and fault["message"] == "disk copy failed"
    assert _leftovers(host) == []


def test_a_failed_upload_reports_the_fault(host, monkeypatch):
    def refused(url, path, auth):
        raise DriverError("Uploading the snapshot failed: HTTP Error 409: Conflict")

    monkeypatch.setattr(agent, "upload_image", refused)
    host.snapshot_instance(CTX, UUID)
    ((_image, _details, fault),) = host.conductor.finished
    assert "409" in fault["message"]
    assert host.conductor.task == states.IMAGE_UPLOADING  # the conductor ends it
    assert _leftovers(host) == []


def test_a_restart_mid_snapshot_ends_the_task_with_a_fault(host):
    inst = {"uuid": UUID, "task_state": states.IMAGE_UPLOADING, "spec": SPEC, "request_id": "r"}
    assert host._settle(CTX, inst) is True
    ((image_id, details, fault),) = host.conductor.finished
    assert image_id == "img-1" and details is None
    assert fault["message"] == agent.SNAPSHOT_INTERRUPTED


# ---------------------------------------------------------------------------- conductor


def _server(db, vm_state: str, task_state: str | None) -> None:
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
                spec=SPEC,
                vm_state=vm_state,
                task_state=task_state,
            )
        )


def _image(cloud) -> str:
    core = {"name": "snap", "disk_format": "qcow2", "container_format": "bare"}
    return str(cloud.image.images.create(CTX, core, {"instance_uuid": UUID}).id)


@pytest.mark.parametrize("vm_state", [states.ACTIVE, states.PAUSED, states.STOPPED])
def test_the_conductor_ends_a_snapshot_where_it_began(cloud, db, vm_state):
    reports = AgentReports(cloud)
    _server(db, vm_state, states.IMAGE_SNAPSHOT)
    image_id = _image(cloud)
    actions.start_action(db, CTX, UUID, "createImage")
    reports.action_event_start(CTX, UUID, actions.EV_SNAPSHOT, "node1", [states.IMAGE_SNAPSHOT])
    # only from the task the agent saw
    assert not reports.snapshot_task_changed(
        CTX, UUID, states.IMAGE_PENDING_UPLOAD, states.IMAGE_UPLOADING
    )
    assert reports.snapshot_task_changed(
        CTX, UUID, states.IMAGE_SNAPSHOT, states.IMAGE_PENDING_UPLOAD
    )
    assert actions.load_instance(db, UUID).task_state == states.IMAGE_PENDING_UPLOAD
    reports.instance_snapshot_finished(CTX, UUID, image_id, "quiesced", None)
    row = actions.load_instance(db, UUID)
    assert (row.vm_state, row.task_state) == (vm_state, None)
    action, (event,) = cloud.compute.actions.get(CTX, UUID, CTX.request_id)
    assert (event.event, event.result, event.details) == (
        actions.EV_SNAPSHOT,
        "Success",
        "quiesced",
    )
    assert action.finish_time is not None
    assert cloud.image.get_image_info(CTX, image_id).id == image_id  # kept


@pytest.mark.parametrize("known", [True, False])
def test_a_failed_snapshot_ends_the_task_and_deletes_the_image(cloud, db, known):
    from pocketstack.image.exceptions import ImageNotFound

    reports = AgentReports(cloud)
    _server(db, states.ACTIVE, states.IMAGE_UPLOADING)
    image_id = _image(cloud)
    actions.start_action(db, CTX, UUID, "createImage")
    reports.action_event_start(CTX, UUID, actions.EV_SNAPSHOT, "node1", None)
    fault = {"message": "upload failed", "code": 500, "traceback": "Traceback..."}
    reports.instance_snapshot_finished(CTX, UUID, image_id if known else None, None, fault)
    row = actions.load_instance(db, UUID)
    assert (row.vm_state, row.task_state) == (states.ACTIVE, None)
    action, (event,) = cloud.compute.actions.get(CTX, UUID, CTX.request_id)
    assert event.result == "Error" and action.message == "Error"
    with pytest.raises(ImageNotFound):
        cloud.image.get_image_info(CTX, image_id)
