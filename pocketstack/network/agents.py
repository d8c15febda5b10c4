"""Network agents (Neutron v2.0 ``/agents``): list, get, update, delete; admins only.

The rows are written by the agents' ``report_state`` heartbeats (docs/network-dataplane.md,
"Tables"); this family is what the Networking API reference's "Networking Agents" section
shows of them. An agent is ``alive`` when its ``heartbeat_timestamp`` is younger than
``[network] agent_down_time`` seconds (Neutron's ``is_agent_down``); ``alive`` is computed,
and a list filters on it in SQL against the same cut-off.
"""

from __future__ import annotations

import builtins
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pocketstack.common import paging
from pocketstack.common.auth import RequestContext
from pocketstack.common.db import utcnow
from pocketstack.network import common, lists
from pocketstack.network import exceptions as exc
from pocketstack.network.models import Agent, Network, Port

if TYPE_CHECKING:
    from pocketstack.service import Cloud

#: ``[network] agent_down_time`` when the configuration has none (Neutron's default).
DEFAULT_AGENT_DOWN_TIME = 15


@dataclass(frozen=True)
class AgentUpdate:
    """The changes of ``PUT /v2.0/agents/{id}``; ``None`` leaves an attribute as it is."""

    admin_state_up: bool | None = None
    description: str | None = None


@dataclass(frozen=True)
class AgentRecord:
    """An agent row with its computed liveness, what its view shows."""

    agent: Agent
    alive: bool


def down_time(conf: Any) -> dt.timedelta:
    """``[network] agent_down_time`` as a duration."""
    return dt.timedelta(seconds=float(getattr(conf, "agent_down_time", DEFAULT_AGENT_DOWN_TIME)))


def is_alive(agent: Agent, conf: Any, now: dt.datetime | None = None) -> bool:
    """Whether ``agent`` reported within ``agent_down_time`` seconds of ``now`` (naive UTC,
    default the current time)."""
    return agent.heartbeat_timestamp > (now or utcnow()) - down_time(conf)


_COLUMNS: dict[str, Any] = {
    "id": Agent.id,
    "agent_type": Agent.agent_type,
    "binary": Agent.binary,
    "host": Agent.host,
    "topic": Agent.topic,
    "availability_zone": Agent.availability_zone,
    "admin_state_up": Agent.admin_state_up,
    "description": Agent.description,
    "created_at": Agent.created_at,
    "started_at": Agent.started_at,
    "heartbeat_timestamp": Agent.heartbeat_timestamp,
}
SORT = paging.SortSpec(
    columns=_COLUMNS,
    default=[("created_at", paging.ASC)],
    tie_breaker=Agent.id,
    default_dir=paging.ASC,
    invalid=lambda message: exc.InvalidInput(message),
)


class Agents:
    """The agents of ``cloud.network`` (``cloud.network.agents``); Networking API v2.0
    reference, "Networking Agents". Methods return ``AgentRecord``s; the API allows them to
    admins only (``get_agent``, ``update_agent``, ``delete_agent``)."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def _record(self, agent: Agent, now: dt.datetime) -> AgentRecord:
        return AgentRecord(agent, is_alive(agent, self.cloud.conf, now))

    def _load(self, session: Any, agent_id: str) -> Agent:
        agent = session.get(Agent, agent_id)
        if agent is None:
            raise exc.AgentNotFound(agent_id)
        return agent

    def list(self, ctx: RequestContext, query: lists.ListQuery) -> lists.Page[AgentRecord]:
        """Every agent, filtered (``agent_type``, ``host``, ``binary``, ``topic``,
        ``availability_zone``, ``admin_state_up``, ``alive``...), sorted and paged in SQL.

        Raises:
            InvalidInput (400: sort key or direction), AgentNotFound (404: the marker).
        """
        now = utcnow()
        cutoff = now - down_time(self.cloud.conf)
        filters = {**_COLUMNS, "alive": lists.bool_filter(Agent.heartbeat_timestamp > cutoff)}
        with self.cloud.db.reader() as s:
            select = sa.select(Agent).where(lists.filter_condition(filters, query))
            page = lists.fetch(s, select, SORT, query, exc.AgentNotFound)
            return lists.Page([self._record(a, now) for a in page.items], page.more)

    def get(self, ctx: RequestContext, agent_id: str) -> AgentRecord:
        """One agent. Raises AgentNotFound (404)."""
        with self.cloud.db.reader() as s:
            return self._record(self._load(s, agent_id), utcnow())

    def update(self, ctx: RequestContext, agent_id: str, changes: AgentUpdate) -> AgentRecord:
        """Set ``admin_state_up`` (an agent set down is given no new work) and
        ``description``. Raises AgentNotFound (404)."""
        with self.cloud.db.transaction() as s:
            agent = self._load(s, agent_id)
            common.set_given(agent, changes, ("admin_state_up", "description"))
            s.flush()
            return self._record(agent, utcnow())

    def _hosting(self, agent_type: str, ports: Any) -> builtins.list[AgentRecord]:
        """The agents of ``agent_type`` on the hosts the ``ports`` select is bound to."""
        now = utcnow()
        with self.cloud.db.reader() as s:
            hosts = sa.select(Port.host_id).where(ports, Port.host_id != "")
            rows = s.scalars(
                sa.select(Agent)
                .where(Agent.agent_type == agent_type, Agent.host.in_(hosts))
                .order_by(Agent.host, Agent.id)
            )
            return [self._record(a, now) for a in rows]

    def for_network(self, ctx: RequestContext, network_id: str) -> builtins.list[AgentRecord]:
        """The DHCP agents serving a network: those on the hosts of its ``network:dhcp``
        ports ("DHCP agent scheduler" > "List DHCP agents hosting a network").

        Raises:
            NetworkNotFound (404).
        """
        with self.cloud.db.reader() as s:
            if s.get(Network, network_id) is None:
                raise exc.NetworkNotFound(network_id)
        owned = sa.and_(Port.network_id == network_id, Port.device_owner == common.DHCP_OWNER)
        return self._hosting("DHCP agent", owned)

    def for_router(self, ctx: RequestContext, router_id: str) -> builtins.list[AgentRecord]:
        """The L3 agents hosting a router: those on the hosts of its interface and gateway
        ports ("L3 agent scheduler" > "List L3 agents hosting a router").

        Raises:
            RouterNotFound (404).
        """
        self.cloud.network.routers.get(ctx, router_id)
        owned = sa.and_(
            Port.device_id == router_id,
            Port.device_owner.in_(common.ROUTER_OWNERS),
        )
        return self._hosting("L3 agent", owned)

    def delete(self, ctx: RequestContext, agent_id: str) -> None:
        """Forget an agent (a live one writes its row again at its next heartbeat, as in
        Neutron). Raises AgentNotFound (404)."""
        with self.cloud.db.transaction() as s:
            s.delete(self._load(s, agent_id))
