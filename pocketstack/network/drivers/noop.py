"""The no-op network driver: records what it was asked, wires nothing.

Used while no data plane runs (and by API tests): ports bind with ``vif_type`` ``noop`` and
guests get their addresses from the config drive only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pocketstack.network.drivers.base import NetworkDriver


class NoopDriver(NetworkDriver):
    """A driver that keeps the last wanted networks and ports in memory and does nothing else.

    Attributes:
        networks: ``network_id -> network`` of the last ``sync``.
        ports: ``port_id -> port`` of the last ``sync`` whose network was wanted.
    """

    name = "noop"
    vif_type = "noop"
    capabilities = {"dhcp": False, "security_groups": False, "vxlan": False, "external": False}

    def __init__(self, conf: Any = None, netns: str | None = None):
        super().__init__(conf, netns)
        self.networks: dict[str, dict[str, Any]] = {}
        self.ports: dict[str, dict[str, Any]] = {}

    def sync(self, networks: Sequence[dict[str, Any]], ports: Sequence[dict[str, Any]]) -> set[str]:
        """Remember ``networks`` and the ports of those networks; returns their port ids."""
        self.networks = {net["id"]: dict(net) for net in networks}
        self.ports = {p["id"]: dict(p) for p in ports if p["network_id"] in self.networks}
        return set(self.ports)

    def cleanup(self) -> None:
        """Forget everything."""
        self.networks.clear()
        self.ports.clear()
