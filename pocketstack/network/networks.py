"""Networks (Neutron v2.0 ``/networks``): create, show, list, update, delete.

Visibility: a project sees its own networks plus ``shared`` and ``router:external`` ones;
anything else is ``NetworkNotFound`` (404). Only the owner (or an admin) changes a network;
another project that only sees it (shared, external) gets ``NotAuthorized`` (403). Every
network is a VXLAN segment with a unique VNI (``provider:segmentation_id``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import utcnow
from pocketstack.network import common
from pocketstack.network import exceptions as exc
from pocketstack.network.models import Network, Port, PortSecurityGroup, Subnet

if TYPE_CHECKING:
    from pocketstack.service import Cloud

MAX_VNI = 2**24 - 1
DEFAULT_MTU = 1450
_CREATE_ATTRS = {
    "admin_state_up",
    "shared",
    "router:external",
    "mtu",
    "port_security_enabled",
    "provider:network_type",
    "provider:segmentation_id",
    "provider:physical_network",
    "availability_zone_hints",
    "is_default",
    "dns_domain",
    "qos_policy_id",
}
_UPDATE_ATTRS = {
    "name",
    "description",
    "admin_state_up",
    "shared",
    "router:external",
    "mtu",
    "port_security_enabled",
    "tags",
    "is_default",
    "qos_policy_id",
}
#: device owners whose ports keep a network (and its subnets) from being deleted
# Ports Neutron deletes with their network; any other port (a user's unowned port too) keeps
# the network in use (409 NetworkInUse), as Neutron's delete_network.
AUTO_DELETE_PORT_OWNERS = (
    "network:dhcp",
    "network:distributed",
    "network:floatingip_agent_gateway",
)


def visible_filter(ctx: RequestContext) -> Any:
    """SQL condition: networks the caller may see (own, shared, external)."""
    return sa.or_(
        Network.project_id == ctx.project_id, Network.shared.is_(True), Network.external.is_(True)
    )


def load_network(session: Session, ctx: RequestContext, network_id: str) -> Network:
    """A network visible to ``ctx``. Raises NetworkNotFound (404)."""
    net = session.get(Network, network_id)
    if net is None or not (ctx.is_admin or ctx.owns(net.project_id) or net.shared or net.external):
        raise exc.NetworkNotFound(network_id)
    return net


def load_owned_network(session: Session, ctx: RequestContext, network_id: str) -> Network:
    """A network the caller owns (or admin). Raises NetworkNotFound (404) / NotAuthorized."""
    net = load_network(session, ctx, network_id)
    if not common.check_project_scope(ctx, net.project_id):
        raise exc.NotAuthorized(f"Only the owner of network {network_id} may change it.")
    return net


def render(net: Network, subnet_ids: list[str]) -> dict[str, Any]:
    """The Neutron view of a network, including the admin-only ``provider:*`` attributes."""
    data = common.standard_attrs(net)
    data.update(
        {
            "admin_state_up": net.admin_state_up,
            "shared": net.shared,
            "router:external": net.external,
            "mtu": net.mtu,
            "status": net.status,
            "subnets": subnet_ids,
            "port_security_enabled": net.port_security_enabled,
            "availability_zones": ["nova"],
            "availability_zone_hints": [],
            "ipv4_address_scope": None,
            "ipv6_address_scope": None,
            "l2_adjacency": True,
            "is_default": False,
            "qos_policy_id": None,
            "provider:network_type": net.network_type,
            "provider:physical_network": None,
            "provider:segmentation_id": net.segmentation_id,
        }
    )
    return data


def _subnet_ids(session: Session, network_ids: list[str]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {nid: [] for nid in network_ids}
    if not network_ids:
        return result
    rows = session.execute(
        sa.select(Subnet.network_id, Subnet.id)
        .where(Subnet.network_id.in_(network_ids))
        .order_by(Subnet.created_at, Subnet.id)
    )
    for network_id, subnet_id in rows:
        result[network_id].append(subnet_id)
    return result


def _check_admin_attrs(ctx: RequestContext, body: dict[str, Any]) -> None:
    for key in (
        "shared",
        "router:external",
        "provider:network_type",
        "provider:segmentation_id",
        "provider:physical_network",
    ):
        if key in body and not ctx.is_admin:
            raise exc.NotAuthorized(f"Only an administrator may set {key}.")
    net_type = body.get("provider:network_type")
    if net_type not in (None, "vxlan"):
        raise exc.InvalidInput(f"Network type {net_type} is not supported: use vxlan.")
    if body.get("provider:physical_network") is not None:
        raise exc.InvalidInput("provider:physical_network is not supported for vxlan.")


def _digits(text: str) -> bool:
    """Whether ``text`` is ASCII decimal digits (``str.isdigit`` also takes ``²``, which
    ``int()`` refuses)."""
    return text.isascii() and text.isdigit()


def _mtu(body: dict[str, Any], default: int) -> int:
    value = body.get("mtu", default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | str) or not _digits(str(value)):
        raise exc.InvalidInput(f"'{value}' is not a valid integer for mtu.")
    mtu = int(value)
    if not 68 <= mtu <= DEFAULT_MTU:
        raise exc.InvalidInput(f"Requested MTU {mtu} must be between 68 and {DEFAULT_MTU}.")
    return mtu


def _vni(session: Session, body: dict[str, Any]) -> int:
    wanted = body.get("provider:segmentation_id")
    if wanted is not None:
        if not _digits(str(wanted)) or not 1 <= int(wanted) <= MAX_VNI:
            raise exc.InvalidInput(f"provider:segmentation_id must be in 1..{MAX_VNI}.")
        return int(wanted)
    highest = session.scalar(sa.select(sa.func.max(Network.segmentation_id)))
    if highest is None or highest < MAX_VNI:
        return (highest or 1000) + 1
    used = set(session.scalars(sa.select(Network.segmentation_id)))
    return next(v for v in range(1, MAX_VNI + 1) if v not in used)


class NetworkFamily:
    """The network resource family of ``cloud.network`` (``cloud.network.networks``)."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        """Create a network from the ``network`` body of ``POST /v2.0/networks``.

        Raises:
            InvalidInput (400), NotAuthorized (403: admin-only attribute), Conflict (409:
            the requested segmentation id is taken).
        """
        common.check_attrs(body, _CREATE_ATTRS)
        _check_admin_attrs(ctx, body)
        project_id = common.owner_project(ctx, body)
        fields = dict(
            project_id=project_id,
            name=common.want_str(body, "name"),
            description=common.want_str(body, "description", maxlen=255),
            admin_state_up=common.want_bool(body, "admin_state_up", True),
            shared=common.want_bool(body, "shared", False),
            external=common.want_bool(body, "router:external", False),
            mtu=_mtu(body, DEFAULT_MTU),
            port_security_enabled=common.want_bool(body, "port_security_enabled", True),
            tags=[str(t) for t in common.want_list(body, "tags")],
        )
        with self.cloud.db.transaction() as s:
            if body.get("provider:segmentation_id") is not None:
                vni = _vni(s, body)
                if s.scalar(sa.select(Network.id).where(Network.segmentation_id == vni)):
                    raise exc.TunnelIdInUse(vni)
            net = common.add_unique(s, lambda: Network(segmentation_id=_vni(s, body), **fields))
            return render(net, [])

    def get(self, ctx: RequestContext, network_id: str) -> dict[str, Any]:
        """One network. Raises NetworkNotFound (404)."""
        with self.cloud.db.reader() as s:
            net = load_network(s, ctx, network_id)
            return render(net, _subnet_ids(s, [net.id])[net.id])

    def list(self, ctx: RequestContext, all_projects: bool = False) -> list[dict[str, Any]]:
        """Networks the caller sees (every project's when ``all_projects`` and admin)."""
        with self.cloud.db.reader() as s:
            query = sa.select(Network).order_by(Network.created_at, Network.id)
            if not (all_projects and ctx.is_admin):
                query = query.where(visible_filter(ctx))
            nets = list(s.scalars(query))
            subnets = _subnet_ids(s, [n.id for n in nets])
            return [render(n, subnets[n.id]) for n in nets]

    def update(self, ctx: RequestContext, network_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Change a network's attributes. Raises NetworkNotFound, NotAuthorized, InvalidInput."""
        common.check_attrs(body, _UPDATE_ATTRS)
        _check_admin_attrs(ctx, body)
        with self.cloud.db.transaction() as s:
            net = load_owned_network(s, ctx, network_id)
            if "name" in body:
                net.name = common.want_str(body, "name")
            if "description" in body:
                net.description = common.want_str(body, "description")
            if "admin_state_up" in body:
                net.admin_state_up = common.want_bool(body, "admin_state_up", True)
            if "shared" in body:
                net.shared = common.want_bool(body, "shared", False)
            if "router:external" in body:
                net.external = common.want_bool(body, "router:external", False)
            if "port_security_enabled" in body:
                net.port_security_enabled = common.want_bool(body, "port_security_enabled", True)
            if "mtu" in body:
                net.mtu = _mtu(body, net.mtu)
            if "tags" in body:
                net.tags = [str(t) for t in common.want_list(body, "tags")]
            common.touch(net)
            net.updated_at = utcnow()
            s.flush()
            return render(net, _subnet_ids(s, [net.id])[net.id])

    def delete(self, ctx: RequestContext, network_id: str) -> None:
        """Delete a network with its subnets and its DHCP (auto-delete) ports.

        Raises:
            NetworkNotFound (404), NotAuthorized (403), NetworkInUse (409: any other port
            remains, a server's, a router's or a user's own).
        """
        with self.cloud.db.transaction() as s:
            net = load_owned_network(s, ctx, network_id)
            owners = s.scalars(sa.select(Port.device_owner).where(Port.network_id == net.id))
            if any(o not in AUTO_DELETE_PORT_OWNERS for o in owners):
                raise exc.NetworkInUse(network_id)
            port_ids = list(s.scalars(sa.select(Port.id).where(Port.network_id == net.id)))
            delete_ports(s, port_ids)
            s.execute(sa.delete(Subnet).where(Subnet.network_id == net.id))
            s.delete(net)


def delete_ports(session: Session, port_ids: list[str]) -> None:
    """Delete ports with their addresses and group bindings (no checks)."""
    from pocketstack.network.models import IPAllocation

    if not port_ids:
        return
    session.execute(sa.delete(IPAllocation).where(IPAllocation.port_id.in_(port_ids)))
    session.execute(sa.delete(PortSecurityGroup).where(PortSecurityGroup.port_id.in_(port_ids)))
    session.execute(sa.delete(Port).where(Port.id.in_(port_ids)))
