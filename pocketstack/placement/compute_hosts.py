"""Compute hosts as resource providers: what Nova's scheduler report client does for
``nova-compute``, done by the conductor when a compute agent reports its host
(``compute.agent_reports.AgentReports.report_compute_node``).

Each host is one root provider named after its hypervisor hostname, with the inventory
Nova's drivers report: ``VCPU`` (``cpu_allocation_ratio``), ``MEMORY_MB`` (``reserved`` =
``reserved_host_memory_mb``, ``ram_allocation_ratio``) and ``DISK_GB``
(``disk_allocation_ratio``), each with ``max_unit`` = the host's total. The inventory is
written only when it changed, so a periodic report does not bump the provider generation.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pocketstack.common.auth import RequestContext
from pocketstack.placement import exceptions as exc
from pocketstack.placement.inventories import InventoryRecord
from pocketstack.placement.resource_providers import Provider, ProviderFilters

if TYPE_CHECKING:
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)

#: how often a report retries an inventory write that lost to a concurrent change
RETRIES = 3


def compute_inventory(
    resources: Mapping[str, Any], allocation: Mapping[str, Any]
) -> list[InventoryRecord]:
    """The inventory of a compute host.

    Args:
        resources: the driver's ``get_host_resources()`` (``vcpus``, ``memory_mb`` in MiB,
            ``local_gb`` in GiB).
        allocation: the host's ``cpu_allocation_ratio``, ``ram_allocation_ratio``,
            ``disk_allocation_ratio`` and ``reserved_host_memory_mb``.

    A class with a total of 0 is left out (Placement takes no empty inventory); reserved
    memory is capped at the total.
    """
    vcpus = int(resources["vcpus"])
    memory = int(resources["memory_mb"])
    disk = int(resources["local_gb"])
    records = []
    if vcpus > 0:
        ratio = float(allocation["cpu_allocation_ratio"])
        records.append(InventoryRecord("VCPU", vcpus, 0, 1, vcpus, 1, ratio))
    if memory > 0:
        reserved = min(int(allocation["reserved_host_memory_mb"]), memory)
        ratio = float(allocation["ram_allocation_ratio"])
        records.append(InventoryRecord("MEMORY_MB", memory, reserved, 1, memory, 1, ratio))
    if disk > 0:
        ratio = float(allocation["disk_allocation_ratio"])
        records.append(InventoryRecord("DISK_GB", disk, 0, 1, disk, 1, ratio))
    return records


class ComputeHosts:
    """``cloud.placement.compute_hosts``: the providers of compute hosts."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def update(self, ctx: RequestContext, name: str, inventory: list[InventoryRecord]) -> Provider:
        """Make sure the provider ``name`` exists with ``inventory``; the provider.

        Raises:
            InventoryInUse (409): the new inventory drops a class that has allocations.
            ConcurrentUpdate (409): still losing to concurrent changes after ``RETRIES``.
        """
        placement = self.cloud.placement
        for _attempt in range(RETRIES):
            found = placement.resource_providers.list(ctx, ProviderFilters(name=name))
            if found:
                provider = found[0]
            else:
                try:
                    provider = placement.resource_providers.create(ctx, name)
                except exc.DuplicateName:  # another controller made it meanwhile
                    continue
            generation, current = placement.inventories.list(ctx, provider.uuid)
            wanted = sorted(inventory, key=lambda r: r.resource_class)
            if current == wanted:
                return provider
            try:
                placement.inventories.replace(ctx, provider.uuid, generation, wanted)
            except exc.ProviderGenerationConflict:
                continue
            return placement.resource_providers.get(ctx, provider.uuid)
        raise exc.ConcurrentUpdate(f"Unable to update the inventory of compute host {name}.")
