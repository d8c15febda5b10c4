"""DiskFilter: free disk = local_gb * ratio - used."""

from pocketstack.compute.scheduler.filters.disk_filter import DiskFilter
from pocketstack.compute.scheduler.host_state import HostState


def host(**kw):
    return HostState("h", "h", **{"local_gb": 20, "disk_allocation_ratio": 1.0, **kw})


def test_fits_exactly():
    assert DiskFilter().host_passes(host(local_gb_used=10), {"disk_gb": 10})


def test_too_little_disk_fails():
    assert not DiskFilter().host_passes(host(local_gb_used=11), {"disk_gb": 10})


def test_boot_from_volume_needs_no_disk():
    assert DiskFilter().host_passes(host(local_gb_used=20), {"disk_gb": 0})


def test_allocation_ratio_overcommits():
    assert DiskFilter().host_passes(host(disk_allocation_ratio=2.0), {"disk_gb": 40})
