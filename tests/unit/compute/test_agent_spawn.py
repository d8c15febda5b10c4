"""The agent's spawn when the conductor's answers go missing (pocketstack.compute.agent):
a controller killed after it recorded the spawn step but before it answered must not leave the
server in BUILD, and a spawn sent again by a recovering conductor must not fail the server."""

from __future__ import annotations

from typing import Any

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import MessagingTimeout
from pocketstack.compute import agent
from pocketstack.compute.drivers.base import PowerState
from pocketstack.compute.drivers.fake import FakeDriver

UUID = "11111111-2222-3333-4444-555555555555"
CTX = RequestContext(user_id="u1", project_id="p1", roles=("member",))


class Conductor:
    """The conductor as the agent sees it; the first ``lost`` starts get no answer."""

    def __init__(self, lost: int = 0):
        self.lost = lost
        self.task_state: str | None = "spawning"
        self.starts = 0
        self.spawned: list[tuple[str, int]] = []
        self.failed: list[dict[str, Any]] = []

    def action_event_start(self, ctx, uuid, event, host, expected):
        self.starts += 1
        if self.starts <= self.lost:
            raise MessagingTimeout("no reply to action_event_start within 30 s")
        return {"uuid": uuid, "host": host, "task_state": "spawning"}

    def instance_spawned(self, ctx, uuid, host, power_state):
        self.spawned.append((uuid, power_state))

    def instance_spawn_failed(self, ctx, uuid, host, fault):
        self.failed.append(fault)

    def instances_on_host(self, ctx, host):
        return [{"uuid": UUID, "task_state": self.task_state}]


@pytest.fixture
def compute(conf, bus, tmp_path):
    image = tmp_path / "disk.img"
    image.write_bytes(b"\0" * 512)
    conf = conf.replace(hostname="node1", periodic_interval=0)
    host = agent.ComputeAgent(conf, bus, FakeDriver(conf), images_auth=None)
    return host, {"uuid": UUID, "name": "vm1", "image": {"id": "img", "path": str(image)}}


def test_a_lost_answer_to_the_spawn_step_is_asked_again_and_the_guest_spawns(compute):
    host, spec = compute
    host.conductor = conductor = Conductor(lost=1)
    host.build_and_run_instance(CTX, spec)
    assert conductor.starts == 2
    assert conductor.spawned == [(UUID, int(PowerState.RUNNING))]
    assert host.driver.list_instances() == [UUID]


def test_a_spawn_sent_again_reports_the_running_guest_instead_of_failing(compute):
    host, spec = compute
    host.conductor = conductor = Conductor()
    host.build_and_run_instance(CTX, dict(spec, image=dict(spec["image"])))
    host.build_and_run_instance(CTX, dict(spec, image=dict(spec["image"])))
    assert conductor.failed == []
    assert conductor.spawned == [(UUID, int(PowerState.RUNNING))] * 2
    assert host.driver.list_instances() == [UUID]


def test_an_outcome_the_conductor_lost_is_sent_again_until_it_is_written(compute):
    """A controller killed after it took ``instance_spawned`` off the queue loses it (the bus
    delivers at most once): the agent's periodic task sends it again while the server is
    still spawning, and forgets it once the conductor has written it."""
    host, spec = compute
    host.conductor = conductor = Conductor()
    host.build_and_run_instance(CTX, spec)
    host.resend_lost_outcomes()  # the first report was lost: still spawning
    assert conductor.spawned == [(UUID, int(PowerState.RUNNING))] * 2
    conductor.task_state = None  # written now
    host.resend_lost_outcomes()
    host.resend_lost_outcomes()
    assert len(conductor.spawned) == 2
