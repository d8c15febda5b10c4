"""Placement's managers over the test database: generations, inventory checks, capacity,
allocation candidates, and concurrent allocations that never overcommit a provider."""

from __future__ import annotations

import threading
import uuid

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.placement import exceptions as exc
from pocketstack.placement.allocations import ConsumerAllocations
from pocketstack.placement.inventories import make_record
from pocketstack.placement.resource_providers import ProviderFilters
from tests.helpers import pg_database

SYS = RequestContext.system()


def _host(cloud, name: str, vcpu: int = 4, ratio: float = 1.0, mem: int = 4096):
    rp = cloud.placement.resource_providers.create(SYS, name)
    cloud.placement.inventories.replace(
        SYS,
        rp.uuid,
        rp.generation,
        [
            make_record("VCPU", {"total": vcpu, "allocation_ratio": ratio}, True),
            make_record("MEMORY_MB", {"total": mem, "reserved": 512}, True),
        ],
    )
    return rp


def _claim(cloud, rp_uuid: str, vcpu: int, consumer: str | None = None, generation=None):
    write = ConsumerAllocations(
        consumer or str(uuid.uuid4()), {rp_uuid: {"VCPU": vcpu}}, "p", "u", generation
    )
    cloud.placement.allocations.replace(SYS, [write])
    return write.consumer


@pytest.fixture(params=["sqlite", "postgresql"])
def any_cloud(request, cloud, conf, bus):
    """``cloud`` on SQLite, and the same managers on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield cloud
        return
    from pocketstack.service import Cloud

    with pg_database("placement") as database:
        yield Cloud(conf, database, bus)


def test_a_stale_provider_generation_is_a_concurrent_update(cloud):
    rp = _host(cloud, "node1")
    generation, _ = cloud.placement.inventories.list(SYS, rp.uuid)
    assert generation == 1
    with pytest.raises(exc.ConcurrentUpdate) as err:
        cloud.placement.inventories.replace(
            SYS, rp.uuid, 0, [make_record("VCPU", {"total": 8}, True)]
        )
    assert err.value.status == 409 and err.value.code == "placement.concurrent_update"
    assert cloud.placement.inventories.get(SYS, rp.uuid, "VCPU")[1].total == 4


def test_inventory_values_that_do_not_hold_together_are_refused():
    with pytest.raises(exc.InvalidInventory):
        make_record("VCPU", {"total": 4, "min_unit": 5, "max_unit": 2}, True)
    with pytest.raises(exc.InvalidInventory):
        make_record("VCPU", {"total": 4, "reserved": 5}, True)
    with pytest.raises(exc.InvalidInventory):  # equal only from 1.26
        make_record("VCPU", {"total": 4, "reserved": 4}, False)


def test_allocations_stop_at_capacity_and_free_it_when_removed(cloud):
    rp = _host(cloud, "node1", vcpu=2, ratio=2.0)  # capacity 4
    first = _claim(cloud, rp.uuid, 3)
    with pytest.raises(exc.CapacityExceeded):
        _claim(cloud, rp.uuid, 2)
    assert cloud.placement.allocations.provider_usages(SYS, rp.uuid)[1]["VCPU"] == 3
    with pytest.raises(exc.InventoryInUse):
        cloud.placement.inventories.delete(SYS, rp.uuid, "VCPU")
    cloud.placement.allocations.delete(SYS, first)
    _claim(cloud, rp.uuid, 4)


def test_consumer_generation_guards_a_replace(cloud):
    rp = _host(cloud, "node1")
    consumer = _claim(cloud, rp.uuid, 1, generation=None)
    with pytest.raises(exc.ConsumerGenerationConflict):
        _claim(cloud, rp.uuid, 2, consumer=consumer, generation=None)  # it exists
    _claim(cloud, rp.uuid, 2, consumer=consumer, generation=1)
    view = cloud.placement.allocations.get(SYS, consumer)
    assert view.generation == 2 and view.allocations[rp.uuid][1] == {"VCPU": 2}


def test_candidates_are_filtered_by_capacity_traits_aggregates_and_tree(any_cloud):
    cloud = any_cloud
    small = _host(cloud, "small", vcpu=1)
    big = _host(cloud, "big", vcpu=8)
    busy = _host(cloud, "busy", vcpu=8)
    _claim(cloud, busy.uuid, 7)
    agg = str(uuid.uuid4())
    cloud.placement.resource_providers.set_aggregates(SYS, big.uuid, [agg], None)
    cloud.placement.resource_providers.set_traits(SYS, busy.uuid, ["HW_CPU_X86_AVX2"], 1 + 1)
    find = cloud.placement.allocation_candidates.find

    def names(resources, **filters):
        return [c.provider.name for c in find(SYS, resources, ProviderFilters(**filters))]

    assert names({"VCPU": 2}) == ["big"]
    assert names({"VCPU": 1}) == ["small", "big", "busy"]
    assert names({"VCPU": 1}, required=("HW_CPU_X86_AVX2",)) == ["busy"]
    assert names({"VCPU": 1}, forbidden=("HW_CPU_X86_AVX2",)) == ["small", "big"]
    assert names({"VCPU": 1}, member_of=((agg,),)) == ["big"]
    assert names({"VCPU": 1}, in_tree=small.uuid) == ["small"]
    assert names({"VCPU": 1, "MEMORY_MB": 3585}) == []  # 4096 - 512 reserved
    assert len(find(SYS, {"VCPU": 1}, ProviderFilters(), limit=2)) == 2
    summary = find(SYS, {"VCPU": 1}, ProviderFilters(uuid=None, in_tree=busy.uuid))[0]
    assert summary.resources["VCPU"] == (8, 7) and summary.traits == ["HW_CPU_X86_AVX2"]


def test_concurrent_allocations_never_overcommit_a_provider(any_cloud):
    """16 threads each try to claim 1 VCPU of a provider that has 5: exactly 5 win, the
    others are refused for capacity (or, on PostgreSQL, lose every retry to the others:
    409 concurrent update), and the usage is 5."""
    cloud = any_cloud
    rp = _host(cloud, "node1", vcpu=5)
    outcomes: list[str] = []
    start = threading.Barrier(16)

    def claim() -> None:
        start.wait()
        try:
            _claim(cloud, rp.uuid, 1)
            outcomes.append("ok")
        except (exc.CapacityExceeded, exc.ConcurrentUpdate):
            outcomes.append("full")

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["full"] * 11 + ["ok"] * 5
    generation, usages = cloud.placement.allocations.provider_usages(SYS, rp.uuid)
    assert usages["VCPU"] == 5
    assert generation == 1 + 5  # the inventory write, then one bump per claim
