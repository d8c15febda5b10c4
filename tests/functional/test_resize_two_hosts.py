"""Resize and cold migration across two fake compute hosts, the whole cloud in one process
(issue 10): a migrate moves the guest to the other host (VERIFY_RESIZE, then confirm: the
source's guest and claim gone); a resize's revert brings it back with the old flavor; a
failed copy or a failed finish leaves the server ACTIVE on its source with no claim
leaked; an agent killed mid-move is settled at its restart (never a guest on two hosts)."""

from __future__ import annotations

import threading

import pytest

from pocketstack.compute import actions, states
from pocketstack.compute.agent import ComputeAgent
from pocketstack.compute.drivers.base import DriverError, PowerState
from tests.functional.conftest import ADMIN, DEMO, HOSTS
from tests.helpers import wait_until


@pytest.fixture
def env(two_hosts):
    """The two-host cloud of tests/functional/conftest.py."""
    return two_hosts


def test_cold_migration_moves_the_guest_and_confirm_frees_the_source(env):
    server = env.boot()
    source = server.host
    dest = next(h for h in HOSTS if h != source)
    env.cloud.compute.resizes.migrate(ADMIN, server.uuid)
    moved = env.settle(server.uuid, "VERIFY_RESIZE")
    assert moved.host == dest
    assert env.guests()[dest] == [server.uuid] and env.guests()[source] == []
    assert env.agents[source].driver.parked_instances() == [server.uuid]
    mig = env.migration(server.uuid)
    assert (mig.status, mig.source_compute, mig.dest_compute) == ("finished", source, dest)
    assert env.claims()[mig.uuid][0] == dest and env.claims()[server.uuid][0] == source
    ports = env.cloud.network.get_instance_network_info(ADMIN, server.uuid)
    assert ports  # bound to the destination
    env.cloud.compute.resizes.confirm_resize(DEMO, server.uuid)
    env.settle(server.uuid, "ACTIVE")
    assert env.claims() == {server.uuid: (dest, 256)}
    assert env.agents[source].driver.parked_instances() == []
    assert env.migration(server.uuid).status == "confirmed"
    events = [e for e, _r in env.events(server.uuid, "migrate")]
    assert events == [
        "conductor_migrate_server",
        "compute_resize_instance",
        "compute_finish_resize",
    ]


def test_resize_revert_goes_back_to_the_source_with_the_old_flavor(env):
    server = env.boot()
    source = server.host
    env.cloud.compute.resizes.resize(DEMO, server.uuid, "2")
    moved = env.settle(server.uuid, "VERIFY_RESIZE")
    assert moved.host != source and moved.memory_mb == 512
    env.cloud.compute.resizes.revert_resize(DEMO, server.uuid)
    back = env.settle(server.uuid, "ACTIVE")
    assert back.host == source and back.memory_mb == 256 and back.flavor["name"] == "m1.tiny"
    wait_until(lambda: env.claims() == {server.uuid: (source, 256)}, 10, "the claim released")
    assert env.guests()[source] == [server.uuid] and env.guests()[moved.host] == []
    assert env.agents[source].driver.get_power_state(server.uuid) == PowerState.RUNNING
    assert env.migration(server.uuid).status == "reverted"


def test_a_failed_copy_leaves_the_server_active_on_its_source(env, monkeypatch):
    server = env.boot()
    source = server.host
    driver = env.agents[source].driver

    def broken(uuid, dest_dir):
        raise DriverError("disk copy failed")

    monkeypatch.setattr(driver, "copy_parked_disks", broken)
    env.cloud.compute.resizes.resize(DEMO, server.uuid, "2")
    wait_until(lambda: env.failed(server.uuid), 10, "the failure")
    back = env.settle(server.uuid, "ACTIVE")
    assert back.host == source and back.memory_mb == 256
    wait_until(lambda: env.claims() == {server.uuid: (source, 256)}, 10, "the claim released")
    assert driver.get_power_state(server.uuid) == PowerState.RUNNING
    assert all(env.guests()[h] == ([server.uuid] if h == source else []) for h in HOSTS)
    assert ("compute_resize_instance", "Error") in env.events(server.uuid, "resize")


def test_a_failed_finish_rolls_back_to_the_source(env, monkeypatch):
    server = env.boot()
    source = server.host
    dest = next(h for h in HOSTS if h != source)

    def broken(spec, power_on):
        raise DriverError("no room for the guest")

    monkeypatch.setattr(env.agents[dest].driver, "finish_migration", broken)
    env.cloud.compute.resizes.migrate(ADMIN, server.uuid)
    wait_until(lambda: env.failed(server.uuid), 10, "the failure")
    back = env.settle(server.uuid, "ACTIVE")
    assert back.host == source
    wait_until(lambda: env.claims() == {server.uuid: (source, 256)}, 10, "the claim released")
    assert env.guests() == {source: [server.uuid], dest: []}
    assert env.agents[source].driver.parked_instances() == []


def test_an_agent_killed_mid_copy_is_settled_at_its_restart(env):
    server = env.boot()
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
    back = env.settle(server.uuid, "ACTIVE")
    assert back.host == source and back.memory_mb == 256
    assert restarted.driver.get_power_state(server.uuid) == PowerState.RUNNING
    wait_until(lambda: env.claims() == {server.uuid: (source, 256)}, 10, "the claim released")
    assert env.migration(server.uuid).status == "error"


def test_deleting_a_resized_server_frees_both_hosts(env):
    server = env.boot()
    source = server.host
    env.cloud.compute.resizes.migrate(ADMIN, server.uuid)
    env.settle(server.uuid, "VERIFY_RESIZE")
    env.cloud.compute.servers.delete(DEMO, server.uuid)
    wait_until(lambda: env.claims() == {}, 10, "every claim released")
    wait_until(
        lambda: env.agents[source].driver.parked_instances() == [], 10, "the parked guest swept"
    )
    assert env.guests() == {h: [] for h in HOSTS}


def test_a_destination_killed_mid_finish_brings_the_server_back_at_its_restart(env, monkeypatch):
    server = env.boot()
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
    assert env.guests()[dest] == [server.uuid]  # running there, parked on the source
    restarted = ComputeAgent(agent.conf, env.bus, agent.driver)
    env.agents[dest] = restarted
    restarted.start()
    back = env.settle(server.uuid, "ACTIVE")
    assert back.host == source and back.task_state is None
    wait_until(lambda: env.claims() == {server.uuid: (source, 256)}, 10, "the claim released")
    assert env.guests() == {source: [server.uuid], dest: []}
    assert env.agents[source].driver.get_power_state(server.uuid) == PowerState.RUNNING
    assert env.failed(server.uuid)
