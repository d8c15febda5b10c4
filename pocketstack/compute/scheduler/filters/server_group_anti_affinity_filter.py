"""ServerGroupAntiAffinityFilter: members of an ``anti-affinity`` server group go to
different hosts, or at most ``max_server_per_host`` to one (microversion 2.64's rule); Nova's
filter of the same name."""

from __future__ import annotations

from typing import Any

from pocketstack.compute.scheduler.filters import BaseHostFilter
from pocketstack.compute.scheduler.host_state import HostState


class ServerGroupAntiAffinityFilter(BaseHostFilter):
    """Passes every host unless the request's ``group`` has policy ``anti-affinity``; then
    only hosts holding fewer of its members than ``max_server_per_host`` (default 1).
    ``group["hosts"]`` lists one entry per placed member."""

    def host_passes(self, host_state: HostState, spec: dict[str, Any]) -> bool:
        """True unless the host holds its share of an anti-affinity group already."""
        group = spec.get("group") or {}
        if group.get("policy") != "anti-affinity":
            return True
        limit = int(group.get("max_server_per_host") or 1)
        return list(group.get("hosts") or []).count(host_state.host) < limit
