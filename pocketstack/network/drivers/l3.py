"""The L3 agent's kernel side: one namespace per router (Neutron's legacy router,
``neutron.agent.l3.router_info``), NAT with nftables instead of iptables.

For each router of the host state's ``routers`` list (docs/network-dataplane.md) whose
``admin_state_up`` is true:

- namespace ``qrouter-<router_id>``, ``lo`` up, ``net.ipv4.ip_forward=1`` inside;
- per interface a veth pair ``qr-<port_id[:11]>`` inside (the port's MAC, its
  ``ip_cidrs``, or ``ip_cidr`` alone) <-> ``tap<port_id[:11]>`` in the host namespace,
  enslaved to ``brq<network_id[:11]>`` when that bridge exists (else the L2 agent does it);
  the gateway likewise as ``qg-``, which also carries each floating IP as a /32; a new
  address is announced with a gratuitous ARP;
- routes: the default route via the gateway's ``gateway_ip`` and the router's extra routes
  (``destination`` via ``nexthop``); any other route through a next hop is removed;
- nftables table ``ip pocketstack-nat``: per floating IP, DNAT floating -> fixed in
  prerouting and SNAT fixed -> floating for packets leaving ``qg-`` (and hairpin SNAT to
  the router's own address for a subnet reaching a floating IP of itself); then, when
  ``enable_snat``, SNAT of the internal subnets leaving ``qg-`` to the gateway IP; and a
  forward chain dropping flows still NATed to an address no longer in use. The table
  is replaced in one ``nft -f`` transaction and only when its text changed (the table's
  comment holds a digest of what was loaded).

Interfaces take an optional ``mtu`` (default 1500). A router is ours when the marker file
``<state_dir>/l3/<router_id>`` exists: routers no longer wanted (or administratively down)
lose their namespace (and with it their veths); other ``qrouter-`` namespaces are left alone.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import re
from collections.abc import Iterable
from typing import Any

from pocketstack.network.drivers import ip_lib
from pocketstack.network.drivers.base import NetworkDriverError

LOG = logging.getLogger(__name__)

NAT_TABLE = "pocketstack-nat"
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_COMMENT = re.compile(r'^\s*comment "([0-9a-f]+)"', re.MULTILINE)


def namespace_name(router_id: str) -> str:
    """``qrouter-<router_id>``: the router's namespace (Neutron's name)."""
    return "qrouter-" + router_id


def _check_id(value: Any, what: str) -> str:
    text = str(value)
    if not _SAFE_ID.match(text):
        raise NetworkDriverError(f"invalid {what} {text!r}")
    return text


class RouterNamespaces:
    """Make the kernel route and NAT for the routers of a host state's ``routers`` list.

    Args:
        conf: the Config (``state_dir``).
        netns: the host's namespace, where the ``tap`` ends and ``brq`` bridges live (the lab
            host's); None for the current one.
        state_dir: where the ``l3/`` markers go (default ``conf.state_dir``).
    """

    def __init__(self, conf: Any, netns: str | None = None, state_dir: str | None = None):
        self.conf = conf
        self.netns = netns
        self.root = os.path.join(state_dir or conf.state_dir, "l3")

    # --- the contract --------------------------------------------------------------------

    def sync(self, routers: Iterable[dict[str, Any]]) -> dict[str, str]:
        """Make the kernel hold exactly ``routers`` (the host state's ``routers`` items:
        ``{"id", "admin_state_up", "enable_snat", "gateway": {...}|None, "interfaces":
        [...], "routes": [...], "floating_ips": [...]}``).

        Every router is handled even when another fails.

        Returns:
            ``{router_id: action}`` for routers touched, action one of ``created``,
            ``updated``, ``unchanged``, ``removed``.

        Raises:
            NetworkDriverError: one or more routers failed (the message names each); the
                others were synced.
        """
        done: dict[str, str] = {}
        errors: list[str] = []
        wanted: set[str] = set()
        for router in routers:
            router_id = str(router.get("id"))
            if not router.get("admin_state_up", True):
                continue
            wanted.add(router_id)
            try:
                done[router_id] = self._sync_router(router)
            except (NetworkDriverError, OSError, KeyError, TypeError, ValueError) as exc:
                LOG.warning("router %s failed: %s", router_id, exc)
                errors.append(f"{router_id}: {exc}")
        for router_id in sorted(self.routers() - wanted):
            try:
                ip_lib.delete_netns(namespace_name(router_id))
                os.unlink(os.path.join(self.root, router_id))
                done[router_id] = "removed"
            except (NetworkDriverError, OSError) as exc:
                errors.append(f"{router_id}: {exc}")
        if errors:
            raise NetworkDriverError("router sync failed for " + "; ".join(errors))
        return done

    def cleanup(self) -> None:
        """Remove every router of ours (namespaces, veths, markers).

        Raises:
            NetworkDriverError: something could not be removed.
        """
        self.sync([])

    def routers(self) -> set[str]:
        """Ids of the routers this driver made (its markers under the state dir)."""
        if not os.path.isdir(self.root):
            return set()
        return {name for name in os.listdir(self.root) if _SAFE_ID.match(name)}

    # --- one router ----------------------------------------------------------------------

    def _sync_router(self, router: dict[str, Any]) -> str:
        router_id = _check_id(router["id"], "router id")
        namespace = namespace_name(router_id)
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        # the marker first: it is what makes the namespace ours
        with open(os.path.join(self.root, router_id), "a"):
            pass
        created = not ip_lib.netns_exists(namespace)
        ip_lib.ensure_netns(namespace)
        if ip_lib.get_sysctl("net.ipv4.ip_forward", namespace) != "1":
            ip_lib.set_sysctl("net.ipv4.ip_forward", 1, namespace)
        changed = self._sync_ports(router, namespace)
        changed |= _sync_routes(router, namespace)
        changed |= _sync_nat(router, namespace)
        if created:
            return "created"
        return "updated" if changed else "unchanged"

    def _sync_ports(self, router: dict[str, Any], namespace: str) -> bool:
        """Plug the interfaces and the gateway, set their addresses, unplug the others."""
        ports: dict[str, tuple[dict[str, Any], list[str]]] = {}
        for iface in router.get("interfaces") or []:
            port_id = _check_id(iface["port_id"], "port id")
            ports["qr-" + port_id[:11]] = (iface, _port_cidrs(iface))
        gateway = router.get("gateway")
        if gateway:
            port_id = _check_id(gateway["port_id"], "port id")
            fips = [f"{_address(f['floating_ip_address'])}/32" for f in _fips(router)]
            ports["qg-" + port_id[:11]] = (gateway, [*_port_cidrs(gateway), *fips])
        changed = False
        for info in ip_lib.links(namespace):
            name = str(info.get("ifname", ""))
            if name.startswith(("qr-", "qg-")) and name not in ports:
                ip_lib.delete_link(name, namespace)
                changed = True
        for name, (port, cidrs) in ports.items():
            plugged = ip_lib.plug_veth(
                ip_lib.tap_name(str(port["port_id"])),
                name,
                namespace,
                str(port["mac_address"]),
                int(port.get("mtu") or 1500),
                netns=self.netns,
                bridge=ip_lib.bridge_name(_check_id(port["network_id"], "network id")),
            )
            before = set() if plugged else set(ip_lib.addresses(name, namespace))
            if ip_lib.set_addresses(name, cidrs, namespace) or plugged:
                changed = True
                # neighbours may still hold another MAC for a new address (a moved
                # floating IP, a replaced router port): tell them
                for cidr in cidrs:
                    if cidr not in before and ipaddress.ip_interface(cidr).version == 4:
                        ip_lib.send_gratuitous_arp(name, cidr.split("/")[0], namespace)
        return changed


# --- routes ------------------------------------------------------------------------------


def _sync_routes(router: dict[str, Any], namespace: str) -> bool:
    """The default route via the gateway and the extra routes; other routes through a next
    hop go. A route the kernel refuses (next hop not on a link) is logged and skipped."""
    wanted: dict[str, str] = {}
    gateway = router.get("gateway")
    if gateway and gateway.get("gateway_ip") and _address(gateway["gateway_ip"]).version == 4:
        wanted["0.0.0.0/0"] = str(_address(gateway["gateway_ip"]))
    for route in router.get("routes") or []:
        network = ipaddress.ip_network(str(route["destination"]), strict=False)
        if network.version == 4:
            wanted[str(network)] = str(_address(route["nexthop"]))
    have: dict[str, str] = {}
    for route in ip_lib.routes(namespace):
        if "gateway" in route:
            dst = "0.0.0.0/0" if route["dst"] == "default" else route["dst"]
            have[str(ipaddress.ip_network(dst, strict=False))] = str(route["gateway"])
    changed = False
    for destination in sorted(set(have) - set(wanted)):
        ip_lib.delete_route(destination, namespace)
        changed = True
    for destination, nexthop in sorted(wanted.items()):
        if have.get(destination) == nexthop:
            continue
        try:
            ip_lib.replace_route(destination, namespace, via=nexthop)
            changed = True
        except NetworkDriverError as exc:
            LOG.warning("route %s via %s in %s: %s", destination, nexthop, namespace, exc)
    return changed


# --- NAT ---------------------------------------------------------------------------------


def render_nat(router: dict[str, Any]) -> str:
    """The body (chains) of table ``ip pocketstack-nat`` for ``router``; "" when it has no
    (IPv4) gateway.

    - ``prerouting``: per floating IP, DNAT floating -> fixed;
    - ``postrouting``: per floating IP, SNAT fixed -> floating leaving ``qg-``; hairpin:
      a flow DNATed from an internal subnet back into that same subnet (a guest reaching
      its own or a neighbour's floating IP) SNATs to the router's address on it, so the
      answer comes back through the router (Neutron SNATs those to the gateway IP);
      then, with ``enable_snat``, the internal subnets leaving ``qg-`` SNAT to the
      gateway IP;
    - ``forward``: drop the packets of flows NATed as no rule says any more (a removed or
      moved floating IP, the gateway IP once SNAT is off): conntrack keeps applying the NAT
      of an existing flow whatever the rules say now, where Neutron deletes the conntrack
      entries.

    Raises:
        ValueError: an address of the router is not an IP address or prefix.
    """
    gateway = router.get("gateway")
    if not gateway:
        return ""
    own = [c for c in _port_cidrs(gateway) if ipaddress.ip_interface(c).version == 4]
    if not own:
        return ""
    gateway_ip = ipaddress.ip_interface(own[0]).ip
    qg = "qg-" + _check_id(gateway["port_id"], "port id")[:11]
    dnat: list[str] = []
    snat: list[str] = []
    floating_ips: list[str] = []
    mappings: list[str] = []
    for fip in _fips(router):
        floating, fixed = _address(fip["floating_ip_address"]), _address(fip["fixed_ip_address"])
        floating_ips.append(str(floating))
        mappings.append(f"{floating} . {fixed}")
        dnat.append(f"ip daddr {floating} dnat to {fixed}")
        snat.append(f'oifname "{qg}" ip saddr {fixed} snat to {floating}')
    sources = list(floating_ips)
    inside = sorted(
        {
            ipaddress.ip_interface(c)
            for i in router.get("interfaces") or []
            for c in _port_cidrs(i)
            if ipaddress.ip_interface(c).version == 4
        },
        key=str,
    )
    if floating_ips:
        for iface in inside:
            net = iface.network
            snat.append(f"ct status dnat ip saddr {net} ip daddr {net} snat to {iface.ip}")
            sources.append(str(iface.ip))
    if router.get("enable_snat", True):
        internal = sorted({str(i.network) for i in inside})
        if internal:
            snat.append(f'oifname "{qg}" ip saddr {{ {", ".join(internal)} }} snat to {gateway_ip}')
            sources.append(str(gateway_ip))
    lines = ["chain prerouting {", "type nat hook prerouting priority dstnat; policy accept;"]
    lines += [*dnat, "}", "chain postrouting {"]
    lines += ["type nat hook postrouting priority srcnat; policy accept;", *snat, "}"]
    lines += ["chain forward {", "type filter hook forward priority filter; policy accept;"]
    dnat_pair = "ct original ip daddr . ct reply ip saddr"
    lines.append("ct status dnat " + _unless_in(dnat_pair, mappings) + "drop")
    lines.append("ct status snat " + _unless_in("ct reply ip daddr", sources) + "drop")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _unless_in(selector: str, addresses: list[str]) -> str:
    """``<selector> != { a, b } `` (nothing when the list is empty: the rule then matches
    every flow)."""
    if not addresses:
        return ""
    return f"{selector} != {{ {', '.join(sorted(set(addresses)))} }} "


def _sync_nat(router: dict[str, Any], namespace: str) -> bool:
    """Load the rendered table in one transaction unless the kernel's copy carries the same
    digest; delete the table when no NAT is wanted."""
    body = render_nat(router)
    listed = ip_lib.run(["nft", "list", "table", "ip", NAT_TABLE], namespace, check=False)
    if not body:
        if not listed:
            return False
        ip_lib.nft_apply(f"delete table ip {NAT_TABLE}\n", namespace)
        return True
    digest = hashlib.sha256(body.encode()).hexdigest()[:32]
    found = _COMMENT.search(listed)
    if found and found.group(1) == digest:
        return False
    script = (
        f"table ip {NAT_TABLE}\ndelete table ip {NAT_TABLE}\n"
        f'table ip {NAT_TABLE} {{\ncomment "{digest}"\n{body}}}\n'
    )
    ip_lib.nft_apply(script, namespace)
    return True


# --- values ------------------------------------------------------------------------------


def _fips(router: dict[str, Any]) -> list[dict[str, Any]]:
    """The router's floating IPs that are associated (IPv4 both sides)."""
    return [
        f
        for f in router.get("floating_ips") or []
        if f.get("fixed_ip_address")
        and _address(f["floating_ip_address"]).version == 4
        and _address(f["fixed_ip_address"]).version == 4
    ]


def _address(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(str(value))


def _port_cidrs(port: dict[str, Any]) -> list[str]:
    """A router port's addresses: ``ip_cidrs`` (all its fixed IPs) when given, else
    ``[ip_cidr]``, normalised; raises ValueError when one is not an address/prefix."""
    return [_cidr(c) for c in port.get("ip_cidrs") or [port["ip_cidr"]]]


def _cidr(value: Any) -> str:
    """``ip_cidr`` normalised (``10.0.0.1/24``); raises ValueError when it is not one."""
    return str(ipaddress.ip_interface(str(value)))
