"""The Compute service's manager: one object per resource family, reached as
``cloud.compute.<family>``.

- ``flavors`` (``flavors.Flavors``), ``keypairs`` (``keypairs.Keypairs``),
  ``quotas`` (``quotas.Quotas``), ``hypervisors`` (``hypervisors.Hypervisors``:
  compute services, hypervisors, availability zones) — the resource APIs;
- ``servers`` (``servers.Servers``), ``server_actions`` (``server_actions.ServerActions``:
  pause, suspend, rescue, lock, password...) and ``actions`` (``actions.InstanceActions``)
  — the server lifecycle, handed to the conductor and compute agents over the bus;
- ``volumes`` (``volumes.Volumes``) — a server's volumes: attach, detach, and the block
  devices of builds and deletes;
- ``server_groups``, ``server_security_groups``, ``aggregates``, ``usage``,
  ``interfaces``, ``diagnostics``, ``consoles`` — server groups, a server's security
  groups, host aggregates, usage reports, a server's interfaces (hot-plugged NICs), its
  diagnostics, its remote consoles (one-time console tokens);
- ``server_external_events`` (``external_events.ServerExternalEvents``) — what other
  services tell Compute about a server (the Network service's ``network-changed``).

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
        from pocketstack.compute.actions import InstanceActions
        from pocketstack.compute.aggregates import Aggregates
        from pocketstack.compute.consoles import Consoles
        from pocketstack.compute.diagnostics import Diagnostics
        from pocketstack.compute.external_events import ServerExternalEvents
        from pocketstack.compute.flavors import Flavors
        from pocketstack.compute.hypervisors import Hypervisors
        from pocketstack.compute.interfaces import Interfaces
        from pocketstack.compute.keypairs import Keypairs
        from pocketstack.compute.migrations import Migrations
        from pocketstack.compute.quotas import Quotas
        from pocketstack.compute.resize import Resizes
        from pocketstack.compute.server_actions import ServerActions
        from pocketstack.compute.server_groups import ServerGroups
        from pocketstack.compute.server_security_groups import ServerSecurityGroups
        from pocketstack.compute.servers import Servers
        from pocketstack.compute.tags import Tags
        from pocketstack.compute.usage import Usage
        from pocketstack.compute.volumes import Volumes

        self.cloud = cloud
        self.flavors = Flavors(cloud)
        self.keypairs = Keypairs(cloud)
        self.quotas = Quotas(cloud)
        self.hypervisors = Hypervisors(cloud)
        self.actions = InstanceActions(cloud)
        self.servers = Servers(cloud)
        self.server_actions = ServerActions(cloud)
        self.tags = Tags(cloud)
        self.server_actions = ServerActions(cloud)
        self.server_external_events = ServerExternalEvents(cloud)
        self.volumes = Volumes(cloud)
        self.server_groups = ServerGroups(cloud)
        self.server_security_groups = ServerSecurityGroups(cloud)
        self.aggregates = Aggregates(cloud)
        self.usage = Usage(cloud)
        self.interfaces = Interfaces(cloud)
        self.diagnostics = Diagnostics(cloud)
        self.consoles = Consoles(cloud)
        self.migrations = Migrations(cloud)
        self.resizes = Resizes(cloud)

    def bootstrap(self) -> None:
        """Create what a new cloud needs (default flavors); idempotent."""
        self.flavors.bootstrap()
