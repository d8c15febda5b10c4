"""AvailabilityZoneFilter: only hosts in the availability zone the request names."""

from __future__ import annotations

from typing import Any

from pocketstack.compute.scheduler.filters import BaseHostFilter
from pocketstack.compute.scheduler.host_state import HostState


class AvailabilityZoneFilter(BaseHostFilter):
    """Passes every host when the request names no zone (``availability_zone`` None or
    empty); otherwise only the hosts whose compute service is in that zone."""

    def host_passes(self, host_state: HostState, spec: dict[str, Any]) -> bool:
        """True when no zone is requested or the host's zone equals it."""
        zone = spec.get("availability_zone")
        if not zone:
            return True
        return host_state.availability_zone == zone
