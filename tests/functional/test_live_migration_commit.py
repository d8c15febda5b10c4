"""The end of a live migration, after the copy, on two fake hosts (``two_hosts``,
tests/functional/conftest.py): once the source's guest ended nothing is undone (the server
ends ACTIVE on the destination, or ERROR there with the reason, never running nowhere), and
a settler that ended the migration meanwhile is not overwritten by the workflow's commit."""

from __future__ import annotations

import threading

from pocketstack.common.auth import RequestContext
from pocketstack.compute import states
from pocketstack.compute.drivers.base import DriverError
from pocketstack.compute.live_migration import LiveMigrationAPI
from pocketstack.compute.live_migration_recovery import LOST
from tests.functional.conftest import ADMIN, HOSTS
from tests.helpers import wait_until


def other(host):
    return next(h for h in HOSTS if h != host)


def test_a_destination_that_cannot_take_the_guest_leaves_the_server_in_error_there(
    two_hosts, monkeypatch
):
    env = two_hosts
    server = env.boot()
    source, dest = server.host, other(server.host)

    def refuses(ctx, instance_uuid, spec, running):
        raise DriverError("the destination refuses the guest")

    monkeypatch.setattr(env.agents[dest], "post_live_migration_at_destination", refuses)
    LiveMigrationAPI(env.cloud).live_migrate(ADMIN, server.uuid, None, None)
    failed = env.settle(server.uuid, "ERROR")
    assert (failed.host, failed.task_state) == (dest, None)
    assert LOST in env.fault(server.uuid)
    assert env.migration(server.uuid).status == "error"
    # not rolled back: the destination keeps what it prepared (the only copy of the guest),
    # the ports and the claim are the destination's
    assert env.guests()[source] == []
    assert server.uuid in env.agents[dest].driver._lm_state()["incoming"]
    assert env.port_hosts(server.uuid) == {dest}
    wait_until(lambda: env.claims() == {server.uuid: (dest, 256)}, 10, "one claim, on dest")


def test_the_workflow_commit_does_not_overwrite_a_settler_that_ended_it(two_hosts, monkeypatch):
    """An agent restart settles the migration while the workflow is about to commit: the
    settler's ``error`` stays, the action is finished once."""
    env = two_hosts
    server = env.boot()
    dest = other(server.host)
    agent = env.agents[dest]
    finish = agent.post_live_migration_at_destination
    calls = []

    def finishes_once(ctx, instance_uuid, spec, running):
        calls.append(instance_uuid)
        if len(calls) > 1:
            raise DriverError("the destination lost the guest")
        return finish(ctx, instance_uuid, spec, running)

    monkeypatch.setattr(agent, "post_live_migration_at_destination", finishes_once)
    move_claim = env.conductor.scheduler.move_claim
    settled = []

    def settler_first(consumer, instance_uuid):
        if not settled:  # the dest agent restarts now: its settling runs before the commit
            settled.append(instance_uuid)
            env.conductor.live_migrations_interrupted(RequestContext.system(), dest)
        return move_claim(consumer, instance_uuid)

    monkeypatch.setattr(env.conductor.scheduler, "move_claim", settler_first)
    complete = env.conductor._lm_complete
    ended = threading.Event()

    def then_ended(task):
        complete(task)
        ended.set()

    monkeypatch.setattr(env.conductor, "_lm_complete", then_ended)
    LiveMigrationAPI(env.cloud).live_migrate(ADMIN, server.uuid, None, None)
    assert ended.wait(10)  # the workflow's commit ran after the settler's
    failed = env.settle(server.uuid, "ERROR")
    assert settled and len(calls) >= 2
    assert env.migration(server.uuid).status == "error"
    assert LOST in env.fault(server.uuid)
    again = env.cloud.compute.servers.get(ADMIN, server.uuid)
    assert (again.vm_state, again.task_state, again.host) == (states.ERROR, None, dest)
    assert failed.host == dest
