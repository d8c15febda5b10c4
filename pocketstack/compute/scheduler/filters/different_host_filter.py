"""DifferentHostFilter: the ``different_host`` scheduler hint (``--hint
different_host=<server uuid>``) drops the hosts of the servers it names; Nova's filter of the
same name."""

from __future__ import annotations

from typing import Any

from pocketstack.compute.scheduler.filters import BaseHostFilter
from pocketstack.compute.scheduler.host_state import HostState


class DifferentHostFilter(BaseHostFilter):
    """Passes every host but those in ``spec["different_host"]``, the hosts where the servers
    of the ``different_host`` hint run (``compute.scheduler_hints.spec_extras``); every host
    without the hint."""

    def host_passes(self, host_state: HostState, spec: dict[str, Any]) -> bool:
        """True unless one of the hinted servers runs on the host."""
        return host_state.host not in (spec.get("different_host") or ())
