"""The Networking API through the real clients (``openstack`` CLI and openstacksdk)."""

from __future__ import annotations

import uuid

import openstack.exceptions
import pytest


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def made(running_cloud):
    """Records networks and groups a test creates; deletes them (and their ports) afterwards,
    so that the shared cloud keeps demo's single usable network for other tests."""
    networks: list[str] = []
    yield networks
    admin = running_cloud.sdk("pocketstack-admin")
    for network_id in reversed(networks):
        for port in admin.network.ports(network_id=network_id):
            admin.network.delete_port(port.id, ignore_missing=True)
        admin.network.delete_network(network_id, ignore_missing=True)


def _fails(cloud, *args: str, cloud_name: str = "pocketstack-demo") -> str:
    """Run a CLI command that must fail; returns its stderr."""
    proc = cloud.openstack(*args, cloud=cloud_name, check=False, json_output=False)
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def test_network_lifecycle(running_cloud, made):
    name = _name("net")
    net = running_cloud.openstack("network", "create", name)
    made.append(net["id"])
    assert net["name"] == name and net["status"] == "ACTIVE" and net["mtu"] == 1450
    assert net["provider:segmentation_id"] is None  # admin-only: hidden from demo
    listed = running_cloud.openstack("network", "list")
    assert name in [n["Name"] for n in listed]
    running_cloud.openstack(
        "network", "set", "--name", name + "-x", "--description", "d", name, json_output=False
    )
    shown = running_cloud.openstack("network", "show", name + "-x")
    assert shown["description"] == "d" and shown["revision_number"] > net["revision_number"]
    admin_view = running_cloud.openstack("network", "show", net["id"], cloud="pocketstack-admin")
    assert admin_view["provider:network_type"] == "vxlan"
    assert admin_view["provider:segmentation_id"] > 0
    running_cloud.openstack("network", "delete", net["id"], json_output=False)
    assert "No Network found" in _fails(running_cloud, "network", "show", net["id"])


def test_subnet_and_port_with_fixed_ip(running_cloud, made):
    net = running_cloud.openstack("network", "create", _name("net"))
    made.append(net["id"])
    subnet_name = _name("sub")
    subnet = running_cloud.openstack(
        "subnet", "create", "--network", net["id"], "--subnet-range", "192.168.5.0/24", subnet_name
    )
    assert subnet["cidr"] == "192.168.5.0/24" and subnet["gateway_ip"] == "192.168.5.1"
    assert subnet["allocation_pools"] == [{"start": "192.168.5.2", "end": "192.168.5.254"}]
    port = running_cloud.openstack(
        "port",
        "create",
        "--network",
        net["id"],
        "--fixed-ip",
        f"subnet={subnet_name},ip-address=192.168.5.10",
        _name("port"),
    )
    assert port["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "192.168.5.10"}]
    assert port["mac_address"].startswith("fa:16:3e:") and port["status"] == "DOWN"
    err = _fails(
        running_cloud,
        "port",
        "create",
        "--network",
        net["id"],
        "--fixed-ip",
        f"subnet={subnet_name},ip-address=192.168.5.10",
        _name("dup"),
    )
    assert "409" in err or "already allocated" in err
    auto = running_cloud.openstack("port", "create", "--network", net["id"], _name("auto"))
    assert auto["fixed_ips"][0]["ip_address"] == "192.168.5.2"
    ports = running_cloud.openstack("port", "list", "--network", net["id"])
    assert {p["ID"] for p in ports} == {port["id"], auto["id"]}


def test_port_extra_dhcp_options(running_cloud, made):
    net = running_cloud.openstack("network", "create", _name("net"))
    made.append(net["id"])
    port = running_cloud.openstack(
        "port",
        "create",
        "--network",
        net["id"],
        "--extra-dhcp-option",
        "name=tftp-server,value=10.0.0.9",
        "--extra-dhcp-option",
        "name=bootfile-name,value=boot.efi,ip-version=6",
        _name("port"),
    )
    assert port["extra_dhcp_opts"] == [
        {"opt_name": "tftp-server", "opt_value": "10.0.0.9", "ip_version": 4},
        {"opt_name": "bootfile-name", "opt_value": "boot.efi", "ip_version": 6},
    ]
    running_cloud.openstack(
        "port",
        "set",
        "--extra-dhcp-option",
        "name=tftp-server,value=10.0.0.10",
        "--extra-dhcp-option",
        "name=domain-name,value=example.test",
        port["id"],
        json_output=False,
    )
    shown = running_cloud.openstack("port", "show", port["id"])
    assert shown["extra_dhcp_opts"] == [
        {"opt_name": "tftp-server", "opt_value": "10.0.0.10", "ip_version": 4},
        {"opt_name": "bootfile-name", "opt_value": "boot.efi", "ip_version": 6},
        {"opt_name": "domain-name", "opt_value": "example.test", "ip_version": 4},
    ]
    # a null value removes an option (the CLI always sends one only with value=...)
    sdk = running_cloud.sdk("pocketstack-demo")
    sdk.network.update_port(
        port["id"],
        extra_dhcp_opts=[{"opt_name": "bootfile-name", "opt_value": None, "ip_version": 6}],
    )
    assert [o["opt_name"] for o in sdk.network.get_port(port["id"]).extra_dhcp_opts] == [
        "tftp-server",
        "domain-name",
    ]
    for bad in ("name=tftp-server", "name=tftp-server,value=x,ip-version=5"):
        err = _fails(running_cloud, "port", "set", "--extra-dhcp-option", bad, port["id"])
        assert "400" in err or "Invalid input" in err
    assert len(running_cloud.openstack("port", "show", port["id"])["extra_dhcp_opts"]) == 2
    assert sdk.network.find_extension("extra_dhcp_opt") is not None


def test_network_in_use_by_a_server_port(running_cloud, made):
    conn = running_cloud.sdk("pocketstack-admin")
    demo = running_cloud.sdk()
    net = demo.network.create_network(name=_name("busy"))
    made.append(net.id)
    demo.network.create_subnet(network_id=net.id, cidr="10.9.0.0/24", ip_version=4)
    conn.network.create_port(
        network_id=net.id,
        device_owner="compute:nova",
        device_id=str(uuid.uuid4()),
        project_id=net.project_id,
    )
    with pytest.raises(openstack.exceptions.ConflictException) as err:
        demo.network.delete_network(net.id)
    assert "NetworkInUse" in str(err.value.details) or "in use" in str(err.value)
    # a user's own port (no owner) keeps the network in use too, as in Neutron (only DHCP
    # ports go away with their network)
    other = demo.network.create_network(name=_name("free"))
    made.append(other.id)
    demo.network.create_subnet(network_id=other.id, cidr="10.9.1.0/24", ip_version=4)
    port = demo.network.create_port(network_id=other.id)
    with pytest.raises(openstack.exceptions.ConflictException):
        demo.network.delete_network(other.id)
    assert demo.network.find_port(port.id) is not None
    demo.network.delete_port(port.id)
    demo.network.delete_network(other.id)


def test_bad_subnet_input_is_400(running_cloud, made):
    net = running_cloud.openstack("network", "create", _name("net"))
    made.append(net["id"])
    err = _fails(
        running_cloud,
        "subnet",
        "create",
        "--network",
        net["id"],
        "--subnet-range",
        "10.300.0.0/24",
        _name("bad"),
    )
    assert "400" in err or "not a valid" in err
    err = _fails(
        running_cloud,
        "subnet",
        "create",
        "--network",
        net["id"],
        "--subnet-range",
        "10.8.2.0/24",
        "--ipv6-address-mode",
        "slaac",
        _name("v4-slaac"),
    )
    assert "ipv6_address_mode is not valid when ip_version is 4" in err
    demo = running_cloud.sdk()
    with pytest.raises(openstack.exceptions.BadRequestException):
        demo.network.create_subnet(
            network_id=net["id"],
            cidr="10.8.0.0/24",
            ip_version=4,
            allocation_pools=[{"start": "10.8.1.2", "end": "10.8.1.9"}],
        )


def test_security_groups_and_rules(running_cloud):
    rules = running_cloud.openstack("security", "group", "rule", "list", "default")
    assert len(rules) == 4
    assert sorted((r["Direction"], r["Ethertype"]) for r in rules) == [
        ("egress", "IPv4"),
        ("egress", "IPv6"),
        ("ingress", "IPv4"),
        ("ingress", "IPv6"),
    ]
    name = _name("sg")
    group = running_cloud.openstack("security", "group", "create", name)
    assert len(group["rules"]) == 2
    rule = running_cloud.openstack(
        "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", name
    )
    assert (rule["port_range_min"], rule["port_range_max"]) == (22, 22)
    assert rule["protocol"] == "tcp" and rule["direction"] == "ingress"
    err = _fails(
        running_cloud,
        "security",
        "group",
        "rule",
        "create",
        "--protocol",
        "tcp",
        "--dst-port",
        "22",
        name,
    )
    assert "already exists" in err
    demo = running_cloud.sdk()
    # the CLI refuses 30:20 itself; the API must too
    with pytest.raises(openstack.exceptions.BadRequestException) as bad:
        demo.network.create_security_group_rule(
            security_group_id=group["id"],
            direction="ingress",
            protocol="tcp",
            port_range_min=30,
            port_range_max=20,
        )
    assert "port_range_min must be <= port_range_max" in str(bad.value)
    default = demo.network.find_security_group("default")
    with pytest.raises(openstack.exceptions.ConflictException):
        demo.network.delete_security_group(default.id)
    running_cloud.openstack("security", "group", "delete", name, json_output=False)


def test_project_isolation_and_shared_networks(running_cloud, made):
    admin = running_cloud.sdk("pocketstack-admin")
    demo = running_cloud.sdk()
    hidden = admin.network.create_network(name=_name("admin-only"))
    shared = admin.network.create_network(name=_name("shared"), is_shared=True)
    made.extend([hidden.id, shared.id])
    admin.network.create_subnet(network_id=shared.id, cidr="10.7.0.0/24", ip_version=4)
    with pytest.raises(openstack.exceptions.NotFoundException):
        demo.network.get_network(hidden.id)
    assert demo.network.get_network(shared.id).is_shared
    names = {n.name for n in demo.network.networks()}
    assert shared.name in names and hidden.name not in names and "public" in names
    # demo may plug into the shared network but not add subnets to it
    port = demo.network.create_port(network_id=shared.id)
    assert port.fixed_ips[0]["ip_address"].startswith("10.7.0.")
    with pytest.raises(openstack.exceptions.ForbiddenException):
        demo.network.create_subnet(network_id=shared.id, cidr="10.7.1.0/24", ip_version=4)
    # an admin lists every project's networks (as Neutron does), or one project's
    private = demo.network.find_network("private")
    assert private.id in {n.id for n in admin.network.networks()}
    only_demo = {n.project_id for n in admin.network.networks(project_id=private.project_id)}
    assert only_demo == {private.project_id}


def test_list_filters_fields_and_pagination(running_cloud, made):
    demo = running_cloud.sdk()
    prefix = _name("page")
    nets = [demo.network.create_network(name=f"{prefix}-{i}") for i in range(5)]
    made.extend(n.id for n in nets)
    names = [n.name for n in demo.network.networks(name=[m.name for m in nets[:2]])]
    assert sorted(names) == [nets[0].name, nets[1].name]
    # the sdk follows the `next` links page by page
    paged = [n.id for n in demo.network.networks(limit=2, sort_key="name", sort_dir="asc")]
    assert [m.id for m in nets] == [i for i in paged if i in {m.id for m in nets}]
    resp = demo.network.get("/networks?fields=id&fields=name&limit=1")
    body = resp.json()
    assert set(body["networks"][0]) == {"id", "name"}
    assert body["networks_links"][0]["rel"] == "next"


def test_allowed_address_pair_without_mac_shows_the_ports_mac(running_cloud, made):
    """Neutron fills a pair's ``mac_address`` with the port's own MAC when none is given
    (Networking API v2.0, "Ports": ``allowed_address_pairs``); Ansible's port module
    compares the pairs it asked for with the ones shown, field by field."""
    demo = running_cloud.sdk()
    net = demo.network.create_network(name=_name("net"))
    made.append(net.id)
    demo.network.create_subnet(network_id=net.id, cidr="192.168.15.0/24", ip_version=4)
    port = demo.network.create_port(
        network_id=net.id,
        allowed_address_pairs=[
            {"ip_address": "192.168.15.60"},
            {"ip_address": "192.168.15.64/30", "mac_address": "fa:16:3e:00:00:01"},
        ],
    )
    assert port.allowed_address_pairs == [
        {"ip_address": "192.168.15.60", "mac_address": port.mac_address},
        {"ip_address": "192.168.15.64/30", "mac_address": "fa:16:3e:00:00:01"},
    ]
    port = demo.network.update_port(port, allowed_address_pairs=[{"ip_address": "10.9.9.9"}])
    shown = demo.network.get_port(port.id)
    assert shown.allowed_address_pairs == [
        {"ip_address": "10.9.9.9", "mac_address": port.mac_address}
    ]


def test_security_group_rules_bulk_create(running_cloud):
    """``POST /v2.0/security-group-rules`` with ``{"security_group_rules": [...]}``
    (Neutron's bulk create, openstacksdk's ``create_security_group_rules``, Ansible's
    ``security_group`` with ``security_group_rules``): 201 with every rule, in order; a
    bad or duplicate rule among them refuses all of them."""
    demo = running_cloud.sdk()
    group = demo.network.create_security_group(name=_name("sg"))
    try:
        made = list(
            demo.network.create_security_group_rules(
                [
                    {
                        "security_group_id": group.id,
                        "direction": "ingress",
                        "protocol": "tcp",
                        "port_range_min": 80,
                        "port_range_max": 80,
                        "remote_ip_prefix": "0.0.0.0/0",
                    },
                    {
                        "security_group_id": group.id,
                        "direction": "ingress",
                        "protocol": "icmp",
                        "remote_group_id": group.id,
                        "description": "pings from members",
                    },
                ]
            )
        )
        assert [(r.protocol, r.port_range_min) for r in made] == [("tcp", 80), ("icmp", None)]
        assert made[1].remote_group_id == group.id
        assert made[1].description == "pings from members"
        before = sorted(r.id for r in demo.network.security_group_rules(security_group_id=group.id))
        assert {r.id for r in made} <= set(before)
        conn = demo.network
        # the second repeats the first: neither is added (409)
        udp = {
            "security_group_id": group.id,
            "direction": "ingress",
            "protocol": "udp",
            "port_range_min": 53,
            "port_range_max": 53,
        }
        resp = conn.post("/security-group-rules", json={"security_group_rules": [udp, udp]})
        assert resp.status_code == 409, resp.text
        # an unknown attribute in one: 400, nothing added
        bad = {**udp, "port_range_min": 54, "port_range_max": 54, "colour": "red"}
        resp = conn.post("/security-group-rules", json={"security_group_rules": [udp, bad]})
        assert resp.status_code == 400, resp.text
        resp = conn.post("/security-group-rules", json={"security_group_rules": []})
        assert resp.status_code == 400, resp.text
        after = sorted(r.id for r in demo.network.security_group_rules(security_group_id=group.id))
        assert after == before
    finally:
        demo.network.delete_security_group(group.id)


def test_security_group_rule_errors_as_neutron_words_them(running_cloud):
    """Regression (interop guideline 2020.06, tempest NegativeSecGroupTest): a second group
    named ``default`` is 409 (not 400); a port outside 1-65535 is 400 "Invalid value for port
    N" (not the schema's message); a min-less range is the range error; a remote group that
    does not exist is 404 whatever its form (a non-UUID was 400)."""
    demo = running_cloud.sdk()
    with pytest.raises(openstack.exceptions.ConflictException):
        demo.network.create_security_group(name="default")
    group = demo.network.create_security_group(name=_name("sg"))
    try:
        cases = [
            (-16, 80, "Invalid value for port -16"),
            (80, 65536, "Invalid value for port 65536"),
        ]
        cases.append((None, 6, "port_range_min must be <= port_range_max"))
        for low, high, words in cases:
            with pytest.raises(openstack.exceptions.BadRequestException) as bad:
                demo.network.create_security_group_rule(
                    security_group_id=group.id,
                    direction="ingress",
                    protocol="tcp",
                    port_range_min=low,
                    port_range_max=high,
                )
            assert words in str(bad.value)
        with pytest.raises(openstack.exceptions.BadRequestException) as bad:
            demo.network.create_security_group_rule(
                security_group_id=group.id, direction="ingress", protocol="icmp", port_range_max=6
            )
        assert "ICMP type (port-range-min) is missing" in str(bad.value)
        for remote in ("bad_group_id", str(uuid.uuid4())):
            with pytest.raises(openstack.exceptions.NotFoundException):
                demo.network.create_security_group_rule(
                    security_group_id=group.id,
                    direction="ingress",
                    protocol="tcp",
                    remote_group_id=remote,
                )
    finally:
        demo.network.delete_security_group(group.id)
