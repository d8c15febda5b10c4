"""The wanted state of one host's data plane, built from the database for its network agent.

docs/network-dataplane.md, "The host state": ``build(session, conf, host)`` returns the JSON
``get_host_state(host)`` answers: the ports bound to the host, their networks (with the
VXLAN endpoints of the other hosts that have ports on them, as Neutron's L2 population),
the security groups those ports use or name as remote groups (rules and member IPs), and,
for the network node, the DHCP servers and routers it runs.

Before building it, ``ensure_network_node_ports`` makes the ports the network node's roles
need (as Neutron's DHCP agent asks the server for its DHCP port, and the L3 scheduler
binds routers): one ``network:dhcp`` port per network with a DHCP-enabled subnet and at least
one other port, bound to the host running an alive DHCP agent, with an address from IPAM
on each DHCP-enabled subnet; and router ports bound to the host running an alive L3 agent.

An agent is *alive* while its ``heartbeat_timestamp`` is younger than
``[network] agent_down_time`` seconds and an admin has not set it ``admin_state_up`` false.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.db import utcnow
from pocketstack.network import extra_dhcp_opts, ipam, states
from pocketstack.network.agents import is_alive
from pocketstack.network.common import DHCP_OWNER, ROUTER_GATEWAY, ROUTER_INTERFACE, ROUTER_OWNERS
from pocketstack.network.models import (
    Agent,
    FloatingIP,
    IPAllocation,
    Network,
    Port,
    PortSecurityGroup,
    Router,
    RouterRoute,
    SecurityGroupRule,
    Subnet,
)
from pocketstack.network.ports import PortCreate, create_port, records
from pocketstack.network.rpcapi import DHCP_AGENT, L2_AGENT, L3_AGENT

LOG = logging.getLogger(__name__)


def alive_hosts(session: Session, conf: Any, agent_type: str) -> set[str]:
    """The hosts with an alive agent of ``agent_type`` (``DHCP agent``...)."""
    now = utcnow()
    rows = session.scalars(
        sa.select(Agent).where(Agent.agent_type == agent_type, Agent.admin_state_up.is_(True))
    )
    return {a.host for a in rows if is_alive(a, conf, now)}


# ---------------------------------------------------------------- the network node's ports


def ensure_network_node_ports(
    session: Session, conf: Any, host: str, vif_type: str, apply: bool = True
) -> bool:
    """Make and bind the ports the DHCP and L3 roles of ``host`` need (see the module
    docstring); nothing when ``host`` runs neither role (alive). Returns whether a port
    was made, bound, given an address or deleted (other hosts' FDB may then change).

    With ``apply`` false nothing is written: the answer is whether something would be (so
    a caller can look in a read-only session first and take the write lock only then)."""
    changed = False
    if host in alive_hosts(session, conf, DHCP_AGENT):
        changed |= _ensure_dhcp_ports(session, conf, host, vif_type, apply)
    if (apply or not changed) and host in alive_hosts(session, conf, L3_AGENT):
        changed |= _bind_ports(session, conf, host, vif_type, ROUTER_OWNERS, L3_AGENT, apply)
    return changed


def _dhcp_subnets(session: Session) -> dict[str, list[Subnet]]:
    """network_id -> its DHCP-enabled subnets (networks without any are absent)."""
    found: dict[str, list[Subnet]] = defaultdict(list)
    for subnet in session.scalars(
        sa.select(Subnet).where(Subnet.enable_dhcp.is_(True)).order_by(Subnet.created_at)
    ):
        found[subnet.network_id].append(subnet)
    return found


def _ensure_dhcp_ports(session: Session, conf: Any, host: str, vif_type: str, apply: bool) -> bool:
    """One DHCP port per network that needs one, bound to ``host`` unless an alive DHCP
    agent of another host has it; DHCP ports of networks without a DHCP-enabled subnet go."""
    wanted = _dhcp_subnets(session)
    dhcp_ports: dict[str, list[Port]] = defaultdict(list)
    for port in session.scalars(sa.select(Port).where(Port.device_owner == DHCP_OWNER)):
        dhcp_ports[port.network_id].append(port)
    changed = False
    stale = [p.id for net, ports in dhcp_ports.items() if net not in wanted for p in ports]
    if stale:
        if not apply:
            return True
        _delete_ports(session, stale)
        changed = True
    used = set(
        session.scalars(
            sa.select(Port.network_id).where(Port.device_owner != DHCP_OWNER).distinct()
        )
    )
    serving = alive_hosts(session, conf, DHCP_AGENT)
    for network_id, subnets in wanted.items():
        existing = dhcp_ports.get(network_id, [])
        if not existing and network_id not in used:
            continue  # no other port: nobody to serve yet
        if not apply:
            if _ensure_dhcp_port(session, host, vif_type, network_id, subnets, existing, serving):
                return True
            continue
        try:
            with session.begin_nested():
                changed |= _ensure_dhcp_port(
                    session, host, vif_type, network_id, subnets, existing, serving, apply
                )
        except errors.PocketError as exc:  # IPAM exhausted...: the other networks still get theirs
            LOG.warning("no DHCP port for network %s on %s: %s", network_id, host, exc.message)
    return changed


def _ensure_dhcp_port(
    session: Session,
    host: str,
    vif_type: str,
    network_id: str,
    subnets: list[Subnet],
    existing: list[Port],
    serving: set[str],
    apply: bool = False,
) -> bool:
    """Make, bind or complete the DHCP port of one network (only tell whether it would,
    unless ``apply``)."""
    port = existing[0] if existing else None
    if port is not None and port.host_id and port.host_id != host and port.host_id in serving:
        return False  # another network node serves it
    if port is None:
        net = session.get(Network, network_id)
        if net is None or not apply:
            return net is not None
        spec = PortCreate(
            network_id=network_id,
            project_id=net.project_id,
            device_id=f"dhcp-{host}-{network_id}"[:255],
            device_owner=DHCP_OWNER,
            host_id=host,
            fixed_ips=[{"subnet_id": s.id} for s in subnets],
            security_groups=[],
            port_security_enabled=False,
        )
        create_port(session, RequestContext.system(), spec, vif_type, has_agents=True)
        LOG.info("made the DHCP port of network %s on %s", network_id, host)
        return True
    changed = False
    if port.host_id != host:
        if not apply:
            return True
        _rebind(port, host, vif_type)
        changed = True
    have = set(
        session.scalars(sa.select(IPAllocation.subnet_id).where(IPAllocation.port_id == port.id))
    )
    for subnet in subnets:
        if subnet.id in have:
            continue
        if not apply:
            return True
        if ipam.allocate_on_subnet(session, subnet, port.mac_address, port.id) is None:
            LOG.warning("subnet %s has no address left for its DHCP port", subnet.id)
        else:
            changed = True
    return changed


def _bind_ports(
    session: Session,
    conf: Any,
    host: str,
    vif_type: str,
    owners: Iterable[str],
    agent_type: str,
    apply: bool,
) -> bool:
    """Bind to ``host`` the ports of ``owners`` not bound to a host with an alive agent of
    ``agent_type`` (only tell whether there are any, unless ``apply``)."""
    serving = alive_hosts(session, conf, agent_type)
    changed = False
    for port in session.scalars(sa.select(Port).where(Port.device_owner.in_(tuple(owners)))):
        if port.host_id != host and port.host_id not in serving:
            if not apply:
                return True
            _rebind(port, host, vif_type)
            changed = True
    return changed


def _rebind(port: Port, host: str, vif_type: str) -> None:
    """Bind ``port`` to ``host``: ``DOWN`` until that host's agent reports it wired."""
    port.host_id = host
    port.vif_type = vif_type
    states.transition(port, states.DOWN)
    port.revision_number += 1


def _delete_ports(session: Session, port_ids: list[str]) -> None:
    from pocketstack.network.networks import delete_ports

    delete_ports(session, port_ids)


# ---------------------------------------------------------------- the host state


def build(session: Session, conf: Any, host: str) -> dict[str, Any]:
    """The host state of ``host`` (docs/network-dataplane.md, "The host state"), plus a
    ``status`` per port (so the agent reports only what changed) and a ``generation``: a
    digest of the rest, equal exactly when the wanted state is the same."""
    ports = list(session.scalars(sa.select(Port).where(Port.host_id == host).order_by(Port.id)))
    port_items = [_port_item(r) for r in records(session, ports)]
    network_ids = sorted({p.network_id for p in ports})
    state: dict[str, Any] = {
        "host": host,
        "networks": _networks(session, host, network_ids),
        "ports": port_items,
        "security_groups": _security_groups(session, port_items),
        "dhcp": _dhcp(session, host, conf),
        "routers": _routers(session, host, conf),
    }
    digest = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).digest()
    state["generation"] = int.from_bytes(digest[:8], "big") >> 1
    return state


def _port_item(record: Any) -> dict[str, Any]:
    port: Port = record.port
    return {
        "id": port.id,
        "network_id": port.network_id,
        "mac_address": port.mac_address,
        "device_owner": port.device_owner,
        "admin_state_up": port.admin_state_up,
        "status": port.status,
        "fixed_ips": [
            {"subnet_id": a.subnet_id, "ip_address": a.ip_address} for a in record.fixed_ips
        ],
        "port_security_enabled": port.port_security_enabled,
        "allowed_address_pairs": [
            {"ip_address": p["ip_address"], "mac_address": p.get("mac_address") or port.mac_address}
            for p in port.allowed_address_pairs
        ],
        "security_group_ids": list(record.security_group_ids) if port.port_security_enabled else [],
    }


def _networks(session: Session, host: str, network_ids: list[str]) -> list[dict[str, Any]]:
    """The networks of ``network_ids`` with the ``local_ip`` of the L2 agents of the other
    hosts that have bound ports on each (vxlan networks only)."""
    if not network_ids:
        return []
    others: dict[str, set[str]] = defaultdict(set)
    for network_id, other in session.execute(
        sa.select(Port.network_id, Port.host_id)
        .where(Port.network_id.in_(network_ids), Port.host_id != "", Port.host_id != host)
        .distinct()
    ):
        others[network_id].add(other)
    hosts = set().union(*others.values()) if others else set()
    local_ips: dict[str, str] = {}
    if hosts:
        for agent in session.scalars(
            sa.select(Agent).where(Agent.agent_type == L2_AGENT, Agent.host.in_(hosts))
        ):
            ip = (agent.configurations or {}).get("local_ip")
            if ip:
                local_ips[agent.host] = str(ip)
    result = []
    for net in session.scalars(sa.select(Network).where(Network.id.in_(network_ids))):
        vxlan = net.network_type == "vxlan"
        vteps = {local_ips[h] for h in others.get(net.id, ()) if h in local_ips} if vxlan else set()
        result.append(
            {
                "id": net.id,
                "name": net.name,
                "mtu": net.mtu,
                "admin_state_up": net.admin_state_up,
                "network_type": net.network_type,
                "segmentation_id": net.segmentation_id,
                "physical_network": getattr(net, "physical_network", None),
                "remote_vteps": sorted(vteps),
            }
        )
    return sorted(result, key=lambda n: n["id"])


def _security_groups(session: Session, ports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The groups the ports use and the groups their rules name, with rules and the
    addresses of every port in each (any host): fixed IPs and allowed address pairs'
    addresses (prefixes too), as Neutron's remote group members."""
    used = {g for p in ports for g in p["security_group_ids"]}
    if not used:
        return []
    rules: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rule in session.scalars(
        sa.select(SecurityGroupRule)
        .where(SecurityGroupRule.security_group_id.in_(used))
        .order_by(SecurityGroupRule.id)
    ):
        rules[rule.security_group_id].append(
            {
                "id": rule.id,
                "direction": rule.direction,
                "ethertype": rule.ethertype,
                "protocol": rule.protocol,
                "port_range_min": rule.port_range_min,
                "port_range_max": rule.port_range_max,
                "remote_ip_prefix": rule.remote_ip_prefix,
                "remote_group_id": rule.remote_group_id,
            }
        )
    named = {r["remote_group_id"] for rs in rules.values() for r in rs if r["remote_group_id"]}
    groups = used | named
    members: dict[str, set[str]] = defaultdict(set)
    for group_id, ip in session.execute(
        sa.select(PortSecurityGroup.security_group_id, IPAllocation.ip_address)
        .join(IPAllocation, IPAllocation.port_id == PortSecurityGroup.port_id)
        .where(PortSecurityGroup.security_group_id.in_(groups))
    ):
        members[group_id].add(ip)
    # a port's allowed address pairs are members too (Neutron's remote group members), or a
    # guest using one is refused by its peers' "from my group" rules
    for group_id, pairs in session.execute(
        sa.select(PortSecurityGroup.security_group_id, Port.allowed_address_pairs)
        .join(Port, Port.id == PortSecurityGroup.port_id)
        .where(PortSecurityGroup.security_group_id.in_(groups))
    ):
        members[group_id].update(p["ip_address"] for p in pairs or () if p.get("ip_address"))
    return [
        {
            "id": g,
            "rules": rules.get(g, []) if g in used else [],
            "member_ips": sorted(members.get(g, ())),
        }
        for g in sorted(groups)
    ]


def _dhcp(session: Session, host: str, conf: Any) -> list[dict[str, Any]]:
    """The DHCP servers of ``host``: one per DHCP port bound to it (none unless its DHCP
    agent is alive), with the addresses of the network's other ports as host entries."""
    if host not in alive_hosts(session, conf, DHCP_AGENT):
        return []
    dhcp_ports = list(
        session.scalars(
            sa.select(Port)
            .where(Port.host_id == host, Port.device_owner == DHCP_OWNER)
            .order_by(Port.network_id)
        )
    )
    if not dhcp_ports:
        return []
    wanted = _dhcp_subnets(session)
    # subnets a router interface sits on: their IPv6 ones get router advertisements
    routed = set(
        session.scalars(
            sa.select(IPAllocation.subnet_id)
            .join(Port, Port.id == IPAllocation.port_id)
            .where(Port.device_owner == ROUTER_INTERFACE)
        )
    )
    items = []
    for record in records(session, dhcp_ports):
        port = record.port
        subnets = wanted.get(port.network_id, [])
        net = session.get(Network, port.network_id)
        if not subnets or net is None:
            continue
        items.append(
            {
                "network_id": port.network_id,
                "mtu": net.mtu,
                "port": {
                    "id": port.id,
                    "mac_address": port.mac_address,
                    "fixed_ips": [
                        {"subnet_id": a.subnet_id, "ip_address": a.ip_address}
                        for a in record.fixed_ips
                    ],
                },
                "subnets": [
                    {
                        "id": s.id,
                        "cidr": s.cidr,
                        "gateway_ip": s.gateway_ip,
                        "dns_nameservers": list(s.dns_nameservers),
                        "host_routes": [dict(r) for r in s.host_routes],
                        "ip_version": s.ip_version,
                        "ipv6_ra_mode": s.ipv6_ra_mode,
                        "ipv6_address_mode": s.ipv6_address_mode,
                        "router_attached": s.id in routed,
                    }
                    for s in subnets
                ],
                "hosts": _dhcp_hosts(session, port, {s.id for s in subnets}),
            }
        )
    return items


def _dhcp_hosts(session: Session, dhcp_port: Port, subnet_ids: set[str]) -> list[dict[str, Any]]:
    """The host entries of a DHCP server: every other port of its network with an address
    on a DHCP-enabled subnet; hostnames as Neutron's default (``host-10-0-0-5``); each
    entry carries the port's extra DHCP options of the address's IP version."""
    rows = session.execute(
        sa.select(Port.mac_address, IPAllocation.ip_address, Port.extra_dhcp_opts)
        .join(IPAllocation, IPAllocation.port_id == Port.id)
        .where(
            Port.network_id == dhcp_port.network_id,
            Port.id != dhcp_port.id,
            IPAllocation.subnet_id.in_(subnet_ids),
        )
        .order_by(IPAllocation.ip_address)
    )
    return [
        {
            "mac_address": mac,
            "ip_address": ip,
            "hostname": "host-" + ip.replace(".", "-").replace(":", "-"),
            "extra_dhcp_opts": extra_dhcp_opts.for_ip_version(opts or [], 6 if ":" in ip else 4),
        }
        for mac, ip, opts in rows
    ]


def _routers(session: Session, host: str, conf: Any) -> list[dict[str, Any]]:
    """The routers of the network node ``host`` (none when its L3 agent is not alive):
    those with a port bound to it, and those without any bound port."""
    if host not in alive_hosts(session, conf, L3_AGENT):
        return []
    ports = list(
        session.scalars(
            sa.select(Port)
            .where(Port.device_owner.in_(ROUTER_OWNERS))
            .order_by(Port.created_at, Port.id)
        )
    )
    by_router: dict[str, list[Port]] = defaultdict(list)
    for port in ports:
        by_router[port.device_id].append(port)
    ips = _cidrs(session, [p.id for p in ports])
    network_ids = {p.network_id for p in ports}
    mtus: dict[str, int] = {
        row.id: row.mtu
        for row in session.execute(
            sa.select(Network.id, Network.mtu).where(Network.id.in_(network_ids))
        )
    }
    result = []
    for router in session.scalars(sa.select(Router).order_by(Router.id)):
        mine = by_router.get(router.id, [])
        bound = {p.host_id for p in mine if p.host_id}
        if host not in bound and bound:
            continue
        item: dict[str, Any] = {
            "id": router.id,
            "admin_state_up": router.admin_state_up,
            "enable_snat": router.enable_snat,
            "gateway": None,
            "interfaces": [],
            "routes": [
                {"destination": r.destination, "nexthop": r.nexthop}
                for r in session.scalars(
                    sa.select(RouterRoute)
                    .where(RouterRoute.router_id == router.id)
                    .order_by(RouterRoute.destination, RouterRoute.nexthop)
                )
            ],
            "floating_ips": [
                {"floating_ip_address": f.floating_ip_address, "fixed_ip_address": a}
                for f in session.scalars(
                    sa.select(FloatingIP)
                    .where(FloatingIP.router_id == router.id, FloatingIP.port_id.is_not(None))
                    .order_by(FloatingIP.floating_ip_address)
                )
                if (a := f.fixed_ip_address)
            ],
        }
        for port in mine:
            cidrs = ips.get(port.id, [])
            if not cidrs:
                continue
            entry = {
                "port_id": port.id,
                "mac_address": port.mac_address,
                "ip_cidr": cidrs[0][0],
                "ip_cidrs": [c for c, _gw in cidrs],
                "network_id": port.network_id,
                "mtu": mtus.get(port.network_id),
            }
            if port.device_owner == ROUTER_GATEWAY:
                # the default route is IPv4's (the L3 driver routes no IPv6)
                v4 = [gw for c, gw in cidrs if ipaddress.ip_interface(c).version == 4]
                item["gateway"] = {**entry, "gateway_ip": v4[0] if v4 else None}
            else:
                item["interfaces"].append(entry)
        result.append(item)
    return result


def _cidrs(session: Session, port_ids: list[str]) -> dict[str, list[tuple[str, str | None]]]:
    """port_id -> ``[(ip/prefixlen, its subnet's gateway_ip)]``, IPv4 ones first, each
    family by address (as numbers: a string sort puts ``2001:db8::5`` before
    ``203.0.113.5``)."""
    found: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    if not port_ids:
        return found
    for port_id, ip, cidr, gateway in session.execute(
        sa.select(IPAllocation.port_id, IPAllocation.ip_address, Subnet.cidr, Subnet.gateway_ip)
        .join(Subnet, Subnet.id == IPAllocation.subnet_id)
        .where(IPAllocation.port_id.in_(port_ids))
        .order_by(IPAllocation.ip_address)
    ):
        found[str(port_id)].append((f"{ip}/{cidr.split('/')[1]}", gateway))
    for entries in found.values():
        entries.sort(key=lambda e: _address_key(e[0]))
    return found


def _address_key(ip_cidr: str) -> tuple[int, int]:
    """Sort key of an ``ip/prefixlen``: IPv4 before IPv6, then the address's number."""
    address = ipaddress.ip_interface(ip_cidr).ip
    return address.version, int(address)
