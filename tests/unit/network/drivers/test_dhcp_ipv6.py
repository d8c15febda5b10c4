"""DnsmasqDhcp's IPv6 side against the real kernel and a real dnsmasq: a guest namespace on
the network's bridge gets a router advertisement (the kernel's SLAAC address from it) and a
DHCPv6 lease (ISC ``dhclient -6``), as the host state's IPv6 subnets say."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pocketstack.common.config import Config
from pocketstack.network.drivers.dhcp import DnsmasqDhcp
from pocketstack.network.ipam import eui64_address
from tests.helpers import wait_until
from tests.unit.network.drivers.sandbox import Sandbox, sh

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")

DHCP_MAC = "fa:16:3e:00:00:02"
GUEST_MAC = "fa:16:3e:00:00:05"


@pytest.fixture
def dhcp(tmp_path: Path, sandbox: Sandbox) -> Iterator[DnsmasqDhcp]:
    """The driver acting in the sandbox's ``host`` namespace; cleaned up after the test."""
    host = sandbox.netns("host")
    conf = Config.load({"state_dir": str(tmp_path / "state")}, environ={})
    driver = DnsmasqDhcp(conf, netns=host, state_dir=str(tmp_path / "state"))
    yield driver
    driver.cleanup()


def v6_network(
    network_id: str, cidr: str, mode: str, hosts: list[dict[str, Any]], router: bool = True
) -> dict[str, Any]:
    """A host state ``dhcp`` item with one IPv6 subnet of ``mode`` (both RA and address
    mode), the DHCP port on its EUI-64 (auto-address) or ``::2`` (stateful) address."""
    subnet_id = str(uuid.uuid4())
    prefix = cidr.split("/")[0]
    port_ip = eui64_address(cidr, DHCP_MAC) if mode != "dhcpv6-stateful" else prefix + "2"
    return {
        "network_id": network_id,
        "mtu": 1450,
        "port": {
            "id": str(uuid.uuid4()),
            "mac_address": DHCP_MAC,
            "fixed_ips": [{"subnet_id": subnet_id, "ip_address": port_ip}],
        },
        "subnets": [
            {
                "id": subnet_id,
                "cidr": cidr,
                "gateway_ip": prefix + "1",
                "dns_nameservers": ["fd00:53::53"],
                "host_routes": [],
                "ip_version": 6,
                "ipv6_ra_mode": mode,
                "ipv6_address_mode": mode,
                "router_attached": router,
            }
        ],
        "hosts": hosts,
    }


def guest_on_bridge(sandbox: Sandbox, dhcp: DnsmasqDhcp) -> tuple[str, str]:
    """A new network id with its bridge and one guest (``GUEST_MAC``) on it."""
    net_id = str(uuid.uuid4())
    assert dhcp.netns
    bridge = sandbox.bridge(dhcp.netns, "brq" + net_id[:11], mtu=1450)
    guest = sandbox.guest("g1", dhcp.netns, bridge, GUEST_MAC)
    sh("sysctl", "-qw", "net.ipv6.conf.eth0.accept_ra=2", netns=guest)
    return net_id, guest


def global_v6(guest: str) -> list[str]:
    out = json.loads(sh("ip", "-j", "-6", "addr", "show", "dev", "eth0", "scope", "global",
                        netns=guest))  # fmt: skip
    return [a["local"] for a in (out[0]["addr_info"] if out else []) if "local" in a]


def link_local_ready(guest: str) -> bool:
    out = json.loads(sh("ip", "-j", "-6", "addr", "show", "dev", "eth0", "scope", "link",
                        netns=guest))  # fmt: skip
    return any(
        "local" in a and not a.get("tentative") for a in (out[0]["addr_info"] if out else [])
    )


DHCLIENT_SCRIPT = """#!/bin/sh
# dhclient calls this with $reason and the lease as environment variables
case "$reason" in BOUND6|RENEW6|INFORM6) env | grep -E '^(reason|new_)' >> "$0.out" ;; esac
"""


def dhclient6(sandbox: Sandbox, guest: str, *flags: str) -> dict[str, str]:
    """Run ``dhclient -6`` (``-S``: options only) on the guest's ``eth0`` until its script
    sees a lease (``BOUND6``) or options (``RENEW6``/``INFORM6`` after an
    Information-request); returns the variables it was given (``new_ip6_address``,
    ``new_dhcp6_name_servers``...). The client is stopped afterwards."""
    if shutil.which("dhclient") is None:
        pytest.fail("dhclient is missing: scripts/setup installs isc-dhcp-client")
    wait_until(lambda: link_local_ready(guest), 10, "the guest's link-local address")
    base = sandbox.tmp_path / f"dhclient6-{uuid.uuid4().hex[:6]}"
    script = Path(str(base) + ".sh")
    script.write_text(DHCLIENT_SCRIPT)
    script.chmod(0o755)
    out = Path(str(script) + ".out")
    proc = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            guest,
            "dhclient",
            "-6",
            "-d",
            *flags,
            "-sf",
            str(script),
            "-lf",
            f"{base}.leases",
            "-pf",
            f"{base}.pid",
            "eth0",
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        text = wait_until(lambda: out.exists() and out.read_text(), 30, "a DHCPv6 answer")
    finally:
        proc.terminate()
        proc.wait(10)
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_slaac_subnet_on_a_router_is_advertised_and_the_guest_autoconfigures(
    sandbox: Sandbox, dhcp: DnsmasqDhcp
) -> None:
    net_id, guest = guest_on_bridge(sandbox, dhcp)
    assert dhcp.sync([v6_network(net_id, "fd00:70::/64", "slaac", [])]) == {net_id: "started"}

    wanted = eui64_address("fd00:70::/64", GUEST_MAC)
    wait_until(lambda: wanted in global_v6(guest), 30, f"the SLAAC address {wanted}")
    # the advertisement makes no default router (this namespace forwards nothing)
    assert "default" not in sh("ip", "-6", "route", "show", netns=guest)


def test_slaac_subnet_without_a_router_is_not_advertised(
    sandbox: Sandbox, dhcp: DnsmasqDhcp
) -> None:
    net_id, guest = guest_on_bridge(sandbox, dhcp)
    item = v6_network(net_id, "fd00:72::/64", "slaac", [], router=False)
    assert dhcp.sync([item]) == {net_id: "started"}
    wait_until(lambda: link_local_ready(guest), 10, "the guest's link-local address")
    # router solicitations go out when the link comes up; dnsmasq would answer at once
    sh("ip", "link", "set", "eth0", "down", netns=guest)
    sh("ip", "link", "set", "eth0", "up", netns=guest)
    with pytest.raises(AssertionError):
        wait_until(lambda: global_v6(guest), 5, "a SLAAC address")


def test_dhcpv6_stateful_gives_the_port_its_address_by_mac(
    sandbox: Sandbox, dhcp: DnsmasqDhcp
) -> None:
    net_id, guest = guest_on_bridge(sandbox, dhcp)
    hosts = [{"mac_address": GUEST_MAC, "ip_address": "fd00:71::10", "hostname": "vm-six"}]
    assert dhcp.sync([v6_network(net_id, "fd00:71::/64", "dhcpv6-stateful", hosts)]) == {
        net_id: "started"
    }

    lease = dhclient6(sandbox, guest)
    assert lease["reason"] == "BOUND6"
    assert lease["new_ip6_address"] == "fd00:71::10"
    assert lease["new_dhcp6_name_servers"] == "fd00:53::53"


def test_dhcpv6_stateless_answers_options_only(sandbox: Sandbox, dhcp: DnsmasqDhcp) -> None:
    net_id, guest = guest_on_bridge(sandbox, dhcp)
    item = v6_network(net_id, "fd00:73::/64", "dhcpv6-stateless", [])
    assert dhcp.sync([item]) == {net_id: "started"}

    wanted = eui64_address("fd00:73::/64", GUEST_MAC)
    wait_until(lambda: wanted in global_v6(guest), 30, f"the SLAAC address {wanted}")
    answer = dhclient6(sandbox, guest, "-S")
    assert answer["reason"] != "BOUND6"
    assert answer["new_dhcp6_name_servers"] == "fd00:53::53"
    assert "new_ip6_address" not in answer


def dual_stack_network(network_id: str, hosts: list[dict[str, Any]], **v4: Any) -> dict[str, Any]:
    """A host state ``dhcp`` item with an IPv4 subnet 10.0.0.0/24 (``v4`` overrides its
    attributes) and a DHCPv6-stateful one fd00:74::/64, the DHCP port on both."""
    item = v6_network(network_id, "fd00:74::/64", "dhcpv6-stateful", hosts)
    subnet_id = str(uuid.uuid4())
    item["subnets"].insert(
        0,
        {
            "id": subnet_id,
            "cidr": "10.0.0.0/24",
            "gateway_ip": "10.0.0.1",
            "dns_nameservers": [],
            "host_routes": [],
            "ip_version": 4,
            "ipv6_ra_mode": None,
            "ipv6_address_mode": None,
            "router_attached": False,
            **v4,
        },
    )
    item["port"]["fixed_ips"].insert(0, {"subnet_id": subnet_id, "ip_address": "10.0.0.2"})
    return item


def test_ipv6_nameservers_and_routes_of_an_ipv4_subnet_do_not_stop_its_dhcp(
    sandbox: Sandbox, dhcp: DnsmasqDhcp
) -> None:
    """Regression: an IPv6 nameserver stored on an IPv4 subnet (the API accepted one) was
    passed as DHCPv4's dns-server option; dnsmasq refused to start and every subnet of the
    network lost DHCP. The IPv4 options carry only IPv4 addresses."""
    net_id, guest = guest_on_bridge(sandbox, dhcp)
    hosts = [{"mac_address": GUEST_MAC, "ip_address": "10.0.0.5", "hostname": "vm-four"}]
    item = dual_stack_network(
        net_id,
        hosts,
        dns_nameservers=["fd00:53::54", "10.0.0.53"],
        host_routes=[
            {"destination": "fd00:99::/64", "nexthop": "fd00:74::7"},
            {"destination": "192.168.7.0/24", "nexthop": "10.0.0.7"},
        ],
    )

    assert dhcp.sync([item]) == {net_id: "started"}

    lease = sandbox.udhcpc(guest)
    assert lease["ip"] == "10.0.0.5"
    assert lease["dns"] == "10.0.0.53"
    assert lease["staticroutes"] == "192.168.7.0/24 10.0.0.7 0.0.0.0/0 10.0.0.1"


def test_a_dual_stack_ports_extra_dhcp_options_are_written_once(
    sandbox: Sandbox, dhcp: DnsmasqDhcp
) -> None:
    """Regression: a port with an IPv4 and a DHCPv6 host entry had its options written
    once per entry."""
    net_id, guest = guest_on_bridge(sandbox, dhcp)
    opts = [{"opt_name": "domain-name", "opt_value": "example.test", "ip_version": 4}]
    hosts = [
        {"mac_address": GUEST_MAC, "ip_address": ip, "hostname": "vm", "extra_dhcp_opts": opts}
        for ip in ("10.0.0.5", "fd00:74::10")
    ]

    assert dhcp.sync([dual_stack_network(net_id, hosts)]) == {net_id: "started"}

    tag = "port-" + GUEST_MAC.replace(":", "")
    options = Path(dhcp.root, net_id, "opts").read_text().splitlines()
    assert options == [f"tag:{tag},option:domain-name,example.test"]
    host_lines = Path(dhcp.root, net_id, "host").read_text().splitlines()
    assert host_lines == [
        f"{GUEST_MAC},set:{tag},vm,10.0.0.5",
        f"{GUEST_MAC},set:{tag},vm,[fd00:74::10]",
    ]
    assert sandbox.udhcpc(guest)["domain"] == "example.test"
