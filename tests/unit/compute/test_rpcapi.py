"""Compute's bus tables: the typed clients, the tables and the endpoints name the same
operations, and the bus delivers nothing else (e.g. ``Conductor.recover`` is not reachable)."""

from __future__ import annotations

import inspect
import threading

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import CALL, CAST, Message, MessageRefused
from pocketstack.compute.agent import ComputeAgent
from pocketstack.compute.conductor import Conductor
from pocketstack.compute.drivers.fake import FakeDriver
from pocketstack.compute.exceptions import ConsoleNotAvailable
from pocketstack.compute.rpcapi import (
    AGENT_MESSAGES,
    CONDUCTOR_MESSAGES,
    ComputeAgentClient,
    ConductorClient,
)

CTX = RequestContext(user_id="u1", project_id="p1", roles=("member",))


def _public(cls):
    return {n for n, _ in inspect.getmembers(cls, inspect.isfunction) if not n.startswith("_")}


@pytest.mark.parametrize(
    ("table", "client", "endpoint"),
    [
        (AGENT_MESSAGES, ComputeAgentClient, ComputeAgent),
        (CONDUCTOR_MESSAGES, ConductorClient, Conductor),
    ],
)
def test_client_table_and_endpoint_name_the_same_operations(table, client, endpoint):
    names = {m.name for m in table}
    assert _public(client) == names
    assert names <= _public(endpoint)
    routing = {"host"} if client is ComputeAgentClient else set()  # compute.<host>
    for name in names:  # the same arguments, except the agent client's routing ``host``
        sent = [p for p in inspect.signature(getattr(client, name)).parameters if p not in routing]
        handled = list(inspect.signature(getattr(endpoint, name)).parameters)
        assert sent == handled, name


@pytest.fixture
def conductor(cloud, bus):
    conductor = Conductor(cloud)
    bus.serve("conductor", conductor, CONDUCTOR_MESSAGES)
    yield conductor
    bus.unserve("conductor")


@pytest.fixture
def agent(conf, bus):
    conf = conf.replace(hostname="node1")
    agent = ComputeAgent(conf, bus, FakeDriver(conf))
    bus.serve(agent.target, agent, AGENT_MESSAGES)
    yield agent
    bus.unserve(agent.target)


def test_the_conductor_runs_declared_messages_only(conductor, bus, monkeypatch):
    ran = threading.Event()
    monkeypatch.setattr(conductor, "recover", lambda *a, **k: pytest.fail("recover ran"))
    monkeypatch.setattr(conductor, "_build_one", lambda *a: ran.set())
    with pytest.raises(MessageRefused, match="does not accept the message 'recover'"):
        bus.call(CTX, "conductor", Message("recover", CALL, timeout=5))
    with pytest.raises(MessageRefused, match="is a cast, not a call"):
        bus.call(CTX, "conductor", Message("build_instances", CALL, timeout=5))
    ConductorClient(bus).build_instances(CTX, ["vm-1"], {"image": {}, "force_host": None})
    assert ran.wait(10)


def test_the_agent_runs_declared_messages_only(agent, bus):
    with pytest.raises(MessageRefused, match="remove_orphans"):
        bus.call(CTX, "compute.node1", Message("remove_orphans", CALL, timeout=5))
    bus.cast(CTX, "compute.node1", Message("reconcile", CAST))  # refused and logged
    with pytest.raises(ConsoleNotAvailable):  # declared: reaches the agent and its driver
        ComputeAgentClient(bus).get_console_output(CTX, "node1", "vm-1", None)
