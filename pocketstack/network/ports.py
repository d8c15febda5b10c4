"""Ports (Neutron v2.0 ``/ports``): a NIC on a network with MAC, fixed IPs and groups.

A project sees its own ports (admins all). A port may be created on a network the caller
owns or a shared one (admins anywhere); an external network that is not shared is 403.
Fixed IPs come from IPAM (``ipam``): ``fixed_ips`` absent means one address from the first
subnet with a free one; ``[{"subnet_id"}]``, ``[{"ip_address"}]`` or both ask for specific
ones. A port bound to a host (``binding:host_id``) is ACTIVE, otherwise DOWN.
"""

from __future__ import annotations

import builtins
import ipaddress
import random
import re
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import utcnow
from pocketstack.common.drivers import NETWORK_DRIVERS
from pocketstack.network import common, ipam
from pocketstack.network import exceptions as exc
from pocketstack.network.models import (
    IPAllocation,
    Network,
    Port,
    PortSecurityGroup,
    SecurityGroup,
    Subnet,
)
from pocketstack.network.networks import delete_ports, load_network
from pocketstack.network.secgroups import create_default

if TYPE_CHECKING:
    from pocketstack.service import Cloud

_MAC_RE = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
_CREATE_ATTRS = {
    "network_id",
    "admin_state_up",
    "mac_address",
    "fixed_ips",
    "device_id",
    "device_owner",
    "binding:host_id",
    "binding:vnic_type",
    "binding:profile",
    "security_groups",
    "port_security_enabled",
    "allowed_address_pairs",
    "extra_dhcp_opts",
    "dns_name",
    "dns_domain",
    "qos_policy_id",
    "propagate_uplink_status",
    "numa_affinity_policy",
}
_UPDATE_ATTRS = _CREATE_ATTRS - {"network_id"}


def vif_type_of(conf: Any) -> str:
    """The ``binding:vif_type`` of ports bound on this cloud (from the network driver)."""
    return NETWORK_DRIVERS.load_class(conf.network_driver).vif_type


def render(port: Port, fixed_ips: list[dict[str, str]], groups: list[str]) -> dict[str, Any]:
    """The Neutron view of a port, including the admin-only ``binding:*`` attributes."""
    data = common.standard_attrs(port)
    data.update(
        {
            "network_id": port.network_id,
            "mac_address": port.mac_address,
            "admin_state_up": port.admin_state_up,
            "status": port.status,
            "device_id": port.device_id,
            "device_owner": port.device_owner,
            "fixed_ips": fixed_ips,
            "security_groups": groups,
            "port_security_enabled": port.port_security_enabled,
            "allowed_address_pairs": [dict(p) for p in port.allowed_address_pairs],
            "extra_dhcp_opts": [],
            "propagate_uplink_status": False,
            "qos_policy_id": None,
            "binding:host_id": port.host_id,
            "binding:vif_type": port.vif_type,
            "binding:vnic_type": port.vnic_type,
            "binding:profile": {},
            "binding:vif_details": {"port_filter": False} if port.host_id else {},
        }
    )
    return data


def render_many(session: Session, ports: list[Port]) -> list[dict[str, Any]]:
    """Render ports with their fixed IPs and groups read in two queries."""
    ids = [p.id for p in ports]
    ips: dict[str, list[dict[str, str]]] = {i: [] for i in ids}
    groups: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        for a in session.scalars(
            sa.select(IPAllocation)
            .where(IPAllocation.port_id.in_(ids))
            .order_by(IPAllocation.ip_address)
        ):
            ips[str(a.port_id)].append({"subnet_id": a.subnet_id, "ip_address": a.ip_address})
        for b in session.scalars(
            sa.select(PortSecurityGroup).where(PortSecurityGroup.port_id.in_(ids))
        ):
            groups[b.port_id].append(b.security_group_id)
    return [render(p, ips[p.id], sorted(groups[p.id])) for p in ports]


def load_port(session: Session, ctx: RequestContext, port_id: str) -> Port:
    """A port of the caller's project (any for admin). Raises PortNotFound (404)."""
    port = session.get(Port, port_id)
    if port is None or not common.check_project_scope(ctx, port.project_id):
        raise exc.PortNotFound(port_id)
    return port


def _random_mac() -> str:
    return "fa:16:3e:" + ":".join(f"{random.randint(0, 255):02x}" for _ in range(3))


def _mac(body: dict[str, Any]) -> str | None:
    mac = body.get("mac_address")
    if mac is None:
        return None
    mac = str(mac).lower()
    if not _MAC_RE.match(mac) or int(mac[:2], 16) & 1:
        raise exc.InvalidInput(f"'{body['mac_address']}' is not a valid MAC address.")
    return mac


def _pair_address(value: Any) -> str:
    """An allowed address pair's ``ip_address``: an address or a CIDR, normalised."""
    try:
        if "/" in str(value):
            return str(ipaddress.ip_network(str(value).strip(), strict=False))
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise exc.InvalidInput(
            f"'{str(value)[:64]}' is not a valid IP address or CIDR for allowed_address_pairs."
        ) from None


def _address_pairs(body: dict[str, Any]) -> list[dict[str, str]]:
    pairs = []
    for pair in common.want_list(body, "allowed_address_pairs"):
        if not isinstance(pair, dict) or "ip_address" not in pair:
            raise exc.InvalidInput("allowed_address_pairs entries need an ip_address.")
        item = {"ip_address": _pair_address(pair["ip_address"])}
        if pair.get("mac_address"):
            item["mac_address"] = _mac({"mac_address": pair["mac_address"]}) or ""
        pairs.append(item)
    return pairs


def _network_for_port(session: Session, ctx: RequestContext, network_id: str) -> Network:
    net = load_network(session, ctx, network_id)
    if not (ctx.is_admin or ctx.owns(net.project_id) or net.shared):
        raise exc.NotAuthorized(
            f"Tenant {ctx.project_id} not allowed to create port on network {network_id}."
        )
    return net


def _allocate(session: Session, net: Network, port_id: str, fixed_ips: Any) -> None:
    """Give the port its addresses: automatic when ``fixed_ips`` is None, else as asked."""
    subnets = list(
        session.scalars(
            sa.select(Subnet)
            .where(Subnet.network_id == net.id)
            .order_by(Subnet.created_at, Subnet.id)
        )
    )
    if fixed_ips is None:
        ipam.allocate_on_network(session, subnets, port_id, net.id)
        return
    if not isinstance(fixed_ips, list):
        raise exc.InvalidInput("fixed_ips must be a list.")
    by_id = {s.id: s for s in subnets}
    for item in fixed_ips:
        if not isinstance(item, dict) or not ({"subnet_id", "ip_address"} & set(item)):
            raise exc.InvalidInput("fixed_ips entries need a subnet_id and/or an ip_address.")
        subnet = by_id.get(str(item.get("subnet_id") or ""))
        if item.get("subnet_id") and subnet is None:
            raise exc.InvalidInput(
                f"Failed to create port on network {net.id}, because "
                f"fixed_ips included invalid subnet {item['subnet_id']}"
            )
        if item.get("ip_address") is None:
            if subnet is None:  # {"subnet_id": null}, {"ip_address": null}: nothing asked
                raise exc.InvalidInput("fixed_ips entries need a subnet_id and/or an ip_address.")
            if ipam.allocate_any(session, subnet, port_id) is None:
                raise exc.IpAddressGenerationFailure(net.id)
            continue
        if subnet is None:
            addr = ipam.parse_ip(item["ip_address"])
            subnet = next((s for s in subnets if addr in ipaddress.ip_network(s.cidr)), None)
            if subnet is None:
                raise exc.InvalidIpForNetwork(str(addr))
        ipam.allocate_specific(session, subnet, item["ip_address"], port_id)


def _set_groups(session: Session, ctx: RequestContext, port: Port, groups: Any) -> None:
    """Bind the port's groups (None: the project's default group when port security is on)."""
    session.execute(sa.delete(PortSecurityGroup).where(PortSecurityGroup.port_id == port.id))
    if groups is None:
        ids = [create_default(session, port.project_id)] if port.port_security_enabled else []
    else:
        if not isinstance(groups, list):
            raise exc.InvalidInput("security_groups must be a list of ids.")
        ids = []
        for group_id in dict.fromkeys(str(g) for g in groups):
            group = session.get(SecurityGroup, group_id)
            if group is None or group.project_id != port.project_id and not ctx.is_admin:
                raise exc.SecurityGroupNotFound(group_id)
            ids.append(group_id)
        if ids and not port.port_security_enabled:
            raise exc.errors.Conflict(
                "Port has security group associated. Cannot disable "
                "port security or ip address until security group is "
                "removed"
            )
    session.add_all(PortSecurityGroup(port_id=port.id, security_group_id=g) for g in ids)


def _binding(ctx: RequestContext, body: dict[str, Any], port: Port, vif_type: str) -> None:
    if "binding:host_id" in body:
        if not ctx.is_admin:
            raise exc.NotAuthorized("Only an administrator may set binding:host_id.")
        port.host_id = str(body["binding:host_id"] or "")
    vnic = body.get("binding:vnic_type")
    if vnic is not None:
        if vnic != "normal":
            raise exc.InvalidInput(f"binding:vnic_type {vnic} is not supported: use normal.")
        port.vnic_type = vnic
    port.status = "ACTIVE" if port.host_id else "DOWN"
    port.vif_type = vif_type if port.host_id else "unbound"


def create_port(
    session: Session,
    ctx: RequestContext,
    body: dict[str, Any],
    vif_type: str,
    created_by_compute: bool = False,
) -> Port:
    """Create a port in ``session`` (shared with ``allocate_for_instance``).

    Raises:
        NetworkNotFound (404), NotAuthorized (403), InvalidInput / InvalidIpForSubnet (400),
        IpAddressAlreadyAllocated / IpAddressGenerationFailure / MacAddressInUse (409).
    """
    common.check_attrs(body, _CREATE_ATTRS)
    if not body.get("network_id"):
        raise exc.InvalidInput("network_id is required.")
    net = _network_for_port(session, ctx, str(body["network_id"]))
    fields = dict(
        project_id=common.owner_project(ctx, body),
        network_id=net.id,
        name=common.want_str(body, "name"),
        description=common.want_str(body, "description"),
        admin_state_up=common.want_bool(body, "admin_state_up", True),
        device_id=common.want_str(body, "device_id"),
        device_owner=common.want_str(body, "device_owner"),
        port_security_enabled=common.want_bool(
            body, "port_security_enabled", net.port_security_enabled
        ),
        allowed_address_pairs=_address_pairs(body),
        created_by_compute=created_by_compute,
        tags=[str(t) for t in common.want_list(body, "tags")],
    )
    mac = _mac(body)
    if mac is not None:
        if session.scalar(
            sa.select(Port.id).where(Port.network_id == net.id, Port.mac_address == mac)
        ):
            raise exc.MacAddressInUse(mac, net.id)
        port = common.add_unique(session, lambda: Port(mac_address=mac, **fields), 1)
    else:
        port = common.add_unique(session, lambda: Port(mac_address=_random_mac(), **fields))
    _binding(ctx, body, port, vif_type)
    _allocate(session, net, port.id, body.get("fixed_ips"))
    _set_groups(session, ctx, port, body.get("security_groups"))
    session.flush()
    return port


class PortFamily:
    """The port resource family of ``cloud.network`` (``cloud.network.ports``)."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    @property
    def vif_type(self) -> str:
        """``binding:vif_type`` of bound ports."""
        return vif_type_of(self.cloud.conf)

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        """Create a port from the ``port`` body of ``POST /v2.0/ports`` (see ``create_port``)."""
        with self.cloud.db.transaction() as s:
            port = create_port(s, ctx, body, self.vif_type)
            return render_many(s, [port])[0]

    def get(self, ctx: RequestContext, port_id: str) -> dict[str, Any]:
        """One port. Raises PortNotFound (404)."""
        with self.cloud.db.reader() as s:
            return render_many(s, [load_port(s, ctx, port_id)])[0]

    def list(self, ctx: RequestContext, all_projects: bool = False) -> list[dict[str, Any]]:
        """The caller's ports (all projects' for an admin asking ``all_projects``)."""
        with self.cloud.db.reader() as s:
            query = sa.select(Port).order_by(Port.created_at, Port.id)
            if not (all_projects and ctx.is_admin):
                query = query.where(Port.project_id == ctx.project_id)
            return render_many(s, list(s.scalars(query)))

    def update(self, ctx: RequestContext, port_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Change a port (name, device, binding, fixed IPs, groups...).

        Raises:
            PortNotFound (404), NotAuthorized (403), the 400s and 409s of ``create_port``.
        """
        common.check_attrs(body, _UPDATE_ATTRS)
        with self.cloud.db.transaction() as s:
            port = load_port(s, ctx, port_id)
            for key in ("name", "description", "device_id", "device_owner"):
                if key in body:
                    setattr(port, key, common.want_str(body, key))
            if "admin_state_up" in body:
                port.admin_state_up = common.want_bool(body, "admin_state_up", True)
            if "port_security_enabled" in body:
                port.port_security_enabled = common.want_bool(body, "port_security_enabled", True)
            if "allowed_address_pairs" in body:
                port.allowed_address_pairs = _address_pairs(body)
            if "tags" in body:
                port.tags = [str(t) for t in common.want_list(body, "tags")]
            if "mac_address" in body and _mac(body) != port.mac_address:
                raise exc.InvalidInput("mac_address cannot be changed.")
            _binding(ctx, body, port, self.vif_type)
            if "fixed_ips" in body:
                ipam.release_port(s, port.id)
                s.flush()
                network = s.get(Network, port.network_id)
                if network is None:  # deleted under the port (the port goes with it)
                    raise exc.NetworkNotFound(f"Network {port.network_id} could not be found.")
                _allocate(s, network, port.id, body["fixed_ips"] or [])
            if "security_groups" in body or "port_security_enabled" in body:
                groups = body.get("security_groups")
                if groups is None and "security_groups" not in body:
                    groups = self._current_groups(s, port.id)
                    groups = groups if port.port_security_enabled else []
                _set_groups(s, ctx, port, groups if groups is not None else [])
            common.touch(port)
            port.updated_at = utcnow()
            s.flush()
            return render_many(s, [port])[0]

    @staticmethod
    def _current_groups(session: Session, port_id: str) -> builtins.list[str]:
        return list(
            session.scalars(
                sa.select(PortSecurityGroup.security_group_id).where(
                    PortSecurityGroup.port_id == port_id
                )
            )
        )

    def delete(self, ctx: RequestContext, port_id: str) -> None:
        """Delete a port and free its addresses. Raises PortNotFound (404)."""
        with self.cloud.db.transaction() as s:
            port = load_port(s, ctx, port_id)
            delete_ports(s, [port.id])
