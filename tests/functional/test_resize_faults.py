"""Faults of a resize or cold migration after the source's copy, on two fake compute hosts
(``two_hosts``, tests/functional/conftest.py): the destination's guest is destroyed before the
source starts its own again when the move fails there (never two guests of one server), and
a controller killed between writing an agent's report and casting the next step leaves no
server stuck: its restart casts the step again (the bus delivers each message at most once)."""

from __future__ import annotations

import time

from pocketstack.common import errors
from pocketstack.compute import actions, states
from pocketstack.compute.drivers.base import PowerState
from pocketstack.compute.volume_moves import VolumeMoves
from tests.functional.conftest import ADMIN, DEMO, HOSTS
from tests.helpers import wait_until


def other(host):
    return next(h for h in HOSTS if h != host)


def task_of(env, uuid):
    return actions.load_instance(env.cloud.db, uuid).task_state


def test_a_failed_volume_switch_stops_the_destination_guest_before_the_source_starts(
    two_hosts, monkeypatch
):
    env = two_hosts
    server = env.boot()
    source, dest = server.host, other(server.host)

    def refused(self, ctx, instance_uuid, moved):
        raise errors.Conflict("the volume service refused the switch")

    monkeypatch.setattr(VolumeMoves, "switch", refused)
    # what the destination runs at the moment the source starts its guest again
    running_on_dest = []
    source_driver = env.agents[source].driver
    unpark = source_driver.finish_revert_migration

    def watched(spec, power_on):
        running_on_dest.append(env.agents[dest].driver.list_instances())
        return unpark(spec, power_on)

    monkeypatch.setattr(source_driver, "finish_revert_migration", watched)
    env.cloud.compute.resizes.migrate(ADMIN, server.uuid)
    wait_until(lambda: env.failed(server.uuid), 10, "the failed move")
    back = env.settle(server.uuid, "ACTIVE")
    assert back.host == source and back.task_state is None
    assert running_on_dest == [[]]  # the destination's guest was gone first
    assert env.guests() == {source: [server.uuid], dest: []}
    assert source_driver.get_power_state(server.uuid) == PowerState.RUNNING
    assert "refused the switch" in env.fault(server.uuid)
    wait_until(lambda: env.claims() == {server.uuid: (source, 256)}, 10, "the claim released")
    assert env.port_hosts(server.uuid) == {source}


def drop_finish_cast(monkeypatch, conductor):
    """The controller is killed after it wrote ``resize_migrated`` (the server's host is the
    destination, task ``resize_finish``) and before it cast ``finish_resize``."""
    send = conductor._agent

    def killed_before_the_cast(ctx, host, method, **args):
        if method == "finish_resize":
            return None
        return send(ctx, host, method, **args)

    monkeypatch.setattr(conductor, "_agent", killed_before_the_cast)


def assert_finished_on(env, uuid, source, dest):
    moved = env.settle(uuid, "VERIFY_RESIZE")
    assert moved.host == dest and moved.memory_mb == 512
    assert env.guests() == {source: [], dest: [uuid]}
    env.cloud.compute.resizes.confirm_resize(DEMO, uuid)
    env.settle(uuid, "ACTIVE")
    wait_until(lambda: env.claims() == {uuid: (dest, 512)}, 10, "one claim, the new one")


def test_a_controller_killed_before_casting_the_finish_finishes_it_at_restart(
    two_hosts, monkeypatch
):
    env = two_hosts
    server = env.boot()
    source, dest = server.host, other(server.host)
    drop_finish_cast(monkeypatch, env.conductor)
    env.cloud.compute.resizes.resize(DEMO, server.uuid, "2")
    wait_until(lambda: task_of(env, server.uuid) == states.RESIZE_FINISH, 10, "the hand-over")
    time.sleep(1)  # the source's report was written: nobody sends it again
    assert task_of(env, server.uuid) == states.RESIZE_FINISH
    env.restart_conductor()
    assert_finished_on(env, server.uuid, source, dest)
