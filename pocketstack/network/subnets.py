"""Subnets (Neutron v2.0 ``/subnets``): IPv4 and IPv6.

A subnet is visible when its network is (own, shared, external); only the network's owner
(or an admin) creates, changes or deletes subnets. The cidr is normalised (host bits
cleared), the gateway defaults to the first host, the allocation pools to every host but the
gateway (see ``ipam``). An IPv6 subnet keeps its ``ipv6_ra_mode`` / ``ipv6_address_mode``,
checked as Neutron's ``db_base_plugin_v2._validate_ipv6_attributes`` does: both set means
the same value, neither with DHCP disabled, none on IPv4, a /64 for SLAAC and stateless (the
EUI-64 addresses of ``ipam``).
"""

from __future__ import annotations

import builtins
import dataclasses
import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import json_contains
from pocketstack.network import common, ipam, lists, quotas, subnetpools
from pocketstack.network import exceptions as exc
from pocketstack.network.models import IPAllocation, Network, Port, Subnet
from pocketstack.network.networks import load_network, load_owned_network, visible_filter

if TYPE_CHECKING:
    from pocketstack.service import Cloud


@dataclass(frozen=True)
class SubnetCreate:
    """The attributes of a new subnet (``POST /v2.0/subnets``, parsed by ``api/subnets.py``).

    ``gateway_ip`` ``UNSET`` is the cidr's first host, ``None`` no gateway;
    ``allocation_pools`` None are every host but the gateway. Addresses are checked here
    (``ipam``), not by the parser.
    """

    network_id: str
    cidr: str | None
    name: str = ""
    description: str = ""
    project_id: str | None = None
    gateway_ip: str | None | common.Unset = common.UNSET
    allocation_pools: list[Any] | None = None
    enable_dhcp: bool = True
    dns_nameservers: list[Any] = field(default_factory=list)
    host_routes: list[Any] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    #: allocate the cidr from this pool (``cidr`` None: a free block of ``prefixlen``)
    subnetpool_id: str | None = None
    prefixlen: int | None = None
    ip_version: int = 4
    ipv6_ra_mode: str | None = None
    ipv6_address_mode: str | None = None


@dataclass(frozen=True)
class SubnetUpdate:
    """The changes of ``PUT /v2.0/subnets/{id}``; ``None`` (``UNSET`` for ``gateway_ip``)
    leaves an attribute as it is."""

    name: str | None = None
    description: str | None = None
    gateway_ip: str | None | common.Unset = common.UNSET
    allocation_pools: list[Any] | None = None
    enable_dhcp: bool | None = None
    dns_nameservers: list[Any] | None = None
    host_routes: list[Any] | None = None
    tags: list[str] | None = None


#: API attribute -> the column a list both filters and sorts on.
_COLUMNS: dict[str, Any] = {
    "id": Subnet.id,
    "name": Subnet.name,
    "description": Subnet.description,
    "project_id": Subnet.project_id,
    "tenant_id": Subnet.project_id,
    "network_id": Subnet.network_id,
    "ip_version": Subnet.ip_version,
    "cidr": Subnet.cidr,
    "gateway_ip": Subnet.gateway_ip,
    "enable_dhcp": Subnet.enable_dhcp,
    "revision_number": Subnet.revision_number,
    "subnetpool_id": Subnet.subnetpool_id,
    "ipv6_ra_mode": Subnet.ipv6_ra_mode,
    "ipv6_address_mode": Subnet.ipv6_address_mode,
}
#: API attribute -> what a list filters it on (see ``lists``); ``dns_nameservers`` is added
#: per query (``common.db.json_contains`` needs the session's dialect).
FILTERS: dict[str, Any] = {
    **_COLUMNS,
    "segment_id": sa.null(),
    "dns_publish_fixed_ip": sa.null(),
}
SORT = lists.sort_spec(_COLUMNS, Subnet)


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


def _gateway(wanted: str | None | common.Unset, net: ipam.IPNetwork) -> str | None:
    if wanted is common.UNSET:
        return str(net.network_address + 1)
    if wanted is None:
        return None
    gw = ipam.parse_ip(wanted, "gateway_ip", net.version)
    reserved = (net.network_address, net.broadcast_address)
    if gw not in net or gw in reserved[: 2 if net.version == 4 else 1]:
        raise exc.InvalidInput(f"Gateway IP {gw} is not a host address of subnet {net}.")
    return str(gw)


def _check_version(value: Any, found: int, version: int, name: str) -> None:
    """Neutron's ``_validate_ip_version``: an address of a subnet's attribute is of the
    subnet's IP version. Raises InvalidInput (400, Neutron's wording)."""
    if found != version:
        raise exc.InvalidInput(f"{name} '{value}' does not match the ip_version '{version}'")


def _dns(values: builtins.list[Any], version: int = 4) -> builtins.list[str]:
    """The subnet's nameservers, normalised; each of the subnet's IP ``version`` (a v6
    server handed out as a DHCPv4 option would stop the network's dnsmasq).

    Raises:
        InvalidInput (400): not an address, of the other version, or a duplicate.
    """
    servers = []
    for value in values:
        addr = ipam.parse_ip(value, "dns_nameservers", None)
        _check_version(value, addr.version, version, "dns_nameserver")
        servers.append(str(addr))
    if len(set(servers)) != len(servers):
        raise exc.InvalidInput(f"Duplicate nameserver in {servers}.")
    return servers


def _routes(values: builtins.list[Any], version: int = 4) -> builtins.list[dict[str, str]]:
    """The subnet's host routes, normalised; nexthop and destination of the subnet's IP
    ``version``, checked in Neutron's order (``_validate_host_route``).

    Raises:
        InvalidInput (400): a malformed entry, address or cidr, or one of the other version.
    """
    routes = []
    default = "0.0.0.0/0" if version == 4 else "::/0"
    for route in values:
        if not isinstance(route, dict) or not {"destination", "nexthop"} <= set(route):
            raise exc.InvalidInput("host_routes entries need 'destination' and 'nexthop'.")
        nexthop = ipam.parse_ip(route["nexthop"], "host_routes", None)
        _check_version(route["nexthop"], nexthop.version, version, "nexthop")
        try:
            found = ipaddress.ip_network(str(route["destination"]).strip(), strict=False)
        except ValueError:
            found = None  # parse_cidr says why
        if found is not None:
            _check_version(route["destination"], found.version, version, "destination")
        dest = (
            ipam.parse_cidr(route["destination"], max_prefixlen=32, version=version)
            if route["destination"] != default
            else ipaddress.ip_network(default)
        )
        routes.append({"destination": str(dest), "nexthop": str(nexthop)})
    return routes


def _check_ipv6_modes(spec: SubnetCreate, cidr: ipam.IPNetwork) -> None:
    """Neutron's checks of ``ipv6_ra_mode`` / ``ipv6_address_mode`` (its wording).

    Raises:
        InvalidInput (400).
    """
    ra_mode, address_mode = spec.ipv6_ra_mode, spec.ipv6_address_mode
    for name, mode in (("ipv6_ra_mode", ra_mode), ("ipv6_address_mode", address_mode)):
        if mode is not None and mode not in ipam.IPV6_MODES:
            raise exc.InvalidInput(f"'{mode}' is not in {list(ipam.IPV6_MODES)}")
        if mode is not None and cidr.version == 4:
            raise exc.InvalidInput(f"{name} is not valid when ip_version is 4")
    if (ra_mode or address_mode) and not spec.enable_dhcp:
        raise exc.InvalidInput(
            "ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False"
        )
    if ra_mode and address_mode and ra_mode != address_mode:
        raise exc.InvalidInput(
            f"ipv6_ra_mode set to '{ra_mode}' with ipv6_address_mode set to "
            f"'{address_mode}' is not valid. If both attributes are set, they must be "
            "the same value"
        )
    if ipam.is_auto_address(spec) and cidr.prefixlen != 64:
        raise exc.InvalidInput(
            f"Invalid CIDR {cidr} for IPv6 address mode. OpenStack uses the EUI-64 "
            "address format, which requires the prefix to be /64"
        )


def _check_overlap(session: Session, network_id: str, cidr: ipam.IPNetwork) -> None:
    for other in session.scalars(sa.select(Subnet.cidr).where(Subnet.network_id == network_id)):
        found = ipaddress.ip_network(other)
        if found.version == cidr.version and found.overlaps(cidr):  # type: ignore[arg-type]
            raise exc.InvalidInput(
                f"Requested subnet with cidr: {cidr} for network: "
                f"{network_id} overlaps with another subnet"
            )


def _values(spec: SubnetCreate) -> dict[str, Any]:
    """The checked column values of a new subnet (addresses parsed and normalised)."""
    cidr = ipam.parse_cidr(spec.cidr, version=spec.ip_version)
    _check_ipv6_modes(spec, cidr)
    gateway = _gateway(spec.gateway_ip, cidr)
    pools = (
        ipam.validate_pools(cidr, gateway, spec.allocation_pools)
        if spec.allocation_pools
        else ipam.default_pools(cidr, gateway)
    )
    return dict(
        cidr=str(cidr),
        gateway_ip=gateway,
        allocation_pools=pools,
        enable_dhcp=spec.enable_dhcp,
        dns_nameservers=_dns(spec.dns_nameservers, cidr.version),
        host_routes=_routes(spec.host_routes, cidr.version),
        ip_version=cidr.version,
        ipv6_ra_mode=spec.ipv6_ra_mode,
        ipv6_address_mode=spec.ipv6_address_mode,
        name=spec.name,
        description=spec.description,
        tags=list(spec.tags),
    )


class Subnets:
    """The subnets of ``cloud.network`` (``cloud.network.subnets``); Networking API v2.0
    reference, "Subnets". Every method returns ``Subnet`` rows (rendered by
    ``api/views.py``)."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def create(self, ctx: RequestContext, spec: SubnetCreate) -> Subnet:
        """Create an IPv4 or IPv6 subnet on a network the caller owns.

        Raises:
            InvalidInput (400: bad cidr or address, overlap...), InvalidAllocationPool
            (400), NetworkNotFound (404), NotAuthorized (403: not the network's owner);
            from a pool, ``subnetpools.allocate``'s errors (400, 404, 409).
        """
        values = _values(spec) if spec.subnetpool_id is None else {}
        with self.cloud.db.transaction() as s:
            net = load_owned_network(s, ctx, spec.network_id)
            if spec.subnetpool_id is not None:
                if spec.ip_version != 4:
                    raise exc.InvalidInput("Subnet pools hold IPv4 prefixes only.")
                cidr = subnetpools.allocate(s, ctx, spec.subnetpool_id, spec.cidr, spec.prefixlen)
                values = _values(dataclasses.replace(spec, cidr=cidr))
                values["subnetpool_id"] = spec.subnetpool_id
            _check_overlap(s, net.id, ipaddress.ip_network(values["cidr"]))
            subnet = Subnet(
                project_id=common.owner_project(ctx, spec.project_id)
                if ctx.is_admin
                else net.project_id,
                network_id=net.id,
                **values,
            )
            quotas.check(s, subnet.project_id, "subnet")
            s.add(subnet)
            common.touch(net)
            s.flush()
        self.cloud.network.notify_dataplane()  # DHCP servers
        return subnet

    def get(self, ctx: RequestContext, subnet_id: str) -> Subnet:
        """One subnet. Raises SubnetNotFound (404)."""
        with self.cloud.db.reader() as s:
            return load_subnet(s, ctx, subnet_id)

    def external_network_ids(self, network_ids: builtins.list[str]) -> set[str]:
        """Which of ``network_ids`` are external (``router:external``): what Neutron's
        ``subnet-external-network`` extension shows as each subnet's ``router:external``."""
        if not network_ids:
            return set()
        with self.cloud.db.reader() as s:
            found = s.scalars(
                sa.select(Network.id).where(Network.id.in_(set(network_ids)), Network.external)
            )
            return set(found)

    def list(self, ctx: RequestContext, query: lists.ListQuery) -> lists.Page[Subnet]:
        """Subnets of the networks the caller sees (every project's when
        ``query.all_projects`` and admin), filtered, sorted and paged in SQL.

        Raises:
            InvalidInput (400: sort key or direction), SubnetNotFound (404: the marker).
        """
        with self.cloud.db.reader() as s:
            filters = {
                **FILTERS,
                "dns_nameservers": lambda w: json_contains(s, Subnet.dns_nameservers, w),
            }
            select = (
                sa.select(Subnet)
                .join(Network, Network.id == Subnet.network_id)
                .where(
                    lists.filter_condition(filters, query),
                    lists.tag_condition(s, Subnet.tags, query.tags),
                )
            )
            if not (query.all_projects and ctx.is_admin):
                select = select.where(visible_filter(ctx))
            return lists.fetch(s, select, SORT, query, exc.SubnetNotFound)

    def update(self, ctx: RequestContext, subnet_id: str, changes: SubnetUpdate) -> Subnet:
        """Change a subnet.

        Raises:
            SubnetNotFound (404), NotAuthorized (403), InvalidInput /
            InvalidAllocationPool (400).
        """
        with self.cloud.db.transaction() as s:
            subnet = load_subnet(s, ctx, subnet_id)
            load_owned_network(s, ctx, subnet.network_id)
            cidr = ipaddress.ip_network(subnet.cidr)
            if changes.enable_dhcp is False and (subnet.ipv6_ra_mode or subnet.ipv6_address_mode):
                raise exc.InvalidInput("Cannot disable enable_dhcp with ipv6 attributes set")
            common.set_given(subnet, changes, ("name", "description", "enable_dhcp", "tags"))
            if changes.gateway_ip is not common.UNSET:
                subnet.gateway_ip = _gateway(changes.gateway_ip, cidr)
            if changes.allocation_pools is not None:
                subnet.allocation_pools = ipam.validate_pools(
                    cidr, subnet.gateway_ip, changes.allocation_pools
                )
            elif changes.gateway_ip is not common.UNSET:
                ipam.validate_pools(cidr, subnet.gateway_ip, subnet.allocation_pools)
            if changes.dns_nameservers is not None:
                subnet.dns_nameservers = _dns(changes.dns_nameservers, cidr.version)
            if changes.host_routes is not None:
                subnet.host_routes = _routes(changes.host_routes, cidr.version)
            common.touch(subnet)
            s.flush()
        self.cloud.network.notify_dataplane()  # DHCP servers
        return subnet

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
            if any(o != common.DHCP_OWNER for o in owners):
                raise exc.SubnetInUse(subnet_id)
            s.execute(sa.delete(IPAllocation).where(IPAllocation.subnet_id == subnet.id))
            s.delete(subnet)
        self.cloud.network.notify_dataplane()  # DHCP servers

    def for_network(self, session: Session, network_id: str) -> builtins.list[Subnet]:
        """The subnets of a network in creation order (IPAM tries them in this order)."""
        return list(
            session.scalars(
                sa.select(Subnet)
                .where(Subnet.network_id == network_id)
                .order_by(Subnet.created_at, Subnet.id)
            )
        )
