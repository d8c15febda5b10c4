"""Server diagnostics (API reference "Servers diagnostics (servers, diagnostics)"), admin
only: ``cloud.compute.diagnostics`` asks the server's compute agent, whose driver reads the
guest (the qemu driver over QMP and ``/proc``: vCPU time, memory, disk and NIC counters;
the fake driver fixed figures). The figures come in Nova's 2.48 shape (``ComputeDriver.
get_diagnostics``); the API renders the older free-form one below 2.48.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketstack.common.auth import RequestContext
from pocketstack.compute.exceptions import InstanceNotReady
from pocketstack.compute.rpcapi import ComputeAgentClient

if TYPE_CHECKING:
    from pocketstack.service import Cloud


class Diagnostics:
    """``cloud.compute.diagnostics``: ``get``."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.agents = ComputeAgentClient(cloud.bus)

    def get(self, ctx: RequestContext, server_id: str) -> dict[str, Any]:
        """The figures of a visible server's guest (2.48 shape, see the module).

        Raises:
            ServerNotFound (404); InstanceNotReady (409: no host yet); DriverError (500:
            the hypervisor could not tell).
        """
        server = self.cloud.compute.servers.get(ctx, server_id)
        if not server.host:
            raise InstanceNotReady(f"Instance {server_id} is not ready (it has no host).")
        return dict(self.agents.get_diagnostics(ctx, server.host, server.uuid))
