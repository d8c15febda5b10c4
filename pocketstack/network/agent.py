"""The network agent of one host: makes the host's data plane match what the server wants.

docs/network-dataplane.md, "Shape: level-triggered agents". One process role set per host,
as Neutron's agents: the L2 role (the linuxbridge agent: bridges, VXLAN, taps) and its
security groups on every host, the DHCP and L3 roles on the network node. The agent never
applies deltas it could lose: each *round* it asks the server for the whole wanted state of
its host (``get_host_state``) and hands each part to its driver's idempotent ``sync``, in
this order:

1. ``firewall.sync(ports, security_groups)``: filters exist before a port is wired;
2. ``dhcp.sync(dhcp)`` and ``l3.sync(routers)`` (network node): their veths exist before
   the L2 part plugs them, so they are wired in the same round;
3. ``l2.sync(networks, ports)`` -> the ids of the ports wired;
4. ``ports_up`` for wired ports the server does not show ``ACTIVE`` (unless the firewall
   part failed this round: a port is reported up only once it is filtered), ``ports_down``
   for ports shown ``ACTIVE`` that are no longer wired.

A part that raises is logged and the others still run; the next round retries it. Rounds run
one at a time: at start, every ``[network] agent_sync_interval`` seconds, and at once when
the server fans out ``sync`` (requests arriving during a round make one more round, not one
each). Heartbeats (``report_state``, one cast per role) run in their own thread every
``[network] agent_report_interval`` seconds, so a slow round never makes the host look dead.

Served on the bus as ``network_agent.<host>`` (``rpcapi.AGENT_MESSAGES``: only ``sync``).
The agent holds no database credentials and no ``Database``: it learns everything from
``get_host_state`` and reports through the server (``agent_reports``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import Bus
from pocketstack.common.periodic import PeriodicTasks
from pocketstack.network.rpcapi import (
    AGENT_MESSAGES,
    AGENT_ROLES,
    DHCP_AGENT,
    L2_AGENT,
    L3_AGENT,
    NetworkServerClient,
    agent_target,
)

LOG = logging.getLogger(__name__)

#: a port status as the server shows it
ACTIVE = "ACTIVE"


@dataclass
class RoundResult:
    """What one round did.

    Attributes:
        generation: the host state's ``generation`` (None when it could not be read).
        failed: the parts that raised (``firewall``, ``dhcp``, ``l3``, ``l2``, ``report``).
        wired: the port ids the L2 part reported wired (empty when it failed).
        up, down: the port ids reported with ``ports_up`` / ``ports_down``.
    """

    generation: int | None = None
    failed: list[str] = field(default_factory=list)
    wired: set[str] = field(default_factory=set)
    up: list[str] = field(default_factory=list)
    down: list[str] = field(default_factory=list)


def interface_mappings(text: str) -> dict[str, str]:
    """``public:eth-ext,phys2:eth2`` -> ``{"public": "eth-ext", "phys2": "eth2"}``
    (entries without a colon are skipped)."""
    pairs = (item.strip().partition(":") for item in (text or "").split(","))
    return {name: iface for name, sep, iface in pairs if name and sep and iface}


class NetworkAgent:
    """The network agent of ``host`` (default ``conf.hostname``); it has no database.

    Args:
        conf: ``Config`` (``agent_report_interval``, ``agent_sync_interval``, ``local_ip``,
            ``physical_interface_mappings``).
        bus: the ``Bus`` to the server (topic ``network``).
        l2: the L2 driver (a ``NetworkDriver``: ``sync(networks, ports) -> set[port_id]``).
        firewall: the security group part (``sync(ports, security_groups)``).
        dhcp, l3: the network node's parts (``sync(dhcp)``, ``sync(routers)``), or None on
            a compute-only host; each makes the agent report that role.
        host: the host it serves (``binding:host_id`` of its ports).
        netns: the namespace its drivers act in (a lab host's), shown in its report.
    """

    def __init__(
        self,
        conf: Any,
        bus: Bus,
        l2: Any,
        firewall: Any,
        dhcp: Any = None,
        l3: Any = None,
        *,
        host: str | None = None,
        netns: str | None = None,
    ):
        self.conf = conf
        self.bus = bus
        self.l2, self.firewall, self.dhcp, self.l3 = l2, firewall, dhcp, l3
        self.host: str = host or conf.hostname
        self.netns = netns
        self.target = agent_target(self.host)
        self.server = NetworkServerClient(bus)
        #: the result of the last finished round (None before the first)
        self.last_round: RoundResult | None = None
        #: how many rounds finished since start
        self.rounds = 0
        self._devices = 0
        self._start_flag = True
        self._round_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._heartbeat = PeriodicTasks(
            f"network-{self.host}-heartbeat",
            float(conf.agent_report_interval),
            [self.report_state],
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Serve ``network_agent.<host>``, then report every role (``start_flag``; a cast
        sent once the server knows the agent finds its queue), run a first round (failures
        logged: the loop retries), then start the heartbeat and sync threads."""
        self._stopping.clear()
        self.bus.serve(self.target, self, AGENT_MESSAGES)
        self.report_state()
        self.run_round()
        self.start_threads()

    def start_threads(self) -> None:
        """Start the heartbeat thread and the sync loop (what ``start`` ends with)."""
        self._stopping.clear()
        self._heartbeat.start()
        self._thread = threading.Thread(
            target=self._loop, name=f"network-{self.host}-sync", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop serving, the heartbeat and the sync loop (waits for a running round up to
        ``timeout`` s). The data plane stays as it is: guests keep their network."""
        self.bus.unserve(self.target)
        self._stopping.set()
        self._wake.set()
        self._heartbeat.stop(timeout)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None

    def _loop(self) -> None:
        interval = float(self.conf.agent_sync_interval)
        while not self._stopping.is_set():
            self._wake.wait(interval)
            if self._stopping.is_set():
                return
            self._wake.clear()  # requests from now on make one more round
            self.run_round()

    # ------------------------------------------------------------------ bus

    def sync(self, ctx: RequestContext) -> None:
        """The server's fanout: run a round as soon as the current one (if any) ends."""
        self._wake.set()

    # ------------------------------------------------------------------ heartbeats

    def roles(self) -> list[dict[str, Any]]:
        """The ``report_state`` payload of each role this agent runs."""
        kinds = [(L2_AGENT, self._l2_configurations())]
        if self.dhcp is not None:
            kinds.append((DHCP_AGENT, {"dhcp_driver": type(self.dhcp).__name__}))
        if self.l3 is not None:
            kinds.append((L3_AGENT, {"agent_mode": "legacy", "l3_driver": type(self.l3).__name__}))
        result = []
        for agent_type, configurations in kinds:
            binary, topic, zone = AGENT_ROLES[agent_type]
            result.append(
                {
                    "host": self.host,
                    "agent_type": agent_type,
                    "binary": binary,
                    "topic": topic,
                    "availability_zone": zone,
                    "configurations": configurations,
                    "start_flag": self._start_flag,
                }
            )
        return result

    def _l2_configurations(self) -> dict[str, Any]:
        return {
            "local_ip": str(getattr(self.conf, "local_ip", "") or ""),
            "interface_mappings": interface_mappings(
                str(getattr(self.conf, "physical_interface_mappings", "") or "")
            ),
            "tunnel_types": ["vxlan"],
            "l2_population": True,
            "devices": self._devices,
            "netns": self.netns,
        }

    def report_state(self) -> None:
        """Heartbeat of every role (casts: a heartbeat never waits); the first after
        ``start`` carries ``start_flag``."""
        ctx = RequestContext.system()
        for agent in self.roles():
            self.server.report_state(ctx, agent)
        self._start_flag = False

    # ------------------------------------------------------------------ rounds

    def run_round(self) -> RoundResult:
        """One full round (see the module docstring); one at a time. Never raises: what
        failed is logged and listed in the result's ``failed``."""
        with self._round_lock:
            result = self._round()
            self.last_round = result
            self.rounds += 1
            return result

    def _round(self) -> RoundResult:
        result = RoundResult()
        ctx = RequestContext.system()
        try:
            state = self.server.get_host_state(ctx, self.host)
        except Exception as exc:  # no server answered: the next round asks again; logged
            LOG.warning("network agent %s: no host state: %s", self.host, exc)
            result.failed.append("get_host_state")
            return result
        result.generation = state.get("generation")
        ports = state.get("ports") or []
        self._devices = len(ports)
        self._part(result, "firewall", lambda: self.firewall.sync(ports, state["security_groups"]))
        if self.dhcp is not None:
            self._part(result, "dhcp", lambda: self.dhcp.sync(state.get("dhcp") or []))
        if self.l3 is not None:
            self._part(result, "l3", lambda: self.l3.sync(state.get("routers") or []))
        wired = self._part(result, "l2", lambda: self.l2.sync(state["networks"], ports))
        if "l2" in result.failed:
            return result  # what is wired is unknown: report nothing
        result.wired = set(wired or ())
        self._report_ports(ctx, result, ports)
        return result

    def _part(self, result: RoundResult, name: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception:  # one part failing must not stop the others; retried next round
            LOG.exception("network agent %s: %s sync failed", self.host, name)
            result.failed.append(name)
            return None

    def _report_ports(
        self, ctx: RequestContext, result: RoundResult, ports: list[dict[str, Any]]
    ) -> None:
        status = {p["id"]: p.get("status") for p in ports}
        if "firewall" not in result.failed:
            result.up = sorted(p for p in result.wired if p in status and status[p] != ACTIVE)
        result.down = sorted(p for p, s in status.items() if s == ACTIVE and p not in result.wired)
        try:
            if result.up:
                self.server.ports_up(ctx, self.host, result.up)
            if result.down:
                self.server.ports_down(ctx, self.host, result.down)
        except Exception as exc:  # the next round reports them again; logged
            LOG.warning("network agent %s: port status not reported: %s", self.host, exc)
            result.failed.append("report")
