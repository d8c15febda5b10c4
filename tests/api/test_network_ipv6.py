"""IPv6 subnets through the real clients: ``ipv6_ra_mode`` / ``ipv6_address_mode`` stored
and shown, Neutron's checks of them, and the addresses ports get (EUI-64 from the MAC on
SLAAC and DHCPv6-stateless subnets, the pool on DHCPv6-stateful ones)."""

from __future__ import annotations

import ipaddress
import uuid

import openstack.exceptions
import pytest

MODES = ("slaac", "dhcpv6-stateful", "dhcpv6-stateless")


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def network(running_cloud):
    """A fresh network of demo's, deleted with its ports afterwards."""
    demo = running_cloud.sdk()
    net = demo.network.create_network(name=_name("v6net"))
    yield net
    admin = running_cloud.sdk("pocketstack-admin")
    for port in admin.network.ports(network_id=net.id):
        admin.network.delete_port(port.id, ignore_missing=True)
    admin.network.delete_network(net.id, ignore_missing=True)


def _eui64(prefix: str, mac: str) -> str:
    """RFC 4291 appendix A, written out independently of the server's code."""
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 0x02
    iid = octets[:3] + [0xFF, 0xFE] + octets[3:]
    net = ipaddress.IPv6Network(prefix)
    return str(net.network_address + int.from_bytes(bytes(iid), "big"))


def _fails(cloud, *args: str) -> str:
    proc = cloud.openstack(*args, check=False, json_output=False)
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def test_ipv6_subnet_modes_are_stored_and_shown(running_cloud, network):
    for i, mode in enumerate(MODES):
        created = running_cloud.openstack(
            "subnet", "create", "--network", network.id, "--ip-version", "6",
            "--subnet-range", f"fd00:{i + 1}::/64", "--ipv6-ra-mode", mode,
            "--ipv6-address-mode", mode, _name(mode),
        )  # fmt: skip
        assert created["ip_version"] == 6
        assert created["cidr"] == f"fd00:{i + 1}::/64"
        assert created["gateway_ip"] == f"fd00:{i + 1}::1"
        shown = running_cloud.openstack("subnet", "show", created["id"])
        assert (shown["ipv6_ra_mode"], shown["ipv6_address_mode"]) == (mode, mode)
    demo = running_cloud.sdk()
    slaac = list(demo.network.subnets(network_id=network.id, ipv6_address_mode="slaac"))
    assert [s.cidr for s in slaac] == ["fd00:1::/64"]
    # only the address mode: an external router advertises (Neutron accepts it)
    only = demo.network.create_subnet(
        network_id=network.id, ip_version=6, cidr="fd00:9::/64", ipv6_address_mode="slaac"
    )
    assert only.ipv6_ra_mode is None and only.ipv6_address_mode == "slaac"
    assert only.allocation_pools == [{"start": "fd00:9::2", "end": "fd00:9::ffff:ffff:ffff:ffff"}]


def test_invalid_ipv6_modes_are_400_with_neutrons_message(running_cloud, network):
    err = _fails(
        running_cloud, "subnet", "create", "--network", network.id, "--ip-version", "6",
        "--subnet-range", "fd00:20::/64", "--ipv6-ra-mode", "slaac",
        "--ipv6-address-mode", "dhcpv6-stateful", _name("mixed"),
    )  # fmt: skip
    assert (
        "ipv6_ra_mode set to 'slaac' with ipv6_address_mode set to 'dhcpv6-stateful' is not "
        "valid. If both attributes are set, they must be the same value"
    ) in err
    demo = running_cloud.sdk()
    cases = [
        (
            {"ip_version": 4, "cidr": "10.61.0.0/24", "ipv6_ra_mode": "slaac"},
            "ipv6_ra_mode is not valid when ip_version is 4",
        ),
        (
            {"ip_version": 6, "cidr": "fd00:21::/80", "ipv6_address_mode": "slaac"},
            "OpenStack uses the EUI-64 address format, which requires the prefix to be /64",
        ),
        (
            {
                "ip_version": 6,
                "cidr": "fd00:22::/64",
                "ipv6_address_mode": "dhcpv6-stateful",
                "enable_dhcp": False,
            },
            "cannot be set when enable_dhcp is set to False",
        ),
        ({"ip_version": 6, "cidr": "10.62.0.0/24"}, "Invalid CIDR"),
    ]
    for attrs, message in cases:
        with pytest.raises(openstack.exceptions.BadRequestException) as err_info:
            demo.network.create_subnet(network_id=network.id, **attrs)
        assert message in str(err_info.value)
    assert list(demo.network.subnets(network_id=network.id)) == []


def test_dual_stack_port_addresses(running_cloud, network):
    demo = running_cloud.sdk()
    v4 = demo.network.create_subnet(network_id=network.id, ip_version=4, cidr="10.63.0.0/24")
    subnets = {
        mode: demo.network.create_subnet(
            network_id=network.id,
            ip_version=6,
            cidr=f"fd00:6{i}::/64",
            ipv6_ra_mode=mode,
            ipv6_address_mode=mode,
        )  # fmt: skip
        for i, mode in enumerate(MODES)
    }
    mac = "fa:16:3e:12:34:56"
    port = demo.network.create_port(network_id=network.id, mac_address=mac)
    got = {ip["subnet_id"]: ip["ip_address"] for ip in port.fixed_ips}
    assert set(got) == {v4.id, *(s.id for s in subnets.values())}
    assert ipaddress.ip_address(got[v4.id]) in ipaddress.ip_network("10.63.0.0/24")
    assert got[subnets["slaac"].id] == _eui64("fd00:60::/64", mac) == "fd00:60::f816:3eff:fe12:3456"
    assert got[subnets["dhcpv6-stateless"].id] == _eui64("fd00:62::/64", mac)
    stateful = ipaddress.ip_address(got[subnets["dhcpv6-stateful"].id])  # from the pool
    assert ipaddress.ip_address("fd00:61::2") <= stateful < ipaddress.ip_address("fd00:61::100")
    # the CLI shows the same addresses
    shown = running_cloud.openstack("port", "show", port.id)
    assert _eui64("fd00:60::/64", mac) in str(shown["fixed_ips"])

    # a named address on a SLAAC subnet is refused as Neutron refuses it
    with pytest.raises(openstack.exceptions.BadRequestException) as err_info:
        demo.network.create_port(
            network_id=network.id,
            fixed_ips=[{"subnet_id": subnets["slaac"].id, "ip_address": "fd00:60::5"}],
        )
    assert (
        f"IPv6 address fd00:60::5 cannot be directly assigned to a port on subnet "
        f"{subnets['slaac'].id} as the subnet is configured for automatic addresses"
    ) in str(err_info.value)
    # the subnet alone gives the EUI-64 address; a stateful subnet takes a named address
    other = demo.network.create_port(
        network_id=network.id,
        fixed_ips=[
            {"subnet_id": subnets["slaac"].id},
            {"subnet_id": subnets["dhcpv6-stateful"].id, "ip_address": "fd00:61::99"},
        ],
    )
    got = {ip["subnet_id"]: ip["ip_address"] for ip in other.fixed_ips}
    assert got == {
        subnets["slaac"].id: _eui64("fd00:60::/64", other.mac_address),
        subnets["dhcpv6-stateful"].id: "fd00:61::99",
    }
    # an update naming only the stateful address keeps the SLAAC one (Neutron keeps it)
    updated = demo.network.update_port(
        other.id, fixed_ips=[{"subnet_id": subnets["dhcpv6-stateful"].id}]
    )
    got = {ip["subnet_id"]: ip["ip_address"] for ip in updated.fixed_ips}
    assert got[subnets["slaac"].id] == _eui64("fd00:60::/64", other.mac_address)
    assert set(got) == {subnets["slaac"].id, subnets["dhcpv6-stateful"].id}


def test_nameservers_and_host_routes_of_the_other_ip_version_are_400(running_cloud, network):
    """Regression: an IPv6 nameserver on an IPv4 subnet was stored and stopped the
    network's DHCP server (dnsmasq refused the v6 address as a DHCPv4 option)."""
    demo = running_cloud.sdk()
    bad = [
        (
            {"ip_version": 4, "cidr": "10.64.0.0/24", "dns_nameservers": ["2001:db8::53"]},
            "Invalid input for operation: dns_nameserver '2001:db8::53' does not match the "
            "ip_version '4'",
        ),
        (
            {"ip_version": 6, "cidr": "fd00:64::/64", "dns_nameservers": ["10.64.0.53"]},
            "dns_nameserver '10.64.0.53' does not match the ip_version '6'",
        ),
        (
            {
                "ip_version": 4,
                "cidr": "10.65.0.0/24",
                "host_routes": [{"destination": "10.9.0.0/16", "nexthop": "fd00:64::7"}],
            },
            "nexthop 'fd00:64::7' does not match the ip_version '4'",
        ),
        (
            {
                "ip_version": 4,
                "cidr": "10.66.0.0/24",
                "host_routes": [{"destination": "fd00:99::/64", "nexthop": "10.66.0.7"}],
            },
            "destination 'fd00:99::/64' does not match the ip_version '4'",
        ),
        (
            {
                "ip_version": 6,
                "cidr": "fd00:65::/64",
                "host_routes": [{"destination": "0.0.0.0/0", "nexthop": "fd00:65::7"}],
            },
            "destination '0.0.0.0/0' does not match the ip_version '6'",
        ),
    ]
    for attrs, message in bad:
        with pytest.raises(openstack.exceptions.BadRequestException) as err_info:
            demo.network.create_subnet(network_id=network.id, **attrs)
        assert message in str(err_info.value)
    assert list(demo.network.subnets(network_id=network.id)) == []

    v4 = demo.network.create_subnet(
        network_id=network.id, ip_version=4, cidr="10.67.0.0/24", dns_nameservers=["10.67.0.53"]
    )
    with pytest.raises(openstack.exceptions.BadRequestException) as err_info:
        demo.network.update_subnet(v4, dns_nameservers=["10.67.0.53", "2001:db8::53"])
    assert "dns_nameserver '2001:db8::53' does not match the ip_version '4'" in str(err_info.value)
    v6 = demo.network.create_subnet(
        network_id=network.id,
        ip_version=6,
        cidr="fd00:67::/64",
        dns_nameservers=["2001:db8::53"],
        host_routes=[{"destination": "::/0", "nexthop": "fd00:67::7"}],
    )
    assert v6.dns_nameservers == ["2001:db8::53"]
    assert demo.network.get_subnet(v4.id).dns_nameservers == ["10.67.0.53"]
    # the CLI shows the same refusal
    err = _fails(
        running_cloud, "subnet", "set", "--dns-nameserver", "10.67.0.54", v6.id
    )  # fmt: skip
    assert "does not match the ip_version '6'" in err


@pytest.fixture
def external(running_cloud):
    """An admin's fresh external network, deleted with its floating IPs and ports after."""
    admin = running_cloud.sdk("pocketstack-admin")
    net = admin.network.create_network(name=_name("ext6"), is_router_external=True)
    yield net
    for fip in admin.network.ips(floating_network_id=net.id):
        admin.network.delete_ip(fip.id, ignore_missing=True)
    for port in admin.network.ports(network_id=net.id):
        admin.network.delete_port(port.id, ignore_missing=True)
    admin.network.delete_network(net.id, ignore_missing=True)


def test_floating_ips_are_ipv4_addresses_of_a_dual_stack_external_network(running_cloud, external):
    """Regression: a floating IP's port got an address of every subnet and the floating IP
    took any one of them, so it could be IPv6; Neutron allocates them from IPv4 only."""
    admin = running_cloud.sdk("pocketstack-admin")
    demo = running_cloud.sdk()
    v6 = admin.network.create_subnet(
        network_id=external.id, ip_version=6, cidr="2001:db8:70::/64", enable_dhcp=False
    )
    # an IPv6-only external network has no floating IP to give
    with pytest.raises(openstack.exceptions.BadRequestException) as err_info:
        demo.network.create_ip(floating_network_id=external.id)
    assert (
        f"Bad floatingip request: Network {external.id} does not contain any IPv4 subnet"
    ) in str(err_info.value)
    assert list(admin.network.ports(network_id=external.id)) == []

    admin.network.create_subnet(
        network_id=external.id, ip_version=4, cidr="203.0.113.0/24", enable_dhcp=False
    )
    fip = demo.network.create_ip(floating_network_id=external.id)
    assert ipaddress.ip_address(fip.floating_ip_address) in ipaddress.ip_network("203.0.113.0/24")
    # its port holds that address alone (no IPv6 address of the pool is used up)
    [port] = admin.network.ports(network_id=external.id, device_owner="network:floatingip")
    assert [ip["ip_address"] for ip in port.fixed_ips] == [fip.floating_ip_address]
    # nor can one be asked for on the IPv6 subnet or at an IPv6 address
    for attrs in ({"subnet_id": v6.id}, {"floating_ip_address": "2001:db8:70::9"}):
        with pytest.raises(openstack.exceptions.BadRequestException):
            admin.network.create_ip(floating_network_id=external.id, **attrs)
    assert [f.floating_ip_address for f in admin.network.ips(floating_network_id=external.id)] == [
        fip.floating_ip_address
    ]
