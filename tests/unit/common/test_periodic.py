"""common/periodic.PeriodicTasks: rounds in a thread, failures logged, stop() cuts waits;
SpacedTask: a task due every ``spacing`` s; staggered first runs."""

from __future__ import annotations

import random
import threading
import time

from pocketstack.common.periodic import PeriodicTasks, SpacedTask
from tests.helpers import wait_until


def test_rounds_run_in_order_and_a_failing_task_does_not_stop_the_next():
    calls: list[str] = []

    def fails() -> None:
        calls.append("fails")
        raise RuntimeError("boom")

    loop = PeriodicTasks("t", 0.05, [fails, lambda: calls.append("next")], run_first=True)
    loop.start()
    try:
        wait_until(lambda: calls.count("next") >= 2, 10, "two rounds")
    finally:
        loop.stop()
    assert calls[:2] == ["fails", "next"]


def test_stop_cuts_a_tasks_wait_short_and_stopping_says_so_meanwhile():
    seen: dict[str, object] = {}
    waiting = threading.Event()
    loop: PeriodicTasks

    def long_task() -> None:
        waiting.set()
        started = time.monotonic()
        seen["stopped"] = loop.wait(60)
        seen["stopping"] = loop.stopping
        seen["waited"] = time.monotonic() - started

    loop = PeriodicTasks("t", 0.05, [long_task], run_first=True)
    assert not loop.stopping
    loop.start()
    waiting.wait(10)
    loop.stop(timeout=10)
    assert seen["stopped"] is True and seen["stopping"] is True
    assert float(seen["waited"]) < 60  # woken by stop(), not by the 60 s
    assert not loop.stopping  # the loop is gone


def test_wait_outside_a_running_loop_just_sleeps():
    loop = PeriodicTasks("t", 1, [])
    assert loop.wait(0.01) is False


class _Clock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_spaced_task_runs_only_when_due_and_every_round_with_spacing_zero():
    clock = _Clock()
    ran: list[float] = []
    task = SpacedTask(lambda: ran.append(clock.now), 60, stagger=False, clock=clock)
    every = SpacedTask(lambda: ran.append(-clock.now), 0, clock=clock)
    assert task() is True  # unstaggered: due at once
    for step in (10, 20, 29.9):  # 59.9 s after the first run: not yet
        clock.now += step
        assert task() is False
    clock.now += 0.1
    assert task() is True
    assert ran == [1000.0, 1060.0]
    assert every() is True and every() is True  # spacing 0: every round


def test_staggered_first_runs_spread_over_the_interval():
    clock = _Clock()
    rng = random.Random(13)
    tasks = [SpacedTask(lambda: None, 600, rng=rng, clock=clock) for _ in range(50)]
    delays = [t.next_due - clock.now for t in tasks]
    assert all(0 <= d < 600 for d in delays)
    assert len({round(d) for d in delays}) > 25  # not in step
    assert max(delays) - min(delays) > 300
    loops = [PeriodicTasks("t", 10, [], stagger=True, rng=rng) for _ in range(20)]
    assert all(0 <= loop.first_delay < 10 for loop in loops)
    assert len({loop.first_delay for loop in loops}) == 20
    assert PeriodicTasks("t", 10, []).first_delay == 10  # unstaggered: one interval


def test_a_staggered_loop_runs_its_first_round_after_its_first_delay():
    calls: list[str] = []
    loop = PeriodicTasks("t", 3600, [lambda: calls.append("ran")], stagger=True)
    loop.first_delay = 0.0  # the random draw, made immediate for the test
    loop.start()
    try:
        wait_until(lambda: calls == ["ran"], 10, "the first round")
    finally:
        loop.stop()
