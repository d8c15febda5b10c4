"""The conductor's workflows, driven through the API manager and the bus with the agent
replaced by a recorder: every delete ends in ``Conductor.finish_delete`` (through the agent,
on a host without its service, by the down-host sweep, during a build); a build gets the
request spec (image looked up once, forced host, no token) and rolls back when a delete wins.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import types

import pytest
import sqlalchemy as sa

from pocketstack.common.auth import RequestContext, new_request_id
from pocketstack.common.db import utcnow
from pocketstack.compute import actions, liveness, states
from pocketstack.compute.conductor import Conductor
from pocketstack.compute.models import Allocation, Instance, Service
from pocketstack.compute.rpcapi import CONDUCTOR_MESSAGES
from pocketstack.compute.scheduler import host_manager
from tests.helpers import wait_until

DEMO = RequestContext(user_id="demo-user", project_id="demo-project", roles=("member",))
ADMIN = RequestContext(user_id="admin-user", project_id="admin-project", roles=("admin",))
HOST = "node1"


def _request(ctx: RequestContext) -> RequestContext:
    """``ctx`` as a new API request (its own request id)."""
    return dataclasses.replace(ctx, request_id=new_request_id())


class Agent:
    """Stands in for the compute agent of ``HOST``: records the casts it would get."""

    def __init__(self) -> None:
        self.spawns: list[tuple[RequestContext, dict]] = []
        self.terminates: list[tuple[RequestContext, str]] = []

    def build_and_run_instance(self, ctx, host, spec):
        self.spawns.append((ctx, spec))

    def terminate_instance(self, ctx, host, instance_uuid):
        self.terminates.append((ctx, instance_uuid))


@pytest.fixture
def env(cloud, db, conf, bus, tmp_path, monkeypatch):
    """A cloud with one compute host (``HOST``, up), an image, the conductor served on the
    bus (not started: no periodic tasks) with a recording agent, and ``finishes``: the
    servers ``Conductor.finish_delete`` was called for."""
    cloud.compute.flavors.bootstrap()
    cloud.network.bootstrap(ADMIN.project_id, DEMO.project_id)
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * 1024)
    image = cloud.image.create_image_from_file(
        RequestContext.system(), "cirros", disk, disk_format="raw", properties={"os": "x"}
    )
    liveness.report_service(db, HOST)
    host_manager.report_compute_node(
        db,
        conf,
        HOST,
        {
            "vcpus": 8,
            "memory_mb": 8192,
            "local_gb": 100,
            "hypervisor_type": "fake",
            "hypervisor_version": 1,
            "cpu_info": "x86_64",
        },
    )
    conductor = Conductor(cloud)
    agent = Agent()
    monkeypatch.setattr(conductor, "agents", agent)
    finishes: list[str] = []
    real_finish = conductor.finish_delete

    def finish_delete(ctx, instance_uuid):
        finishes.append(instance_uuid)
        real_finish(ctx, instance_uuid)

    monkeypatch.setattr(conductor, "finish_delete", finish_delete)
    bus.serve("conductor", conductor, CONDUCTOR_MESSAGES)
    yield types.SimpleNamespace(
        cloud=cloud,
        db=db,
        conductor=conductor,
        agent=agent,
        image=image["id"] if isinstance(image, dict) else image.id,  # a dict, or ImageInfo
        finishes=finishes,
    )
    bus.unserve("conductor")


def _boot(env, ctx=DEMO, **kw) -> Instance:
    args = {"name": "vm", "image_id": env.image, "flavor_id": "1", "networks": "auto"}
    (row,) = env.cloud.compute.servers.create(_request(ctx), **{**args, **kw})
    return row


def _row(env, uuid: str) -> Instance:
    row = actions.load_instance(env.db, uuid)
    assert row is not None
    return row


def _spawning(env, uuid: str) -> Instance:
    """Wait until the build of ``uuid`` was cast to its agent; the server then."""

    def handed() -> Instance | None:
        row = _row(env, uuid)
        sent = any(spec["uuid"] == uuid for _, spec in env.agent.spawns)
        return row if sent and row.task_state == states.SPAWNING else None

    return wait_until(handed, 10, f"{uuid} handed to its agent", interval=0.02)


def _settled(env, uuid: str) -> Instance:
    return wait_until(
        lambda: (r := _row(env, uuid)).task_state is None and r,
        10,
        f"{uuid} without a task",
        interval=0.02,
    )


def _claims(env) -> int:
    with env.db.reader() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(Allocation))


def _ports(env, uuid: str) -> list:
    return env.cloud.network.get_instance_network_info(ADMIN, uuid)


def _events(env, uuid: str, action: str) -> list[tuple[str, str]]:
    """``(event, result)`` of the server's latest ``action``, in the order they started."""
    latest = next(a for a in env.cloud.compute.actions.list(ADMIN, uuid) if a.action == action)
    _, events = env.cloud.compute.actions.get(ADMIN, uuid, latest.request_id)
    return [(e.event, e.result) for e in events]


def _delete_action(env, uuid: str):
    """The server's latest ``delete`` action."""
    return next(a for a in env.cloud.compute.actions.list(ADMIN, uuid) if a.action == "delete")


def _assert_deleted_and_released(env, uuid: str) -> None:
    row = _row(env, uuid)
    assert row.deleted and row.vm_state == states.DELETED and row.task_state is None
    assert _claims(env) == 0 and _ports(env, uuid) == []
    action = _delete_action(env, uuid)
    assert action.finish_time is not None and action.message is None
    assert _events(env, uuid, "delete")[-3:] == [
        (actions.EV_DETACH_VOLUMES, "Success"),
        (actions.EV_DEALLOCATE_NETWORK, "Success"),
        (actions.EV_RELEASE_CLAIM, "Success"),
    ]


def _host_down(env) -> None:
    with env.db.transaction() as s:
        for svc in s.scalars(sa.select(Service).where(Service.host == HOST)):
            svc.last_seen_up = utcnow() - dt.timedelta(hours=1)


# ---------------------------------------------------------------------- the build


def test_a_build_gets_the_request_spec_and_looks_the_image_up_once(env, monkeypatch):
    lookups: list[str] = []
    real_get, real_get_info = env.cloud.image.get_image, env.cloud.image.get_image_info
    monkeypatch.setattr(
        env.cloud.image, "get_image", lambda ctx, i: lookups.append(i) or real_get(ctx, i)
    )
    monkeypatch.setattr(
        env.cloud.image,
        "get_image_info",
        lambda ctx, i: lookups.append(i) or real_get_info(ctx, i),
    )
    sent: list[dict] = []
    client = env.cloud.compute.servers.conductor
    real_build = client.build_instances
    monkeypatch.setattr(
        client,
        "build_instances",
        lambda ctx, u, spec: sent.append(spec) or real_build(ctx, u, spec),
    )
    vm = _boot(env)
    _spawning(env, vm.uuid)
    assert lookups == [env.image]  # the API's, not the conductor's too
    (spec,) = sent
    assert spec["force_host"] is None
    assert spec["image"]["id"] == env.image and spec["image"]["properties"] == {"os": "x"}
    (ctx, instance_spec), *_ = env.agent.spawns
    assert instance_spec["image"]["properties"] == {"os": "x"}
    assert "auth_token" not in instance_spec and ctx.auth_token is None
    assert _events(env, vm.uuid, "create")[1:] == [
        (actions.EV_SCHEDULE, "Success"),
        (actions.EV_NETWORK, "Success"),
        (actions.EV_BLOCK_DEVICE, "Success"),
    ]


def test_an_admins_forced_host_travels_in_the_request_spec_not_in_node(env):
    vm = _boot(env, ADMIN, availability_zone=f"nova:{HOST}", networks="none")
    assert vm.node is None  # nothing of the request parked in a server column
    row = _spawning(env, vm.uuid)
    assert row.host == HOST and row.availability_zone == "nova"

    nowhere = _boot(env, ADMIN, availability_zone="nova:nowhere", networks="none")
    row = _settled(env, nowhere.uuid)
    assert row.vm_state == states.ERROR and row.host is None  # forced: no other host tried
    assert env.cloud.compute.servers.faults([nowhere.uuid])[nowhere.uuid].message.startswith(
        "No valid host was found."
    )


def test_a_failing_step_rolls_back_the_completed_ones_and_leaves_a_fault(env, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("ports are on fire")

    monkeypatch.setattr(env.cloud.network, "allocate_for_instance", broken)
    vm = _boot(env)
    row = _settled(env, vm.uuid)
    assert row.vm_state == states.ERROR and _claims(env) == 0
    fault = env.cloud.compute.servers.faults([vm.uuid])[vm.uuid]
    assert fault.message == "Build failed: ports are on fire"
    assert _events(env, vm.uuid, "create")[1:] == [
        (actions.EV_SCHEDULE, "Success"),
        (actions.EV_NETWORK, "Error"),
        (actions.EV_SCHEDULE + "_rollback", "Success"),
    ]
    assert env.agent.spawns == []


def test_a_failing_rollback_is_in_the_fault_and_the_events(env, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk mapping failed")

    def release_fails(instance_uuid):
        raise RuntimeError("placement is away")

    monkeypatch.setattr("pocketstack.compute.conductor.build_spec", broken)
    monkeypatch.setattr(env.conductor.scheduler, "release", release_fails)
    vm = _boot(env)
    row = _settled(env, vm.uuid)
    assert row.vm_state == states.ERROR
    assert _ports(env, vm.uuid) == []  # the network's rollback still ran
    fault = env.cloud.compute.servers.faults([vm.uuid])[vm.uuid]
    assert "rollback failed: compute__schedule_instances_rollback" in fault.details
    assert _events(env, vm.uuid, "create")[-2:] == [
        (actions.EV_NETWORK + "_rollback", "Success"),
        (actions.EV_SCHEDULE + "_rollback", "Error"),
    ]


# ---------------------------------------------------------------------- the delete


def test_a_delete_on_a_live_host_ends_in_finish_delete_when_the_agent_answers(env):
    vm = _boot(env)
    _spawning(env, vm.uuid)
    assert _claims(env) == 1 and _ports(env, vm.uuid)
    env.cloud.compute.servers.delete(_request(DEMO), vm.uuid)
    ((ctx, uuid),) = env.agent.terminates
    assert uuid == vm.uuid and env.finishes == []
    assert _row(env, vm.uuid).task_state == states.DELETING  # the agent destroys the guest
    env.conductor.terminate_finished(ctx, vm.uuid)  # its answer
    _assert_deleted_and_released(env, vm.uuid)
    finished = _delete_action(env, vm.uuid).finish_time
    env.conductor.terminate_finished(ctx, vm.uuid)  # a duplicate answer changes nothing
    assert _delete_action(env, vm.uuid).finish_time == finished
    assert len(_events(env, vm.uuid, "delete")) == 3


def test_every_delete_path_ends_in_the_same_function(env):
    # through the agent
    through_agent = _boot(env)
    _spawning(env, through_agent.uuid)
    env.cloud.compute.servers.delete(_request(DEMO), through_agent.uuid)
    ((ctx, _),) = env.agent.terminates
    assert env.finishes == []
    env.conductor.terminate_finished(ctx, through_agent.uuid)
    assert env.finishes == [through_agent.uuid]

    # a host-less server (scheduling failed): finished before the API answers
    hostless = _boot(env, ADMIN, availability_zone="nova:nowhere", networks="none")
    _settled(env, hostless.uuid)
    env.cloud.compute.servers.delete(_request(ADMIN), hostless.uuid)
    assert env.finishes[-1] == hostless.uuid and _row(env, hostless.uuid).deleted

    # a host that is down: finished at once too, no cast
    on_down = _boot(env)
    _spawning(env, on_down.uuid)
    _host_down(env)
    casts = len(env.agent.terminates)
    env.cloud.compute.servers.delete(_request(DEMO), on_down.uuid)
    assert len(env.agent.terminates) == casts
    assert env.finishes[-1] == on_down.uuid
    _assert_deleted_and_released(env, on_down.uuid)


def test_the_down_host_sweep_finishes_the_users_delete(env):
    vm = _boot(env)
    _spawning(env, vm.uuid)
    env.cloud.compute.servers.delete(_request(DEMO), vm.uuid)  # handed to the agent...
    assert env.agent.terminates and not _row(env, vm.uuid).deleted
    _host_down(env)  # ... which never answers
    env.conductor.finish_deletes_on_down_hosts()
    assert env.finishes == [vm.uuid]
    _assert_deleted_and_released(env, vm.uuid)  # the user's delete action finished too


def test_a_delete_during_the_build_wins_and_the_build_rolls_back(env, monkeypatch):
    real_allocate = env.cloud.network.allocate_for_instance
    deleted = threading.Event()

    def allocate_then_delete(ctx, uuid, *args):
        network_info = real_allocate(ctx, uuid, *args)
        env.cloud.compute.servers.delete(_request(DEMO), uuid)  # arrives mid-step
        deleted.set()
        return network_info

    monkeypatch.setattr(env.cloud.network, "allocate_for_instance", allocate_then_delete)
    vm = _boot(env)
    assert deleted.wait(10)
    create = wait_until(
        lambda: (a := _create_action(env, vm.uuid)).finish_time and a,
        10,
        "the build stopped",
        interval=0.02,
    )
    assert create.message == "Error"
    assert _events(env, vm.uuid, "create")[1:] == [
        (actions.EV_SCHEDULE, "Success"),
        (actions.EV_NETWORK, "Error"),  # its guarded write lost: it undid its ports
        (actions.EV_SCHEDULE + "_rollback", "Success"),
    ]
    assert env.agent.spawns == []  # never handed to the agent
    ((ctx, uuid),) = env.agent.terminates  # scheduled on a live host: its agent destroys
    env.conductor.terminate_finished(ctx, uuid)
    assert env.finishes == [vm.uuid]
    _assert_deleted_and_released(env, vm.uuid)


def test_a_failing_delete_step_leaves_error_with_a_fault(env, monkeypatch):
    vm = _boot(env, networks="none")
    _spawning(env, vm.uuid)
    _host_down(env)

    real_release = env.conductor.scheduler.release
    away = True

    def release(instance_uuid):
        if away:
            raise RuntimeError("placement is away")
        real_release(instance_uuid)

    monkeypatch.setattr(env.conductor.scheduler, "release", release)
    env.cloud.compute.servers.delete(_request(DEMO), vm.uuid)
    row = _row(env, vm.uuid)
    assert not row.deleted and (row.vm_state, row.task_state) == (states.ERROR, None)
    fault = env.cloud.compute.servers.faults([vm.uuid])[vm.uuid]
    assert fault.message == "Delete failed: placement is away"
    assert _delete_action(env, vm.uuid).message == "Error"
    away = False  # placement is back: deleting again works (the steps are idempotent)
    env.cloud.compute.servers.delete(_request(DEMO), vm.uuid)
    assert _row(env, vm.uuid).deleted and _claims(env) == 0


def _create_action(env, uuid: str):
    (action,) = [a for a in env.cloud.compute.actions.list(ADMIN, uuid) if a.action == "create"]
    return action
