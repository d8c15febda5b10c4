"""Security groups and port security on the Linux bridge, in nftables (the role of Neutron's
linuxbridge agent's iptables firewall driver, ``IptablesFirewallDriver``).

The kernel here has no ``nf_conntrack_bridge``, so the ``bridge`` family cannot use ``ct``
(``ct state`` there fails with EPROTO). Bridged IP traffic does pass br_netfilter, which runs
the IP family's hooks (conntrack and the ``inet`` forward hook) from the bridge's own forward
hook at priority 0. So each host netns gets two tables, written in one ``nft -f -``
transaction (atomic):

- ``inet pocketstack``: chain ``prerouting`` (priority raw, before conntrack) puts each
  network's bridged traffic in a conntrack zone of its own (``conntrack_zone``), so networks
  with overlapping addresses never match each other's connections; chain ``forward`` marks
  packets of known connections (``ct state established,related``) with the
  ``ESTABLISHED_MARK`` bit of the packet mark. There the in/out devices are the bridge itself
  (br_netfilter's view), so it cannot tell ports apart; that is the bridge table's job.
- ``bridge pocketstack``: base chain ``forward`` (priority 100, after br_netfilter) sends
  frames coming from a port's ``tap`` to ``port-<id11>-egress``, base chain
  ``forward-ingress`` (priority 101) frames going to it to ``port-<id11>-ingress`` (two base
  chains, so a frame its egress chain accepts still meets the other port's ingress chain).
  Each security group has chains ``sg-<group_id[:11]>-ingress``/``-egress`` holding its
  rules (``accept`` on a match); a port chain only jumps to its groups' chains after its
  anti-spoofing, so a rule change rewrites one group chain, whatever the number of ports.
  Sets ``sg-<group_id[:11]>`` (IPv4) and ``sg6-<group_id[:11]>`` (IPv6) hold each group's
  member IPs, so a membership change rewrites one set.

Per port (``port_security_enabled`` true and not a ``network:*`` port, which Neutron trusts):

- egress (frames from the guest): the source MAC must be the port's or an allowed address
  pair's; the (MAC, source IP) of IP and ARP frames must be the port's fixed IPs or an allowed
  address pair (a CIDR pair allows its range); a DHCP client's discover from 0.0.0.0 to
  255.255.255.255 and ARP probes from 0.0.0.0 pass; a guest's DHCP server replies and IPv6
  router advertisements are dropped; IPv6 router and neighbour solicitations, neighbour
  advertisements, MLD reports and DHCPv6 requests (UDP 546 -> 547) pass, as Neutron's
  firewall lets them; then known connections pass, then the egress chains of the port's
  groups, else drop.
- ingress (frames to the guest): ARP, DHCP(v6) replies and IPv6 neighbour discovery pass,
  then known connections, then the ingress chains of the port's groups, else drop.

Rules follow Neutron's security group rule API: ``protocol`` None/"any" (every protocol),
a name (``tcp``, ``udp``, ``icmp``, ``ipv6-icmp``...) or a number; ``port_range_min``/
``port_range_max`` are ports for tcp/udp/sctp/udplite/dccp, and ICMP type/code for ICMP;
``remote_ip_prefix`` and ``remote_group_id`` limit the other end (source for ingress,
destination for egress).

A ``sync`` compares the rendered ruleset, chain by chain and set by set, with the one it
applied last (kept in memory) and writes only what differs, in one ``nft -f`` transaction;
one whose ruleset equals the last one changes nothing. Each sync checks with ``nft list
tables`` that both tables are still there; the bridge table itself is listed only on the
periodic check (``verify_interval``). A failed check, a refused transaction or a new process
(empty memory) writes the whole ruleset again, which removes stale chains and sets.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pocketstack.network.drivers import ip_lib
from pocketstack.network.drivers.base import NetworkDriverError

LOG = logging.getLogger(__name__)

TABLE = "pocketstack"
#: the packet mark bit the inet table sets on packets of established/related connections
ESTABLISHED_MARK = 0x40000000
#: priority of the bridge forward chain: after br_netfilter's forward hook (priority 0)
BRIDGE_PRIORITY = 100

#: Neutron's protocol names (neutron-lib constants) and their IP protocol numbers
PROTOCOLS = {
    "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1, "igmp": 2,
    "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58, "icmpv6": 58,
    "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46,
    "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112,
}  # fmt: skip
#: protocols whose rules' port ranges are transport ports
PORT_PROTOCOLS = {6, 17, 33, 132, 136}
FAMILIES = {"IPv4": ("ip", 4), "IPv6": ("ip6", 6)}
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")


_WARNED: set[str] = set()


def _warn_once(message: str, *args: Any) -> None:
    """Log a rendering problem once per process, not at every sync (every few seconds)."""
    text = message % args
    if text not in _WARNED:
        if len(_WARNED) > 10000:
            _WARNED.clear()
        _WARNED.add(text)
        LOG.warning(text)


def port_chain(port_id: str, direction: str) -> str:
    """The chain of a port's ``direction`` (``ingress``/``egress``): ``port-<id11>-<dir>``."""
    return f"port-{port_id[:11]}-{direction}"


def group_chain(group_id: str, direction: str) -> str:
    """The chain of a group's ``direction`` rules: ``sg-<id11>-<dir>`` (what port chains jump
    to, so a rule change rewrites this chain only)."""
    return f"sg-{group_id[:11]}-{direction}"


def group_set(group_id: str, version: int) -> str:
    """The address set of a group's members: ``sg-<id11>`` (IPv4), ``sg6-<id11>`` (IPv6)."""
    return f"sg{'' if version == 4 else '6'}-{group_id[:11]}"


def filtered(port: dict[str, Any]) -> bool:
    """Whether ``port`` gets chains: port security on and not a ``network:*`` port."""
    if not port.get("port_security_enabled", True):
        return False
    return not str(port.get("device_owner") or "").startswith("network:")


@dataclass
class Ruleset:
    """A rendered ruleset, object by object, so two of them can be compared piece by piece.

    Attributes:
        chains: bridge table chain name -> its lines (a base chain's first line is its
            ``type ... hook ...;`` line, every other line one rule); empty when the host has
            nothing to filter.
        sets: bridge table set name -> its elements.
        inet: the whole ``inet pocketstack`` table's text ("" for none).
    """

    chains: dict[str, list[str]] = field(default_factory=dict)
    sets: dict[str, list[str]] = field(default_factory=dict)
    inet: str = ""

    def script(self) -> str:
        """The whole ``nft -f`` script: replace both tables with this ruleset (an empty
        ruleset only deletes them)."""
        parts = [
            f"table inet {TABLE} {{}}\ndelete table inet {TABLE}\n",
            f"table bridge {TABLE} {{}}\ndelete table bridge {TABLE}\n",
        ]
        if self.chains:
            parts.append(f"table bridge {TABLE} {{\n")
            parts += [f"  set {name} {{ {_set_type(name)} }}\n" for name in sorted(self.sets)]
            parts += [_chain_block(name, self.chains[name]) for name in sorted(self.chains)]
            parts += ["}\n", self.inet]
            parts += [self._elements(name) for name in sorted(self.sets)]
        return "".join(parts)

    def delta(self, applied: Ruleset) -> str:
        """An ``nft -f`` script turning ``applied`` (what the kernel holds) into this ruleset
        by touching only the chains and sets that differ: new sets and chains are declared
        first (so jumps and ``@set`` lookups resolve), changed chains are flushed and
        refilled, changed sets flushed and refilled, and what is gone is flushed then deleted
        last (once nothing refers to it). The whole script when either side is empty."""
        if not self.chains or not applied.chains:
            return self.script()
        new_sets = sorted(self.sets.keys() - applied.sets.keys())
        new_chains = sorted(self.chains.keys() - applied.chains.keys())
        changed = sorted(
            n
            for n in self.chains.keys() & applied.chains.keys()
            if self.chains[n] != applied.chains[n]
        )
        refilled = sorted(
            n for n in self.sets.keys() & applied.sets.keys() if self.sets[n] != applied.sets[n]
        )
        gone_chains = sorted(applied.chains.keys() - self.chains.keys())
        gone_sets = sorted(applied.sets.keys() - self.sets.keys())
        parts = [f"add set bridge {TABLE} {n} {{ {_set_type(n)} }}\n" for n in new_sets]
        parts += [self._elements(n) for n in new_sets]
        parts += [_add_chain(n, self.chains[n]) for n in new_chains]
        parts += [f"flush set bridge {TABLE} {n}\n" + self._elements(n) for n in refilled]
        parts += [f"flush chain bridge {TABLE} {n}\n" for n in changed]
        filled = sorted(new_chains + changed)
        if filled:
            parts.append(f"table bridge {TABLE} {{\n")
            parts += [_chain_block(n, self.chains[n]) for n in filled]
            parts.append("}\n")
        parts += [f"flush chain bridge {TABLE} {n}\n" for n in gone_chains]
        parts += [f"delete chain bridge {TABLE} {n}\n" for n in gone_chains]
        parts += [f"delete set bridge {TABLE} {n}\n" for n in gone_sets]
        if self.inet != applied.inet:
            parts.append(f"table inet {TABLE} {{}}\ndelete table inet {TABLE}\n{self.inet}")
        return "".join(parts)

    def chain_names(self) -> set[tuple[str, str]]:
        """(family, name) of every chain of both tables."""
        inet = {("inet", name) for name in re.findall(r"^  chain (\S+) \{", self.inet, re.M)}
        return {("bridge", name) for name in self.chains} | inet

    def _elements(self, name: str) -> str:
        items = self.sets[name]
        return f"add element bridge {TABLE} {name} {{ {', '.join(items)} }}\n" if items else ""


def _set_type(name: str) -> str:
    kind = "ipv4_addr" if name.startswith("sg-") else "ipv6_addr"
    return f"type {kind}; flags interval; auto-merge;"


def _chain_block(name: str, lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in _chain(name, lines))


def _add_chain(name: str, lines: list[str]) -> str:
    """Declare chain ``name`` empty (a base chain with its hook line)."""
    hook = f" {{ {lines[0]} }}" if lines and lines[0].startswith("type ") else ""
    return f"add chain bridge {TABLE} {name}{hook}\n"


class NftablesFirewall:
    """Security groups of the ports of one host (docs/network-dataplane.md).

    What was applied last is kept in memory, object by object, so a sync writes only the
    chains and sets that differ from it (a rule change: its group's chain; a membership
    change: its group's sets) in one ``nft -f`` transaction. Before trusting that memory a
    sync checks with ``nft list tables`` that the tables are still there, and at most every
    ``verify_interval`` seconds (``[network] agent_sync_interval``: the agent's periodic
    round) lists the bridge table to check each chain and set. No memory (a new process),
    a failed check or a refused transaction means the whole ruleset is written again,
    which also removes whatever stale chains and sets the kernel held.

    Attributes:
        netns: the network namespace it acts in (a lab host), None for the current one.
        verify_interval: seconds between listings of the bridge table.
    """

    def __init__(self, conf: Any = None, netns: str | None = None):
        self.conf = conf
        self.netns = netns
        self.verify_interval = float(getattr(conf, "agent_sync_interval", None) or 30.0)
        self._applied: Ruleset | None = None
        self._verified_at = 0.0

    def sync(
        self, ports: Sequence[dict[str, Any]], security_groups: Sequence[dict[str, Any]]
    ) -> bool:
        """Make the host's filtering match ``ports`` and ``security_groups``; idempotent.

        Args:
            ports: the ports bound to this host, as ``get_host_state`` lists them (``id``,
                ``mac_address``, ``fixed_ips``, ``allowed_address_pairs``,
                ``port_security_enabled``, ``security_group_ids``, ``device_owner``).
            security_groups: ``[{"id", "rules": [{"direction", "ethertype", "protocol",
                "port_range_min", "port_range_max", "remote_ip_prefix",
                "remote_group_id"}], "member_ips": [...]}]``: the groups the ports use and
                the groups their rules name.

        Returns:
            True when the kernel's ruleset was changed, False when it already matched.

        Raises:
            NetworkDriverError: nft refused the whole ruleset (nothing of it is applied).
        """
        wanted = render(ports, security_groups)
        applied = self._applied if self._kernel_matches() else None
        if applied == wanted:
            return False
        self._applied = None  # unknown until nft answers
        if applied is None:
            self._apply_all(wanted)
        else:
            try:
                ip_lib.nft_apply(wanted.delta(applied), self.netns)
            except NetworkDriverError as exc:  # the kernel was not what we remembered
                LOG.warning("nft refused a firewall change (%s): writing the whole ruleset", exc)
                self._apply_all(wanted)
        self._applied = wanted
        return True

    def _apply_all(self, wanted: Ruleset) -> None:
        self._enable_br_netfilter()
        ip_lib.nft_apply(wanted.script(), self.netns)
        self._verified_at = time.monotonic()

    def _kernel_matches(self) -> bool:
        """Whether the kernel still holds what the last sync left: the chains of both tables
        by name (one ``nft -j list chains``, which lists no rules, so it stays cheap with
        hundreds of ports), so a flushed ruleset, a recreated namespace or a deleted chain
        is noticed by the next sync; every ``verify_interval`` seconds also the number of
        rules of each bridge chain and the set names (a listing of the bridge table)."""
        applied = self._applied
        if applied is None:
            return False
        listed = {
            (c["chain"]["family"], c["chain"]["name"])
            for c in ip_lib.nft_json(["list", "chains"], self.netns)
            if "chain" in c and c["chain"].get("table") == TABLE
        }
        if listed != applied.chain_names():
            return False
        if not applied.chains or time.monotonic() - self._verified_at < self.verify_interval:
            return True
        self._verified_at = time.monotonic()
        counts = {
            name: sum(1 for line in body if not line.startswith("type "))
            for name, body in applied.chains.items()
        }
        return self._listed() == (counts, set(applied.sets))

    def _listed(self) -> tuple[dict[str, int], set[str]]:
        """The bridge table's chains (name -> number of rules) and set names."""
        chains: dict[str, int] = {}
        sets: set[str] = set()
        for item in ip_lib.nft_json(["list", "table", "bridge", TABLE], self.netns):
            if "chain" in item:
                chains.setdefault(item["chain"]["name"], 0)
            elif "rule" in item:
                chains[item["rule"]["chain"]] = chains.get(item["rule"]["chain"], 0) + 1
            elif "set" in item:
                sets.add(item["set"]["name"])
        return chains, sets

    def cleanup(self) -> None:
        """Delete both ``pocketstack`` tables; succeeds when they are gone."""
        script = "".join(
            f"table {family} {TABLE} {{}}\ndelete table {family} {TABLE}\n"
            for family in ("inet", "bridge")
        )
        ip_lib.nft_apply(script, self.netns)
        self._applied = None

    def _enable_br_netfilter(self) -> None:
        for key in ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables"):
            try:
                if ip_lib.get_sysctl(key, self.netns) != "1":
                    ip_lib.set_sysctl(key, 1, self.netns)
            except NetworkDriverError:
                LOG.warning("%s is not available: bridged traffic is not stateful", key)


# --- rendering ----------------------------------------------------------------------------


def render(ports: Sequence[dict[str, Any]], security_groups: Sequence[dict[str, Any]]) -> Ruleset:
    """The ruleset for ``ports`` and ``security_groups`` (shapes as ``NftablesFirewall.sync``).

    Rules that cannot be expressed (an unknown protocol name, a prefix of the other family)
    are logged and left out; the port stays default-deny for them.
    """
    groups = {g["id"]: g for g in security_groups}
    all_ports = [p for p in ports if p.get("network_id")]
    if not all_ports:
        return Ruleset()  # nothing on the host: no tables (and no conntrack) at all
    ports = sorted((p for p in ports if filtered(p)), key=lambda p: p["id"])
    used = sorted({g for p in ports for g in p.get("security_group_ids") or ()})
    named = set(used) | {
        r["remote_group_id"]
        for gid in used
        for r in _rules(groups, gid)
        if r.get("remote_group_id")
    }
    chains: dict[str, list[str]] = {}
    for gid in used:  # every group a port jumps to has its chains, even one not in the state
        rules = _rules(groups, gid)
        for direction in ("ingress", "egress"):
            chains[group_chain(gid, direction)] = [
                f"{m} accept" for m in _matches(rules, direction)
            ]
    for port in ports:
        chains.update(_port_chains(port))
    chains.update(_forward_chains(ports))
    inet = _inet_table({str(p["network_id"]) for p in all_ports}) + "\n"
    return Ruleset(chains, _group_sets(named, groups), inet)


#: a port's rendered chains by what they are made of, so a sync re-renders only ports that
#: changed (anti-spoofing is most of the rendering work)
_PORT_CHAINS: dict[str, dict[str, list[str]]] = {}
PORT_FIELDS = ("id", "mac_address", "fixed_ips", "allowed_address_pairs", "security_group_ids")


def _port_chains(port: dict[str, Any]) -> dict[str, list[str]]:
    """A filtered port's two chains (never mutated by callers: cached)."""
    key = json.dumps([port.get(k) for k in PORT_FIELDS], sort_keys=True, default=str)
    chains = _PORT_CHAINS.get(key)
    if chains is None:
        if len(_PORT_CHAINS) > 20000:
            _PORT_CHAINS.clear()
        chains = _PORT_CHAINS[key] = _render_port_chains(port)
    return chains


def _render_port_chains(port: dict[str, Any]) -> dict[str, list[str]]:
    gids = list(dict.fromkeys(port.get("security_group_ids") or ()))
    if MAC.fullmatch(str(port.get("mac_address") or "").lower()):
        egress = _egress(port, [f"jump {group_chain(g, 'egress')}" for g in gids])
        ingress = _ingress([f"jump {group_chain(g, 'ingress')}" for g in gids])
    else:  # nothing to anchor anti-spoofing to: closed, not open
        _warn_once("port %s: MAC %r is not valid: all dropped", port["id"], port["mac_address"])
        egress = ingress = ["drop"]
    return {port_chain(port["id"], "egress"): egress, port_chain(port["id"], "ingress"): ingress}


def _forward_chains(ports: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The base chains: ``forward`` sends frames from a port's tap to its egress chain,
    ``forward-ingress`` (one priority later, so a frame its egress chain accepts still meets
    it) frames to a port's tap to its ingress chain (verdict maps: one lookup whatever the
    number of ports)."""
    chains = {}
    for name, priority, match, direction in (
        ("forward", BRIDGE_PRIORITY, "iifname", "egress"),
        ("forward-ingress", BRIDGE_PRIORITY + 1, "oifname", "ingress"),
    ):
        lines = [f"type filter hook forward priority {priority}; policy accept;"]
        if ports:
            jumps = ", ".join(
                f'"{ip_lib.tap_name(p["id"])}" : jump {port_chain(p["id"], direction)}'
                for p in ports
            )
            lines.append(f"{match} vmap {{ {jumps} }}")
        chains[name] = lines
    return chains


def conntrack_zone(network_id: str) -> int:
    """The conntrack zone of a network's bridged traffic (1..65535), from its id so that it
    stays the same across agent restarts (renumbering would turn live connections into new
    ones). Zones keep networks with overlapping addresses from matching each other's
    connections, as Neutron's per-network zones do; two networks sharing a zone (1 in 65535)
    only lose that separation."""
    return 1 + int(hashlib.sha256(network_id.encode()).hexdigest()[:8], 16) % 65535


def _inet_table(network_ids: set[str]) -> str:
    zones = ", ".join(
        f'"{ip_lib.bridge_name(n)}" : {conntrack_zone(n)}' for n in sorted(network_ids)
    )
    prerouting = (
        "  chain prerouting {\n"
        "    type filter hook prerouting priority raw; policy accept;\n"
        f"    ct zone set iifname map {{ {zones} }}\n"
        "  }\n"
        if zones
        else ""
    )
    return (
        f"table inet {TABLE} {{\n" + prerouting + "  chain forward {\n"
        "    type filter hook forward priority filter; policy accept;\n"
        f'    iifname "brq*" ct state established,related meta mark set meta mark | '
        f"{ESTABLISHED_MARK:#x}\n"
        "  }\n"
        "}"
    )


def _rules(groups: dict[str, dict[str, Any]], group_id: str) -> list[dict[str, Any]]:
    group = groups.get(group_id)
    if group is None:
        _warn_once("security group %s of a port is not in the host state", group_id)
        return []
    return list(group.get("rules") or ())


def _group_sets(names: set[str], groups: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    sets: dict[str, list[str]] = {}
    for gid in sorted(names):
        members: dict[int, list[Network]] = {4: [], 6: []}
        for raw in groups.get(gid, {}).get("member_ips") or ():
            try:
                net = ipaddress.ip_network(str(raw), strict=False)
            except ValueError:
                _warn_once("security group %s: member %r is not an address", gid, raw)
                continue
            members[net.version].append(net)
        for version, found in members.items():
            sets[group_set(gid, version)] = _collapsed(found)
    return sets


def _collapsed(nets: list[Network]) -> list[str]:
    """``nets`` (one IP version) merged so that none overlaps (nft refuses overlapping
    interval elements), single addresses without a prefix length."""
    merged = ipaddress.collapse_addresses(nets)  # type: ignore[type-var]  # one version
    return [str(n[0]) if n.num_addresses == 1 else str(n) for n in merged]


def _chain(name: str, body: list[str]) -> list[str]:
    return [f"  chain {name} {{", *(f"    {line}" for line in body), "  }"]


def _addresses(port: dict[str, Any]) -> list[tuple[str, Network]]:
    """(mac, address or CIDR) the port may send from: its fixed IPs and allowed
    address pairs (a pair without a MAC uses the port's). Malformed entries are logged and
    left out, so one bad pair cannot make nft refuse the host's whole ruleset."""
    mac = str(port["mac_address"]).lower()
    raw = [(mac, ip.get("ip_address")) for ip in port.get("fixed_ips") or ()]
    raw += [
        (str(pair.get("mac_address") or mac).lower(), pair.get("ip_address"))
        for pair in port.get("allowed_address_pairs") or ()
    ]
    found: list[tuple[str, Network]] = []
    for pair_mac, address in raw:
        try:
            net = ipaddress.ip_network(str(address), strict=False)
        except ValueError:
            net = None
        if net is None or not MAC.fullmatch(pair_mac):
            _warn_once("port %s: address %r / MAC %r left out", port["id"], address, pair_mac)
            continue
        found.append((pair_mac, net))
    return found


def _egress(port: dict[str, Any], jumps: list[str]) -> list[str]:
    mac = str(port["mac_address"]).lower()
    allowed = _addresses(port)
    macs = sorted({m for m, _ in allowed} | {mac})
    link_local = ipaddress.ip_network("fe80::/10")
    allowed += [(m, link_local) for m in macs]
    pairs: dict[int, list[str]] = {4: [], 6: []}
    for version in (4, 6):
        for m in macs:
            nets = [net for owner, net in allowed if owner == m and net.version == version]
            pairs[version] += [f"{m} . {text}" for text in _collapsed(nets)]
    v4 = ", ".join(pairs[4]) or f"{mac} . 255.255.255.255"
    v6 = ", ".join(pairs[6])
    body = [
        f"ether saddr != {{ {', '.join(macs)} }} drop",
        "ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept",
        "arp saddr ip 0.0.0.0 accept",
        f"ether saddr . arp saddr ip != {{ {v4} }} drop",
        "ether type arp accept",
        f"ether saddr . ip saddr != {{ {v4} }} drop",
        "ip6 saddr :: icmpv6 type { nd-neighbor-solicit, mld2-listener-report } accept",
        f"ether saddr . ip6 saddr != {{ {v6} }} drop",
        "ether type != { ip, ip6 } drop",
        "udp sport 67 udp dport 68 drop",
        "udp sport 547 udp dport 546 drop",
        "icmpv6 type nd-router-advert drop",
        # what Neutron's firewall lets out before any rule: IPv6 neighbour discovery, router
        # solicitations, MLD reports and DHCPv6 requests (a SLAAC / DHCPv6 guest needs them)
        "icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, "
        "mld-listener-report, mld2-listener-report } accept",
        "udp sport 546 udp dport 547 accept",
        f"meta mark & {ESTABLISHED_MARK:#x} == {ESTABLISHED_MARK:#x} accept",
    ]
    return [*body, *jumps, "drop"]


def _ingress(jumps: list[str]) -> list[str]:
    body = [
        "ether type arp accept",
        f"meta mark & {ESTABLISHED_MARK:#x} == {ESTABLISHED_MARK:#x} accept",
        "udp sport 67 udp dport 68 accept",
        "udp sport 547 udp dport 546 accept",
        "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert, "
        "mld-listener-query } accept",
    ]
    return [*body, *jumps, "drop"]


def _matches(rules: list[dict[str, Any]], direction: str) -> list[str]:
    found: list[str] = []
    for rule in rules:
        if rule.get("direction") != direction:
            continue
        match = rule_match(rule)
        if match is not None and match not in found:
            found.append(match)
    return found


def rule_match(rule: dict[str, Any]) -> str | None:
    """The nftables match (bridge family) of one security group rule, None when the rule
    cannot be expressed (logged). Shapes: Neutron's security group rule."""
    family, version = FAMILIES.get(str(rule.get("ethertype") or "IPv4"), (None, 0))
    if family is None:
        _warn_once("security group rule %s: unknown ethertype", rule.get("id"))
        return None
    parts = [f"ether type {family}"]
    peer = "saddr" if rule["direction"] == "ingress" else "daddr"
    prefix = rule.get("remote_ip_prefix")
    if prefix:
        try:
            net = ipaddress.ip_network(str(prefix), strict=False)
        except ValueError:
            net = None
        if net is None or net.version != version:
            _warn_once("security group rule %s: bad remote_ip_prefix %r", rule.get("id"), prefix)
            return None
        if net.prefixlen:
            parts.append(f"{family} {peer} {net}")
    if rule.get("remote_group_id"):
        parts.append(f"{family} {peer} @{group_set(str(rule['remote_group_id']), version)}")
    proto = _protocol(rule.get("protocol"), version)
    if proto == -1:
        _warn_once("security group rule %s: unknown protocol %r", rule.get("id"), rule["protocol"])
        return None
    if proto is not None:
        parts.append(f"meta l4proto {proto}")
        parts += _port_match(proto, rule.get("port_range_min"), rule.get("port_range_max"))
    return " ".join(parts)


def _protocol(raw: Any, version: int) -> int | None:
    """The IP protocol number of a rule's ``protocol``; None for any (None, "any", "0"),
    -1 when unknown."""
    if raw is None or str(raw).lower() in ("", "any", "0"):
        return None
    text = str(raw).lower()
    number = int(text) if text.isdigit() else PROTOCOLS.get(text, -1)
    if number == 1 and version == 6:
        return 58  # Neutron accepts "icmp" in IPv6 rules for ICMPv6
    return number if 0 <= number <= 255 else -1


def _port_match(proto: int, low: Any, high: Any) -> list[str]:
    if proto in PORT_PROTOCOLS:
        if low is None and high is None:
            return []
        low = low if low is not None else high
        high = high if high is not None else low
        return [f"th dport {low}" if low == high else f"th dport {low}-{high}"]
    if proto in (1, 58):
        keyword = "icmp" if proto == 1 else "icmpv6"
        found = []
        if low is not None:
            found.append(f"{keyword} type {int(low)}")
            if high is not None:
                found.append(f"{keyword} code {int(high)}")
        return found
    return []
