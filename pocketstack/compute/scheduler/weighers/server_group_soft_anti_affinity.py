"""ServerGroupSoftAntiAffinityWeigher: members of a ``soft-anti-affinity`` server group
prefer the hosts holding fewest of the group's members; Nova's weigher of the same name."""

from __future__ import annotations

from typing import Any

from pocketstack.compute.scheduler.host_state import HostState
from pocketstack.compute.scheduler.weighers import BaseWeigher

#: the multiplier (Nova's ``soft_anti_affinity_weight_multiplier``;
#: its default 1.0 is outweighed by the RAM and CPU weighers
#: together): 10 makes the group's policy decide first, free resources break ties
SOFT_ANTI_AFFINITY_WEIGHT_MULTIPLIER = 10.0


class ServerGroupSoftAntiAffinityWeigher(BaseWeigher):
    """Minus the number of the group's placed members on the host when the request's group
    is ``soft-anti-affinity``, else 0: the emptiest host weighs most. When every host holds
    members the group still lands (on the least loaded host), unlike ``anti-affinity``."""

    def multiplier(self, conf: Any) -> float:
        """``SOFT_ANTI_AFFINITY_WEIGHT_MULTIPLIER`` (10.0)."""
        return SOFT_ANTI_AFFINITY_WEIGHT_MULTIPLIER

    def weigh(self, host_state: HostState, spec: dict[str, Any]) -> float:
        """Minus the members of the soft-anti-affinity group on the host."""
        group = spec.get("group") or {}
        if group.get("policy") != "soft-anti-affinity":
            return 0.0
        return -float(list(group.get("hosts") or []).count(host_state.host))
