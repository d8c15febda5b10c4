"""AvailabilityZoneFilter: the requested zone, or any zone when none is requested."""

import pytest

from pocketstack.compute.scheduler.filters.availability_zone_filter import (
    AvailabilityZoneFilter,
)
from pocketstack.compute.scheduler.host_state import HostState


@pytest.mark.parametrize("zone", [None, ""])
def test_no_zone_requested_passes_every_host(zone):
    host = HostState("h", "h", availability_zone="zone-b")
    assert AvailabilityZoneFilter().host_passes(host, {"availability_zone": zone})


def test_matching_zone_passes():
    host = HostState("h", "h", availability_zone="zone-b")
    assert AvailabilityZoneFilter().host_passes(host, {"availability_zone": "zone-b"})


def test_other_zone_fails():
    host = HostState("h", "h", availability_zone="nova")
    assert not AvailabilityZoneFilter().host_passes(host, {"availability_zone": "zone-b"})
