"""Periodic tasks: functions run every ``interval`` seconds in one daemon thread.

Used by agents (heartbeat, power-state sync, reconciliation) and controllers. A task that
raises is logged with its traceback and the loop goes on; ``stop()`` wakes the thread at once
and waits for the running task to return::

    loop = PeriodicTasks("compute-agent", conf.periodic_interval, [self.heartbeat, self.sync])
    loop.start()
    ...
    loop.stop()

A fleet of agents started together would run their rounds in step (1,000 fake hosts'
heartbeats in the same second); ``stagger=True`` starts each loop's first round at a
random point within its interval instead, as Nova's periodic tasks spread theirs
(``run_immediately=False`` with a random initial delay).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence

LOG = logging.getLogger(__name__)


class PeriodicTasks:
    """Run ``tasks`` in order, every ``interval`` seconds, in a daemon thread named ``name``.

    Args:
        name: thread name (shows in logs and ``py-spy``).
        interval: seconds between the end of one round and the start of the next.
        tasks: callables without arguments.
        run_first: run a round immediately on ``start()`` (else after ``first_delay``).
        stagger: the first round comes after a random delay in ``[0, interval)`` instead of
            one whole interval (``rng`` draws it; ``random`` by default).

    Attributes:
        first_delay: seconds from ``start()`` to the first round (when not ``run_first``).
    """

    def __init__(
        self,
        name: str,
        interval: float,
        tasks: Sequence[Callable[[], object]],
        run_first: bool = False,
        stagger: bool = False,
        rng: random.Random | None = None,
    ):
        self.name = name
        self.interval = max(0.05, float(interval))
        self.tasks = list(tasks)
        self.run_first = run_first
        self.first_delay = (rng or random).uniform(0, self.interval) if stagger else self.interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (a second call is a no-op while it runs)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def run_once(self) -> None:
        """Run every task once in this thread, logging (not raising) failures."""
        for task in self.tasks:
            if self._stop.is_set():
                return
            try:
                task()
            except Exception:  # a supervisor: one failing task must not stop the others; logged
                LOG.exception(
                    "%s: periodic task %s failed", self.name, getattr(task, "__name__", task)
                )

    def _loop(self) -> None:
        if self.run_first:
            self.run_once()
        elif self._stop.wait(self.first_delay):
            return
        else:
            self.run_once()
        while not self._stop.wait(self.interval):
            self.run_once()

    @property
    def stopping(self) -> bool:
        """True from ``stop()`` on a running loop until the loop is gone: a long task checks
        it between steps to end early."""
        return self._stop.is_set() and self._thread is not None

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` in a task, cut short by ``stop()``; True when stopping."""
        return self._stop.wait(seconds) and self._thread is not None

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the loop and wait up to ``timeout`` s for a running round to finish."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None


class SpacedTask:
    """A task of a ``PeriodicTasks`` round that runs only every ``spacing`` seconds (as
    Nova's ``@periodic_task(spacing=...)``): the loop ticks often, each task when it is due.

    Args:
        func: the callable without arguments.
        spacing: seconds between runs; 0 or less: every round.
        stagger: the first run is due after a random delay in ``[0, spacing)`` (``rng``
            draws it) instead of at the first round, so hosts started together spread out.
        clock: monotonic seconds (injected by tests).

    Attributes:
        next_due: the ``clock()`` value from which the next round runs ``func``.
    """

    def __init__(
        self,
        func: Callable[[], object],
        spacing: float,
        stagger: bool = True,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.func = func
        self.spacing = max(0.0, float(spacing))
        self.clock = clock
        self.__name__ = getattr(func, "__name__", "task")
        delay = (rng or random).uniform(0, self.spacing) if stagger else 0.0
        self.next_due = clock() + delay

    def __call__(self) -> bool:
        """Run ``func`` if it is due; True when it ran (its exceptions propagate)."""
        now = self.clock()
        if now < self.next_due:
            return False
        self.next_due = now + self.spacing
        self.func()
        return True
