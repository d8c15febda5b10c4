"""NftablesFirewall against the real kernel: a host namespace whose bridge the linuxbridge
driver wires, guests on ``tap<port>`` veths, and what gets through between them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pocketstack.network.drivers.firewall import NftablesFirewall
from pocketstack.network.drivers.linuxbridge import LinuxBridgeDriver
from tests.helpers import wait_until
from tests.unit.network.drivers.guests import (
    VTEP1,
    VTEP2,
    TwoHosts,
    ping,
    plug_guest,
    port,
    unreachable,
    vxlan_network,
    wait_wired,
)
from tests.unit.network.drivers.sandbox import Sandbox, sh

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")

#: a TCP connect from a guest: prints "open", "refused" (a RST came back: not filtered) or
#: "timeout" (filtered)
CONNECT = """
import socket, sys
s = socket.socket()
s.settimeout(0.5)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("open")
except ConnectionRefusedError:
    print("refused")
except OSError:
    print("timeout")
"""


def group(rules: list[dict[str, Any]], members: list[str] | None = None) -> dict[str, Any]:
    """A security group of the host state."""
    return {"id": str(uuid.uuid4()), "rules": rules, "member_ips": list(members or [])}


def rule(direction: str, **fields: Any) -> dict[str, Any]:
    """A security group rule (IPv4 unless told), every other field None."""
    base = {
        "direction": direction,
        "ethertype": "IPv4",
        "protocol": None,
        "port_range_min": None,
        "port_range_max": None,
        "remote_ip_prefix": None,
        "remote_group_id": None,
    }
    return {**base, **fields}


EGRESS_ALL = rule("egress")
ICMP_IN = rule("ingress", protocol="icmp")


class Host:
    """One host namespace with a network's bridge, its guests and the firewall."""

    def __init__(self, box: Sandbox):
        self.box = box
        self.netns = box.netns("host")
        conf = SimpleNamespace(local_ip="", tunnel_interface="", physical_interface_mappings="")
        self.l2 = LinuxBridgeDriver(conf, netns=self.netns)
        self.firewall = NftablesFirewall(netns=self.netns)
        self.networks = [vxlan_network(2001), vxlan_network(2002)]
        self.network = self.networks[0]
        self.ports: list[dict[str, Any]] = []

    def guest(
        self, ip: str, *groups: dict[str, Any], network: int = 0, **changes: Any
    ) -> tuple[dict, str]:
        """A port in ``groups`` with a guest namespace on it, wired to the bridge of
        ``self.networks[network]``."""
        net_id = self.networks[network]["id"]
        p = port(net_id, ip, security_group_ids=[g["id"] for g in groups], **changes)
        ns = plug_guest(self.box, self.netns, p)
        self.ports.append(p)
        assert p["id"] in self.l2.sync(self.networks, self.ports)
        wait_wired(self.netns, ns, p)
        return p, ns

    def apply(self, *groups: dict[str, Any]) -> bool:
        return self.firewall.sync(self.ports, list(groups))

    def table_handle(self) -> int:
        listed = json.loads(sh("nft", "-j", "list", "tables", netns=self.netns))["nftables"]
        return next(
            t["table"]["handle"]
            for t in listed
            if "table" in t
            and t["table"]["family"] == "bridge"
            and t["table"]["name"] == "pocketstack"
        )

    def close(self) -> None:
        self.firewall.cleanup()
        self.l2.cleanup()


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    box = Sandbox(tmp_path)
    try:
        h = Host(box)
        yield h
        h.close()
    finally:
        box.close()


#: a UDP listener: prints "ready" once bound, then "got" or "nothing" within argv[2] s
LISTEN = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(float(sys.argv[2]))
print("ready", flush=True)
try:
    s.recvfrom(100)
    print("got")
except OSError:
    print("nothing")
"""
#: a UDP sender from port argv[1] to argv[2]:argv[3], three datagrams
SEND = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
for _ in range(3):
    s.sendto(b"x", (sys.argv[2], int(sys.argv[3])))
    time.sleep(0.1)
"""


def udp(sender: str, sport: int, receiver: str, address: str, dport: int) -> bool:
    """Whether a datagram ``sender`` sends from ``sport`` to ``address:dport`` reaches a
    listener in ``receiver``."""
    listen = subprocess.Popen(
        ["ip", "netns", "exec", receiver, sys.executable, "-c", LISTEN, str(dport), "0.8"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert listen.stdout is not None and listen.stdout.readline().strip() == "ready"
        send = ["ip", "netns", "exec", sender, sys.executable, "-c", SEND, str(sport)]
        subprocess.run([*send, address, str(dport)], check=True, timeout=30)
        out, _ = listen.communicate(timeout=30)
    finally:
        if listen.poll() is None:
            listen.kill()
            listen.wait()
    return out.strip() == "got"


def connect(guest: str, address: str, tcp_port: int) -> str:
    argv = ["ip", "netns", "exec", guest, sys.executable, "-c", CONNECT, address, str(tcp_port)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()


def set_ip(guest: str, cidr: str) -> None:
    sh("ip", "addr", "flush", "dev", "eth0", netns=guest)
    sh("ip", "addr", "add", cidr, "dev", "eth0", netns=guest)


def test_ingress_is_denied_until_a_rule_allows_it(host):
    sg = group([EGRESS_ALL])
    _, g1 = host.guest("10.0.0.5", sg)
    _, g2 = host.guest("10.0.0.6", sg)
    assert ping(g1, "10.0.0.6")  # no firewall yet: the bridge forwards everything
    host.apply(sg)
    assert unreachable(g1, "10.0.0.6")
    sg["rules"].append(ICMP_IN)
    assert host.apply(sg)
    assert ping(g1, "10.0.0.6") and ping(g2, "10.0.0.5")
    sg["rules"].remove(ICMP_IN)
    host.apply(sg)
    assert unreachable(g2, "10.0.0.5")


def test_replies_pass_without_an_ingress_rule(host):
    """Stateful: the client's group allows no ingress, yet the server's answers come back."""
    client, server = group([EGRESS_ALL]), group([EGRESS_ALL, ICMP_IN])
    _, g1 = host.guest("10.0.0.5", client)
    _, g2 = host.guest("10.0.0.6", server)
    host.apply(client, server)
    assert ping(g1, "10.0.0.6")
    assert unreachable(g2, "10.0.0.5")


def test_tcp_port_range_and_prefix(host):
    sg = group([EGRESS_ALL])
    _, g1 = host.guest("10.0.0.5", sg)
    host.guest("10.0.0.6", sg)
    sg["rules"].append(
        rule(
            "ingress",
            protocol="tcp",
            port_range_min=8000,
            port_range_max=8010,
            remote_ip_prefix="10.0.0.0/28",
        )  # fmt: skip
    )
    host.apply(sg)
    assert connect(g1, "10.0.0.6", 8005) == "refused"  # reached the guest, which has no server
    assert connect(g1, "10.0.0.6", 8011) == "timeout"
    sg["rules"][-1]["remote_ip_prefix"] = "10.0.0.128/25"
    host.apply(sg)
    assert connect(g1, "10.0.0.6", 8005) == "timeout"


def test_remote_group_follows_its_members_and_rewrites_only_the_set(host):
    default = group([EGRESS_ALL], members=["10.0.0.5", "10.0.0.6"])
    default["rules"].append(rule("ingress", remote_group_id=default["id"]))
    other = group([EGRESS_ALL])
    _, g1 = host.guest("10.0.0.5", default)
    _, g2 = host.guest("10.0.0.6", default)
    _, g3 = host.guest("10.0.0.7", other)
    host.apply(default, other)
    assert ping(g1, "10.0.0.6") and ping(g2, "10.0.0.5")
    assert unreachable(g3, "10.0.0.5")
    handle = host.table_handle()
    default["member_ips"].append("10.0.0.7")
    assert host.apply(default, other)
    assert ping(g3, "10.0.0.5")
    assert host.table_handle() == handle  # one set rewritten, not the table
    assert not host.apply(default, other)  # nothing changed: nothing done


def chain_rules(host: Host) -> dict[str, list[tuple[int, str]]]:
    """Each bridge table chain's rules as (nft handle, expression JSON)."""
    listed = json.loads(sh("nft", "-j", "list", "table", "bridge", "pocketstack", netns=host.netns))
    found: dict[str, list[tuple[int, str]]] = {}
    for item in listed["nftables"]:
        if "chain" in item:
            found.setdefault(item["chain"]["name"], [])
        elif "rule" in item:
            r = item["rule"]
            found.setdefault(r["chain"], []).append((r["handle"], json.dumps(r["expr"])))
    return found


def test_a_rule_change_rewrites_its_group_chain_only(host):
    """A rule added to one group is applied at once, and no port's chain nor any other
    group's chain is touched: every one of their rules keeps its nft handle."""
    web, other = group([EGRESS_ALL]), group([EGRESS_ALL])
    _, g1 = host.guest("10.0.0.5", other)
    host.guest("10.0.0.6", web)
    host.guest("10.0.0.7", web, other)
    assert host.apply(web, other)
    assert unreachable(g1, "10.0.0.6")
    before = chain_rules(host)
    web["rules"].append(ICMP_IN)
    assert host.apply(web, other)
    assert ping(g1, "10.0.0.6") and ping(g1, "10.0.0.7")
    after = chain_rules(host)
    changed = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
    assert changed == {f"sg-{web['id'][:11]}-ingress"}
    assert len(after[f"sg-{web['id'][:11]}-ingress"]) == 1


def test_a_new_process_converges_and_removes_stale_chains_and_sets(host):
    """A restarted agent remembers nothing: its first sync leaves only what is wanted now."""
    gone, kept = group([EGRESS_ALL], members=["10.0.0.5"]), group([EGRESS_ALL])
    gone["rules"].append(rule("ingress", remote_group_id=gone["id"]))
    p1, g1 = host.guest("10.0.0.5", gone)
    _, g2 = host.guest("10.0.0.6", kept)
    host.apply(gone, kept)
    host.ports.remove(p1)
    host.firewall = NftablesFirewall(netns=host.netns)  # the restarted agent's
    kept["rules"].append(ICMP_IN)
    assert host.apply(kept)
    listed = sh("nft", "list", "table", "bridge", "pocketstack", netns=host.netns)
    assert gone["id"][:11] not in listed and p1["id"][:11] not in listed
    assert kept["id"][:11] in listed
    assert ping(g1, "10.0.0.6")  # the removed port is no longer filtered; g2 admits ICMP
    assert not host.apply(kept)


def test_the_periodic_check_restores_a_chain_changed_behind_its_back(host):
    sg = group([EGRESS_ALL, ICMP_IN])
    _, g1 = host.guest("10.0.0.5", sg)
    host.guest("10.0.0.6", sg)
    host.apply(sg)
    sh("nft", "flush", "chain", "bridge", "pocketstack", f"sg-{sg['id'][:11]}-ingress",
       netns=host.netns)  # fmt: skip
    assert unreachable(g1, "10.0.0.6")
    assert not host.apply(sg)  # between checks the memory is trusted
    host.firewall.verify_interval = 0  # the periodic round's check is due
    assert host.apply(sg)
    assert ping(g1, "10.0.0.6")


def test_a_guest_sending_from_another_address_or_mac_is_cut_off(host):
    sg = group([EGRESS_ALL, ICMP_IN])
    p1, g1 = host.guest("10.0.0.5", sg)
    host.guest("10.0.0.6", sg)
    host.apply(sg)
    assert ping(g1, "10.0.0.6")
    set_ip(g1, "10.0.0.50/24")
    assert unreachable(g1, "10.0.0.6")
    p1["allowed_address_pairs"] = [{"ip_address": "10.0.0.48/29", "mac_address": None}]
    host.apply(sg)
    assert ping(g1, "10.0.0.6")
    sh("ip", "link", "set", "eth0", "address", "fa:16:3e:99:99:99", netns=g1)
    assert unreachable(g1, "10.0.0.6")


def test_port_security_disabled_means_no_filtering(host):
    sg = group([EGRESS_ALL])
    p1, g1 = host.guest("10.0.0.5", sg)
    p2, g2 = host.guest("10.0.0.6", sg)
    host.apply(sg)
    assert unreachable(g1, "10.0.0.6")
    p2["port_security_enabled"] = False
    p1["port_security_enabled"] = False
    host.apply(sg)
    set_ip(g1, "10.0.0.77/24")
    assert ping(g1, "10.0.0.6") and ping(g2, "10.0.0.77")


def test_cleanup_leaves_no_table_and_sync_restores_a_flushed_ruleset(host):
    sg = group([EGRESS_ALL])
    _, g1 = host.guest("10.0.0.5", sg)
    host.guest("10.0.0.6", sg)
    host.apply(sg)
    sh("nft", "flush", "ruleset", netns=host.netns)
    assert host.apply(sg)  # noticed the loss, applied again
    assert unreachable(g1, "10.0.0.6")
    host.firewall.cleanup()
    host.firewall.cleanup()
    assert "pocketstack" not in sh("nft", "list", "tables", netns=host.netns)
    assert ping(g1, "10.0.0.6")


def test_networks_with_the_same_addresses_do_not_share_connections(host):
    """Per-network conntrack zones: a flow on one network does not make the mirror-image
    packet on another network with the same addresses "established"."""
    client = group([EGRESS_ALL])
    server = group([EGRESS_ALL, rule("ingress", protocol="udp", port_range_min=53,
                                     port_range_max=53)])  # fmt: skip
    _, a1 = host.guest("10.0.0.5", client)
    _, a2 = host.guest("10.0.0.6", server)
    _, b1 = host.guest("10.0.0.6", client, network=1)
    _, b2 = host.guest("10.0.0.5", client, network=1)
    host.apply(client, server)
    assert udp(a1, 5000, a2, "10.0.0.6", 53)  # network 0: a1 -> a2:53 is a connection
    assert not udp(b1, 53, b2, "10.0.0.5", 5000)  # network 1: its mirror image is not a reply
    client["rules"].append(rule("ingress", protocol="udp", port_range_min=5000,
                                port_range_max=5000))  # fmt: skip
    host.apply(client, server)
    assert udp(b1, 53, b2, "10.0.0.5", 5000)


def udhcpd(host: Host, guest: str, config: str) -> subprocess.Popen:
    """busybox udhcpd in the foreground in ``guest`` with ``config`` (text)."""
    path = host.box.tmp_path / f"udhcpd-{guest}.conf"
    leases = host.box.tmp_path / f"udhcpd-{guest}.leases"
    leases.touch()
    path.write_text(config + f"\ninterface eth0\nlease_file {leases}\n")
    argv = ["ip", "netns", "exec", guest, "busybox", "udhcpd", "-f", str(path)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(
        lambda: ":67 " in sh("busybox", "netstat", "-lun", netns=guest) or proc.poll() is not None,
        5,
        "udhcpd listens",
    )
    assert proc.poll() is None, "udhcpd did not start"
    return proc


def test_a_guest_gets_its_lease_but_may_not_serve_one(host):
    """The DHCP client's exchange from 0.0.0.0 passes anti-spoofing; a guest's DHCP server
    does not reach the others (Neutron blocks DHCP server replies from instances)."""
    sg = group([EGRESS_ALL])
    client, g1 = host.guest("10.0.0.5", sg)
    _, dhcp_ns = host.guest("10.0.0.2", device_owner="network:dhcp")
    _, rogue_ns = host.guest("10.0.0.3", sg)
    host.apply(sg)
    sh("ip", "addr", "flush", "dev", "eth0", netns=g1)
    rogue = udhcpd(
        host,
        rogue_ns,
        f"start 10.0.0.200\nend 10.0.0.210\nstatic_lease {client['mac_address']} 10.0.0.66",
    )
    try:
        assert host.box.udhcpc(g1, tries=1) == {}
    finally:
        rogue.kill()
        rogue.wait()
    server = udhcpd(
        host,
        dhcp_ns,
        f"start 10.0.0.100\nend 10.0.0.110\nstatic_lease {client['mac_address']} 10.0.0.5",
    )
    try:
        assert host.box.udhcpc(g1).get("ip") == "10.0.0.5"
    finally:
        server.kill()
        server.wait()


def add_ipv6(guest: str, address: str) -> None:
    sh("ip", "addr", "add", f"{address}/64", "dev", "eth0", "nodad", netns=guest)


def test_ipv6_rules_neighbour_discovery_and_anti_spoofing(host):
    sg = group([rule("egress", ethertype="IPv6")])
    p1, g1 = host.guest("10.0.0.5", sg)
    p2, g2 = host.guest("10.0.0.6", sg)
    for p, g, address in ((p1, g1, "fd00::5"), (p2, g2, "fd00::6")):
        p["fixed_ips"].append({"subnet_id": "subnet-6", "ip_address": address})
        add_ipv6(g, address)
    host.apply(sg)
    assert unreachable(g1, "fd00::6")
    sg["rules"].append(rule("ingress", ethertype="IPv6", protocol="ipv6-icmp"))
    host.apply(sg)
    assert ping(g1, "fd00::6")
    add_ipv6(g1, "fd00::50")
    sh("ip", "-6", "route", "replace", "fd00::6", "dev", "eth0", "src", "fd00::50", netns=g1)
    assert unreachable(g1, "fd00::6")
    p1["allowed_address_pairs"] = [{"ip_address": "fd00::50", "mac_address": None}]
    host.apply(sg)
    assert ping(g1, "fd00::6")


def test_rules_of_every_shape_load_and_bad_ones_are_left_out(host):
    """One odd rule or address must never make nft refuse the host's whole ruleset."""
    missing_group = str(uuid.uuid4())
    sg = group(
        [
            EGRESS_ALL,
            rule("ingress", protocol="tcp", port_range_min=22),
            rule("ingress", protocol="udp", port_range_min=1000, port_range_max=2000),
            rule("ingress", protocol="icmp", port_range_min=8),
            rule("ingress", protocol="icmp", port_range_min=3, port_range_max=4),
            rule("ingress", protocol="47"),
            rule("ingress", protocol="any", remote_ip_prefix="10.0.0.5/24"),
            rule("ingress", ethertype="IPv6", protocol="icmp", remote_ip_prefix="::/0"),
            rule("ingress", ethertype="IPv6", protocol="ipv6-icmp", port_range_min=128),
            rule("ingress", protocol="vrrp", remote_group_id=missing_group),
            rule("ingress", protocol="bogus"),  # left out
            rule("ingress", remote_ip_prefix="fd00::/64"),  # IPv6 prefix in an IPv4 rule: out
            rule("ingress", remote_ip_prefix="not-a-prefix"),  # left out
        ],
        members=["10.0.0.5", "10.0.0.5", "10.0.0.0/24", "fd00::5", "garbage"],
    )
    sg["rules"].append(rule("ingress", remote_group_id=sg["id"]))
    p1, g1 = host.guest("10.0.0.5", sg)
    host.guest("10.0.0.6", sg)
    p1["allowed_address_pairs"] = [
        {"ip_address": "10.0.0.0/24", "mac_address": None},  # overlaps the fixed IP
        {"ip_address": "10.0.1.7", "mac_address": "not-a-mac"},  # left out
        {"ip_address": "fd00::/64", "mac_address": "fa:16:3e:aa:bb:cc"},
    ]
    assert host.apply(sg)
    assert ping(g1, "10.0.0.6")
    assert not host.apply(sg)


def test_no_ports_no_tables(host):
    sg = group([EGRESS_ALL])
    host.guest("10.0.0.5", sg)
    host.apply(sg)
    host.ports.clear()
    assert host.apply(sg)
    assert "pocketstack" not in sh("nft", "list", "tables", netns=host.netns)
    assert not host.apply(sg)


def test_guests_on_two_hosts_filtered_across_vxlan(tmp_path):
    """The deployed shape: each host filters its own ports; what arrives over VXLAN meets
    the receiving host's ingress chains, and replies are known on both sides."""
    box = Sandbox(tmp_path)
    hosts = TwoHosts(box)
    firewalls = {h: NftablesFirewall(netns=h) for h in (hosts.host1, hosts.host2)}
    try:
        client = group([EGRESS_ALL], members=["10.0.0.5"])
        server = group([EGRESS_ALL, rule("ingress", protocol="icmp", remote_group_id=client["id"])])
        net = vxlan_network(3001)
        p1 = port(net["id"], "10.0.0.5", security_group_ids=[client["id"]])
        p2 = port(net["id"], "10.0.0.6", security_group_ids=[server["id"]])
        guests = {}
        for host, p, vtep in ((hosts.host1, p1, VTEP2), (hosts.host2, p2, VTEP1)):
            guests[host] = plug_guest(box, host, p)
            assert hosts.drivers[host].sync([dict(net, remote_vteps=[vtep])], [p]) == {p["id"]}
            firewalls[host].sync([p], [client, server])
            wait_wired(host, guests[host], p)
        g1, g2 = guests[hosts.host1], guests[hosts.host2]
        assert ping(g1, "10.0.0.6")
        assert unreachable(g2, "10.0.0.5")
        client["member_ips"] = []  # the client left the group the server admits
        firewalls[hosts.host2].sync([p2], [client, server])
        assert unreachable(g1, "10.0.0.6")
    finally:
        for firewall in firewalls.values():
            firewall.cleanup()
        hosts.close()
        box.close()
