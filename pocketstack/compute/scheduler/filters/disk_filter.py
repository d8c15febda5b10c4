"""DiskFilter: only hosts with enough free local disk, counting the disk allocation ratio."""

from __future__ import annotations

import logging
from typing import Any

from pocketstack.compute.scheduler.filters import BaseHostFilter
from pocketstack.compute.scheduler.host_state import HostState

LOG = logging.getLogger(__name__)


class DiskFilter(BaseHostFilter):
    """Free disk = ``local_gb * disk_allocation_ratio - local_gb_used`` (GiB) must hold the
    request's ``disk_gb`` (root, none for boot from volume, + ephemeral + swap rounded up to
    GiB, of the flavor)."""

    def host_passes(self, host_state: HostState, spec: dict[str, Any]) -> bool:
        """True when the host's free disk covers ``spec["disk_gb"]``."""
        requested = int(spec.get("disk_gb") or 0)
        free = host_state.free_disk_gb
        if requested > free:
            LOG.debug(
                "%s does not have %d GB usable disk, it only has %.1f GB usable disk",
                host_state,
                requested,
                free,
            )
            return False
        return True
