"""The network data-plane driver contract.

A driver wires networks and ports on one host for the network agent (a later issue); the
manager and the API never call it directly. Rules every driver keeps:

- A failing call cleans up what it made and raises ``NetworkDriverError``.
- Removing what is already gone succeeds (``delete_network``, ``unplug_vif`` are idempotent).
- Backend names (bridges, VXLAN devices, namespaces) stay inside the driver.
- The driver imports neither the database nor another driver.

Drivers are registered by name in ``pocketstack.common.drivers.NETWORK_DRIVERS`` and loaded
from the ``network_driver`` option; this module imports none of them.

Networks and ports are the JSON-safe dicts of the Networking API (``id``, ``mtu``,
``provider:segmentation_id``, ``mac_address``, ``fixed_ips``...).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from pocketstack.common.errors import PocketError


class NetworkDriverError(PocketError):
    """The data plane failed an operation."""

    status = 500
    title = "Network driver error"


class NetworkDriver(ABC):
    """Base of every network data-plane driver.

    Attributes:
        name: registry name (``noop``).
        vif_type: what ports bound by this driver report as ``binding:vif_type`` and what
            the hypervisor driver reads in ``network_info`` (``noop``, ``bridge``, ``tap``).
        capabilities: ``{"dhcp": bool, "security_groups": bool, "vxlan": bool,
            "external": bool}``: which parts of the API this driver makes real.
        has_agents: whether network agents wire the ports (``linuxbridge``, ``fake``): a
            port bound to a host is then ``DOWN`` until its host's agent reports it wired
            (``ports_up``), and the server fans out ``sync`` after data-plane changes.
            Without (``noop``) a bound port is ``ACTIVE`` at once and no agent runs.
    """

    name = "base"
    vif_type = "unbound"
    capabilities: dict[str, bool] = {}
    has_agents = False

    def __init__(self, conf: Any):
        self.conf = conf

    @abstractmethod
    def ensure_network(self, network: dict[str, Any]) -> None:
        """Make ``network`` exist on this host (bridge, VXLAN VNI, DHCP); idempotent."""

    @abstractmethod
    def delete_network(self, network_id: str) -> None:
        """Remove everything of a network on this host; succeeds if already gone."""

    @abstractmethod
    def plug_vif(self, port: dict[str, Any], host: str) -> None:
        """Attach ``port`` (its tap device, filters) on ``host``; idempotent."""

    @abstractmethod
    def unplug_vif(self, port_id: str, host: str) -> None:
        """Detach a port on ``host``; succeeds if it is not plugged."""
