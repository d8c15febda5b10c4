"""RamFilter: only hosts with enough free RAM, counting the RAM allocation ratio."""

from __future__ import annotations

import logging
from typing import Any

from pocketstack.compute.scheduler.filters import BaseHostFilter
from pocketstack.compute.scheduler.host_state import HostState

LOG = logging.getLogger(__name__)


class RamFilter(BaseHostFilter):
    """Free RAM = ``memory_mb * ram_allocation_ratio - reserved_host_memory_mb -
    memory_mb_used`` (MiB) must hold the request's ``memory_mb``.

    A ratio above 1.0 overcommits RAM (Nova's default 1.5 here)."""

    def host_passes(self, host_state: HostState, spec: dict[str, Any]) -> bool:
        """True when the host's free RAM covers ``spec["memory_mb"]``."""
        requested = int(spec.get("memory_mb") or 0)
        free = host_state.free_ram_mb
        if requested > free:
            LOG.debug(
                "%s does not have %d MB usable ram, it only has %.1f MB usable ram",
                host_state,
                requested,
                free,
            )
            return False
        return True
