"""The Compute service's manager: one object per resource family, reached as
``cloud.compute.<family>``.

- ``flavors`` (``flavors.FlavorManager``), ``keypairs`` (``keypairs.KeypairManager``),
  ``quotas`` (``quotas.QuotaManager``), ``hypervisors`` (``hypervisors.HypervisorManager``:
  compute services, hypervisors, availability zones) — the resource APIs;
- ``servers`` (``servers.ServerManager``) and ``actions`` (``actions.ActionManager``) — the
  server lifecycle, handed to the conductor and compute agents over the bus.

Each family module stays under ~800 lines; the API layer calls exactly one of their functions
per request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pocketstack.service import Cloud


class ComputeManager:
    """Entry point of the Compute service for the API layer and other services."""

    def __init__(self, cloud: Cloud):
        from pocketstack.compute.actions import ActionManager
        from pocketstack.compute.flavors import FlavorManager
        from pocketstack.compute.hypervisors import HypervisorManager
        from pocketstack.compute.keypairs import KeypairManager
        from pocketstack.compute.quotas import QuotaManager
        from pocketstack.compute.servers import ServerManager

        self.cloud = cloud
        self.flavors = FlavorManager(cloud)
        self.keypairs = KeypairManager(cloud)
        self.quotas = QuotaManager(cloud)
        self.hypervisors = HypervisorManager(cloud)
        self.actions = ActionManager(cloud)
        self.servers = ServerManager(cloud)

    def bootstrap(self) -> None:
        """Create what a new cloud needs (default flavors); idempotent."""
        self.flavors.bootstrap()
