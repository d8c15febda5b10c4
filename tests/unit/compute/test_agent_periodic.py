"""The compute agent's periodic tasks at their own intervals, as Nova's (issue 13):
heartbeat every ``report_interval``, resources every ``update_resources_interval``,
power-state sync and orphan sweep every ``sync_power_state_interval``; 0 means every
``periodic_interval``. Each first run is at a random point of its interval, so a fleet's
hosts spread their reports. Driven by a clock the test moves: no sleeps, no timing."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from pocketstack.compute import agent
from pocketstack.compute.drivers.fake import FakeDriver


class Conductor:
    """The conductor as the agent sees it: counts what the agent sends."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def send(*args: Any, **kwargs: Any) -> Any:
            self.sent[name] += 1
            return [] if name == "instances_on_host" else None

        return send


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


NOVA = {
    "periodic_interval": 10.0,
    "report_interval": 10.0,
    "update_resources_interval": 60.0,
    "sync_power_state_interval": 600.0,
}


def _agent(conf, bus, **intervals: float) -> agent.ComputeAgent:
    conf = conf.replace(hostname="node1", **intervals)
    host = agent.ComputeAgent(conf, bus, FakeDriver(conf), images_auth=None)
    host.conductor = Conductor()  # type: ignore[assignment]
    return host


def test_each_task_gets_its_own_interval_and_zero_means_the_periodic_interval(conf, bus):
    host = _agent(conf, bus, **NOVA)
    assert host._heartbeat.interval == 10.0
    assert host.resources_task.spacing == 60.0
    assert host.sync_task.spacing == 600.0
    assert host._periodic.interval == 10.0  # the tick: outcomes resent, tasks when due
    zero = _agent(
        conf,
        bus,
        periodic_interval=2.0,
        report_interval=0,
        update_resources_interval=0,
        sync_power_state_interval=0,
    )
    assert zero._heartbeat.interval == 2.0
    assert (zero.resources_task.spacing, zero.sync_task.spacing) == (2.0, 2.0)


def test_over_an_hour_of_rounds_resources_go_every_minute_and_sync_every_ten(conf, bus):
    host = _agent(conf, bus, **NOVA)
    clock = Clock()
    for task in (host.resources_task, host.sync_task):
        offset = task.next_due - task.clock()  # the staggered first delay
        assert 0 <= offset < task.spacing
        task.clock, task.next_due = clock, offset
    for _ in range(360):  # 3,600 s of 10-second ticks
        host._periodic.run_once()
        clock.now += 10
    sent = host.conductor.sent  # type: ignore[attr-defined]
    assert sent["report_compute_node"] in (59, 60)
    assert sent["instances_on_host"] in (5, 6)  # one read per sync round
    assert sent["report_service"] == 0  # heartbeats are the other loop's


def test_hosts_started_together_do_not_report_in_step(conf, bus):
    hosts = [_agent(conf, bus, **NOVA) for _ in range(30)]
    firsts = {round(h.resources_task.next_due - h.resources_task.clock(), 3) for h in hosts}
    beats = {round(h._heartbeat.first_delay, 3) for h in hosts}
    syncs = [h.sync_task.next_due - h.sync_task.clock() for h in hosts]
    assert len(firsts) > 20 and len(beats) > 20
    assert max(syncs) - min(syncs) > 60


@pytest.mark.parametrize("heartbeat", [True, False])
def test_start_reports_once_and_the_heartbeat_loop_runs_unless_a_fleet_sends_it(
    conf, bus, heartbeat
):
    host = _agent(conf, bus, **NOVA)
    host.heartbeat = heartbeat
    host._wait_for_conductor = lambda: None  # type: ignore[method-assign]
    host.start()
    try:
        sent = host.conductor.sent  # type: ignore[attr-defined]
        assert (sent["report_service"], sent["report_compute_node"]) == (1, 1)
        assert host._heartbeat._thread is not None if heartbeat else host._heartbeat._thread is None
    finally:
        host.stop()
