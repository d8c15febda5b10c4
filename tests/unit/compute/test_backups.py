"""Server backups (``createBackup``): the agent's ``backup_instance`` walks image_backup ->
image_pending_upload -> image_uploading as the step ``compute_backup_instance``; the
conductor finishes that step and rotates the server's backups of the type
(``AgentReports.rotate_backups``: the newest ``rotation`` kept, 0 none), but never after a
failure (the failed image is deleted instead)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.compute import actions, agent, states
from pocketstack.compute.agent_reports import AgentReports
from pocketstack.compute.drivers.fake import FakeDriver
from pocketstack.compute.models import Instance
from pocketstack.image.exceptions import ImageNotFound

UUID = "11111111-2222-3333-4444-666666666666"
CTX = RequestContext(user_id="u1", project_id="p1", roles=("member",))
SNAP = {
    "image_id": "img-1",
    "upload_url": "http://127.0.0.1:9/image/v2/images/img-1/file",
    "backup": {"type": "daily", "rotation": 2},
}
SPEC = {"uuid": UUID, "name": "vm1", "root_gb": 1, "image": {"id": "src"}, "snapshot": SNAP}


def test_the_backup_tasks_are_in_the_table():
    assert states.allowed((states.ACTIVE, None), (states.ACTIVE, states.IMAGE_BACKUP))
    assert states.allowed(
        (states.STOPPED, states.IMAGE_BACKUP), (states.STOPPED, states.IMAGE_PENDING_UPLOAD)
    )
    assert states.allowed((states.PAUSED, states.IMAGE_BACKUP), (states.PAUSED, None))
    assert not states.allowed((states.RESCUED, None), (states.RESCUED, states.IMAGE_BACKUP))
    assert states.ACTION_TASKS["create_backup"] == states.IMAGE_BACKUP


class Conductor:
    def __init__(self) -> None:
        self.task: str | None = states.IMAGE_BACKUP
        self.events: list[str] = []
        self.finished: list[tuple[str | None, dict[str, Any] | None]] = []

    def action_event_start(self, ctx, uuid, event, host, expected):
        self.events.append(event)
        if self.task not in expected:
            return None
        return {"uuid": uuid, "task_state": self.task, "spec": SPEC}

    def snapshot_task_changed(self, ctx, uuid, from_task, to_task):
        assert from_task == self.task
        self.task = to_task
        return True

    def instance_snapshot_finished(self, ctx, uuid, image_id, details, fault):
        self.finished.append((image_id, fault))


def test_the_agent_backs_up_from_image_backup(conf, bus, monkeypatch):
    conf = conf.replace(hostname="node1", periodic_interval=0)
    compute = agent.ComputeAgent(conf, bus, FakeDriver(conf), images_auth=None)
    compute.driver.spawn(dict(SPEC))
    compute.conductor = Conductor()
    uploads: list[str] = []
    monkeypatch.setattr(agent, "upload_image", lambda url, path, auth: uploads.append(url))
    compute.backup_instance(CTX, UUID)
    assert compute.conductor.events == [actions.EV_BACKUP]
    assert compute.conductor.task == states.IMAGE_UPLOADING
    assert uploads == [SNAP["upload_url"]]
    assert compute.conductor.finished == [("img-1", None)]
    # a snapshot cast does not run on a server in image_backup
    compute.conductor = Conductor()
    compute.snapshot_instance(CTX, UUID)
    assert compute.conductor.finished == []


# ---------------------------------------------------------------------------- conductor


def _server(db, task_state: str | None) -> None:
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
                vm_state=states.ACTIVE,
                task_state=task_state,
            )
        )


def _backup(cloud, name: str, kind: str = "daily", server: str = UUID) -> str:
    core = {"name": name, "disk_format": "qcow2", "container_format": "bare"}
    props = {"instance_uuid": server, "image_type": "backup", "backup_type": kind}
    made = str(cloud.image.images.create(CTX, core, props).id)
    time.sleep(0.01)  # distinct created_at
    return made


def _exists(cloud, image_id: str) -> bool:
    try:
        cloud.image.get_image_info(CTX, image_id)
    except ImageNotFound:
        return False
    return True


def test_the_conductor_finishes_a_backup_and_rotates(cloud, db):
    reports = AgentReports(cloud)
    _server(db, states.IMAGE_UPLOADING)
    old = [_backup(cloud, f"b{i}") for i in range(3)]
    weekly = _backup(cloud, "w", "weekly")
    other = _backup(cloud, "o", server="another-server")
    new = _backup(cloud, "new")
    actions.start_action(db, CTX, UUID, "createBackup")
    reports.action_event_start(CTX, UUID, actions.EV_BACKUP, "node1", None)
    reports.instance_snapshot_finished(CTX, UUID, new, "not quiesced", None)
    assert actions.load_instance(db, UUID).task_state is None
    _action, (event,) = cloud.compute.actions.get(CTX, UUID, CTX.request_id)
    assert (event.event, event.result) == (actions.EV_BACKUP, "Success")
    assert [_exists(cloud, i) for i in old] == [False, False, True]
    assert _exists(cloud, new) and _exists(cloud, weekly) and _exists(cloud, other)
    # rotation 0: all of them
    assert sorted(reports.rotate_backups(UUID, "daily", 0)) == sorted([old[2], new])


def test_a_failed_backup_deletes_its_image_and_rotates_nothing(cloud, db):
    reports = AgentReports(cloud)
    _server(db, states.IMAGE_UPLOADING)
    old = [_backup(cloud, f"b{i}") for i in range(3)]
    actions.start_action(db, CTX, UUID, "createBackup")
    reports.action_event_start(CTX, UUID, actions.EV_BACKUP, "node1", None)
    fault = {"message": "upload failed", "code": 500, "traceback": None}
    reports.instance_snapshot_finished(CTX, UUID, old[2], None, fault)
    assert [_exists(cloud, i) for i in old] == [True, True, False]
    _action, (event,) = cloud.compute.actions.get(CTX, UUID, CTX.request_id)
    assert (event.event, event.result) == (actions.EV_BACKUP, "Error")


@pytest.mark.parametrize("rotation", [1, 5])
def test_rotation_keeps_the_newest(cloud, db, rotation):
    made = [_backup(cloud, f"r{i}") for i in range(3)]
    gone = AgentReports(cloud).rotate_backups(UUID, "daily", rotation)
    assert sorted(gone) == sorted(made[: max(0, 3 - rotation)])
