"""The network agent (``network.agent``) with the fake drivers, talking over the in-process
bus to the server side (``agent_reports``) of a cloud running the ``fake`` network driver:
heartbeats, rounds pulled at start and on the server's fanout, port status reports, parts
that fail alone."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.network import agent as agent_module
from pocketstack.network.agent import NetworkAgent, interface_mappings
from pocketstack.network.agent_reports import NetworkAgentReports
from pocketstack.network.drivers.base import NetworkDriverError
from pocketstack.network.drivers.fake import FakeDhcp, FakeDriver, FakeFirewall, FakeL3
from pocketstack.network.lists import ListQuery
from pocketstack.network.rpcapi import SERVER_MESSAGES, SERVER_TOPIC
from pocketstack.service import Cloud, NetworkHost
from tests.helpers import wait_until

ADMIN = RequestContext(user_id="u-admin", project_id="admin", roles=("admin",))


@pytest.fixture
def cloud(conf, db, bus):
    """A cloud with the fake network driver, its agents' endpoint served on the bus."""
    conf = conf.replace(
        network_driver="fake",
        hostname="host1",
        local_ip="10.255.0.11",
        agent_report_interval=60,  # heartbeats are asserted at start, not in the loop
        agent_sync_interval=60,  # a test sees rounds it caused, not periodic ones
    )
    cloud = Cloud(conf, db, bus)
    bus.serve(SERVER_TOPIC, NetworkAgentReports(cloud), SERVER_MESSAGES)
    yield cloud
    bus.unserve(SERVER_TOPIC)


@pytest.fixture
def start_agent(cloud, bus):
    """``start_agent(network_node=True)``: a started agent of host1 (stopped afterwards)."""
    started = []

    def start(network_node: bool = True) -> NetworkAgent:
        conf = cloud.conf
        agent = NetworkAgent(
            conf,
            bus,
            FakeDriver(conf),
            FakeFirewall(conf),
            dhcp=FakeDhcp(conf) if network_node else None,
            l3=FakeL3(conf) if network_node else None,
        )
        started.append(agent)
        agent.start()
        return agent

    yield start
    for agent in started:
        agent.stop()


@pytest.fixture
def net(cloud, network):
    """A network with a DHCP subnet, as ``network`` (the families driven as the API does)."""
    network_id = network.networks.create(ADMIN, {"name": "n"})["id"]
    network.subnets.create(ADMIN, {"network_id": network_id, "cidr": "10.1.0.0/24"})
    return network_id


def status(network, port_id):
    return network.ports.get(ADMIN, port_id)["status"]


def test_start_reports_every_role_alive(cloud, start_agent):
    start_agent()

    def rows():
        found = cloud.network.agents.list(ADMIN, ListQuery()).items
        return found if len(found) == 3 else None

    found = wait_until(rows, 5, "three agent rows")
    assert {(r.agent.agent_type, r.agent.host, r.alive) for r in found} == {
        ("Linux bridge agent", "host1", True),
        ("DHCP agent", "host1", True),
        ("L3 agent", "host1", True),
    }
    l2 = next(r.agent for r in found if r.agent.agent_type == "Linux bridge agent")
    assert l2.configurations["local_ip"] == "10.255.0.11"
    assert l2.configurations["interface_mappings"] == {"public": "eth-ext"}


def test_a_bound_port_goes_active_once_the_agent_wired_it(cloud, network, net, start_agent):
    agent = start_agent(network_node=False)
    port = network.ports.create(ADMIN, {"network_id": net, "binding:host_id": "host1"})
    assert port["status"] == "DOWN"
    wait_until(lambda: status(network, port["id"]) == "ACTIVE", 5, "the port ACTIVE")
    assert port["id"] in agent.l2.ports  # wired by the L2 part
    [ports, groups] = agent.firewall.calls[-1]
    assert [p["id"] for p in ports] == [port["id"]]
    assert [g["id"] for g in groups] == port["security_groups"]
    # its device goes away: the agent reports it down
    agent.l2.missing.add(port["id"])
    cloud.network.notify_dataplane()
    wait_until(lambda: status(network, port["id"]) == "DOWN", 5, "the port DOWN again")


def test_a_fanout_sync_makes_a_round_within_a_second(cloud, start_agent):
    agent = start_agent()
    before = agent.rounds
    cloud.network.notify_dataplane()
    wait_until(lambda: agent.rounds > before, 1.0, "a round after the fanout", interval=0.02)


def test_sync_requests_during_a_round_make_one_more_round_not_one_each(cloud, bus):
    conf = cloud.conf
    agent = NetworkAgent(conf, bus, FakeDriver(conf), FakeFirewall(conf))
    agent.start_threads()  # the loop alone: no report, no fanout of the server's own
    try:
        ctx = RequestContext.system()
        with agent._round_lock:  # a round in progress: 20 requests arrive meanwhile
            for _ in range(20):
                agent.sync(ctx)
        wait_until(lambda: agent.rounds >= 1, 2.0, "a round after the requests", interval=0.02)
        wait_until(
            lambda: not agent._wake.is_set() and not agent._round_lock.locked(),
            2.0,
            "the requests served",
            interval=0.02,
        )
        assert 1 <= agent.rounds <= 2
    finally:
        agent.stop()


def test_a_failing_part_leaves_the_others_running(cloud, bus, network, net):
    conf = cloud.conf
    agent = NetworkAgent(  # not started: only the rounds this test runs
        conf, bus, FakeDriver(conf), FakeFirewall(conf), dhcp=FakeDhcp(conf), l3=FakeL3(conf)
    )
    agent.report_state()
    wait_until(lambda: len(cloud.network.agents.list(ADMIN, ListQuery()).items) == 3, 5, "rows")
    agent.firewall.fail = NetworkDriverError("nft: boom")
    port = network.ports.create(ADMIN, {"network_id": net, "binding:host_id": "host1"})
    result = agent.run_round()
    assert result.failed == ["firewall"]
    assert port["id"] in result.wired and result.up == []  # not filtered: not reported up
    assert agent.dhcp.calls and agent.l3.calls  # the network node's parts ran too
    assert [d["network_id"] for d in agent.dhcp.calls[-1][0]] == [net]
    assert status(network, port["id"]) == "DOWN"

    agent.firewall.fail = None
    agent.l2.fail = NetworkDriverError("ip: boom")
    dhcp_calls = len(agent.dhcp.calls)
    result = agent.run_round()
    assert result.failed == ["l2"] and result.up == []
    assert len(agent.dhcp.calls) == dhcp_calls + 1

    agent.l2.fail = None  # the next round retries
    result = agent.run_round()
    assert result.failed == [] and port["id"] in result.up
    assert status(network, port["id"]) == "ACTIVE"


def test_without_a_server_a_round_fails_and_the_agent_keeps_going(conf, bus):
    conf = conf.replace(network_driver="fake", hostname="lonely")
    agent = NetworkAgent(conf, bus, FakeDriver(conf), FakeFirewall(conf), host="lonely")
    result = agent.run_round()
    assert result.failed == ["get_host_state"] and agent.l2.calls == []


def test_network_host_builds_the_parts_of_the_configured_driver(cloud, bus):
    host = NetworkHost(cloud.conf, bus, network_node=True, netns="ns-x")
    assert isinstance(host.agent.l2, FakeDriver) and host.agent.l2.netns == "ns-x"
    assert isinstance(host.agent.dhcp, FakeDhcp) and isinstance(host.agent.l3, FakeL3)
    assert NetworkHost(cloud.conf, bus).agent.dhcp is None


def test_interface_mappings_parse_neutrons_syntax():
    assert interface_mappings("public:eth-ext, phys2:eth2,bad,") == {
        "public": "eth-ext",
        "phys2": "eth2",
    }


def test_the_agent_holds_and_imports_no_database():
    source = Path(agent_module.__file__).read_text()
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    banned = ("sqlalchemy", "pocketstack.common.db", "pocketstack.network.models")
    assert not [m for m in imported if m and m.startswith(banned)]
    assert "db" not in inspect.signature(NetworkAgent.__init__).parameters
