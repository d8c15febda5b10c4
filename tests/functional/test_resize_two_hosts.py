"""Resize and cold migration across two fake compute hosts, the whole cloud in one process
(issue 10): a migrate moves the guest to the other host (VERIFY_RESIZE, then confirm: the
source's guest and claim gone); a resize's revert brings it back with the old flavor; a
failed copy or a failed finish leaves the server ACTIVE on its source with no claim
leaked; an agent killed mid-move is settled at its restart (never a guest on two hosts)."""

from __future__ import annotations

import threading
import types

import pytest
import sqlalchemy as sa

from pocketstack.common.auth import RequestContext
from pocketstack.compute import actions, migrations, states
from pocketstack.compute.agent import ComputeAgent
from pocketstack.compute.conductor import Conductor
from pocketstack.compute.drivers.base import DriverError, PowerState
from pocketstack.compute.drivers.fake import FakeDriver
from pocketstack.compute.models import Allocation
from pocketstack.service import Cloud
from tests.helpers import wait_hypervisor_up, wait_until

DEMO = RequestContext(
    user_id="demo-user", project_id="demo-project", roles=("member",), auth_token="token"
)
ADMIN = RequestContext(user_id="admin-user", project_id="admin-project", roles=("admin",))
HOSTS = ("node1", "node2")


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
    image = cloud.image.create_image_from_file(
        RequestContext.system(), "cirros", disk, disk_format="raw"
    )
    conductor = Conductor(cloud)
    conductor.start()
    agents = {}
    for host in HOSTS:
        host_conf = conf.replace(hostname=host, state_dir=tmp_path / host)
        agents[host] = ComputeAgent(host_conf, bus, FakeDriver(host_conf))
        agents[host].start()
        wait_hypervisor_up(cloud, host)
    yield types.SimpleNamespace(cloud=cloud, image=image.id, agents=agents, conf=conf, bus=bus)
    for agent in agents.values():
        agent.stop()
    conductor.stop()


def boot(env, name="vm", flavor="1"):
    (server,) = env.cloud.compute.servers.create(
        DEMO, name=name, image_id=env.image, flavor_id=flavor, networks="auto"
    )
    return settle(env, server.uuid)


def settle(env, uuid, status="ACTIVE"):
    def check():
        row = env.cloud.compute.servers.get(ADMIN, uuid)
        return row if states.status_of(row.vm_state, row.task_state) == status else None

    return wait_until(check, 10, f"{uuid} to be {status}", interval=0.02)


def claims(env) -> dict[str, tuple[str, int]]:
    """consumer -> (host, MiB) of every claim."""
    with env.cloud.db.reader() as s:
        rows = s.scalars(sa.select(Allocation)).all()
        return {r.instance_uuid: (r.host, r.memory_mb) for r in rows}


def guests(env) -> dict[str, list[str]]:
    return {h: a.driver.list_instances() for h, a in env.agents.items()}


def the_migration(env, uuid):
    with env.cloud.db.reader() as s:
        (row,) = migrations.for_instance(s, uuid)
        s.expunge(row)
    return row


def failed(env, uuid) -> bool:
    with env.cloud.db.reader() as s:
        return [m.status for m in migrations.for_instance(s, uuid)] == ["error"]


def test_cold_migration_moves_the_guest_and_confirm_frees_the_source(env):
    server = boot(env)
    source = server.host
    dest = next(h for h in HOSTS if h != source)
    env.cloud.compute.resizes.migrate(ADMIN, server.uuid)
    moved = settle(env, server.uuid, "VERIFY_RESIZE")
    assert moved.host == dest
    assert guests(env)[dest] == [server.uuid] and guests(env)[source] == []
    assert env.agents[source].driver.parked_instances() == [server.uuid]
    mig = the_migration(env, server.uuid)
    assert (mig.status, mig.source_compute, mig.dest_compute) == ("finished", source, dest)
    assert claims(env)[mig.uuid][0] == dest and claims(env)[server.uuid][0] == source
    ports = env.cloud.network.get_instance_network_info(ADMIN, server.uuid)
    assert ports  # bound to the destination
    env.cloud.compute.resizes.confirm_resize(DEMO, server.uuid)
    settle(env, server.uuid, "ACTIVE")
    assert claims(env) == {server.uuid: (dest, 256)}
    assert env.agents[source].driver.parked_instances() == []
    assert the_migration(env, server.uuid).status == "confirmed"
    events = [e for e, _r in actions_of(env, server.uuid, "migrate")]
    assert events == [
        "conductor_migrate_server",
        "compute_resize_instance",
        "compute_finish_resize",
    ]


def actions_of(env, uuid, name):
    action = next(a for a in env.cloud.compute.actions.list(ADMIN, uuid) if a.action == name)
    _action, events = env.cloud.compute.actions.get(ADMIN, uuid, action.request_id)
    return [(e.event, e.result) for e in events]


def test_resize_revert_goes_back_to_the_source_with_the_old_flavor(env):
    server = boot(env)
    source = server.host
    env.cloud.compute.resizes.resize(DEMO, server.uuid, "2")
    moved = settle(env, server.uuid, "VERIFY_RESIZE")
    assert moved.host != source and moved.memory_mb == 512
    env.cloud.compute.resizes.revert_resize(DEMO, server.uuid)
    back = settle(env, server.uuid, "ACTIVE")
    assert back.host == source and back.memory_mb == 256 and back.flavor["name"] == "m1.tiny"
    wait_until(lambda: claims(env) == {server.uuid: (source, 256)}, 10, "the claim released")
    assert guests(env)[source] == [server.uuid] and guests(env)[moved.host] == []
    assert env.agents[source].driver.get_power_state(server.uuid) == PowerState.RUNNING
    assert the_migration(env, server.uuid).status == "reverted"


def test_a_failed_copy_leaves_the_server_active_on_its_source(env, monkeypatch):
    server = boot(env)
    source = server.host
    driver = env.agents[source].driver

    def broken(uuid, dest_dir):
        raise DriverError("disk copy failed")

    monkeypatch.setattr(driver, "copy_parked_disks", broken)
    env.cloud.compute.resizes.resize(DEMO, server.uuid, "2")
    wait_until(lambda: failed(env, server.uuid), 10, "the failure")
    back = settle(env, server.uuid, "ACTIVE")
    assert back.host == source and back.memory_mb == 256
    wait_until(lambda: claims(env) == {server.uuid: (source, 256)}, 10, "the claim released")
    assert driver.get_power_state(server.uuid) == PowerState.RUNNING
    assert all(guests(env)[h] == ([server.uuid] if h == source else []) for h in HOSTS)
    assert ("compute_resize_instance", "Error") in actions_of(env, server.uuid, "resize")


def test_a_failed_finish_rolls_back_to_the_source(env, monkeypatch):
    server = boot(env)
    source = server.host
    dest = next(h for h in HOSTS if h != source)

    def broken(spec, power_on):
        raise DriverError("no room for the guest")

    monkeypatch.setattr(env.agents[dest].driver, "finish_migration", broken)
    env.cloud.compute.resizes.migrate(ADMIN, server.uuid)
    wait_until(lambda: failed(env, server.uuid), 10, "the failure")
    back = settle(env, server.uuid, "ACTIVE")
    assert back.host == source
    wait_until(lambda: claims(env) == {server.uuid: (source, 256)}, 10, "the claim released")
    assert guests(env) == {source: [server.uuid], dest: []}
    assert env.agents[source].driver.parked_instances() == []


def test_an_agent_killed_mid_copy_is_settled_at_its_restart(env):
    server = boot(env)
    source = server.host
    agent = env.agents[source]
    agent.stop()  # the source is away: the move waits in its queue
    env.cloud.compute.resizes.resize(DEMO, server.uuid, "2")
    wait_until(
        lambda: (
            actions.load_instance(env.cloud.db, server.uuid).task_state == states.RESIZE_MIGRATING
        ),
        10,
        "the cast to the source",
    )
    # as if it had parked the guest and died before it reported
    agent.driver.park_instance(server.uuid)
    restarted = ComputeAgent(agent.conf, env.bus, agent.driver)
    env.agents[source] = restarted
    restarted.start()
    back = settle(env, server.uuid, "ACTIVE")
    assert back.host == source and back.memory_mb == 256
    assert restarted.driver.get_power_state(server.uuid) == PowerState.RUNNING
    wait_until(lambda: claims(env) == {server.uuid: (source, 256)}, 10, "the claim released")
    assert the_migration(env, server.uuid).status == "error"


def test_deleting_a_resized_server_frees_both_hosts(env):
    server = boot(env)
    source = server.host
    env.cloud.compute.resizes.migrate(ADMIN, server.uuid)
    settle(env, server.uuid, "VERIFY_RESIZE")
    env.cloud.compute.servers.delete(DEMO, server.uuid)
    wait_until(lambda: claims(env) == {}, 10, "every claim released")
    wait_until(
        lambda: env.agents[source].driver.parked_instances() == [], 10, "the parked guest swept"
    )
    assert guests(env) == {h: [] for h in HOSTS}


def test_a_destination_killed_mid_finish_brings_the_server_back_at_its_restart(env, monkeypatch):
    server = boot(env)
    source = server.host
    dest = next(h for h in HOSTS if h != source)
    agent = env.agents[dest]
    started = threading.Event()

    def dies(ctx, instance_uuid, spec, power_on):  # the guest starts, the agent dies
        agent.driver.finish_migration(spec, power_on)
        started.set()

    monkeypatch.setattr(agent, "finish_resize", dies)
    env.cloud.compute.resizes.migrate(ADMIN, server.uuid)
    assert started.wait(10)
    agent.stop()
    assert guests(env)[dest] == [server.uuid]  # running there, parked on the source
    restarted = ComputeAgent(agent.conf, env.bus, agent.driver)
    env.agents[dest] = restarted
    restarted.start()
    back = settle(env, server.uuid, "ACTIVE")
    assert back.host == source and back.task_state is None
    wait_until(lambda: claims(env) == {server.uuid: (source, 256)}, 10, "the claim released")
    assert guests(env) == {source: [server.uuid], dest: []}
    assert env.agents[source].driver.get_power_state(server.uuid) == PowerState.RUNNING
    assert failed(env, server.uuid)
