"""The Placement service's manager (``cloud.placement``): one object per resource family.

- ``resource_providers`` (``resource_providers.ResourceProviders``: providers, their
  aggregates and traits), ``inventories``, ``resource_classes``, ``traits``,
  ``allocations`` (allocations and usages), ``allocation_candidates``.
- ``compute_hosts`` (``compute_hosts.ComputeHosts``): each compute host's provider and
  inventory, written when the conductor gets the host's report.

No bus and no agents: compute hosts are reported by the conductor, which calls these
families in-process (docs/placement.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pocketstack.placement import policies as _policies  # noqa: F401  (registers the rules)
from pocketstack.placement.allocation_candidates import AllocationCandidates
from pocketstack.placement.allocations import Allocations
from pocketstack.placement.compute_hosts import ComputeHosts
from pocketstack.placement.inventories import Inventories
from pocketstack.placement.resource_classes import ResourceClasses
from pocketstack.placement.resource_providers import ResourceProviders
from pocketstack.placement.traits import Traits

if TYPE_CHECKING:
    from pocketstack.service import Cloud


class PlacementManager:
    """Entry point of the Placement service for the API layer and other services."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.resource_providers = ResourceProviders(cloud)
        self.inventories = Inventories(cloud)
        self.resource_classes = ResourceClasses(cloud)
        self.traits = Traits(cloud)
        self.allocations = Allocations(cloud)
        self.allocation_candidates = AllocationCandidates(cloud)
        self.compute_hosts = ComputeHosts(cloud)
