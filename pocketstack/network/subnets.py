"""Subnets (Neutron v2.0 ``/subnets``): IPv4 only for now.

A subnet is visible when its network is (own, shared, external); only the network's owner
(or an admin) creates, changes or deletes subnets. The cidr is normalised (host bits
cleared), the gateway defaults to the first host, the allocation pools to every host but the
gateway (see ``ipam``).
"""

from __future__ import annotations

import builtins
import ipaddress
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import utcnow
from pocketstack.network import common, ipam
from pocketstack.network import exceptions as exc
from pocketstack.network.models import IPAllocation, Network, Port, Subnet
from pocketstack.network.networks import load_network, load_owned_network, visible_filter

if TYPE_CHECKING:
    from pocketstack.service import Cloud

_CREATE_ATTRS = {
    "network_id",
    "ip_version",
    "cidr",
    "gateway_ip",
    "allocation_pools",
    "enable_dhcp",
    "dns_nameservers",
    "host_routes",
    "subnetpool_id",
    "ipv6_ra_mode",
    "ipv6_address_mode",
    "service_types",
    "segment_id",
    "use_default_subnetpool",
    "prefixlen",
    "dns_publish_fixed_ip",
}
_UPDATE_ATTRS = {
    "name",
    "description",
    "gateway_ip",
    "allocation_pools",
    "enable_dhcp",
    "dns_nameservers",
    "host_routes",
    "tags",
    "service_types",
}


def render(subnet: Subnet) -> dict[str, Any]:
    """The Neutron view of a subnet."""
    data = common.standard_attrs(subnet)
    data.update(
        {
            "network_id": subnet.network_id,
            "ip_version": subnet.ip_version,
            "cidr": subnet.cidr,
            "gateway_ip": subnet.gateway_ip,
            "allocation_pools": [dict(p) for p in subnet.allocation_pools],
            "enable_dhcp": subnet.enable_dhcp,
            "dns_nameservers": list(subnet.dns_nameservers),
            "host_routes": [dict(r) for r in subnet.host_routes],
            "subnetpool_id": None,
            "ipv6_ra_mode": None,
            "ipv6_address_mode": None,
            "service_types": [],
            "segment_id": None,
            "dns_publish_fixed_ip": None,
        }
    )
    return data


def load_subnet(session: Session, ctx: RequestContext, subnet_id: str) -> Subnet:
    """A subnet visible to ``ctx``. Raises SubnetNotFound (404)."""
    subnet = session.get(Subnet, subnet_id)
    if subnet is None:
        raise exc.SubnetNotFound(subnet_id)
    try:
        load_network(session, ctx, subnet.network_id)
    except exc.NetworkNotFound:
        raise exc.SubnetNotFound(subnet_id) from None
    return subnet


def _gateway(body: dict[str, Any], net: ipaddress.IPv4Network) -> str | None:
    if "gateway_ip" not in body:
        return str(net.network_address + 1)
    if body["gateway_ip"] is None:
        return None
    gw = ipam.parse_ip(body["gateway_ip"], "gateway_ip")
    if gw not in net or gw in (net.network_address, net.broadcast_address):
        raise exc.InvalidInput(f"Gateway IP {gw} is not a host address of subnet {net}.")
    return str(gw)


def _dns(body: dict[str, Any]) -> list[str]:
    servers = [
        str(ipam.parse_ip(v, "dns_nameservers")) for v in common.want_list(body, "dns_nameservers")
    ]
    if len(set(servers)) != len(servers):
        raise exc.InvalidInput(f"Duplicate nameserver in {servers}.")
    return servers


def _routes(body: dict[str, Any]) -> list[dict[str, str]]:
    routes = []
    for route in common.want_list(body, "host_routes"):
        if not isinstance(route, dict) or not {"destination", "nexthop"} <= set(route):
            raise exc.InvalidInput("host_routes entries need 'destination' and 'nexthop'.")
        dest = (
            ipam.parse_cidr(route["destination"])
            if route["destination"] != "0.0.0.0/0"
            else ipaddress.ip_network("0.0.0.0/0")
        )
        routes.append(
            {
                "destination": str(dest),
                "nexthop": str(ipam.parse_ip(route["nexthop"], "host_routes")),
            }
        )
    return routes


def _check_overlap(session: Session, network_id: str, cidr: ipaddress.IPv4Network) -> None:
    for other in session.scalars(sa.select(Subnet.cidr).where(Subnet.network_id == network_id)):
        if ipaddress.ip_network(other).overlaps(cidr):
            raise exc.InvalidInput(
                f"Requested subnet with cidr: {cidr} for network: "
                f"{network_id} overlaps with another subnet"
            )


def _parse_create(body: dict[str, Any]) -> dict[str, Any]:
    common.check_attrs(body, _CREATE_ATTRS)
    if str(body.get("ip_version", 4)) == "6":
        raise exc.InvalidInput(
            "IPv6 subnets are not supported yet (ip_version 6); create an IPv4 subnet."
        )
    if str(body.get("ip_version", 4)) != "4":
        raise exc.InvalidInput(f"'{body.get('ip_version')}' is not a valid ip_version.")
    if body.get("subnetpool_id") or body.get("use_default_subnetpool"):
        raise exc.InvalidInput("Subnet pools are not supported; give a cidr.")
    if not body.get("network_id"):
        raise exc.InvalidInput("network_id is required.")
    if body.get("cidr") is None:
        raise exc.InvalidInput("cidr is required.")
    cidr = ipam.parse_cidr(body["cidr"])
    gateway = _gateway(body, cidr)
    pools = (
        ipam.validate_pools(cidr, gateway, body["allocation_pools"])
        if body.get("allocation_pools")
        else ipam.default_pools(cidr, gateway)
    )
    return dict(
        cidr=str(cidr),
        gateway_ip=gateway,
        allocation_pools=pools,
        enable_dhcp=common.want_bool(body, "enable_dhcp", True),
        dns_nameservers=_dns(body),
        host_routes=_routes(body),
        name=common.want_str(body, "name"),
        description=common.want_str(body, "description"),
        tags=[str(t) for t in common.want_list(body, "tags")],
    )


class SubnetFamily:
    """The subnet resource family of ``cloud.network`` (``cloud.network.subnets``)."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        """Create a subnet from the ``subnet`` body of ``POST /v2.0/subnets``.

        Raises:
            InvalidInput (400: bad cidr, ip_version 6, overlap...), InvalidAllocationPool
            (400), NetworkNotFound (404), NotAuthorized (403: not the network's owner).
        """
        fields = _parse_create(body)
        with self.cloud.db.transaction() as s:
            net = load_owned_network(s, ctx, str(body["network_id"]))
            _check_overlap(s, net.id, ipaddress.IPv4Network(fields["cidr"]))
            subnet = Subnet(
                project_id=common.owner_project(ctx, body) if ctx.is_admin else net.project_id,
                network_id=net.id,
                ip_version=4,
                **fields,
            )
            s.add(subnet)
            common.touch(net)
            s.flush()
            return render(subnet)

    def get(self, ctx: RequestContext, subnet_id: str) -> dict[str, Any]:
        """One subnet. Raises SubnetNotFound (404)."""
        with self.cloud.db.reader() as s:
            return render(load_subnet(s, ctx, subnet_id))

    def list(self, ctx: RequestContext, all_projects: bool = False) -> list[dict[str, Any]]:
        """Subnets of the networks the caller sees (all when ``all_projects`` and admin)."""
        with self.cloud.db.reader() as s:
            query = (
                sa.select(Subnet)
                .join(Network, Network.id == Subnet.network_id)
                .order_by(Subnet.created_at, Subnet.id)
            )
            if not (all_projects and ctx.is_admin):
                query = query.where(visible_filter(ctx))
            return [render(sub) for sub in s.scalars(query)]

    def update(self, ctx: RequestContext, subnet_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Change a subnet. Raises SubnetNotFound, NotAuthorized, InvalidInput."""
        common.check_attrs(body, _UPDATE_ATTRS)
        with self.cloud.db.transaction() as s:
            subnet = load_subnet(s, ctx, subnet_id)
            load_owned_network(s, ctx, subnet.network_id)
            cidr = ipaddress.IPv4Network(subnet.cidr)
            for key in ("name", "description"):
                if key in body:
                    setattr(subnet, key, common.want_str(body, key))
            if "enable_dhcp" in body:
                subnet.enable_dhcp = common.want_bool(body, "enable_dhcp", True)
            if "gateway_ip" in body:
                subnet.gateway_ip = _gateway(body, cidr)
            if "allocation_pools" in body:
                subnet.allocation_pools = ipam.validate_pools(
                    cidr, subnet.gateway_ip, body["allocation_pools"]
                )
            elif "gateway_ip" in body:
                ipam.validate_pools(cidr, subnet.gateway_ip, subnet.allocation_pools)
            if "dns_nameservers" in body:
                subnet.dns_nameservers = _dns(body)
            if "host_routes" in body:
                subnet.host_routes = _routes(body)
            if "tags" in body:
                subnet.tags = [str(t) for t in common.want_list(body, "tags")]
            common.touch(subnet)
            subnet.updated_at = utcnow()
            s.flush()
            return render(subnet)

    def delete(self, ctx: RequestContext, subnet_id: str) -> None:
        """Delete a subnet whose addresses are unused (DHCP and unowned ports lose theirs).

        Raises:
            SubnetNotFound (404), NotAuthorized (403), SubnetInUse (409).
        """
        with self.cloud.db.transaction() as s:
            subnet = load_subnet(s, ctx, subnet_id)
            load_owned_network(s, ctx, subnet.network_id)
            owners = s.scalars(
                sa.select(Port.device_owner)
                .join(IPAllocation, IPAllocation.port_id == Port.id)
                .where(IPAllocation.subnet_id == subnet.id)
            )
            if any(o != "network:dhcp" for o in owners):
                raise exc.SubnetInUse(subnet_id)
            s.execute(sa.delete(IPAllocation).where(IPAllocation.subnet_id == subnet.id))
            s.delete(subnet)

    def for_network(self, session: Session, network_id: str) -> builtins.list[Subnet]:
        """The subnets of a network in creation order (IPAM tries them in this order)."""
        return list(
            session.scalars(
                sa.select(Subnet)
                .where(Subnet.network_id == network_id)
                .order_by(Subnet.created_at, Subnet.id)
            )
        )
