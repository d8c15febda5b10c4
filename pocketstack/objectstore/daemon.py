"""The consistency services' common shape: passes over a node's devices, every ``interval``
seconds in a thread of the node's process (``common/periodic.PeriodicTasks``), or one pass on
demand (``run_once``: tests, operators).

The replicator, auditor, expirer and container updater are ``NodeDaemon``s, as Swift's
``Daemon`` classes share ``run_forever``/``run_once``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketstack.common.periodic import PeriodicTasks

if TYPE_CHECKING:
    from pocketstack.objectstore.node import StorageNode


class NodeDaemon:
    """Passes of one consistency service over ``node``'s devices.

    Args:
        node: the storage node.
        interval: seconds between passes of the thread (``start``); 0: only ``run_once``.

    Subclasses set ``name`` (the thread's) and implement ``run_once``; a pass checks
    ``stopping`` between its steps so ``stop()`` ends it early, and sleeps with ``wait``.
    A pass that raises is logged and the next one runs on time.
    """

    name = "object-daemon"

    def __init__(self, node: StorageNode, interval: float):
        self.node = node
        self.interval = interval
        self._loop = PeriodicTasks(self.name, interval, [self.run_once])

    def start(self) -> None:
        """Run passes every ``interval`` seconds in a thread (none when ``interval`` <= 0)."""
        if self.interval > 0:
            self._loop.start()

    def stop(self) -> None:
        """Stop the thread; a pass in progress ends at its next step."""
        self._loop.stop()

    @property
    def stopping(self) -> bool:
        """Whether ``stop()`` asks the running pass to end."""
        return self._loop.stopping

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` inside a pass, cut short by ``stop()``."""
        return self._loop.wait(seconds)

    def run_once(self) -> Any:
        """One pass over every device (subclasses)."""
        raise NotImplementedError
