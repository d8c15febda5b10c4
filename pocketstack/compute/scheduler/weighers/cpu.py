"""CPUWeigher: weigh hosts by their free vCPUs."""

from __future__ import annotations

from typing import Any

from pocketstack.compute.scheduler.host_state import HostState
from pocketstack.compute.scheduler.weighers import BaseWeigher


class CPUWeigher(BaseWeigher):
    """The host's claimable vCPUs (``HostState.free_vcpus``, after the allocation ratio).
    With a positive multiplier the host with the most free vCPUs wins (spread); with a
    negative one the host with the fewest (pack)."""

    def weigh(self, host_state: HostState, spec: dict[str, Any]) -> float:
        """Free vCPUs of the host."""
        return float(host_state.free_vcpus)
