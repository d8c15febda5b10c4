"""The network data plane's bus tables: the typed clients, the tables and the endpoints name
the same operations, and the bus delivers nothing else."""

from __future__ import annotations

import inspect

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import CALL, CAST, Message, MessageRefused
from pocketstack.network.agent import NetworkAgent
from pocketstack.network.agent_reports import NetworkAgentReports
from pocketstack.network.rpcapi import (
    AGENT_MESSAGES,
    SERVER_MESSAGES,
    NetworkAgentClient,
    NetworkServerClient,
)


def _public(cls):
    return {n for n, _ in inspect.getmembers(cls, inspect.isfunction) if not n.startswith("_")}


@pytest.mark.parametrize(
    ("table", "client", "endpoint", "routing"),
    [
        (SERVER_MESSAGES, NetworkServerClient, NetworkAgentReports, set()),
        (AGENT_MESSAGES, NetworkAgentClient, NetworkAgent, {"host"}),  # network_agent.<host>
    ],
)
def test_client_table_and_endpoint_name_the_same_operations(table, client, endpoint, routing):
    names = {m.name for m in table}
    assert _public(client) == names
    assert names <= _public(endpoint)
    for name in names:
        sent = [p for p in inspect.signature(getattr(client, name)).parameters if p not in routing]
        assert sent == list(inspect.signature(getattr(endpoint, name)).parameters), name


def test_the_server_answers_only_its_declared_messages(cloud, bus):
    bus.serve("network", NetworkAgentReports(cloud), SERVER_MESSAGES)
    ctx = RequestContext.system()
    assert NetworkServerClient(bus).get_host_state(ctx, "h")["ports"] == []
    with pytest.raises(MessageRefused):
        bus.call(ctx, "network", Message("_set_status", CALL), host="h", port_ids=[])
    with pytest.raises(MessageRefused):  # a cast declared, called
        bus.call(ctx, "network", Message("report_state", CALL), agent={})
    assert SERVER_MESSAGES["report_state"].kind == CAST
    assert AGENT_MESSAGES["sync"].kind == CAST
