"""What the network agents report and ask, answered by the server: the agents' side of the
database (docs/network-dataplane.md, "Bus" and "Tables").

A network agent holds no database credentials (ARCHITECTURE.md), as Neutron's agents reach
the database only through the server's RPC (``q-plugin``). Every controller serves
``NetworkAgentReports`` on the bus topic ``network`` (``rpcapi.SERVER_MESSAGES``):

- ``report_state`` (cast): the heartbeat of one role of an agent; creates or updates its
  ``agents`` row (one per ``(agent_type, host)``).
- ``get_host_state`` (call): the whole wanted state of a host (``host_state.build``), after
  making the ports the network node's roles need (``host_state.ensure_network_node_ports``).
- ``ports_up`` / ``ports_down`` (calls): the ports an agent wired or lost; their status
  goes ``ACTIVE`` / ``DOWN`` (through ``states.transition``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.db import Database, utcnow
from pocketstack.network import common, host_state, states
from pocketstack.network.models import Agent, Port
from pocketstack.network.ports import vif_type_of
from pocketstack.network.rpcapi import AGENT_ROLES

if TYPE_CHECKING:
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)


class NetworkAgentReports:
    """The server's handlers of the network agents' messages (see the module docstring).

    Args:
        cloud: the ``pocketstack.service.Cloud`` of the controller (its ``db``, ``conf``
            and ``network`` manager, whose ``notify_dataplane`` it calls).
    """

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.db: Database = cloud.db

    def report_state(self, ctx: RequestContext, agent: dict[str, Any]) -> None:
        """Record a heartbeat of one role of an agent: create its ``agents`` row, or update
        its binary, topic, zone, configurations and ``heartbeat_timestamp`` (and
        ``started_at`` when ``agent["start_flag"]``); ``admin_state_up`` and
        ``description`` stay as an admin set them.

        A new row or a restarted agent fans out ``sync``: a new DHCP or L3 role changes
        what the network node serves, and so the other hosts' tunnels.

        Raises:
            BadRequest (400): no ``host`` or an ``agent_type`` other than Neutron's three.
        """
        host, agent_type = str(agent.get("host") or ""), str(agent.get("agent_type") or "")
        if not host or agent_type not in AGENT_ROLES:
            raise errors.BadRequest(f"report_state: bad agent {host!r} {agent_type!r}.")
        binary, topic, zone = AGENT_ROLES[agent_type]
        values = {
            "binary": str(agent.get("binary") or binary),
            "topic": str(agent.get("topic") or topic),
            "availability_zone": agent.get("availability_zone", zone),
            "configurations": dict(agent.get("configurations") or {}),
        }
        started = bool(agent.get("start_flag"))
        try:
            created = self._upsert(host, agent_type, values, started)
        except IntegrityError:  # another controller made the row meanwhile: update it
            created = self._upsert(host, agent_type, values, started)
        if created or started:
            self.cloud.network.notify_dataplane()

    def _upsert(self, host: str, agent_type: str, values: dict[str, Any], started: bool) -> bool:
        """Write the heartbeat; returns whether the row was created."""
        now = utcnow()
        with self.db.transaction() as s:
            row = s.scalars(
                sa.select(Agent).where(Agent.agent_type == agent_type, Agent.host == host)
            ).one_or_none()
            if row is None:
                s.add(
                    Agent(
                        agent_type=agent_type,
                        host=host,
                        created_at=now,
                        started_at=now,
                        heartbeat_timestamp=now,
                        **values,
                    )
                )
                return True
            for key, value in values.items():
                setattr(row, key, value)
            row.heartbeat_timestamp = now
            if started:
                row.started_at = now
            return False

    def get_host_state(self, ctx: RequestContext, host: str) -> dict[str, Any]:
        """The wanted state of ``host`` (docs/network-dataplane.md, "The host state");
        when ``host`` runs an alive DHCP or L3 agent, its DHCP ports are made and router
        ports bound first (then the other agents are told to sync: their tunnels to the
        network node may change)."""
        conf, vif_type = self.cloud.conf, vif_type_of(self.cloud.conf)
        with self.db.reader() as s:  # most rounds change nothing: no write lock for them
            needed = host_state.ensure_network_node_ports(s, conf, host, vif_type, apply=False)
        if needed:
            with self.db.transaction() as s:
                changed = host_state.ensure_network_node_ports(s, conf, host, vif_type)
            if changed:
                self.cloud.network.notify_dataplane()
        with self.db.reader() as s:
            return host_state.build(s, self.cloud.conf, host)

    def ports_up(self, ctx: RequestContext, host: str, port_ids: list[str]) -> list[str]:
        """``host``'s agent wired these ports: those bound to ``host`` and
        ``admin_state_up`` go ``ACTIVE``. Returns the ids whose status changed (unknown
        ports and ports of another host are ignored: the agent's view may be stale)."""
        return self._set_status(host, port_ids, states.ACTIVE)

    def ports_down(self, ctx: RequestContext, host: str, port_ids: list[str]) -> list[str]:
        """``host``'s agent no longer has these ports wired: those bound to ``host`` go
        ``DOWN``. Returns the ids whose status changed."""
        return self._set_status(host, port_ids, states.DOWN)

    def _set_status(self, host: str, port_ids: list[str], status: str) -> list[str]:
        changed = []
        with self.db.transaction() as s:
            rows = s.scalars(
                sa.select(Port).where(Port.id.in_([str(p) for p in port_ids]), Port.host_id == host)
            )
            for port in rows:
                if port.status == status or (status == states.ACTIVE and not port.admin_state_up):
                    continue
                states.transition(port, status)
                common.touch(port)
                changed.append(port.id)
        if changed:
            LOG.info("ports %s on %s: %s", status, host, ", ".join(sorted(changed)))
        return sorted(changed)
