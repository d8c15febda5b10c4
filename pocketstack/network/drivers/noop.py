"""The no-op network driver: records what it was asked, wires nothing.

Used until the real data plane exists (and by API tests): ports bind with ``vif_type``
``noop`` and guests get their addresses from the config drive only.
"""

from __future__ import annotations

from typing import Any

from pocketstack.network.drivers.base import NetworkDriver


class NoopDriver(NetworkDriver):
    """A driver that keeps the networks and plugged ports in memory and does nothing else."""

    name = "noop"
    vif_type = "noop"
    capabilities = {"dhcp": False, "security_groups": False, "vxlan": False, "external": False}

    def __init__(self, conf: Any = None):
        super().__init__(conf)
        self.networks: dict[str, dict[str, Any]] = {}
        self.plugged: dict[str, str] = {}

    def ensure_network(self, network: dict[str, Any]) -> None:
        """Remember the network."""
        self.networks[network["id"]] = dict(network)

    def delete_network(self, network_id: str) -> None:
        """Forget the network (no error when unknown)."""
        self.networks.pop(network_id, None)

    def plug_vif(self, port: dict[str, Any], host: str) -> None:
        """Remember the port as plugged on ``host``."""
        self.plugged[port["id"]] = host

    def unplug_vif(self, port_id: str, host: str) -> None:
        """Forget the port (no error when unknown)."""
        self.plugged.pop(port_id, None)
