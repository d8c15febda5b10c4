"""A fleet of fake compute hosts in one process (Nova's fake driver does the same for its
scale tests): ``pocketstack compute --compute-driver fake --fake-hosts N`` and
``pocketstack up --fake-hosts N``.

Each host is a real ``ComputeHost`` (its own ``ComputeAgent`` served on
``compute.<name>``, its own fake driver, heartbeat and periodic tasks), named
``<hostname>-fake<i>``; through the conductor each becomes a ``nova-compute`` service, a
compute node and a resource provider, so scale is measured on the real code paths.

Periodic tasks: each host's resource report and power-state sync run at their own
intervals with a random first run (``ComputeAgent``), so 1,000 hosts do not report in the
same second; the heartbeats of the whole fleet go as one ``report_services`` message every
``report_interval`` s, written in one transaction (1,000 single-row heartbeat writes every
10 s held SQLite's write lock against the builds).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import Bus, InProcessBus
from pocketstack.common.periodic import PeriodicTasks
from pocketstack.compute.liveness import COMPUTE_BINARY
from pocketstack.compute.rpcapi import ConductorClient

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
        self.availability_zone = conf.availability_zone
        self.conductor = ConductorClient(bus)
        for host in self.hosts:
            host.agent.heartbeat = False  # the fleet's own loop sends them together
        self._heartbeat = PeriodicTasks(
            "fake-fleet-heartbeat",
            self.hosts[0].agent.report_interval if self.hosts else 10.0,
            [self.report_heartbeats],
            stagger=True,
        )

    def report_heartbeats(self) -> None:
        """One heartbeat of every host of the fleet: a single ``report_services`` cast."""
        self.conductor.report_services(
            RequestContext.system(), self.names, COMPUTE_BINARY, "compute", self.availability_zone
        )

    def start(self) -> None:
        """Start every host (``START_WORKERS`` at a time on the in-process bus); the first
        failure is raised."""
        with ThreadPoolExecutor(self.workers, thread_name_prefix="fake-fleet") as pool:
            for _ in pool.map(lambda h: h.start(), self.hosts):
                pass
        self._heartbeat.start()
        LOG.info("%d fake compute hosts started", len(self.hosts))

    def stop(self) -> None:
        """Stop the fleet's heartbeats and every host's agent."""
        self._heartbeat.stop()
        for host in self.hosts:
            host.stop()
