"""``/v2.0/agents`` through the API app: Neutron's agent view, ``alive`` from the heartbeat
against ``[network] agent_down_time``, the filters, admin-only access, update and delete.

No agent writes the table in these tests: rows are inserted through the model, as the
agents' ``report_state`` would."""

from __future__ import annotations

import datetime as dt

import pytest

from pocketstack.common.db import utcnow
from pocketstack.network.models import Agent
from tests.unit.network.api_client import USERS, call, serve


@pytest.fixture
def client(cloud, conf):
    with serve(cloud, conf) as test_client:
        yield test_client


def add_agent(cloud, agent_type: str, binary: str, host: str, age: float = 0.0) -> str:
    """An agent row whose last heartbeat was ``age`` seconds ago; returns its id."""
    with cloud.db.transaction() as s:
        agent = Agent(
            agent_type=agent_type,
            binary=binary,
            host=host,
            topic="network_agent" if agent_type != "DHCP agent" else "dhcp_agent",
            availability_zone=None if agent_type == "Linux bridge agent" else "nova",
            configurations={"local_ip": "10.255.0.11"},
            heartbeat_timestamp=utcnow() - dt.timedelta(seconds=age),
        )
        s.add(agent)
        s.flush()
        return agent.id


@pytest.fixture
def agents(cloud):
    """host1: a live L2 and a live DHCP agent; host2: an L2 agent silent for 60 s."""
    return {
        "l2": add_agent(cloud, "Linux bridge agent", "neutron-linuxbridge-agent", "host1"),
        "dhcp": add_agent(cloud, "DHCP agent", "neutron-dhcp-agent", "host1"),
        "dead": add_agent(cloud, "Linux bridge agent", "neutron-linuxbridge-agent", "host2", 60),
    }


def test_agent_view_and_alive(client, agents):
    resp = call(client, "GET", f"/agents/{agents['dhcp']}")
    assert resp.status_code == 200, resp.text
    agent = resp.json()["agent"]
    assert agent["agent_type"] == "DHCP agent" and agent["binary"] == "neutron-dhcp-agent"
    assert agent["host"] == "host1" and agent["alive"] is True
    assert agent["admin_state_up"] is True and agent["availability_zone"] == "nova"
    assert agent["configurations"] == {"local_ip": "10.255.0.11"}
    # Neutron's agent timestamps: "YYYY-MM-DD HH:MM:SS", UTC, no zone
    dt.datetime.strptime(agent["heartbeat_timestamp"], "%Y-%m-%d %H:%M:%S")
    dead = call(client, "GET", f"/agents/{agents['dead']}").json()["agent"]
    assert dead["alive"] is False


def test_agent_down_time_decides_alive(cloud, conf, agents):
    slow = conf.replace(agent_down_time=120)
    with serve(cloud.__class__(slow, cloud.db, cloud.bus), slow) as client:
        assert call(client, "GET", f"/agents/{agents['dead']}").json()["agent"]["alive"] is True


@pytest.mark.parametrize(
    ("query", "wanted"),
    [
        ("", {"l2", "dhcp", "dead"}),
        ("?agent_type=Linux%20bridge%20agent", {"l2", "dead"}),
        ("?host=host1", {"l2", "dhcp"}),
        ("?binary=neutron-dhcp-agent", {"dhcp"}),
        ("?alive=true", {"l2", "dhcp"}),
        ("?alive=false", {"dead"}),
        ("?alive=False&host=host1", set()),
        ("?admin_state_up=true&host=host2", {"dead"}),
    ],
)
def test_list_filters(client, agents, query, wanted):
    resp = call(client, "GET", "/agents" + query)
    assert resp.status_code == 200, resp.text
    names = {v: k for k, v in agents.items()}
    assert {names[a["id"]] for a in resp.json()["agents"]} == wanted


def test_update_and_delete(client, agents):
    resp = call(
        client,
        "PUT",
        f"/agents/{agents['l2']}",
        {"agent": {"admin_state_up": False, "description": "drain"}},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["agent"]["admin_state_up"] is False
    shown = call(client, "GET", f"/agents/{agents['l2']}").json()["agent"]
    assert shown["admin_state_up"] is False and shown["description"] == "drain"
    resp = call(client, "PUT", f"/agents/{agents['l2']}", {"agent": {"host": "elsewhere"}})
    assert resp.status_code == 400, resp.text
    assert call(client, "DELETE", f"/agents/{agents['l2']}").status_code == 204
    resp = call(client, "GET", f"/agents/{agents['l2']}")
    assert resp.status_code == 404
    assert resp.json()["NeutronError"]["type"] == "AgentNotFound"


def test_agents_are_for_admins_only(client, agents):
    for method, path, body in [
        ("GET", "/agents", None),
        ("GET", f"/agents/{agents['l2']}", None),
        ("PUT", f"/agents/{agents['l2']}", {"agent": {"description": "x"}}),
        ("DELETE", f"/agents/{agents['l2']}", None),
    ]:
        resp = call(client, method, path, body, token="demo")
        assert resp.status_code == 403, (method, path, resp.text)
    assert call(client, "GET", f"/agents/{agents['l2']}").json()["agent"]["description"] is None


def test_alive_filter_on_postgresql(pg_cloud):
    """The ``alive`` filter is SQL against the heartbeat cut-off on PostgreSQL too."""
    from pocketstack.network.lists import ListQuery

    live = add_agent(pg_cloud, "L3 agent", "neutron-l3-agent", "host1")
    add_agent(pg_cloud, "L3 agent", "neutron-l3-agent", "host2", age=60)
    admin = USERS["admin"]
    found = pg_cloud.network.agents.list(admin, ListQuery(filters={"alive": ("true",)}))
    assert [(r.agent.id, r.alive) for r in found.items] == [(live, True)]


def test_dhcp_agents_of_a_network_and_l3_agents_of_a_router(client, cloud):
    from pocketstack.network.models import Port

    on_h1 = add_agent(cloud, "DHCP agent", "neutron-dhcp-agent", "h1")
    add_agent(cloud, "DHCP agent", "neutron-dhcp-agent", "h2")
    l3 = add_agent(cloud, "L3 agent", "neutron-l3-agent", "h2")
    net = call(client, "POST", "/networks", {"network": {"name": "n"}}).json()["network"]
    subnet = {"network_id": net["id"], "cidr": "10.3.0.0/24"}
    subnet_id = call(client, "POST", "/subnets", {"subnet": subnet}).json()["subnet"]["id"]
    path = f"/networks/{net['id']}/dhcp-agents"
    assert call(client, "GET", path).json() == {"agents": []}  # no DHCP port yet
    dhcp = {"network_id": net["id"], "device_owner": "network:dhcp", "binding:host_id": "h1"}
    assert call(client, "POST", "/ports", {"port": dhcp}).status_code == 201
    assert [a["id"] for a in call(client, "GET", path).json()["agents"]] == [on_h1]
    assert call(client, "GET", path, token="demo").status_code == 403
    assert call(client, "GET", "/networks/nope/dhcp-agents").status_code == 404

    router = call(client, "POST", "/routers", {"router": {"name": "r"}}).json()["router"]
    added = call(
        client, "PUT", f"/routers/{router['id']}/add_router_interface", {"subnet_id": subnet_id}
    )
    assert added.status_code == 200, added.text
    with cloud.db.transaction() as s:  # as the router API binds it to the network node
        s.get(Port, added.json()["port_id"]).host_id = "h2"
    found = call(client, "GET", f"/routers/{router['id']}/l3-agents").json()["agents"]
    assert [(a["id"], a["agent_type"]) for a in found] == [(l3, "L3 agent")]
    assert call(client, "GET", "/routers/nope/l3-agents").status_code == 404
