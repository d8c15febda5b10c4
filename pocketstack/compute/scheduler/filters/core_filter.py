"""CoreFilter: only hosts with enough free vCPUs, counting the CPU allocation ratio."""

from __future__ import annotations

import logging
from typing import Any

from pocketstack.compute.scheduler.filters import BaseHostFilter
from pocketstack.compute.scheduler.host_state import HostState

LOG = logging.getLogger(__name__)


class CoreFilter(BaseHostFilter):
    """Free vCPUs = ``vcpus * cpu_allocation_ratio - vcpus_used`` must hold the request's
    ``vcpus``.

    A ratio above 1.0 overcommits CPUs (Nova's default 4.0 here). A request may never have
    more vCPUs than the host has physical CPUs, whatever the ratio (Nova's rule too)."""

    def host_passes(self, host_state: HostState, spec: dict[str, Any]) -> bool:
        """True when the host's free vCPUs cover ``spec["vcpus"]``."""
        requested = int(spec.get("vcpus") or 0)
        if requested > host_state.vcpus:
            LOG.debug(
                "%s has %d physical CPUs, fewer than the %d requested",
                host_state,
                host_state.vcpus,
                requested,
            )
            return False
        free = host_state.free_vcpus
        if requested > free:
            LOG.debug(
                "%s does not have %d usable vcpus, it only has %.1f usable vcpus",
                host_state,
                requested,
                free,
            )
            return False
        return True
