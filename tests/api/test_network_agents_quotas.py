"""Network agents, quotas, tags, extensions and provider segments through the real clients
(the ``openstack`` CLI and openstacksdk), on the session's shared cloud.

No agent runs in that cloud (network driver ``noop``): agent rows are written through the
model into the cloud's SQLite database, as the agents' ``report_state`` would write them."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest

from pocketstack.common.db import Database, utcnow
from pocketstack.network.models import Agent

ADMIN = "pocketstack-admin"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def cloud_db(running_cloud) -> Iterator[Database]:
    """The shared cloud's database (embedded mode: SQLite in its state directory)."""
    path = running_cloud.state_dir / "pocketstack.db"
    if not path.exists():
        pytest.skip("the cloud keeps its state elsewhere (distributed mode)")
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


@pytest.fixture
def agents(cloud_db) -> Iterator[dict[str, str]]:
    """A live Linux bridge agent and a DHCP agent silent for a minute, on a host of this
    test's own; removed afterwards."""
    host = _name("host")
    made = {}
    with cloud_db.transaction() as s:
        for key, agent_type, binary, age in (
            ("l2", "Linux bridge agent", "neutron-linuxbridge-agent", 0),
            ("dhcp", "DHCP agent", "neutron-dhcp-agent", 60),
        ):
            row = Agent(
                agent_type=agent_type,
                binary=binary,
                host=host,
                topic="network_agent",
                availability_zone=None if key == "l2" else "nova",
                configurations={"local_ip": "10.255.0.11"},
                heartbeat_timestamp=utcnow() - dt.timedelta(seconds=age),
            )
            s.add(row)
            s.flush()
            made[key] = row.id
    made["host"] = host
    yield made
    with cloud_db.transaction() as s:
        for key in ("l2", "dhcp"):
            row = s.get(Agent, made[key])
            if row is not None:
                s.delete(row)


def test_agent_list_show_set_delete(running_cloud, agents):
    listed = running_cloud.openstack(
        "network", "agent", "list", "--host", agents["host"], cloud=ADMIN
    )
    by_id = {a["ID"]: a for a in listed}
    assert set(by_id) == {agents["l2"], agents["dhcp"]}
    assert by_id[agents["l2"]]["Agent Type"] == "Linux bridge agent"
    assert by_id[agents["l2"]]["Alive"] is True and by_id[agents["dhcp"]]["Alive"] is False
    assert by_id[agents["dhcp"]]["Binary"] == "neutron-dhcp-agent"
    dhcp_only = running_cloud.openstack(
        "network", "agent", "list", "--agent-type", "dhcp", "--host", agents["host"], cloud=ADMIN
    )
    assert [a["ID"] for a in dhcp_only] == [agents["dhcp"]]
    running_cloud.openstack(
        "network",
        "agent",
        "set",
        "--disable",
        "--description",
        "drained",
        agents["l2"],
        cloud=ADMIN,
        json_output=False,
    )
    shown = running_cloud.openstack("network", "agent", "show", agents["l2"], cloud=ADMIN)
    assert shown["admin_state_up"] is False and shown["description"] == "drained"
    assert shown["configuration"] == {"local_ip": "10.255.0.11"} and shown["alive"] is True
    running_cloud.openstack(
        "network", "agent", "delete", agents["l2"], cloud=ADMIN, json_output=False
    )
    sdk = running_cloud.sdk(ADMIN)
    assert [a.id for a in sdk.network.agents(host=agents["host"])] == [agents["dhcp"]]


def test_agents_are_hidden_from_members(running_cloud, agents):
    proc = running_cloud.openstack("network", "agent", "list", check=False, json_output=False)
    assert proc.returncode != 0 and "403" in proc.stderr, proc.stderr
    proc = running_cloud.openstack(
        "network", "agent", "delete", agents["dhcp"], check=False, json_output=False
    )
    assert proc.returncode != 0
    assert running_cloud.sdk(ADMIN).network.get_agent(agents["dhcp"]).id == agents["dhcp"]


@pytest.fixture
def demo_quota(running_cloud) -> Iterator[str]:
    """The demo project's id; its network quotas are put back on the defaults afterwards."""
    project = running_cloud.sdk().current_project_id
    yield project
    running_cloud.openstack("quota", "delete", "--network", project, cloud=ADMIN, check=False)


def test_quota_set_show_and_enforcement(running_cloud, demo_quota):
    sdk = running_cloud.sdk()
    used = len([n for n in sdk.network.networks() if n.project_id == demo_quota])
    running_cloud.openstack(
        "quota", "set", "--networks", str(used + 1), demo_quota, cloud=ADMIN, json_output=False
    )
    shown = running_cloud.openstack("quota", "show", "--network", demo_quota)
    limits = {row["Resource"]: row["Limit"] for row in shown}
    assert limits["networks"] == used + 1 and limits["ports"] == 500
    every = running_cloud.openstack("quota", "show", demo_quota)  # compute's and network's
    every_limit = {row["Resource"]: row["Limit"] for row in every}
    assert every_limit["networks"] == used + 1 and every_limit["instances"] > 0
    listed = running_cloud.openstack("quota", "list", "--network", cloud=ADMIN)
    assert [q["Networks"] for q in listed if q["Project ID"] == demo_quota] == [used + 1]
    usage = running_cloud.openstack("quota", "show", "--usage", "--network", demo_quota)
    assert {r["Resource"]: r["In Use"] for r in usage}["networks"] == used
    first = running_cloud.openstack("network", "create", _name("q"))
    try:
        proc = running_cloud.openstack(
            "network", "create", _name("q"), check=False, json_output=False
        )
        assert proc.returncode != 0 and "Quota exceeded for resources: ['network']" in proc.stderr
        details = sdk.network.get_quota(demo_quota, details=True)
        assert details.networks == {"limit": used + 1, "used": used + 1, "reserved": 0}
        defaults = sdk.network.get_quota_default(demo_quota)
        assert (defaults.networks, defaults.security_group_rules) == (100, 100)
    finally:
        sdk.network.delete_network(first["id"])
    running_cloud.openstack(
        "quota", "delete", "--network", demo_quota, cloud=ADMIN, json_output=False
    )
    assert sdk.network.get_quota(demo_quota).networks == 100


def test_network_tags_through_set_and_unset(running_cloud):
    net = running_cloud.openstack("network", "create", "--tag", "red", _name("tagged"))
    try:
        running_cloud.openstack(
            "network", "set", "--tag", "blue", "--tag", "green", net["id"], json_output=False
        )
        assert sorted(running_cloud.openstack("network", "show", net["id"])["tags"]) == [
            "blue",
            "green",
            "red",
        ]
        running_cloud.openstack("network", "unset", "--tag", "red", net["id"], json_output=False)
        listed = running_cloud.openstack("network", "list", "--tags", "blue,green")
        assert [n["ID"] for n in listed] == [net["id"]]
        sdk = running_cloud.sdk()
        sdk.network.add_tag(sdk.network.get_network(net["id"]), "sdk")
        assert sorted(sdk.network.get_network(net["id"]).tags) == ["blue", "green", "sdk"]
        running_cloud.openstack("network", "set", "--no-tag", net["id"], json_output=False)
        assert running_cloud.openstack("network", "show", net["id"])["tags"] == []
    finally:
        running_cloud.openstack("network", "delete", net["id"], json_output=False)


def test_extensions_name_what_is_there(running_cloud):
    listed = running_cloud.openstack("extension", "list", "--network")
    aliases = {e["Alias"] for e in listed}
    assert {
        "agent",
        "quotas",
        "standard-attr-tag",
        "provider",
        "binding",
        "external-net",
    } <= aliases
    assert running_cloud.sdk().network.find_extension("agent") is not None


def test_public_is_a_flat_external_network(running_cloud):
    public = running_cloud.openstack("network", "show", "public", cloud=ADMIN)
    assert public["router:external"] is True
    assert (public["provider:network_type"], public["provider:physical_network"]) == (
        "flat",
        "public",
    )
    assert public["provider:segmentation_id"] is None and public["mtu"] == 1500
    demo_view = running_cloud.openstack("network", "show", "public")
    assert demo_view["provider:network_type"] is None  # admin-only


def test_admin_deletes_a_projects_default_security_group(running_cloud):
    project = running_cloud.openstack("project", "create", _name("sgproj"), cloud=ADMIN)
    try:
        group = running_cloud.openstack(
            "security", "group", "create", "--project", project["id"], _name("g"), cloud=ADMIN
        )
        default = running_cloud.openstack(
            "security", "group", "list", "--project", project["id"], cloud=ADMIN
        )
        [default_id] = [g["ID"] for g in default if g["Name"] == "default"]
        running_cloud.openstack(
            "security", "group", "delete", default_id, group["id"], cloud=ADMIN, json_output=False
        )
        left = running_cloud.openstack(
            "security", "group", "list", "--project", project["id"], cloud=ADMIN
        )
        assert default_id not in [g["ID"] for g in left]
    finally:
        running_cloud.openstack("project", "delete", project["id"], cloud=ADMIN, json_output=False)


def test_port_binding_attributes_are_an_admins(running_cloud):
    net = running_cloud.openstack("network", "create", _name("bound"))
    try:
        port = running_cloud.openstack(
            "port",
            "create",
            "--network",
            net["id"],
            "--host",
            "h1",
            "--project",
            net["project_id"],
            _name("p"),
            cloud=ADMIN,
        )
        shown = running_cloud.openstack("port", "show", port["id"], cloud=ADMIN)
        assert shown["binding_host_id"] == "h1" and shown["binding_vnic_type"] == "normal"
        assert shown["binding_vif_type"] == "noop"  # the API tests' network driver
        assert shown["binding_vif_details"] == {} and shown["binding_profile"] == {}
        demo_view = running_cloud.sdk().network.get_port(port["id"])
        assert demo_view.binding_host_id is None and demo_view.binding_vif_type is None
        assert demo_view.binding_vnic_type == "normal"
    finally:
        admin = running_cloud.sdk(ADMIN)
        for p in admin.network.ports(network_id=net["id"]):
            admin.network.delete_port(p.id)
        running_cloud.openstack("network", "delete", net["id"], json_output=False)


def test_agent_list_of_a_network(running_cloud, agents):
    net = running_cloud.openstack("network", "create", _name("served"), cloud=ADMIN)
    try:
        running_cloud.openstack(
            "port",
            "create",
            "--network",
            net["id"],
            "--device-owner",
            "network:dhcp",
            "--host",
            agents["host"],
            _name("dhcp"),
            cloud=ADMIN,
        )
        served = running_cloud.openstack(
            "network", "agent", "list", "--network", net["id"], cloud=ADMIN
        )
        assert [a["ID"] for a in served] == [agents["dhcp"]]
    finally:
        admin = running_cloud.sdk(ADMIN)
        for p in admin.network.ports(network_id=net["id"]):
            admin.network.delete_port(p.id)
        admin.network.delete_network(net["id"])
