"""The boot workflow with the whole cloud in one process (no HTTP): API manager -> conductor ->
scheduler -> network -> compute agent -> fake hypervisor, and back for power actions,
deletes, failures and restarts."""

from __future__ import annotations

import types

import pytest
import sqlalchemy as sa

from pocketstack.common.auth import RequestContext
from pocketstack.common.errors import InvalidState
from pocketstack.compute import actions, states
from pocketstack.compute.agent import COMPUTE_INTERRUPTED, ComputeAgent
from pocketstack.compute.conductor import CONTROLLER_INTERRUPTED, Conductor
from pocketstack.compute.drivers.base import PowerState
from pocketstack.compute.drivers.fake import FakeDriver
from pocketstack.compute.exceptions import ServerNotFound
from pocketstack.compute.models import Allocation, ComputeNode, Instance
from pocketstack.compute.rpcapi import AGENT_MESSAGES
from pocketstack.service import Cloud
from tests.helpers import wait_hypervisor_up, wait_until

DEMO = RequestContext(
    user_id="demo-user", project_id="demo-project", roles=("member",), auth_token="token"
)
ADMIN = RequestContext(user_id="admin-user", project_id="admin-project", roles=("admin",))
BOOT_EVENTS = [
    actions.EV_AUTHORIZE,
    actions.EV_SCHEDULE,
    actions.EV_NETWORK,
    actions.EV_BLOCK_DEVICE,
    actions.EV_SPAWN,
]


@pytest.fixture
def env(conf, db, bus, tmp_path):
    conf = conf.replace(
        hostname="node1",
        periodic_interval=0.2,
        compute_vcpus=8,
        compute_memory_mb=4096,
        compute_disk_gb=100,
    )
    cloud = Cloud(conf, db, bus)
    cloud.compute.flavors.bootstrap()
    cloud.network.bootstrap(ADMIN.project_id, DEMO.project_id)
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * 4096)
    system = RequestContext.system()
    image = cloud.image.create_image_from_file(system, "cirros", disk, disk_format="raw")
    broken = cloud.image.create_image_from_file(
        system, "broken", disk, disk_format="raw", properties={"fake_spawn_error": "disk boom"}
    )
    conductor = Conductor(cloud)
    conductor.start()
    driver = FakeDriver(conf)
    agent = ComputeAgent(conf, bus, driver)
    agent.start()
    wait_hypervisor_up(cloud, "node1")
    ns = types.SimpleNamespace(
        cloud=cloud,
        conf=conf,
        db=db,
        bus=bus,
        driver=driver,
        agent=agent,
        conductor=conductor,
        image=image.id,
        broken_image=broken.id,
    )
    yield ns
    ns.agent.stop()
    ns.conductor.stop()  # the one running now: a test may have restarted it


def boot(env, name="vm1", flavor="1", image=None, **kw):
    servers = env.cloud.compute.servers.create(
        DEMO, name=name, image_id=image or env.image, flavor_id=flavor, networks="auto", **kw
    )
    return servers


def server(env, uuid, ctx=DEMO):
    return env.cloud.compute.servers.get(ctx, uuid)


def plant_state(env, uuid, vm_state, task_state):
    """Write a server's states directly, as a killed process leaves them: a state the
    transition table would not let the code reach from where the server is now."""
    with env.db.transaction() as s:
        s.execute(
            sa.update(Instance)
            .where(Instance.uuid == uuid)
            .values(vm_state=vm_state, task_state=task_state)
        )


def wait_status(env, uuid, status, timeout=10.0):
    def check():
        row = env.cloud.compute.servers.get(DEMO, uuid)
        return row if states.status_of(row.vm_state, row.task_state) == status else None

    def detail():
        row = env.cloud.compute.servers.get(ADMIN, uuid)
        fault = env.cloud.compute.servers.faults([uuid]).get(uuid)
        return (
            f"vm_state={row.vm_state} task_state={row.task_state} host={row.host} "
            f"fault={fault and fault.message}"
        )

    return wait_until(check, timeout, f"{uuid} to be {status}", interval=0.02, detail=detail)


def node_usage(env):
    with env.db.reader() as s:
        node = s.scalars(sa.select(ComputeNode).where(ComputeNode.host == "node1")).one()
        allocations = s.scalar(sa.select(sa.func.count()).select_from(Allocation))
        return node.vcpus_used, node.memory_mb_used, allocations


def test_boot_reaches_active_with_host_network_and_recorded_steps(env):
    (vm,) = boot(env, name="My VM_1", metadata={"role": "web"})
    assert states.status_of(vm.vm_state, vm.task_state) == "BUILD"
    assert vm.hostname == "my-vm-1"
    row = wait_status(env, vm.uuid, "ACTIVE")
    assert row.host == "node1" and row.availability_zone == "nova"
    assert row.power_state == PowerState.RUNNING and row.launched_at is not None
    ip = row.network_info[0]["fixed_ips"][0]["ip_address"]
    assert ip.startswith("10.0.0.")
    assert row.spec["image"]["id"] == env.image and "auth_token" not in row.spec

    action, events = env.cloud.compute.actions.get(DEMO, vm.uuid, DEMO.request_id)
    assert action.action == "create" and action.message is None
    assert [e.event for e in events] == BOOT_EVENTS
    for e in events:
        assert e.result == "Success" and e.start_time <= e.finish_time
    assert wait_until(
        lambda: (
            actions.load_instance(env.db, vm.uuid)
            and env.cloud.compute.actions.get(DEMO, vm.uuid, DEMO.request_id)[0].finish_time
        ),
        10,
        "action finished",
        interval=0.02,
    )
    console = env.cloud.compute.servers.console_output(DEMO, vm.uuid, None)
    assert "pocketstack guest my-vm-1 ready" in console
    assert node_usage(env) == (1, 256, 1)


def test_list_filters_and_multi_create(env):
    rows = boot(env, name="web", min_count=2, max_count=2)
    assert [r.name for r in rows] == ["web-1", "web-2"]
    for r in rows:
        wait_status(env, r.uuid, "ACTIVE")
    servers = env.cloud.compute.servers
    assert {r.name for r in servers.list(DEMO, filters={"name": "^web"})} == {"web-1", "web-2"}
    assert servers.list(DEMO, filters={"status": "SHUTOFF"}) == []
    assert len(servers.list(DEMO, filters={"status": "ACTIVE", "flavor": "1"})) == 2
    ip = servers.get(DEMO, rows[0].uuid).network_info[0]["fixed_ips"][0]["ip_address"]
    assert [r.uuid for r in servers.list(DEMO, filters={"ip": ip + "$"})] == [rows[0].uuid]
    first, second = servers.list(DEMO, filters={}, sort_keys=["display_name"], sort_dirs=["asc"])
    assert (first.name, second.name) == ("web-1", "web-2")
    assert [
        r.name
        for r in servers.list(
            DEMO, filters={}, marker=first.uuid, sort_keys=["display_name"], sort_dirs=["asc"]
        )
    ] == ["web-2"]
    other = RequestContext(user_id="x", project_id="other", roles=("member",))
    assert servers.list(other, filters={}) == []
    with pytest.raises(ServerNotFound):
        servers.get(other, rows[0].uuid)
    assert len(servers.list(ADMIN, filters={}, all_projects=True)) == 2


def test_stop_start_reboot_and_wrong_state(env):
    (vm,) = boot(env)
    wait_status(env, vm.uuid, "ACTIVE")
    servers = env.cloud.compute.servers
    with pytest.raises(InvalidState) as exc:
        servers.start(DEMO, vm.uuid)
    assert exc.value.status == 409 and "vm_state active" in exc.value.message

    servers.stop(DEMO, vm.uuid)
    row = wait_status(env, vm.uuid, "SHUTOFF")
    assert row.power_state == PowerState.SHUTDOWN
    assert env.driver.get_power_state(vm.uuid) == PowerState.SHUTDOWN
    with pytest.raises(InvalidState):
        servers.reboot(DEMO, vm.uuid, hard=False)

    servers.start(DEMO, vm.uuid)
    wait_status(env, vm.uuid, "ACTIVE")
    servers.reboot(DEMO, vm.uuid, hard=False)
    wait_status(env, vm.uuid, "ACTIVE")
    servers.stop(DEMO, vm.uuid)
    wait_status(env, vm.uuid, "SHUTOFF")
    servers.reboot(DEMO, vm.uuid, hard=True)
    assert wait_status(env, vm.uuid, "ACTIVE").power_state == PowerState.RUNNING
    names = [a.action for a in env.cloud.compute.actions.list(DEMO, vm.uuid)]
    assert names == ["reboot", "stop", "reboot", "start", "stop", "create"]


def test_delete_releases_claim_ports_and_guest(env):
    (vm,) = boot(env)
    wait_status(env, vm.uuid, "ACTIVE")
    assert env.cloud.network.get_instance_network_info(DEMO, vm.uuid)
    env.cloud.compute.servers.delete(DEMO, vm.uuid)
    wait_until(lambda: actions.load_instance(env.db, vm.uuid).deleted, 10, "deleted", interval=0.02)
    with pytest.raises(ServerNotFound):
        server(env, vm.uuid)
    assert env.cloud.compute.servers.list(DEMO, filters={}) == []
    assert [r.uuid for r in env.cloud.compute.servers.list(DEMO, filters={"deleted": True})] == [
        vm.uuid
    ]
    assert node_usage(env) == (0, 0, 0)
    assert env.cloud.network.get_instance_network_info(DEMO, vm.uuid) == []
    assert vm.uuid not in env.driver.list_instances()
    action = env.cloud.compute.actions.list(DEMO, vm.uuid)[0]
    assert action.action == "delete" and action.finish_time is not None


def test_no_valid_host_sets_error_with_fault_and_claims_nothing(env):
    env.cloud.compute.flavors.create(ADMIN, name="huge", ram=16384, vcpus=1, disk=1, flavorid="99")
    (vm,) = boot(env, flavor="99")
    row = wait_status(env, vm.uuid, "ERROR")
    fault = env.cloud.compute.servers.faults([vm.uuid])[vm.uuid]
    assert fault.code == 500 and fault.message.startswith("No valid host was found.")
    assert row.host is None and node_usage(env) == (0, 0, 0)
    action, events = env.cloud.compute.actions.get(DEMO, vm.uuid, DEMO.request_id)
    assert action.message == "Error"
    assert [(e.event, e.result) for e in events] == [
        (actions.EV_AUTHORIZE, "Success"),
        (actions.EV_SCHEDULE, "Error"),
    ]
    env.cloud.compute.servers.delete(DEMO, vm.uuid)  # no host: finished at once
    assert actions.load_instance(env.db, vm.uuid).deleted


def test_spawn_failure_sets_error_and_releases_claim_and_ports(env):
    (vm,) = boot(env, image=env.broken_image)
    wait_status(env, vm.uuid, "ERROR")
    assert env.cloud.compute.servers.faults([vm.uuid])[vm.uuid].message == "disk boom"
    wait_until(lambda: node_usage(env) == (0, 0, 0), 10, "claim released", interval=0.02)
    wait_until(
        lambda: env.cloud.network.get_instance_network_info(DEMO, vm.uuid) == [],
        10,
        "ports deleted",
        interval=0.02,
    )
    _, events = env.cloud.compute.actions.get(DEMO, vm.uuid, DEMO.request_id)
    assert events[-1].event == actions.EV_SPAWN and events[-1].result == "Error"
    assert "disk boom" in events[-1].traceback


def test_dead_guest_turns_server_shutoff(env):
    (vm,) = boot(env)
    wait_status(env, vm.uuid, "ACTIVE")
    env.driver.power_off(vm.uuid)  # the guest died behind the agent's back
    assert wait_status(env, vm.uuid, "SHUTOFF").power_state == PowerState.SHUTDOWN


def test_agent_restart_destroys_orphans_and_fails_interrupted_spawns(env):
    (vm,) = boot(env)
    wait_status(env, vm.uuid, "ACTIVE")
    (kept,) = boot(env, name="kept")
    wait_status(env, kept.uuid, "ACTIVE")
    env.agent.stop()
    env.driver.spawn({"uuid": "orphan-guest", "name": "orphan"})
    # as if the agent was killed while spawning vm
    plant_state(env, vm.uuid, states.BUILDING, states.SPAWNING)
    env.agent = ComputeAgent(env.conf, env.bus, env.driver)
    env.agent.start()
    assert "orphan-guest" not in env.driver.list_instances()
    assert vm.uuid not in env.driver.list_instances()
    assert kept.uuid in env.driver.list_instances()
    wait_status(env, vm.uuid, "ERROR")
    assert env.cloud.compute.servers.faults([vm.uuid])[vm.uuid].message == COMPUTE_INTERRUPTED
    wait_until(lambda: node_usage(env)[2] == 1, 10, "the interrupted claim released", interval=0.02)
    assert server(env, kept.uuid).vm_state == states.ACTIVE


def test_conductor_restart_fails_interrupted_builds(env):
    (vm,) = boot(env)
    wait_status(env, vm.uuid, "ACTIVE")
    plant_state(env, vm.uuid, states.BUILDING, states.NETWORKING)
    env.conductor.stop()
    env.conductor = Conductor(env.cloud)
    env.conductor.start()
    row = server(env, vm.uuid)
    assert row.vm_state == states.ERROR
    assert env.cloud.compute.servers.faults([vm.uuid])[vm.uuid].message == CONTROLLER_INTERRUPTED
    assert node_usage(env) == (0, 0, 0)
    assert env.cloud.network.get_instance_network_info(DEMO, vm.uuid) == []


def test_fake_guests_are_recreated_after_a_process_restart(env):
    (running,) = boot(env, name="running")
    (stopped,) = boot(env, name="stopped")
    wait_status(env, running.uuid, "ACTIVE")
    wait_status(env, stopped.uuid, "ACTIVE")
    env.cloud.compute.servers.stop(DEMO, stopped.uuid)
    wait_status(env, stopped.uuid, "SHUTOFF")
    env.agent.stop()
    env.driver = FakeDriver(env.conf)  # a new process: the fake forgot its guests
    env.agent = ComputeAgent(env.conf, env.bus, env.driver)
    env.agent.start()
    assert env.driver.get_power_state(running.uuid) == PowerState.RUNNING
    assert env.driver.get_power_state(stopped.uuid) == PowerState.SHUTDOWN
    assert server(env, running.uuid).vm_state == states.ACTIVE
    assert server(env, stopped.uuid).vm_state == states.STOPPED


def test_conductor_restart_resends_a_spawn_it_recorded_but_never_sent(env):
    env.agent.stop()  # unserves compute.node1
    (vm,) = boot(env)  # handed to node1 (spawning), but the cast finds no agent: lost
    wait_until(
        lambda: server(env, vm.uuid).task_state == states.SPAWNING, 10, "spawning", interval=0.02
    )
    env.bus.serve(env.agent.target, env.agent, AGENT_MESSAGES)  # back, nothing arrives
    env.conductor.recover_orphaned_builds()  # not even after a periodic round: its own build
    assert server(env, vm.uuid).task_state == states.SPAWNING
    env.conductor.stop()
    env.conductor = Conductor(env.cloud)
    env.conductor.start()
    wait_status(env, vm.uuid, "ACTIVE")
    assert vm.uuid in env.driver.list_instances()
    events = env.cloud.compute.actions.list(DEMO, vm.uuid)
    assert all(a.finish_time for a in events)


def test_agent_restart_carries_out_power_actions_cast_while_it_was_away(env):
    (running,) = boot(env, name="running")
    (stopped,) = boot(env, name="stopped")
    wait_status(env, running.uuid, "ACTIVE")
    wait_status(env, stopped.uuid, "ACTIVE")
    env.cloud.compute.servers.stop(DEMO, stopped.uuid)
    wait_status(env, stopped.uuid, "SHUTOFF")
    env.agent.stop()  # unserves compute.node1: the casts below find no agent
    env.cloud.compute.servers.stop(DEMO, running.uuid)  # accepted; the agent is away
    env.cloud.compute.servers.start(DEMO, stopped.uuid)
    assert server(env, running.uuid).task_state == states.POWERING_OFF
    env.driver = FakeDriver(env.conf)  # a new process
    env.agent = ComputeAgent(env.conf, env.bus, env.driver)
    env.agent.start()
    # the agent reports the outcomes as casts to the conductor: wait for them to be written
    row = wait_status(env, running.uuid, "SHUTOFF")
    assert (row.vm_state, row.task_state) == (states.STOPPED, None)
    assert env.driver.get_power_state(running.uuid) == PowerState.SHUTDOWN
    row = wait_status(env, stopped.uuid, "ACTIVE")
    assert (row.vm_state, row.task_state) == (states.ACTIVE, None)
    assert env.driver.get_power_state(stopped.uuid) == PowerState.RUNNING
    for uuid in (running.uuid, stopped.uuid):  # the user's stop/start actions are finished
        assert all(a.finish_time for a in env.cloud.compute.actions.list(DEMO, uuid))
