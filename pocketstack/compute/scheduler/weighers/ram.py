"""RAMWeigher: weigh hosts by their free RAM."""

from __future__ import annotations

from typing import Any

from pocketstack.compute.scheduler.host_state import HostState
from pocketstack.compute.scheduler.weighers import BaseWeigher


class RAMWeigher(BaseWeigher):
    """The host's claimable RAM in MiB (``HostState.free_ram_mb``, after the allocation ratio
    and the reserved memory). With a positive multiplier the host with the most free RAM wins
    (spread); with a negative one the host with the least (pack)."""

    def weigh(self, host_state: HostState, spec: dict[str, Any]) -> float:
        """Free RAM of the host (MiB)."""
        return float(host_state.free_ram_mb)
