"""ServerGroupAffinityFilter: a member of an ``affinity`` server group goes where the group's
other members are (Nova's filter of the same name)."""

from __future__ import annotations

from typing import Any

from pocketstack.compute.scheduler.filters import BaseHostFilter
from pocketstack.compute.scheduler.host_state import HostState


class ServerGroupAffinityFilter(BaseHostFilter):
    """Passes every host unless the request's ``group`` (``{"policy", "hosts",
    "max_server_per_host"}``, see ``conductor``) has policy ``affinity`` and members placed
    already; then only their hosts. The first member may go anywhere."""

    def host_passes(self, host_state: HostState, spec: dict[str, Any]) -> bool:
        """True unless an affinity group's members are on other hosts."""
        group = spec.get("group") or {}
        if group.get("policy") != "affinity" or not group.get("hosts"):
            return True
        return host_state.host in group["hosts"]
