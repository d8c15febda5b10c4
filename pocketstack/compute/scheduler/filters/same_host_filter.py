"""SameHostFilter: the ``same_host`` scheduler hint (``--hint same_host=<server uuid>``) keeps
only the hosts of the servers it names; Nova's filter of the same name."""

from __future__ import annotations

from typing import Any

from pocketstack.compute.scheduler.filters import BaseHostFilter
from pocketstack.compute.scheduler.host_state import HostState


class SameHostFilter(BaseHostFilter):
    """Passes every host when the request has no ``same_host`` hint (``spec["same_host"]``
    None); otherwise only the hosts in ``spec["same_host"]``, the hosts where the hinted
    servers run (``compute.scheduler_hints.spec_extras`` resolves the uuids). A hint whose
    servers run nowhere passes no host, as Nova's."""

    def host_passes(self, host_state: HostState, spec: dict[str, Any]) -> bool:
        """True without the hint, or when one of the hinted servers runs on the host."""
        hosts = spec.get("same_host")
        if hosts is None:
            return True
        return host_state.host in hosts
