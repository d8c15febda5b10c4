"""The network data-plane driver contract (the L2 agent's driver, Neutron's linuxbridge
agent's ``LinuxBridgeManager``).

A driver makes the kernel of one host match the wanted state the network agent pulled from
the server (docs/network-dataplane.md, "Shape: level-triggered agents"); the manager and the
API never call it. The agent hands it the *whole* wanted state of its host at every round, so
the contract is one level-triggered call instead of add/remove deltas that can be lost:

- ``sync(networks, ports)`` lists what the kernel has, adds what is missing, removes what is
  no longer wanted and returns the ids of the ports it wired. It is idempotent: a second call
  with the same arguments changes nothing and returns the same set. A restart (or a crash and
  ``kill -9``) converges by the same call.
- It removes only objects carrying pocketstack's names (``brq*``, ``vxlan-*``), never
  anything else of a real host.
- ``cleanup()`` removes everything of pocketstack's the driver made on the host; removing
  what is already gone succeeds.
- Failures raise ``NetworkDriverError`` (with the failing command's stderr); the next
  ``sync`` retries from whatever state the kernel is in.
- The driver imports neither the database nor another driver.

Drivers are registered by name in ``pocketstack.common.drivers.NETWORK_DRIVERS`` and loaded
from the ``network_driver`` option with ``(conf)`` (plus ``netns=`` in the lab); this module
imports none of them.

Networks and ports are the dicts of the host state (``get_host_state``), see the docstring
of ``NetworkDriver.sync``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
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
        conf: the configuration it was built with.
        netns: the network namespace it acts in (a lab host's), None for the current one.
    """

    name = "base"
    vif_type = "unbound"
    capabilities: dict[str, bool] = {}
    has_agents = False

    def __init__(self, conf: Any, netns: str | None = None):
        self.conf = conf
        self.netns = netns

    @abstractmethod
    def sync(self, networks: Sequence[dict[str, Any]], ports: Sequence[dict[str, Any]]) -> set[str]:
        """Make this host's L2 data plane match ``networks`` and ``ports``; idempotent.

        Args:
            networks: the networks present on this host, each ``{"id", "name", "mtu",
                "network_type": "vxlan"|"flat", "segmentation_id": int|None,
                "physical_network": str|None, "remote_vteps": [ip, ...]}``
                (``remote_vteps``: the ``local_ip`` of every other host with ports on it).
                Networks not listed are removed from the host.
            ports: the ports bound to this host, each at least ``{"id", "network_id",
                "mac_address", "admin_state_up", "fixed_ips"}``. A port whose device does not
                exist yet (the guest is still booting) is not wired this round and not an
                error.

        Returns:
            the ids of the ports wired (device present, attached and up); the agent reports
            them with ``ports_up``.

        Raises:
            NetworkDriverError: the kernel refused a change.
        """

    @abstractmethod
    def cleanup(self) -> None:
        """Remove everything pocketstack-named this driver made on the host (bridges, tunnel
        devices); succeeds when nothing is there.

        Raises:
            NetworkDriverError: an object exists and could not be removed.
        """
