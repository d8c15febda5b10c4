"""CoreFilter: free vCPUs = vcpus * ratio - used; never more than the physical CPUs."""

from pocketstack.compute.scheduler.filters.core_filter import CoreFilter
from pocketstack.compute.scheduler.host_state import HostState


def host(**kw):
    return HostState("h", "h", **{"vcpus": 4, "cpu_allocation_ratio": 1.0, **kw})


def test_fits_exactly():
    assert CoreFilter().host_passes(host(vcpus_used=2), {"vcpus": 2})


def test_too_few_vcpus_fails():
    assert not CoreFilter().host_passes(host(vcpus_used=3), {"vcpus": 2})


def test_allocation_ratio_overcommits():
    spec = {"vcpus": 2}
    assert not CoreFilter().host_passes(host(vcpus_used=4), spec)
    assert CoreFilter().host_passes(host(vcpus_used=4, cpu_allocation_ratio=4.0), spec)


def test_request_larger_than_the_physical_cpus_fails_whatever_the_ratio():
    assert not CoreFilter().host_passes(host(cpu_allocation_ratio=16.0), {"vcpus": 5})
