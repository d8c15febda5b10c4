"""Handlers of ``/v2.0/agents`` (Networking API v2.0 reference, "Networking Agents").

Admins only, as Neutron's ``get_agent``/``update_agent``/``delete_agent`` policies (and
``get_dhcp-agents``/``get_l3-agents`` for a network's or a router's agents): each handler
authorizes its rule, calls one function of
``cloud.network.agents`` and renders with ``views.agent``. Agents are made by their
``report_state`` heartbeats, never by the API (no POST). 204 on delete, 200 otherwise.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest
from pocketstack.network import exceptions as exc
from pocketstack.network.agents import AgentUpdate
from pocketstack.network.api import listing, parse, views


def parse_update(body: dict[str, Any]) -> AgentUpdate:
    """The ``agent`` body of ``PUT /v2.0/agents/{id}`` (schema ``AGENT_UPDATE``: only
    ``admin_state_up`` and ``description``) as an ``AgentUpdate``."""
    unknown = sorted(set(body) - {"admin_state_up", "description"})
    if unknown:
        raise exc.InvalidInput(f"Cannot update read-only attribute(s) '{', '.join(unknown)}'")
    return AgentUpdate(
        admin_state_up=parse.optional_bool(body, "admin_state_up"),
        description=parse.optional_str(body, "description"),
    )


def list_agents(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/agents``: filters (``agent_type``, ``host``, ``binary``, ``alive``...),
    ``fields``, sorting, pagination."""
    policy.enforce(req.ctx, "get_agent")
    query = listing.parse(req)
    found = req.cloud.network.agents.list(req.ctx, query)
    return views.page(req, query, "agents", found, views.agent)


def get_agent(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/agents/{id}``; AgentNotFound (404)."""
    policy.enforce(req.ctx, "get_agent")
    record = req.cloud.network.agents.get(req.ctx, req.params["id"])
    return views.one(req, "agent", views.agent(record))


def update_agent(req: ApiRequest) -> dict[str, Any]:
    """``PUT /v2.0/agents/{id}`` with ``{"agent": {"admin_state_up", "description"}}``."""
    changes = parse_update(req.require_body("agent"))
    policy.enforce(req.ctx, "update_agent")
    record = req.cloud.network.agents.update(req.ctx, req.params["id"], changes)
    return views.one(req, "agent", views.agent(record))


def delete_agent(req: ApiRequest) -> None:
    """``DELETE /v2.0/agents/{id}``; 204."""
    policy.enforce(req.ctx, "delete_agent")
    req.cloud.network.agents.delete(req.ctx, req.params["id"])


def list_network_dhcp_agents(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/networks/{id}/dhcp-agents``: ``{"agents": [...]}``, the DHCP agents
    serving the network (``openstack network agent list --network``)."""
    policy.enforce(req.ctx, "get_dhcp-agents")
    found = req.cloud.network.agents.for_network(req.ctx, req.params["id"])
    return {"agents": [views.redact(req, views.agent(r)) for r in found]}


def list_router_l3_agents(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/routers/{id}/l3-agents``: ``{"agents": [...]}``, the L3 agents hosting
    the router (``openstack network agent list --router``)."""
    policy.enforce(req.ctx, "get_l3-agents")
    found = req.cloud.network.agents.for_router(req.ctx, req.params["id"])
    return {"agents": [views.redact(req, views.agent(r)) for r in found]}
