"""RouterNamespaces against the real kernel: guests on two internal bridges and an "outside"
namespace on an external bridge, all throwaway namespaces; the router namespace routes
between them, SNATs to its gateway IP and DNATs floating IPs."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pocketstack.common.config import Config
from pocketstack.network.drivers import ip_lib
from pocketstack.network.drivers.base import NetworkDriverError
from pocketstack.network.drivers.l3 import RouterNamespaces, namespace_name
from tests.helpers import wait_until
from tests.unit.network.drivers.sandbox import Sandbox, netns_exists, pings, sh

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")

# a namespace counts the pings it receives and records their sources
PROBE = """
table ip probe {
  set sources { type ipv4_addr; flags dynamic; }
  chain input {
    type filter hook input priority 0; policy accept;
    icmp type echo-request counter add @sources { ip saddr }
  }
}
"""


@pytest.fixture
def l3(tmp_path: Path, sandbox: Sandbox) -> Iterator[RouterNamespaces]:
    """The driver acting in the sandbox's ``host`` namespace; cleaned up after the test."""
    host = sandbox.netns("host")
    conf = Config.load({"state_dir": str(tmp_path / "state")}, environ={})
    driver = RouterNamespaces(conf, netns=host)
    yield driver
    driver.cleanup()


class Topology:
    """Internal networks ``a`` (10.1.0.0/24) and ``b`` (10.2.0.0/24) with one guest each at
    .5 (default route via .1), and an external network of this test's own prefix whose
    "outside" namespace holds ``<ext>.1`` and no route to the internal networks.

    Attributes:
        router: a host state ``routers`` item joining a and b, its gateway ``<ext>.2``.
    """

    def __init__(self, sandbox: Sandbox, host: str):
        self.nets = {name: str(uuid.uuid4()) for name in ("a", "b", "ext")}
        for net_id in self.nets.values():
            sandbox.bridge(host, "brq" + net_id[:11])
        self.ext = f"172.24.{100 + int(sandbox.uid, 16) % 100}"
        self.guest_a = self.guest(sandbox, host, "a", "10.1.0")
        ip_lib.nft_apply(PROBE, self.guest_a)
        self.guest_b = self.guest(sandbox, host, "b", "10.2.0")
        ext_bridge = "brq" + self.nets["ext"][:11]
        self.outside = sandbox.guest(
            "out", host, ext_bridge, "fa:16:3e:00:0e:01", self.ext + ".1/24"
        )
        ip_lib.nft_apply(PROBE, self.outside)
        self.router: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "admin_state_up": True,
            "enable_snat": True,
            "gateway": self.port("ext", self.ext + ".2/24", gateway_ip=self.ext + ".1"),
            "interfaces": [self.port("a", "10.1.0.1/24"), self.port("b", "10.2.0.1/24")],
            "routes": [],
            "floating_ips": [],
        }

    def guest(self, sandbox: Sandbox, host: str, net: str, prefix: str, name: str = "") -> str:
        """A guest ``<prefix>.5/24`` on network ``net``, default route via ``<prefix>.1``."""
        name = name or net
        mac = f"fa:16:3e:00:0{name}:05"
        guest = sandbox.guest(name, host, "brq" + self.nets[net][:11], mac, prefix + ".5/24")
        sh("ip", "route", "add", "default", "via", prefix + ".1", netns=guest)
        return guest

    def port(self, net: str, ip_cidr: str, **extra: Any) -> dict[str, Any]:
        port_id = str(uuid.uuid4())
        return {
            "port_id": port_id,
            "mac_address": f"fa:16:3e:{port_id[:2]}:{port_id[2:4]}:{port_id[4:6]}",
            "ip_cidr": ip_cidr,
            "network_id": self.nets[net],
            "mtu": 1450,
            **extra,
        }

    def sources_seen(self) -> set[str]:
        """Sources of the pings the outside received since the last call."""
        return take_sources(self.outside)

    def add_floating_ip(self) -> str:
        """Give guest a (10.1.0.5) the floating IP ``<ext>.10`` on the router (not synced);
        returns the floating address."""
        floating = self.ext + ".10"
        self.router["floating_ips"] = [
            {"floating_ip_address": floating, "fixed_ip_address": "10.1.0.5"}
        ]
        return floating


def take_sources(netns: str) -> set[str]:
    """Sources of the pings ``netns``'s probe recorded; empties the record."""
    listed = json.loads(sh("nft", "-j", "list", "set", "ip", "probe", "sources", netns=netns))
    sh("nft", "flush", "set", "ip", "probe", "sources", netns=netns)
    return {e for item in listed["nftables"] if "set" in item for e in item["set"].get("elem", [])}


def echo_requests(netns: str) -> int:
    """How many pings ``netns`` received (its probe's counter)."""
    listed = json.loads(sh("nft", "-j", "list", "chain", "ip", "probe", "input", netns=netns))
    return sum(
        expr["counter"]["packets"]
        for item in listed["nftables"]
        if "rule" in item
        for expr in item["rule"]["expr"]
        if "counter" in expr
    )


@pytest.fixture
def topology(sandbox: Sandbox, l3: RouterNamespaces) -> Topology:
    assert l3.netns
    return Topology(sandbox, l3.netns)


def test_router_joins_subnets_and_snats_to_its_gateway_ip(
    sandbox: Sandbox, l3: RouterNamespaces, topology: Topology
) -> None:
    router = topology.router
    router["routes"] = [{"destination": "192.168.50.0/24", "nexthop": "10.2.0.5"}]
    # a second subnet on network a, through the same router port
    router["interfaces"][0]["ip_cidrs"] = ["10.1.0.1/24", "10.3.0.1/24"]
    guest_c = topology.guest(sandbox, l3.netns or "", "a", "10.3.0", "c")

    assert l3.sync([router]) == {router["id"]: "created"}

    assert pings(topology.guest_a, "10.2.0.5")
    assert pings(topology.guest_b, "10.1.0.5")
    assert pings(guest_c, "10.2.0.5")
    assert pings(topology.guest_a, topology.ext + ".1")
    assert pings(guest_c, topology.ext + ".1")
    assert topology.sources_seen() == {topology.ext + ".2"}
    routes = {(r["dst"], r.get("gateway")) for r in ip_lib.routes(namespace_name(router["id"]))}
    assert ("default", topology.ext + ".1") in routes
    assert ("192.168.50.0/24", "10.2.0.5") in routes
    assert l3.sync([router]) == {router["id"]: "unchanged"}

    router["enable_snat"] = False
    assert l3.sync([router]) == {router["id"]: "updated"}

    assert not pings(topology.guest_a, topology.ext + ".1")  # the outside cannot answer 10.1.0.5
    assert topology.sources_seen() == {"10.1.0.5"}


def test_floating_ip_reaches_the_guest_until_it_is_removed(
    l3: RouterNamespaces, topology: Topology
) -> None:
    router = topology.router
    l3.sync([router])
    assert not pings(topology.outside, topology.ext + ".10")

    floating = topology.add_floating_ip()
    assert l3.sync([router]) == {router["id"]: "updated"}

    assert pings(topology.outside, floating)
    assert pings(topology.guest_a, topology.ext + ".1")
    assert pings(topology.guest_b, topology.ext + ".1")
    assert topology.sources_seen() == {floating, topology.ext + ".2"}

    # a new gateway port (another MAC) with the same addresses: the outside, which has the
    # old MAC cached for the floating IP, learns the new one from a gratuitous ARP
    router["gateway"] = {
        **topology.port("ext", topology.ext + ".2/24", gateway_ip=topology.ext + ".1")
    }
    l3.sync([router])

    assert pings(topology.outside, floating)

    router["floating_ips"] = []
    l3.sync([router])

    assert not pings(topology.outside, floating)


def test_a_guest_reaches_its_own_floating_ip_through_the_router(
    l3: RouterNamespaces, topology: Topology
) -> None:
    # regression: the DNATed packet went back into the guest's subnet with the guest's own
    # address as source, which the guest dropped (a martian): hairpin flows now SNAT to
    # the router's address on the subnet
    router = topology.router
    floating = topology.add_floating_ip()
    l3.sync([router])
    take_sources(topology.guest_a)

    assert pings(topology.guest_a, floating)
    assert pings(topology.guest_b, floating)  # from another subnet: no SNAT needed
    assert take_sources(topology.guest_a) == {"10.1.0.1", "10.2.0.5"}
    assert pings(topology.outside, floating)  # the outside's flows are not touched


def test_a_deleted_namespace_comes_back_and_unwanted_routers_go(
    sandbox: Sandbox, l3: RouterNamespaces, topology: Topology
) -> None:
    router = topology.router
    foreign = namespace_name(str(uuid.uuid4()))  # a qrouter- namespace that is not ours
    sh("ip", "netns", "add", foreign)
    sandbox.namespaces.append(foreign)
    l3.sync([router])
    taps = {"tap" + p["port_id"][:11] for p in [router["gateway"], *router["interfaces"]]}
    assert taps <= {link["ifname"] for link in ip_lib.links(l3.netns)}

    sh("ip", "netns", "delete", namespace_name(router["id"]))  # behind the agent's back
    assert l3.sync([router]) == {router["id"]: "created"}
    assert pings(topology.guest_a, "10.2.0.5")
    assert pings(topology.guest_a, topology.ext + ".1")

    router["interfaces"] = router["interfaces"][:1]
    assert l3.sync([router]) == {router["id"]: "updated"}
    assert not pings(topology.guest_a, "10.2.0.5")
    router["admin_state_up"] = False
    assert l3.sync([router]) == {router["id"]: "removed"}

    assert not netns_exists(namespace_name(router["id"]))
    assert not taps & {link["ifname"] for link in ip_lib.links(l3.netns)}
    assert netns_exists(foreign)
    assert not pings(topology.guest_a, topology.ext + ".1")


def test_removing_a_floating_ip_cuts_the_flows_already_through_it(
    l3: RouterNamespaces, topology: Topology
) -> None:
    router = topology.router
    floating = topology.add_floating_ip()
    l3.sync([router])
    # one ICMP flow (one conntrack entry) for its whole life, a ping each 0.1 s for 2 s
    argv = ["ip", "netns", "exec", topology.outside, "busybox", "ping", "-q", "-i", "0.1"]
    ping = subprocess.Popen([*argv, "-w", "2", floating], stdout=subprocess.DEVNULL)
    try:
        wait_until(lambda: echo_requests(topology.guest_a) >= 3, 5, "pings through the FIP")

        router["floating_ips"] = []
        l3.sync([router])
        reached = echo_requests(topology.guest_a)
        ping.wait(timeout=10)
    finally:
        if ping.poll() is None:
            ping.kill()
            ping.wait()

    assert echo_requests(topology.guest_a) - reached <= 1  # one may have been in flight


def test_a_bad_router_fails_alone(l3: RouterNamespaces, topology: Topology) -> None:
    bad = {**topology.router, "id": "no/slashes"}
    bad_route = {
        **topology.router,
        "id": str(uuid.uuid4()),
        "gateway": None,
        "interfaces": [],
        "routes": [{"destination": "10.9.0.0/24", "nexthop": "not-an-address"}],
    }

    with pytest.raises(NetworkDriverError) as raised:
        l3.sync([bad, bad_route, topology.router])

    assert "no/slashes: invalid router id" in str(raised.value)
    assert f"{bad_route['id']}: " in str(raised.value)
    assert pings(topology.guest_a, "10.2.0.5")
