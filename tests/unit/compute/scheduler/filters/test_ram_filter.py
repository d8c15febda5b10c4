"""RamFilter: free RAM = total * ratio - reserved - used."""

from pocketstack.compute.scheduler.filters.ram_filter import RamFilter
from pocketstack.compute.scheduler.host_state import HostState


def host(**kw):
    base = dict(memory_mb=1024, ram_allocation_ratio=1.0, reserved_host_memory_mb=0)
    return HostState("h", "h", **{**base, **kw})


def test_fits_exactly():
    assert RamFilter().host_passes(host(memory_mb_used=512), {"memory_mb": 512})


def test_too_little_ram_fails():
    assert not RamFilter().host_passes(host(memory_mb_used=513), {"memory_mb": 512})


def test_reserved_memory_is_not_claimable():
    assert not RamFilter().host_passes(host(reserved_host_memory_mb=256), {"memory_mb": 1024})
    assert RamFilter().host_passes(host(reserved_host_memory_mb=256), {"memory_mb": 768})


def test_allocation_ratio_overcommits():
    spec = {"memory_mb": 1536}
    assert not RamFilter().host_passes(host(), spec)
    assert RamFilter().host_passes(host(ram_allocation_ratio=1.5), spec)
