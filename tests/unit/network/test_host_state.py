"""The server side of the network agents (``network.agent_reports``, ``network.host_state``)
on SQLite: heartbeats, each host's wanted state, DHCP ports, port status reports.

The cloud runs the ``fake`` network driver (a driver with agents); the agents' messages are
the endpoint's methods called directly, what the bus would deliver."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from pocketstack.common.auth import RequestContext
from pocketstack.network.agent_reports import NetworkAgentReports
from pocketstack.network.models import Agent, Port
from pocketstack.network.rpcapi import DHCP_AGENT, L2_AGENT, L3_AGENT
from pocketstack.service import Cloud

ADMIN = RequestContext(user_id="u-admin", project_id="admin", roles=("admin",))
SYSTEM = RequestContext.system()
VTEP = {"host1": "10.255.0.11", "host2": "10.255.0.12", "host3": "10.255.0.13"}


@pytest.fixture
def cloud(conf, db, bus):
    """A cloud whose network driver has agents."""
    return Cloud(conf.replace(network_driver="fake"), db, bus)


@pytest.fixture
def reports(cloud):
    return NetworkAgentReports(cloud)


def report(reports, host, agent_type=L2_AGENT, **extra):
    configurations = {"local_ip": VTEP[host]} if agent_type == L2_AGENT else {}
    reports.report_state(
        SYSTEM,
        {"host": host, "agent_type": agent_type, "configurations": configurations, **extra},
    )


def make_network(network, name, cidr, dhcp=True):
    net = network.networks.create(ADMIN, {"name": name})
    network.subnets.create(
        ADMIN, {"network_id": net["id"], "cidr": cidr, "ip_version": 4, "enable_dhcp": dhcp}
    )
    return net["id"]


def bound_port(network, net_id, host, **body):
    return network.ports.create(ADMIN, {"network_id": net_id, "binding:host_id": host, **body})


def by_id(items):
    return {i["id"]: i for i in items}


def test_report_state_creates_then_updates_one_row_per_role_and_host(reports, db):
    report(reports, "host1")
    report(reports, "host1", DHCP_AGENT)
    with db.reader() as s:
        rows = {a.agent_type: a for a in s.scalars(sa.select(Agent))}
    assert set(rows) == {L2_AGENT, DHCP_AGENT}
    l2 = rows[L2_AGENT]
    assert (l2.binary, l2.topic, l2.availability_zone) == ("neutron-linuxbridge-agent", "N/A", None)
    assert rows[DHCP_AGENT].availability_zone == "nova"
    assert l2.configurations == {"local_ip": "10.255.0.11"}
    earlier = dt.datetime(2020, 1, 1)
    with db.transaction() as s:  # an admin disabled it, long ago
        row = s.get(Agent, l2.id)
        row.admin_state_up = False
        row.started_at = row.heartbeat_timestamp = earlier
    report(reports, "host1")
    with db.reader() as s:
        row = s.get(Agent, l2.id)
        assert row.heartbeat_timestamp > earlier and row.started_at == earlier
        assert row.admin_state_up is False
    report(reports, "host1", start_flag=True)
    with db.reader() as s:
        assert s.get(Agent, l2.id).started_at > earlier
        assert s.scalar(sa.select(sa.func.count()).select_from(Agent)) == 2


def test_ports_of_each_host_and_tunnels_only_to_hosts_with_the_network(network, reports):
    for host in VTEP:
        report(reports, host)
    shared = make_network(network, "shared", "10.1.0.0/24")
    only1 = make_network(network, "only1", "10.2.0.0/24")
    only3 = make_network(network, "only3", "10.3.0.0/24")
    p1 = bound_port(network, shared, "host1")
    p1b = bound_port(network, only1, "host1")
    p2 = bound_port(network, shared, "host2")
    bound_port(network, only3, "host3")
    network.ports.create(ADMIN, {"network_id": only1})  # unbound: no tunnel anywhere

    state1 = reports.get_host_state(SYSTEM, "host1")
    assert state1["host"] == "host1"
    assert set(by_id(state1["ports"])) == {p1["id"], p1b["id"]}
    nets = by_id(state1["networks"])
    assert set(nets) == {shared, only1}
    assert nets[shared]["remote_vteps"] == [VTEP["host2"]]
    assert nets[only1]["remote_vteps"] == []
    assert nets[shared]["network_type"] == "vxlan" and nets[shared]["segmentation_id"] > 0
    port = by_id(state1["ports"])[p1["id"]]
    assert port["fixed_ips"] == [
        {"subnet_id": p1["fixed_ips"][0]["subnet_id"], "ip_address": "10.1.0.2"}
    ]
    assert port["mac_address"] == p1["mac_address"] and port["status"] == "DOWN"

    state2 = reports.get_host_state(SYSTEM, "host2")
    assert [p["id"] for p in state2["ports"]] == [p2["id"]]
    assert [(n["id"], n["remote_vteps"]) for n in state2["networks"]] == [(shared, [VTEP["host1"]])]
    assert reports.get_host_state(SYSTEM, "nowhere")["ports"] == []


def test_security_groups_the_ports_use_and_name_with_member_ips(network, reports):
    report(reports, "host1")
    net = make_network(network, "n", "10.1.0.0/24")
    web = network.security_groups.create(ADMIN, {"name": "web"})["id"]
    db_group = network.security_groups.create(ADMIN, {"name": "db"})["id"]
    network.security_group_rules.create(
        ADMIN,
        {
            "security_group_id": web,
            "direction": "ingress",
            "protocol": "tcp",
            "port_range_min": 80,
            "port_range_max": 80,
            "remote_group_id": db_group,
        },
    )
    mine = bound_port(network, net, "host1", security_groups=[web])
    bound_port(network, net, "host2", security_groups=[db_group])  # another host's member
    network.ports.create(ADMIN, {"network_id": net, "security_groups": [db_group]})  # unbound
    insecure = bound_port(network, net, "host1", port_security_enabled=False)

    state = reports.get_host_state(SYSTEM, "host1")
    assert by_id(state["ports"])[insecure["id"]]["security_group_ids"] == []
    groups = by_id(state["security_groups"])
    assert set(groups) == {web, db_group}
    assert groups[web]["member_ips"] == [mine["fixed_ips"][0]["ip_address"]]
    assert groups[db_group]["member_ips"] == ["10.1.0.3", "10.1.0.4"]  # any host or none
    assert groups[db_group]["rules"] == []  # only named, not used here
    http = [r for r in groups[web]["rules"] if r["direction"] == "ingress"]
    assert http == [
        {
            "id": http[0]["id"],
            "direction": "ingress",
            "ethertype": "IPv4",
            "protocol": "tcp",
            "port_range_min": 80,
            "port_range_max": 80,
            "remote_ip_prefix": None,
            "remote_group_id": db_group,
        }
    ]
    assert {r["direction"] for r in groups[web]["rules"]} == {"ingress", "egress"}


def test_allowed_address_pairs_are_members_of_their_ports_groups(network, reports):
    # regression: a guest using an allowed address (a VIP, a moved address) was refused by
    # its peers' "ingress from my group" rules, as its address was no member
    report(reports, "host1")
    net = make_network(network, "n", "10.1.0.0/24")
    group = network.security_groups.create(ADMIN, {"name": "g"})["id"]
    pairs = [{"ip_address": "10.1.0.99"}, {"ip_address": "10.9.0.0/24"}]
    vip = bound_port(network, net, "host2", security_groups=[group], allowed_address_pairs=pairs)
    bound_port(network, net, "host1", security_groups=[group])

    groups = by_id(reports.get_host_state(SYSTEM, "host1")["security_groups"])
    own = vip["fixed_ips"][0]["ip_address"]
    assert {own, "10.1.0.99", "10.9.0.0/24"} <= set(groups[group]["member_ips"])

    network.ports.update(ADMIN, vip["id"], {"allowed_address_pairs": []})
    groups = by_id(reports.get_host_state(SYSTEM, "host1")["security_groups"])
    assert not {"10.1.0.99", "10.9.0.0/24"} & set(groups[group]["member_ips"])


def _dhcp_ports(db):
    with db.reader() as s:
        return list(s.scalars(sa.select(Port).where(Port.device_owner == "network:dhcp")))


def test_the_dhcp_host_gets_one_dhcp_port_per_network_that_needs_one(network, reports, db):
    report(reports, "host1")
    report(reports, "host1", DHCP_AGENT)
    report(reports, "host2")
    served = make_network(network, "served", "10.1.0.0/24")
    make_network(network, "empty", "10.2.0.0/24")  # no port: nobody to serve yet
    no_dhcp = make_network(network, "no-dhcp", "10.3.0.0/24", dhcp=False)
    guest = bound_port(
        network,
        served,
        "host2",
        extra_dhcp_opts=[
            {"opt_name": "tftp-server", "opt_value": "10.1.0.9"},
            {"opt_name": "bootfile-name", "opt_value": "boot.ipxe", "ip_version": 6},
        ],
    )
    bound_port(network, no_dhcp, "host2")

    state = reports.get_host_state(SYSTEM, "host1")
    [dhcp] = state["dhcp"]
    [port] = _dhcp_ports(db)
    assert (port.network_id, port.host_id, port.status) == (served, "host1", "DOWN")
    assert dhcp["network_id"] == served and dhcp["port"]["id"] == port.id
    assert dhcp["port"]["fixed_ips"][0]["ip_address"] == "10.1.0.3"
    assert dhcp["subnets"][0]["cidr"] == "10.1.0.0/24"
    assert dhcp["hosts"] == [
        {
            "mac_address": guest["mac_address"],
            "ip_address": "10.1.0.2",
            "hostname": "host-10-1-0-2",
            # the port's options for its (IPv4) address
            "extra_dhcp_opts": [
                {"opt_name": "tftp-server", "opt_value": "10.1.0.9", "ip_version": 4}
            ],
        }
    ]
    # the DHCP port is a port of the network node: wired by its L2 part, tunnelled to
    assert [p["id"] for p in state["ports"]] == [port.id]
    assert by_id(state["networks"])[served]["remote_vteps"] == [VTEP["host2"]]
    host2 = reports.get_host_state(SYSTEM, "host2")
    assert by_id(host2["networks"])[served]["remote_vteps"] == [VTEP["host1"]]
    assert host2["dhcp"] == []

    again = reports.get_host_state(SYSTEM, "host1")  # made once
    assert [p.id for p in _dhcp_ports(db)] == [port.id]
    assert again["generation"] == state["generation"]


def test_no_dhcp_port_without_an_alive_dhcp_agent(network, reports, db):
    report(reports, "host1", DHCP_AGENT)
    with db.transaction() as s:
        s.scalars(sa.select(Agent)).one().heartbeat_timestamp = dt.datetime(2020, 1, 1)
    net = make_network(network, "n", "10.1.0.0/24")
    bound_port(network, net, "host2")
    assert reports.get_host_state(SYSTEM, "host1")["dhcp"] == []
    assert _dhcp_ports(db) == []


def test_ports_up_and_down_flip_the_status_of_the_hosts_own_ports(network, reports):
    net = make_network(network, "n", "10.1.0.0/24")
    port = bound_port(network, net, "host1")
    assert port["status"] == "DOWN"  # a driver with agents: down until wired
    disabled = bound_port(network, net, "host1", admin_state_up=False)

    assert reports.ports_up(SYSTEM, "host2", [port["id"]]) == []  # not its port
    assert reports.ports_up(SYSTEM, "host1", [port["id"], disabled["id"], "gone"]) == [port["id"]]
    assert network.ports.get(ADMIN, port["id"])["status"] == "ACTIVE"
    assert network.ports.get(ADMIN, disabled["id"])["status"] == "DOWN"
    assert reports.ports_up(SYSTEM, "host1", [port["id"]]) == []  # already
    # an update that keeps the binding keeps the status; a new host starts DOWN again
    assert network.ports.update(ADMIN, port["id"], {"name": "x"})["status"] == "ACTIVE"
    assert reports.ports_down(SYSTEM, "host1", [port["id"]]) == [port["id"]]
    assert network.ports.get(ADMIN, port["id"])["status"] == "DOWN"
    reports.ports_up(SYSTEM, "host1", [port["id"]])
    moved = network.ports.update(ADMIN, port["id"], {"binding:host_id": "host2"})
    assert moved["status"] == "DOWN"


def test_compute_bound_ports_wait_for_the_agent(network, reports):
    net = make_network(network, "n", "10.1.0.0/24")
    [vif] = network.allocate_for_instance(
        ADMIN, "vm-1", "admin", "host1", [{"uuid": net}], ["default"]
    )
    assert network.ports.get(ADMIN, vif["port_id"])["status"] == "DOWN"
    reports.ports_up(SYSTEM, "host1", [vif["port_id"]])
    assert network.ports.get(ADMIN, vif["port_id"])["status"] == "ACTIVE"


def test_the_generation_changes_with_the_wanted_state(network, reports):
    report(reports, "host1")
    net = make_network(network, "n", "10.1.0.0/24")
    bound_port(network, net, "host1")
    first = reports.get_host_state(SYSTEM, "host1")["generation"]
    assert reports.get_host_state(SYSTEM, "host1")["generation"] == first
    bound_port(network, net, "host1")
    assert reports.get_host_state(SYSTEM, "host1")["generation"] != first


def test_a_bad_report_is_refused(reports):
    from pocketstack.common import errors

    with pytest.raises(errors.BadRequest):
        reports.report_state(SYSTEM, {"host": "h", "agent_type": "Open vSwitch agent"})
    with pytest.raises(errors.BadRequest):
        reports.report_state(SYSTEM, {"agent_type": L3_AGENT})


def test_the_l3_host_gets_the_routers_with_their_ports_bound_to_it(network, reports, db):
    from pocketstack.network.api import floatingips as fip_api
    from pocketstack.network.api import routers as router_api

    report(reports, "host1")
    report(reports, "host1", L3_AGENT)
    ext = network.networks.create(ADMIN, {"name": "public", "router:external": True})["id"]
    network.subnets.create(
        ADMIN,
        {
            "network_id": ext,
            "cidr": "172.24.4.0/24",
            "gateway_ip": "172.24.4.1",
            "enable_dhcp": False,
        },
    )
    inside = make_network(network, "inside", "10.1.0.0/24", dhcp=False)
    subnet = network.networks.get(ADMIN, inside)["subnets"][0]
    routers = network.manager.routers
    router = routers.create(
        ADMIN, router_api.parse_create({"name": "r", "external_gateway_info": {"network_id": ext}})
    ).router
    routers.add_interface(ADMIN, router.id, subnet_id=subnet)
    guest = bound_port(network, inside, "host2")
    network.manager.floating_ips.create(
        ADMIN, fip_api.parse_create({"floating_network_id": ext, "port_id": guest["id"]})
    )

    assert reports.get_host_state(SYSTEM, "host2")["routers"] == []  # not the L3 host
    state = reports.get_host_state(SYSTEM, "host1")
    [item] = state["routers"]
    assert (item["id"], item["admin_state_up"], item["enable_snat"]) == (router.id, True, True)
    gateway = item["gateway"]
    assert (gateway["ip_cidr"], gateway["gateway_ip"], gateway["network_id"]) == (
        "172.24.4.2/24",
        "172.24.4.1",
        ext,
    )
    [interface] = item["interfaces"]
    assert (interface["ip_cidr"], interface["network_id"], interface["mtu"]) == (
        "10.1.0.1/24",
        inside,
        1450,
    )
    assert item["floating_ips"] == [
        {"floating_ip_address": "172.24.4.3", "fixed_ip_address": "10.1.0.2"}
    ]
    # its ports are bound to the L3 host (DOWN until wired), so its L2 part plugs them
    router_ports = {gateway["port_id"], interface["port_id"]}
    assert router_ports <= set(by_id(state["ports"]))
    assert {by_id(state["ports"])[p]["status"] for p in router_ports} == {"DOWN"}
    with db.reader() as s:
        assert {s.get(Port, p).host_id for p in router_ports} == {"host1"}
    # the guest's host now tunnels to the network node
    host2 = reports.get_host_state(SYSTEM, "host2")
    assert by_id(host2["networks"])[inside]["remote_vteps"] == [VTEP["host1"]]


def test_the_dhcp_port_gets_an_address_on_a_dhcp_subnet_added_later(network, reports, db):
    report(reports, "host1", DHCP_AGENT)
    net = make_network(network, "n", "10.1.0.0/24")
    bound_port(network, net, "host2")
    reports.get_host_state(SYSTEM, "host1")
    network.subnets.create(ADMIN, {"network_id": net, "cidr": "10.5.0.0/24", "ip_version": 4})
    [dhcp] = reports.get_host_state(SYSTEM, "host1")["dhcp"]
    assert sorted(ip["ip_address"] for ip in dhcp["port"]["fixed_ips"]) == [
        "10.1.0.3",
        "10.5.0.2",
    ]
    assert len(dhcp["subnets"]) == 2 and len(_dhcp_ports(db)) == 1
    # a network whose last DHCP subnet stops serving loses its DHCP port
    for subnet in network.networks.get(ADMIN, net)["subnets"]:
        network.subnets.update(ADMIN, subnet, {"enable_dhcp": False})
    assert reports.get_host_state(SYSTEM, "host1")["dhcp"] == []
    assert _dhcp_ports(db) == []


def test_ipv6_subnets_reach_the_dhcp_server_with_their_modes_and_router(network, reports, db):
    import ipaddress

    from pocketstack.network.api import routers as router_api

    report(reports, "host1", DHCP_AGENT)
    net = make_network(network, "dual", "10.1.0.0/24")
    v6 = network.subnets.create(
        ADMIN,
        {
            "network_id": net,
            "cidr": "fd00:5::/64",
            "ip_version": 6,
            "ipv6_ra_mode": "slaac",
            "ipv6_address_mode": "slaac",
        },
    )["id"]
    guest = bound_port(network, net, "host2", mac_address="fa:16:3e:00:00:07")
    [dhcp] = reports.get_host_state(SYSTEM, "host1")["dhcp"]
    subnet = {s["id"]: s for s in dhcp["subnets"]}[v6]
    assert (subnet["ip_version"], subnet["ipv6_ra_mode"], subnet["ipv6_address_mode"]) == (
        6,
        "slaac",
        "slaac",
    )
    assert subnet["router_attached"] is False
    # the DHCP port and the guest have their EUI-64 addresses; the guest's is a host entry
    dhcp_mac = dhcp["port"]["mac_address"]
    octets = [int(x, 16) for x in dhcp_mac.split(":")]
    iid = f"{octets[0] ^ 2:02x}{octets[1]:02x}:{octets[2]:02x}ff:fe{octets[3]:02x}:"
    iid += f"{octets[4]:02x}{octets[5]:02x}"
    port_v6 = [ip["ip_address"] for ip in dhcp["port"]["fixed_ips"] if ":" in ip["ip_address"]]
    assert port_v6 == [str(ipaddress.ip_address("fd00:5::" + iid))]
    entries = {h["ip_address"] for h in dhcp["hosts"] if h["mac_address"] == guest["mac_address"]}
    assert {ip["ip_address"] for ip in guest["fixed_ips"]} == entries
    assert "fd00:5::f816:3eff:fe00:7" in entries and len(entries) == 2

    router = network.manager.routers.create(ADMIN, router_api.parse_create({"name": "r6"})).router
    network.manager.routers.add_interface(ADMIN, router.id, subnet_id=v6)
    [dhcp] = reports.get_host_state(SYSTEM, "host1")["dhcp"]
    assert {s["id"]: s for s in dhcp["subnets"]}[v6]["router_attached"] is True


def test_a_dual_stack_router_gateway_gets_the_ipv4_gateway_ip(network, reports):
    """Regression: the gateway's addresses were sorted as strings, so ``2001:db8::2``
    came before ``203.0.113.2`` and the L3 agent got the IPv6 gateway, installing no IPv4
    default route."""
    from pocketstack.network.api import routers as router_api

    report(reports, "host1")
    report(reports, "host1", L3_AGENT)
    ext = network.networks.create(ADMIN, {"name": "public6", "router:external": True})["id"]
    for cidr, version in (("203.0.113.0/24", 4), ("2001:db8::/64", 6)):
        network.subnets.create(
            ADMIN, {"network_id": ext, "cidr": cidr, "ip_version": version, "enable_dhcp": False}
        )
    network.manager.routers.create(
        ADMIN, router_api.parse_create({"name": "r", "external_gateway_info": {"network_id": ext}})
    )

    [item] = reports.get_host_state(SYSTEM, "host1")["routers"]
    gateway = item["gateway"]
    assert gateway["gateway_ip"] == "203.0.113.1"
    assert gateway["ip_cidr"] == "203.0.113.2/24"
    assert gateway["ip_cidrs"] == ["203.0.113.2/24", "2001:db8::2/64"]
