"""Floating IP pools (API reference "Floating IP pools (os-floating-ip-pools)",
deprecated proxy): Nova's proxy to Neutron lists the external networks by name, which is
how openstacksdk's ``create_server(auto_ip=True)`` finds where to take a floating IP."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest
from pocketstack.network.lists import ListQuery


def list_floating_ip_pools(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-floating-ip-pools`` → ``{"floating_ip_pools": [{"name"}]}``."""
    policy.enforce(req.ctx, "compute:os-floating-ip-pools")
    query = ListQuery(filters={"router:external": ["true"]})
    page = req.cloud.network.networks.list(req.ctx, query)
    return {"floating_ip_pools": [{"name": n.network.name} for n in page.items]}
