"""Faults in the middle of a move (issue 10, part 3), the whole cloud in one process with two
fake compute hosts (``two_hosts``, tests/functional/conftest.py): a compute agent or the
conductor killed during a live migration, a resize's scheduling, a snapshot or a shelve,
then restarted. The server ends ACTIVE on exactly one host with no task, the migration
``error`` or ``completed``, claims on one host only, its ports bound where it runs, no
image left queued or saving; the instance action records the failure. Also Nova's resize
quota check and ``resize_confirm_window``."""

from __future__ import annotations

import threading
import time

import pytest

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.compute import actions, migrations, states
from pocketstack.compute.drivers.base import DriverError, PowerState
from pocketstack.compute.live_migration import LiveMigrationAPI
from pocketstack.compute.live_migration_recovery import EV_INTERRUPTED
from pocketstack.image.exceptions import ImageNotFound
from tests.functional.conftest import ADMIN, DEMO, HOSTS
from tests.helpers import wait_until


def other(host):
    return next(h for h in HOSTS if h != host)


def live_migrate(env, uuid):
    return LiveMigrationAPI(env.cloud).live_migrate(ADMIN, uuid, None, None)


def dying(env, entered):
    """A stand-in for an agent call that never answers: its agent is killed meanwhile."""
    release = env.block()

    def handler(ctx, instance_uuid, *args, **kwargs):
        entered.set()
        release.wait(60)
        raise DriverError("the agent was killed")

    return handler, release


def assert_back_on_source(env, uuid, source):
    back = env.settle(uuid, "ACTIVE")
    assert back.host == source and back.task_state is None
    assert env.guests() == {source: [uuid], other(source): []}
    assert env.agents[source].driver.get_power_state(uuid) == PowerState.RUNNING
    wait_until(lambda: env.claims() == {uuid: (source, 256)}, 10, "the claim released")
    assert env.port_hosts(uuid) == {source}
    assert env.migration(uuid).status == "error"
    assert (EV_INTERRUPTED, actions.ERROR) in env.events(uuid, "live-migration")
    assert "interrupted" in env.fault(uuid)


def migrates_again(env, uuid, source):
    """The leftovers are gone: a new live migration to the other host works."""
    mig = live_migrate(env, uuid)
    moved = env.settle(uuid, "ACTIVE")
    wait_until(lambda: env.guests()[other(source)] == [uuid], 10, "the guest moved")
    moved = env.cloud.compute.servers.get(ADMIN, uuid)
    assert moved.host == other(source)
    assert env.claims() == {uuid: (other(source), 256)}
    with env.cloud.db.reader() as s:
        assert migrations.get(s, mig).status == "completed"


def test_a_source_killed_mid_live_migration_keeps_the_server_on_it(two_hosts, monkeypatch):
    env = two_hosts
    server = env.boot()
    source = server.host
    entered = threading.Event()
    handler, release = dying(env, entered)
    monkeypatch.setattr(env.agents[source], "live_migration", handler)
    live_migrate(env, server.uuid)
    assert entered.wait(10)  # the copy began; the conductor waits on the source
    env.kill(source)
    env.restart(source)
    assert_back_on_source(env, server.uuid, source)
    # the old workflow's call finally fails: it changes nothing the settling wrote
    release.set()
    time.sleep(0.5)
    assert_back_on_source(env, server.uuid, source)
    migrates_again(env, server.uuid, source)


def test_a_source_killed_after_its_copy_completed_finishes_the_move(two_hosts, monkeypatch):
    env = two_hosts
    server = env.boot()
    source, dest = server.host, other(server.host)
    agent = env.agents[source]
    entered = threading.Event()
    release = env.block()
    copy = agent.live_migration

    def dies(ctx, instance_uuid, migration_id, migrate_data):  # copied, then killed
        copy(ctx, instance_uuid, migration_id, migrate_data)
        entered.set()
        release.wait(60)
        raise DriverError("the agent was killed")

    monkeypatch.setattr(agent, "live_migration", dies)
    live_migrate(env, server.uuid)
    assert entered.wait(10)
    env.kill(source)
    assert env.migration(server.uuid).status == "running"  # nobody heard of the copy
    env.restart(source)
    moved = env.settle(server.uuid, "ACTIVE")
    assert moved.host == dest and moved.task_state is None
    assert env.guests() == {source: [], dest: [server.uuid]}
    assert env.agents[dest].driver.get_power_state(server.uuid) == PowerState.RUNNING
    wait_until(lambda: env.claims() == {server.uuid: (dest, 256)}, 10, "one claim, on dest")
    assert env.port_hosts(server.uuid) == {dest}
    assert env.migration(server.uuid).status == "completed"
    release.set()
    time.sleep(0.5)
    assert env.cloud.compute.servers.get(ADMIN, server.uuid).host == dest
    assert env.guests() == {source: [], dest: [server.uuid]}


def test_a_destination_killed_while_preparing_rolls_back_at_its_restart(two_hosts, monkeypatch):
    env = two_hosts
    server = env.boot()
    source, dest = server.host, other(server.host)
    agent = env.agents[dest]
    entered = threading.Event()
    release = env.block()
    prepare = agent.pre_live_migration

    def dies(ctx, instance_uuid, spec, block_migration):  # prepared, then the agent dies
        prepare(ctx, instance_uuid, spec, block_migration)
        entered.set()
        release.wait(60)
        raise DriverError("the agent was killed")

    monkeypatch.setattr(agent, "pre_live_migration", dies)
    live_migrate(env, server.uuid)
    assert entered.wait(10)
    env.kill(dest)
    assert env.port_hosts(server.uuid) == {dest}  # bound there before the prepare
    env.restart(dest)
    assert_back_on_source(env, server.uuid, source)
    release.set()
    time.sleep(0.5)
    assert_back_on_source(env, server.uuid, source)
    migrates_again(env, server.uuid, source)


def test_a_destination_killed_after_the_copy_finishes_the_move_at_its_restart(
    two_hosts, monkeypatch
):
    env = two_hosts
    server = env.boot()
    source, dest = server.host, other(server.host)
    entered = threading.Event()
    handler, release = dying(env, entered)
    monkeypatch.setattr(env.agents[dest], "post_live_migration_at_destination", handler)
    live_migrate(env, server.uuid)
    assert entered.wait(10)  # the source's guest ended; the destination's not yet its own
    env.kill(dest)
    assert env.guests() == {source: [], dest: []}
    env.restart(dest)
    moved = env.settle(server.uuid, "ACTIVE")
    assert moved.host == dest and moved.task_state is None
    assert env.guests() == {source: [], dest: [server.uuid]}
    assert env.agents[dest].driver.get_power_state(server.uuid) == PowerState.RUNNING
    wait_until(lambda: env.claims() == {server.uuid: (dest, 256)}, 10, "one claim, on dest")
    assert env.port_hosts(server.uuid) == {dest}
    assert env.migration(server.uuid).status == "completed"
    release.set()
    time.sleep(0.5)
    again = env.cloud.compute.servers.get(ADMIN, server.uuid)
    assert (again.host, again.task_state) == (dest, None)
    assert env.guests() == {source: [], dest: [server.uuid]}
    assert env.claims() == {server.uuid: (dest, 256)}


def test_a_conductor_restart_mid_live_migration_settles_it(two_hosts, monkeypatch):
    env = two_hosts
    server = env.boot()
    source = server.host
    entered = threading.Event()
    handler, release = dying(env, entered)
    monkeypatch.setattr(env.agents[source], "live_migration", handler)
    live_migrate(env, server.uuid)
    assert entered.wait(10)
    env.restart_conductor()  # its workflow is gone with it: the new one settles at start
    assert_back_on_source(env, server.uuid, source)
    release.set()
    time.sleep(0.5)
    assert_back_on_source(env, server.uuid, source)


def test_a_conductor_restart_in_resize_prep_fails_the_move(two_hosts, monkeypatch):
    env = two_hosts
    server = env.boot()
    source = server.host
    entered = threading.Event()
    release = env.block()
    select = env.conductor.scheduler.select_destination

    def dies(ctx, request):  # the controller dies while scheduling
        entered.set()
        release.wait(60)
        return select(ctx, request)

    monkeypatch.setattr(env.conductor.scheduler, "select_destination", dies)
    env.cloud.compute.resizes.resize(DEMO, server.uuid, "2")
    assert entered.wait(10)
    env.restart_conductor()
    back = env.settle(server.uuid, "ACTIVE")
    assert back.host == source and back.memory_mb == 256 and back.task_state is None
    assert "controller restart" in env.fault(server.uuid)
    assert env.failed(server.uuid)
    assert env.claims() == {server.uuid: (source, 256)}
    assert env.guests() == {source: [server.uuid], other(source): []}
    release.set()  # the old step's claim is released by its own rollback
    wait_until(lambda: env.claims() == {server.uuid: (source, 256)}, 10, "no claim leaked")
    time.sleep(0.5)
    assert env.claims() == {server.uuid: (source, 256)}
    assert env.cloud.compute.servers.get(ADMIN, server.uuid).task_state is None


def test_a_conductor_restart_while_the_agents_move_a_server_loses_no_report(two_hosts, monkeypatch):
    """The agents' steps of a resize go on while the controller is away; the report the
    source casts meanwhile is lost with it, and sent again until the new conductor writes it
    (``resend_lost_outcomes``): the resize reaches VERIFY_RESIZE, then confirms."""
    env = two_hosts
    server = env.boot()
    source = server.host
    driver = env.agents[source].driver
    entered = threading.Event()
    release = env.block()
    copy = driver.copy_parked_disks

    def slow(uuid, dest_dir):
        entered.set()
        release.wait(60)
        return copy(uuid, dest_dir)

    monkeypatch.setattr(driver, "copy_parked_disks", slow)
    env.cloud.compute.resizes.resize(DEMO, server.uuid, "2")
    assert entered.wait(10)
    env.conductor.stop()  # the controller dies while the source copies
    release.set()  # the copy ends; its report finds no conductor
    time.sleep(0.5)
    row = env.cloud.compute.servers.get(ADMIN, server.uuid)
    assert row.task_state == states.RESIZE_MIGRATING  # nobody wrote the report
    env.restart_conductor()
    moved = env.settle(server.uuid, "VERIFY_RESIZE")
    assert moved.host == other(source) and moved.memory_mb == 512
    assert env.guests() == {source: [], other(source): [server.uuid]}
    env.cloud.compute.resizes.confirm_resize(DEMO, server.uuid)
    env.settle(server.uuid, "ACTIVE")
    wait_until(
        lambda: env.claims() == {server.uuid: (other(source), 512)}, 10, "one claim, the new"
    )


def image_gone(env, image_id) -> bool:
    try:
        image = env.cloud.image.get_image(RequestContext.system(), image_id)
    except ImageNotFound:
        return True
    return image["status"] in ("deleted", "killed")


@pytest.mark.parametrize("action", ["createImage", "shelve"])
def test_an_agent_killed_mid_snapshot_ends_it_at_restart(two_hosts, monkeypatch, action):
    env = two_hosts
    server = env.boot()
    host = server.host
    driver = env.agents[host].driver
    entered = threading.Event()
    release = env.block()

    def dies(uuid, dest, quiesce):  # the copy runs when the agent is killed
        entered.set()
        release.wait(60)
        raise DriverError("the agent was killed")

    monkeypatch.setattr(driver, "snapshot", dies)
    if action == "createImage":
        image_id = env.cloud.compute.server_actions.create_image(DEMO, server.uuid, "snap", {})
    else:
        env.cloud.compute.server_actions.shelve(DEMO, server.uuid)
        image_id = env.cloud.compute.servers.get(ADMIN, server.uuid).spec["shelve"]["image_id"]
    assert entered.wait(10)
    env.kill(host)
    assert not image_gone(env, image_id)  # queued: nothing uploaded yet
    env.restart(host)
    back = env.settle(server.uuid, "ACTIVE")
    assert back.host == host and back.task_state is None and back.vm_state == states.ACTIVE
    assert image_gone(env, image_id)
    assert env.guests()[host] == [server.uuid]
    assert driver.get_power_state(server.uuid) == PowerState.RUNNING
    results = [r for _e, r in env.events(server.uuid, action)]
    assert actions.ERROR in results
    assert "interrupted" in env.fault(server.uuid).lower()
    assert env.claims() == {server.uuid: (host, 256)}


def test_a_resize_beyond_the_quota_is_refused_with_403(two_hosts):
    env = two_hosts
    server = env.boot()  # m1.tiny: 1 vCPU, 256 MiB
    env.cloud.compute.quotas.update(ADMIN, DEMO.project_id, {"cores": 1})
    with pytest.raises(errors.QuotaExceeded) as caught:
        env.cloud.compute.resizes.resize(DEMO, server.uuid, "3")  # m1.medium: 2 vCPUs
    assert caught.value.status == 403
    assert caught.value.message == (
        "Quota exceeded for cores: Requested 1, but already used 1 of 1 cores"
    )
    row = env.cloud.compute.servers.get(ADMIN, server.uuid)
    assert row.task_state is None and row.flavor["name"] == "m1.tiny"
    env.cloud.compute.quotas.update(ADMIN, DEMO.project_id, {"cores": 20, "ram": 300})
    with pytest.raises(errors.QuotaExceeded, match="Quota exceeded for ram: Requested 256"):
        env.cloud.compute.resizes.resize(DEMO, server.uuid, "2")  # m1.small: 512 MiB
    env.cloud.compute.quotas.update(ADMIN, DEMO.project_id, {"ram": 512})
    env.cloud.compute.resizes.resize(DEMO, server.uuid, "2")  # exactly at the limit
    assert env.settle(server.uuid, "VERIFY_RESIZE").memory_mb == 512


def test_resize_confirm_window_confirms_old_resizes(make_two_hosts):
    env = make_two_hosts(resize_confirm_window=1)
    server = env.boot()
    env.cloud.compute.resizes.migrate(ADMIN, server.uuid)
    moved = env.settle(server.uuid, "VERIFY_RESIZE")
    began = time.monotonic()
    confirmed = env.settle(server.uuid, "ACTIVE")
    assert time.monotonic() - began >= 0.5  # not at once: after the window
    assert confirmed.host == moved.host
    wait_until(
        lambda: env.migration(server.uuid).status == "confirmed", 10, "the migration confirmed"
    )
    assert env.claims() == {server.uuid: (moved.host, 256)}
    assert env.guests() == {moved.host: [server.uuid], other(moved.host): []}
    assert env.agents[other(moved.host)].driver.parked_instances() == []


def test_resize_confirm_window_zero_leaves_the_resize_to_the_user(two_hosts):
    env = two_hosts
    assert env.conf.resize_confirm_window == 0
    server = env.boot()
    env.cloud.compute.resizes.migrate(ADMIN, server.uuid)
    env.settle(server.uuid, "VERIFY_RESIZE")
    time.sleep(1.5)  # several periodic rounds
    row = env.cloud.compute.servers.get(ADMIN, server.uuid)
    assert states.status_of(row.vm_state, row.task_state) == "VERIFY_RESIZE"
