"""A compute host's report becomes its resource provider with the inventory Nova's drivers
report, allocation ratios and reserved memory from the host's configuration."""

from __future__ import annotations

from pocketstack.common.auth import RequestContext
from pocketstack.placement.compute_hosts import compute_inventory
from pocketstack.placement.inventories import InventoryRecord

SYS = RequestContext.system()
RESOURCES = {"vcpus": 4, "memory_mb": 8192, "local_gb": 40, "hypervisor_type": "fake"}
ALLOCATION = {
    "cpu_allocation_ratio": 16.0,
    "ram_allocation_ratio": 1.5,
    "disk_allocation_ratio": 1.0,
    "reserved_host_memory_mb": 512,
}


def test_the_conductor_makes_the_host_a_provider_once(cloud):
    from pocketstack.compute.agent_reports import AgentReports

    reports = AgentReports(cloud)
    reports.report_compute_node(SYS, "node7", RESOURCES, ALLOCATION)
    reports.report_compute_node(SYS, "node7", RESOURCES, ALLOCATION)  # nothing changed
    (rp,) = cloud.placement.resource_providers.list(SYS, _by_name("node7"))
    generation, found = cloud.placement.inventories.list(SYS, rp.uuid)
    assert generation == 1  # the second report wrote nothing
    shown = {r.resource_class: (r.total, r.reserved, r.allocation_ratio, r.capacity) for r in found}
    assert shown == {
        "VCPU": (4, 0, 16.0, 64),
        "MEMORY_MB": (8192, 512, 1.5, 11520),
        "DISK_GB": (40, 0, 1.0, 40),
    }
    bigger = {**RESOURCES, "vcpus": 8}
    reports.report_compute_node(SYS, "node7", bigger, ALLOCATION)
    assert cloud.placement.inventories.get(SYS, rp.uuid, "VCPU") == (
        2,
        InventoryRecord("VCPU", 8, 0, 1, 8, 1, 16.0),
    )


def test_empty_classes_are_left_out_and_reserved_memory_capped():
    records = compute_inventory({"vcpus": 2, "memory_mb": 256, "local_gb": 0}, ALLOCATION)
    assert [(r.resource_class, r.total, r.reserved) for r in records] == [
        ("VCPU", 2, 0),
        ("MEMORY_MB", 256, 256),
    ]


def _by_name(name):
    from pocketstack.placement.resource_providers import ProviderFilters

    return ProviderFilters(name=name)
