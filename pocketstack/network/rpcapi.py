"""The network data plane's bus messages: one table per direction, typed clients on top.

docs/network-dataplane.md, "Bus". Targets:

- ``network``: the server side (``agent_reports.NetworkAgentReports``, served by every
  controller): the agents' heartbeats (``report_state``), the wanted state of a host
  (``get_host_state``) and the ports they wired or lost (``ports_up``/``ports_down``).
- ``network_agent.<host>``: the network agent of a host (``agent.NetworkAgent``); the server
  reaches every agent at once with ``fanout("network_agent", "sync")``, a cheap "something
  changed, pull your state again" without payload (agents are level-triggered: they never
  apply deltas they could lose).

As Neutron's ``q-plugin``/``q-agent-notifier`` topics, on this repository's bus
(``common/bus.py``): only the messages declared here reach an endpoint; every payload is
JSON with a version field.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import CALL, CAST, Bus, Message, MessageTable

#: the server topic (any controller)
SERVER_TOPIC = "network"
#: the agents' topic; an agent serves ``network_agent.<host>``
AGENT_TOPIC = "network_agent"

#: the server's messages (target ``network``), handled by ``NetworkAgentReports``
SERVER_MESSAGES = MessageTable(
    SERVER_TOPIC,
    [
        Message("report_state", CAST),
        Message("get_host_state", CALL, timeout=30.0),
        Message("ports_up", CALL, timeout=30.0),
        Message("ports_down", CALL, timeout=30.0),
    ],
)

#: the network agent's messages (target ``network_agent.<host>``, or the fanout to all),
#: handled by ``NetworkAgent``
AGENT_MESSAGES = MessageTable(AGENT_TOPIC, [Message("sync", CAST)])

#: every network message table by topic
MESSAGES = {SERVER_TOPIC: SERVER_MESSAGES, AGENT_TOPIC: AGENT_MESSAGES}

#: the roles of a network agent, as Neutron names them in ``agents`` rows (``agent_type``)
L2_AGENT = "Linux bridge agent"
DHCP_AGENT = "DHCP agent"
L3_AGENT = "L3 agent"
#: agent_type -> (binary, topic, availability_zone) a role reports, Neutron's values
#: (``openstack network agent list`` shows them)
AGENT_ROLES: dict[str, tuple[str, str, str | None]] = {
    L2_AGENT: ("neutron-linuxbridge-agent", "N/A", None),
    DHCP_AGENT: ("neutron-dhcp-agent", "dhcp_agent", "nova"),
    L3_AGENT: ("neutron-l3-agent", "l3_agent", "nova"),
}


def agent_target(host: str) -> str:
    """The bus target the network agent of ``host`` serves: ``network_agent.<host>``."""
    return f"{AGENT_TOPIC}.{host}"


class NetworkServerClient:
    """Messages of a network agent to the server (target ``network``, any controller)."""

    def __init__(self, bus: Bus):
        self.bus = bus

    def _send(self, ctx: RequestContext, method: str, **args: Any) -> Any:
        return self.bus.send(ctx, SERVER_TOPIC, SERVER_MESSAGES[method], **args)

    def report_state(self, ctx: RequestContext, agent: dict[str, Any]) -> None:
        """Heartbeat of one role of an agent; a cast.

        ``agent``: ``{"host", "binary", "agent_type", "topic", "availability_zone",
        "configurations": {...}, "start_flag": bool}`` (``start_flag`` true on the first
        report after the agent started, as Neutron's, which sets ``started_at``).
        """
        self._send(ctx, "report_state", agent=agent)

    def get_host_state(self, ctx: RequestContext, host: str) -> dict[str, Any]:
        """The whole wanted state of ``host`` (docs/network-dataplane.md, "The host
        state"); waits up to 30 s (``MessagingTimeout`` when no controller answers)."""
        result: dict[str, Any] = self._send(ctx, "get_host_state", host=host)
        return result

    def ports_up(self, ctx: RequestContext, host: str, port_ids: list[str]) -> list[str]:
        """``host``'s agent wired these ports: they go ``ACTIVE``; returns the ids that
        changed (ports of another host, unknown or admin-down ones are left alone)."""
        result: list[str] = self._send(ctx, "ports_up", host=host, port_ids=port_ids)
        return result

    def ports_down(self, ctx: RequestContext, host: str, port_ids: list[str]) -> list[str]:
        """``host``'s agent no longer has these ports wired: they go ``DOWN``; returns the
        ids that changed."""
        result: list[str] = self._send(ctx, "ports_down", host=host, port_ids=port_ids)
        return result


class NetworkAgentClient:
    """Messages of the server to the network agents (target ``network_agent[.<host>]``)."""

    def __init__(self, bus: Bus):
        self.bus = bus

    def sync(self, ctx: RequestContext, host: str | None = None) -> None:
        """Ask the agent of ``host`` (None: every agent, a fanout) to pull its host's
        state now; a cast without payload."""
        message = AGENT_MESSAGES["sync"]
        if host is None:
            self.bus.fanout(ctx, AGENT_TOPIC, message)
        else:
            self.bus.cast(ctx, agent_target(host), message)
