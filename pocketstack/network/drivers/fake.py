"""The fake network data plane: every role of a network agent, recording what it was asked.

Registry name ``fake`` (``[network] network_driver = fake``): a driver *with agents*, so the
server keeps bound ports ``DOWN`` until the agent reports them and fans out ``sync`` after
changes, exactly as with ``linuxbridge``, while nothing touches the kernel. It is the
reference the agent's tests run against and what a bench of many ports uses to measure the
server side and the bus without kernel costs.

Each part keeps ``calls``: the arguments of every ``sync`` (in order), and ``fail``: an
exception the next ``sync`` calls raise while it is set (to test that the agent goes on
with the other parts). ``FakeDriver.sync`` reports every port whose network is wanted as
wired (as if its device existed), unless the port id is in ``missing``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from pocketstack.network.drivers.base import NetworkDriver


class _Recorder:
    """The shared part of the fakes: ``calls`` (the arguments of each ``sync``) and
    ``fail`` (raised by ``sync`` while set)."""

    def __init__(self, conf: Any = None, netns: str | None = None):
        self.conf = conf
        self.netns = netns
        self.calls: list[tuple[Any, ...]] = []
        self.fail: BaseException | None = None
        self._lock = threading.Lock()

    def _record(self, *args: Any) -> None:
        with self._lock:
            self.calls.append(args)
        if self.fail is not None:
            raise self.fail


class FakeDriver(_Recorder, NetworkDriver):
    """The L2 part: remembers the wanted networks and ports and "wires" the ports.

    Attributes:
        networks, ports: ``id -> dict`` of the last successful ``sync``.
        missing: port ids whose device "does not exist yet" (never reported wired).
    """

    name = "fake"
    vif_type = "noop"
    capabilities = {"dhcp": False, "security_groups": False, "vxlan": False, "external": False}
    has_agents = True

    def __init__(self, conf: Any = None, netns: str | None = None):
        _Recorder.__init__(self, conf, netns)
        self.networks: dict[str, dict[str, Any]] = {}
        self.ports: dict[str, dict[str, Any]] = {}
        self.missing: set[str] = set()

    def sync(self, networks: Sequence[dict[str, Any]], ports: Sequence[dict[str, Any]]) -> set[str]:
        """Record the call; returns the ids of the ports on wanted networks, but
        ``missing`` ones and admin-down ones."""
        self._record(list(networks), list(ports))
        self.networks = {n["id"]: dict(n) for n in networks}
        self.ports = {p["id"]: dict(p) for p in ports if p["network_id"] in self.networks}
        return {
            p["id"]
            for p in self.ports.values()
            if p["id"] not in self.missing and p.get("admin_state_up", True)
        }

    def cleanup(self) -> None:
        """Forget everything."""
        self.networks.clear()
        self.ports.clear()


class FakeFirewall(_Recorder):
    """The security group part (as ``firewall.NftablesFirewall``)."""

    def sync(
        self, ports: Sequence[dict[str, Any]], security_groups: Sequence[dict[str, Any]]
    ) -> bool:
        """Record the call; returns whether it differs from the previous one."""
        previous = self.calls[-1] if self.calls else None
        self._record(list(ports), list(security_groups))
        return previous != self.calls[-1]


class FakeDhcp(_Recorder):
    """The DHCP part (as ``dhcp.DnsmasqDhcp``)."""

    def sync(self, dhcp_networks: Iterable[dict[str, Any]]) -> dict[str, str]:
        """Record the call; returns ``network_id -> "served"``."""
        items = list(dhcp_networks)
        self._record(items)
        return {d["network_id"]: "served" for d in items}


class FakeL3(_Recorder):
    """The router part (as ``l3.RouterNamespaces``)."""

    def sync(self, routers: Iterable[dict[str, Any]]) -> dict[str, str]:
        """Record the call; returns ``router_id -> "routed"``."""
        items = list(routers)
        self._record(items)
        return {r["id"]: "routed" for r in items}
