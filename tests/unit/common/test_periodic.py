"""common/periodic.PeriodicTasks: rounds in a thread, failures logged, stop() cuts waits."""

from __future__ import annotations

import threading
import time

from pocketstack.common.periodic import PeriodicTasks
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
