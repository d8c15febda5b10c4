"""ServerGroupSoftAffinityWeigher: members of a ``soft-affinity`` server group prefer the
hosts holding most of the group's members; Nova's weigher of the same name."""

from __future__ import annotations

from typing import Any

from pocketstack.compute.scheduler.host_state import HostState
from pocketstack.compute.scheduler.weighers import BaseWeigher

#: the multiplier (Nova's ``soft_affinity_weight_multiplier``;
#: its default 1.0 is outweighed by the RAM and CPU weighers
#: together): 10 makes the group's policy decide first, free resources break ties
SOFT_AFFINITY_WEIGHT_MULTIPLIER = 10.0


class ServerGroupSoftAffinityWeigher(BaseWeigher):
    """The number of the group's placed members on the host (``spec["group"]["hosts"]``,
    one entry per member) when the request's group is ``soft-affinity``, else 0. Unlike the
    affinity filter it never drops a host: a full host only loses weight."""

    def multiplier(self, conf: Any) -> float:
        """``SOFT_AFFINITY_WEIGHT_MULTIPLIER`` (10.0)."""
        return SOFT_AFFINITY_WEIGHT_MULTIPLIER

    def weigh(self, host_state: HostState, spec: dict[str, Any]) -> float:
        """Members of the soft-affinity group on the host."""
        group = spec.get("group") or {}
        if group.get("policy") != "soft-affinity":
            return 0.0
        return float(list(group.get("hosts") or []).count(host_state.host))
