"""A fleet of fake compute hosts in one process (Nova's fake driver does the same for its
scale tests): ``pocketstack compute --compute-driver fake --fake-hosts N`` and
``pocketstack up --fake-hosts N``.

Each host is a real ``ComputeHost`` (its own ``ComputeAgent`` served on
``compute.<name>``, its own fake driver, heartbeat and periodic tasks), named
``<hostname>-fake<i>``; through the conductor each becomes a ``nova-compute`` service, a
compute node and a resource provider, so scale is measured on the real code paths.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pocketstack.common.bus import Bus, InProcessBus

LOG = logging.getLogger(__name__)

#: hosts started at once on the in-process bus (each start waits for the conductor and
#: reports the host); on RabbitMQ one at a time, as a start declares the host's queues on
#: the bus's one consuming connection
START_WORKERS = 16


def fleet_names(hostname: str, count: int) -> list[str]:
    """The host names of a fleet of ``count``: ``<hostname>-fake1`` ... (zero-padded so
    they sort in order)."""
    width = len(str(count))
    return [f"{hostname}-fake{i:0{width}d}" for i in range(1, count + 1)]


class FakeFleet:
    """``count`` fake compute hosts on ``bus``.

    Raises:
        ValueError: the compute driver is not ``fake``.
    """

    def __init__(self, conf: Any, bus: Bus, count: int):
        from pocketstack.service import ComputeHost

        if conf.compute_driver != "fake":
            raise ValueError("--fake-hosts needs --compute-driver fake")
        self.names = fleet_names(conf.hostname, count)
        self.workers = START_WORKERS if isinstance(bus, InProcessBus) else 1
        self.hosts = [ComputeHost(conf.replace(hostname=name), bus) for name in self.names]

    def start(self) -> None:
        """Start every host (``START_WORKERS`` at a time on the in-process bus); the first
        failure is raised."""
        with ThreadPoolExecutor(self.workers, thread_name_prefix="fake-fleet") as pool:
            for _ in pool.map(lambda h: h.start(), self.hosts):
                pass
        LOG.info("%d fake compute hosts started", len(self.hosts))

    def stop(self) -> None:
        """Stop every host's agent."""
        for host in self.hosts:
            host.stop()
