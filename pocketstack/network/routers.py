"""Routers (Neutron v2.0 ``/routers``): the L3 API's control plane.

Networking API v2.0 reference, "Routers" (``router``, ``ext-gw-mode``, ``extraroute``,
``extraroute-atomic``): list, get, create, update, delete, ``add_router_interface``,
``remove_router_interface``, ``add_extraroutes``, ``remove_extraroutes``.

A router's ports are ordinary ports with ``device_id`` = the router's id:

- ``network:router_interface``: one per attached subnet, holding the subnet's gateway IP
  (added by subnet) or the addresses of a user's port (added by port);
- ``network:router_gateway``: at most one, on the external network of
  ``external_gateway_info`` (project ``""`` as in Neutron, so only admins list it).

Both are made unbound; the server binds them to the host of an alive L3 agent when it
builds that host's state (``host_state.ensure_network_node_ports``). After every change
the data plane sees
(interfaces, gateway, routes, admin state) ``cloud.network.notify_dataplane()`` is called
when it exists, so the L3 agent syncs at once.

A project sees its own routers (an admin all); another's is ``RouterNotFound`` (404).
"""

from __future__ import annotations

import builtins
import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.network import common, lists, quotas, rbac, states
from pocketstack.network import exceptions as exc
from pocketstack.network.common import FLOATINGIP, ROUTER_GATEWAY, ROUTER_INTERFACE
from pocketstack.network.models import (
    FloatingIP,
    IPAllocation,
    Network,
    Port,
    PortSecurityGroup,
    Router,
    RouterRoute,
    Subnet,
)
from pocketstack.network.networks import delete_ports, load_network, may_use
from pocketstack.network.ports import PortCreate, create_port, has_agents, load_port, vif_type_of
from pocketstack.network.subnets import load_subnet

if TYPE_CHECKING:
    from pocketstack.service import Cloud

#: device owners whose ports only their router or floating IP may delete
SERVICE_PORT_OWNERS = (ROUTER_INTERFACE, ROUTER_GATEWAY, FLOATINGIP)
#: Neutron's default ``max_routes``
MAX_ROUTES = 30


@dataclass(frozen=True)
class GatewayInfo:
    """``external_gateway_info`` of a request: the external network, ``enable_snat`` (None:
    unchanged, or True on a new gateway) and ``external_fixed_ips`` (None: automatic;
    ``[{"subnet_id"?, "ip_address"?}]``)."""

    network_id: str
    enable_snat: bool | None = None
    external_fixed_ips: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class RouterCreate:
    """The attributes of a new router (``POST /v2.0/routers``, parsed by
    ``api/routers.py``); ``external_gateway_info`` None: no gateway."""

    name: str = ""
    description: str = ""
    project_id: str | None = None
    admin_state_up: bool = True
    external_gateway_info: GatewayInfo | None = None
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RouterUpdate:
    """The changes of ``PUT /v2.0/routers/{id}``; ``None`` leaves an attribute as it is,
    ``external_gateway_info`` ``UNSET`` too (None clears the gateway); ``routes`` replaces
    every extra route."""

    name: str | None = None
    description: str | None = None
    admin_state_up: bool | None = None
    external_gateway_info: GatewayInfo | None | common.Unset = common.UNSET
    routes: list[Any] | None = None
    tags: list[str] | None = None


@dataclass(frozen=True)
class RouterRecord:
    """A router with its gateway port's addresses and its extra routes (sorted)."""

    router: Router
    gateway_ips: list[IPAllocation]
    routes: list[RouterRoute]


@dataclass(frozen=True)
class RouterInterface:
    """What ``add_router_interface``/``remove_router_interface`` answer: the router, its
    project, the interface port and its subnets and network."""

    id: str
    project_id: str
    port_id: str
    subnet_id: str
    subnet_ids: list[str]
    network_id: str


#: API attribute -> the column a list both filters and sorts on.
_COLUMNS: dict[str, Any] = {
    "id": Router.id,
    "name": Router.name,
    "description": Router.description,
    "project_id": Router.project_id,
    "tenant_id": Router.project_id,
    "status": Router.status,
    "admin_state_up": Router.admin_state_up,
    "revision_number": Router.revision_number,
}
#: API attribute -> what a list filters it on (see ``lists``).
FILTERS: dict[str, Any] = {
    **_COLUMNS,
    "distributed": sa.literal(False),
    "ha": sa.literal(False),
    "flavor_id": sa.null(),
}
SORT = lists.sort_spec(_COLUMNS, Router)


def load_router(session: Session, ctx: RequestContext, router_id: str) -> Router:
    """A router of the caller's project (any for admin). Raises RouterNotFound (404)."""
    return common.load_scoped(session, ctx, Router, router_id, exc.RouterNotFound)


def router_ports(session: Session, router_id: str, owner: str) -> builtins.list[Port]:
    """The router's ports with ``device_owner`` ``owner``, oldest first."""
    return list(
        session.scalars(
            sa.select(Port)
            .where(Port.device_id == router_id, Port.device_owner == owner)
            .order_by(Port.created_at, Port.id)
        )
    )


def _port_subnets(session: Session, port_ids: builtins.list[str]) -> builtins.list[Subnet]:
    """The subnets the ports have addresses on."""
    if not port_ids:
        return []
    return list(
        session.scalars(
            # IN (subquery), not JOIN + DISTINCT: PostgreSQL has no equality for the json
            # columns of subnets (DISTINCT over them fails)
            sa.select(Subnet).where(
                Subnet.id.in_(
                    sa.select(IPAllocation.subnet_id).where(IPAllocation.port_id.in_(port_ids))
                )
            )
        )
    )


def records(session: Session, routers: builtins.list[Router]) -> builtins.list[RouterRecord]:
    """Routers with their gateway addresses and routes, read in two queries."""
    ids = [r.id for r in routers]
    gateway: dict[str, list[IPAllocation]] = {i: [] for i in ids}
    routes: dict[str, list[RouterRoute]] = {i: [] for i in ids}
    if ids:
        rows = session.execute(
            sa.select(Port.device_id, IPAllocation)
            .join(IPAllocation, IPAllocation.port_id == Port.id)
            .where(Port.device_id.in_(ids), Port.device_owner == ROUTER_GATEWAY)
            .order_by(IPAllocation.ip_address)
        )
        for router_id, alloc in rows:
            gateway[router_id].append(alloc)
        for route in session.scalars(
            sa.select(RouterRoute)
            .where(RouterRoute.router_id.in_(ids))
            .order_by(RouterRoute.destination, RouterRoute.nexthop)
        ):
            routes[route.router_id].append(route)
    return [RouterRecord(r, gateway[r.id], routes[r.id]) for r in routers]


def external_network(
    session: Session, ctx: RequestContext, network_id: str, resource: str
) -> Network:
    """A visible network that is ``router:external``.

    Raises:
        NetworkNotFound (404), BadRequest (400: not external; ``resource`` names the request).
    """
    net = load_network(session, ctx, network_id)
    if not (net.external or rbac.has_access(session, ctx, net.id, rbac.EXTERNAL)):
        reason = (
            "is not an external network"
            if resource == "router"
            else ("is not a valid external network")
        )
        raise exc.BadRequest(resource, f"Network {network_id} {reason}.")
    return net


def _check_overlap(session: Session, router_id: str, new: builtins.list[Subnet]) -> None:
    """Refuse subnets already on the router, or overlapping one of its subnets (its
    interfaces' and its gateway's), as Neutron's ``_check_for_dup_router_subnets``."""
    ports = [
        p.id
        for owner in (ROUTER_INTERFACE, ROUTER_GATEWAY)
        for p in router_ports(session, router_id, owner)
    ]
    for subnet in new:
        cidr = ipaddress.ip_network(subnet.cidr)
        for other in _port_subnets(session, ports):
            if other.id == subnet.id:
                raise exc.BadRequest("router", f"Router already has a port on subnet {subnet.id}.")
            if cidr.overlaps(ipaddress.ip_network(other.cidr)):
                raise exc.BadRequest(
                    "router",
                    f"Cidr {subnet.cidr} of subnet {subnet.id} overlaps with cidr "
                    f"{other.cidr} of subnet {other.id}.",
                )


def _allocate_gateway_ip(session: Session, subnet: Subnet, port_id: str) -> None:
    """Give ``port_id`` the subnet's gateway address (IPAM keeps it out of its pools).

    Raises:
        IpAddressAlreadyAllocated (409): another port holds it.
    """
    gateway = str(subnet.gateway_ip)
    if session.get(IPAllocation, (subnet.id, gateway)) is not None:
        raise exc.IpAddressAlreadyAllocated(gateway, subnet.id)
    session.add(
        IPAllocation(
            subnet_id=subnet.id, ip_address=gateway, network_id=subnet.network_id, port_id=port_id
        )
    )
    session.flush()


def _floating_ips_via(
    session: Session, router_id: str, subnet_ids: builtins.list[str]
) -> builtins.list[FloatingIP]:
    """Floating IPs the router serves whose fixed IP lies on one of ``subnet_ids``."""
    if not subnet_ids:
        return []
    return list(
        session.scalars(
            sa.select(FloatingIP)
            .join(
                IPAllocation,
                sa.and_(
                    IPAllocation.port_id == FloatingIP.port_id,
                    IPAllocation.ip_address == FloatingIP.fixed_ip_address,
                ),
            )
            .where(FloatingIP.router_id == router_id, IPAllocation.subnet_id.in_(subnet_ids))
        )
    )


def _route_entry(route: Any) -> tuple[str, str]:
    """``(destination, nexthop)`` of one route, normalised.

    Raises:
        InvalidRoutes (400): not ``{"destination": cidr, "nexthop": ip}`` in IPv4.
    """
    if not isinstance(route, dict) or set(route) != {"destination", "nexthop"}:
        raise exc.InvalidRoutes([route], "each route needs a destination and a nexthop")
    try:
        destination = ipaddress.ip_network(str(route["destination"]).strip())
        nexthop = ipaddress.ip_address(str(route["nexthop"]).strip())
    except ValueError as err:
        raise exc.InvalidRoutes([route], str(err)) from None
    if destination.version != 4 or nexthop.version != 4:
        raise exc.InvalidRoutes([route], "only IPv4 routes are supported")
    return str(destination), str(nexthop)


def parse_routes(routes: Any) -> builtins.list[tuple[str, str]]:
    """A list of routes as sorted, unique ``(destination, nexthop)`` pairs.

    Raises:
        InvalidRoutes (400): not a list, or a malformed route.
    """
    if not isinstance(routes, list):
        raise exc.InvalidRoutes(routes, "routes must be a list")
    return sorted({_route_entry(r) for r in routes})


def _check_routes(session: Session, router_id: str, routes: builtins.list[tuple[str, str]]) -> None:
    """Every next hop on one of the router's subnets and none of its own addresses; at most
    ``MAX_ROUTES``.

    Raises:
        InvalidRoutes (400), RoutesExhausted (400).
    """
    if len(routes) > MAX_ROUTES:
        raise exc.RoutesExhausted(router_id, MAX_ROUTES)
    ports = [
        p.id
        for owner in (ROUTER_INTERFACE, ROUTER_GATEWAY)
        for p in router_ports(session, router_id, owner)
    ]
    cidrs = [ipaddress.ip_network(s.cidr) for s in _port_subnets(session, ports)]
    own = set(
        session.scalars(sa.select(IPAllocation.ip_address).where(IPAllocation.port_id.in_(ports)))
    )
    for destination, nexthop in routes:
        shown = [{"destination": destination, "nexthop": nexthop}]
        if nexthop in own:
            raise exc.InvalidRoutes(shown, "the nexthop is used by router")
        if not any(ipaddress.ip_address(nexthop) in c for c in cidrs):
            raise exc.InvalidRoutes(shown, "the nexthop is not connected with router")


def _current_routes(session: Session, router_id: str) -> builtins.list[tuple[str, str]]:
    return [
        (r.destination, r.nexthop)
        for r in session.scalars(sa.select(RouterRoute).where(RouterRoute.router_id == router_id))
    ]


def _replace_routes(
    session: Session, router_id: str, routes: builtins.list[tuple[str, str]]
) -> None:
    _check_routes(session, router_id, routes)
    session.execute(sa.delete(RouterRoute).where(RouterRoute.router_id == router_id))
    session.add_all(RouterRoute(router_id=router_id, destination=d, nexthop=n) for d, n in routes)
    session.flush()


def _routes_through(
    session: Session, router_id: str, subnets: builtins.list[Subnet]
) -> builtins.list[tuple[str, str]]:
    """The router's routes whose next hop lies on one of ``subnets``."""
    cidrs = [ipaddress.ip_network(s.cidr) for s in subnets]
    return [
        (d, n)
        for d, n in _current_routes(session, router_id)
        if any(ipaddress.ip_address(n) in c for c in cidrs)
    ]


def _interface(router: Router, port: Port, subnets: builtins.list[Subnet]) -> RouterInterface:
    ids = [s.id for s in subnets]
    return RouterInterface(
        id=router.id,
        project_id=router.project_id,
        port_id=port.id,
        subnet_id=ids[0] if ids else "",
        subnet_ids=ids,
        network_id=port.network_id,
    )


class Routers:
    """The routers of ``cloud.network`` (``cloud.network.routers``); Networking API v2.0
    reference, "Routers". Methods return ``RouterRecord``s (rendered by ``api/views.py``)
    or, for the interface actions, ``RouterInterface``."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def _notify(self) -> None:
        """Tell the agents the wanted state changed (``cloud.network.notify_dataplane``)."""
        getattr(self.cloud.network, "notify_dataplane", lambda: None)()

    def service_port(
        self,
        session: Session,
        ctx: RequestContext,
        network_id: str,
        project_id: str,
        owner: str,
        device_id: str,
        fixed_ips: builtins.list[Any] | None,
    ) -> Port:
        """A router (or floating IP) port of ``project_id`` (``""``: no project's, as a
        gateway's), without security groups, unbound."""
        spec = PortCreate(
            network_id=network_id,
            project_id=project_id or None,
            device_id=device_id,
            device_owner=owner,
            fixed_ips=fixed_ips,
            security_groups=[],
        )
        port = create_port(session, ctx.elevated(), spec, vif_type_of(self.cloud.conf))
        port.project_id = project_id
        return port

    # -- the collection ------------------------------------------------------------------
    def create(self, ctx: RequestContext, spec: RouterCreate) -> RouterRecord:
        """Create a router, with its gateway when ``external_gateway_info`` is given.

        Raises:
            NotAuthorized (403: another project), NetworkNotFound (404), BadRequest (400:
            the gateway network is not external), OverQuota (409: the project's
            ``router`` quota), IpAddressGenerationFailure /
            IpAddressAlreadyAllocated (409), InvalidIpForSubnet (400).
        """
        project_id = common.owner_project(ctx, spec.project_id)
        with self.cloud.db.transaction() as s:
            quotas.check(s, project_id, "router")
            router = Router(
                project_id=project_id,
                name=spec.name,
                description=spec.description,
                admin_state_up=spec.admin_state_up,
                status="ACTIVE",
                tags=list(spec.tags),
            )
            s.add(router)
            s.flush()
            if spec.external_gateway_info is not None:
                self._set_gateway(s, ctx, router, spec.external_gateway_info)
            record = records(s, [router])[0]
        self._notify()
        return record

    def get(self, ctx: RequestContext, router_id: str) -> RouterRecord:
        """One router. Raises RouterNotFound (404)."""
        with self.cloud.db.reader() as s:
            return records(s, [load_router(s, ctx, router_id)])[0]

    def list(self, ctx: RequestContext, query: lists.ListQuery) -> lists.Page[RouterRecord]:
        """The caller's routers (every project's for an admin asking ``all_projects``),
        filtered, sorted and paged in SQL.

        Raises:
            InvalidInput (400: sort key or direction), RouterNotFound (404: the marker).
        """
        with self.cloud.db.reader() as s:
            page = lists.fetch_owned(s, ctx, Router, FILTERS, SORT, query, exc.RouterNotFound)
            return lists.Page(records(s, page.items), page.more)

    def update(self, ctx: RequestContext, router_id: str, changes: RouterUpdate) -> RouterRecord:
        """Change a router: attributes, its gateway (set, move, clear, ``enable_snat``,
        ``external_fixed_ips``) and its extra routes (``routes`` replaces them all).

        Raises:
            RouterNotFound (404), the errors of ``create``, InvalidRoutes / RoutesExhausted
            (400), RouterExternalGatewayInUseByFloatingIp (409: clearing or moving a gateway
            floating IPs use).
        """
        with self.cloud.db.transaction() as s:
            router = load_router(s, ctx, router_id)
            common.set_given(router, changes, ("name", "description", "admin_state_up", "tags"))
            if changes.external_gateway_info is not common.UNSET:
                if changes.external_gateway_info is None:
                    self._clear_gateway(s, router)
                else:
                    self._set_gateway(s, ctx, router, changes.external_gateway_info)
            if changes.routes is not None:
                _replace_routes(s, router.id, parse_routes(changes.routes))
            common.touch(router)
            s.flush()
            record = records(s, [router])[0]
        self._notify()
        return record

    def delete(self, ctx: RequestContext, router_id: str) -> None:
        """Delete a router with its gateway port and routes.

        Raises:
            RouterNotFound (404), RouterInUse (409: it still has interfaces).
        """
        with self.cloud.db.transaction() as s:
            router = load_router(s, ctx, router_id)
            if router_ports(s, router.id, ROUTER_INTERFACE):
                raise exc.RouterInUse(router.id)
            self._clear_gateway(s, router)
            s.execute(sa.delete(RouterRoute).where(RouterRoute.router_id == router.id))
            s.delete(router)
        self._notify()

    # -- the gateway -----------------------------------------------------------------------
    def _clear_gateway(self, session: Session, router: Router) -> None:
        """Remove the gateway (its port too). Raises RouterExternalGatewayInUseByFloatingIp."""
        if router.gw_network_id is None:
            return
        if session.scalar(sa.select(FloatingIP.id).where(FloatingIP.router_id == router.id)):
            raise exc.RouterExternalGatewayInUseByFloatingIp(router.id, router.gw_network_id)
        delete_ports(session, [p.id for p in router_ports(session, router.id, ROUTER_GATEWAY)])
        router.gw_network_id = None
        router.enable_snat = True

    def _set_gateway(
        self, session: Session, ctx: RequestContext, router: Router, info: GatewayInfo
    ) -> None:
        """Give the router a gateway on ``info.network_id`` (moving or readdressing the
        current one when it differs)."""
        net = external_network(session, ctx, info.network_id, "router")
        current = router_ports(session, router.id, ROUTER_GATEWAY)
        readdress = (
            info.external_fixed_ips is not None
            and current
            and not self._same_ips(session, current[0].id, info.external_fixed_ips)
        )
        if router.gw_network_id != net.id or not current or readdress:
            if router.gw_network_id not in (None, net.id):
                self._clear_gateway(session, router)
            delete_ports(session, [p.id for p in current])
            session.flush()
            subnets = self.cloud.network.subnets.for_network(session, net.id)
            _check_overlap(session, router.id, subnets)
            self.service_port(
                session, ctx, net.id, "", ROUTER_GATEWAY, router.id, info.external_fixed_ips
            )
            router.gw_network_id = net.id
        if info.enable_snat is not None:
            router.enable_snat = info.enable_snat

    @staticmethod
    def _same_ips(session: Session, port_id: str, wanted: builtins.list[dict[str, Any]]) -> bool:
        """Whether the port already holds exactly the addresses ``wanted`` names (entries
        naming only a subnet match any address on it)."""
        held = list(session.scalars(sa.select(IPAllocation).where(IPAllocation.port_id == port_id)))
        if len(held) != len(wanted):
            return False
        for item in wanted:
            if not isinstance(item, dict):
                return False
            if not any(
                item.get("subnet_id") in (None, a.subnet_id)
                and item.get("ip_address") in (None, a.ip_address)
                for a in held
            ):
                return False
        return True

    # -- interfaces --------------------------------------------------------------------------
    def add_interface(
        self,
        ctx: RequestContext,
        router_id: str,
        subnet_id: str | None = None,
        port_id: str | None = None,
    ) -> RouterInterface:
        """Attach a subnet (a new port holding its gateway IP) or a user's port to a router
        ("Add interface to router").

        Raises:
            RouterNotFound / SubnetNotFound / PortNotFound (404), BadRequest (400: both or
            neither of subnet and port, a subnet without gateway, a port without address,
            a subnet already on the router or overlapping one of its subnets), PortInUse
            (409: the port has a device), IpAddressAlreadyAllocated (409: the gateway IP
            is taken).
        """
        if subnet_id and port_id:
            raise exc.BadRequest("router", "Cannot specify both subnet-id and port-id")
        if not subnet_id and not port_id:
            raise exc.BadRequest("router", "Either subnet_id or port_id must be specified")
        with self.cloud.db.transaction() as s:
            router = load_router(s, ctx, router_id)
            if port_id:
                port, subnets = self._attach_port(s, ctx, router, port_id)
            else:
                port, subnets = self._attach_subnet(s, ctx, router, str(subnet_id))
            if not has_agents(self.cloud.conf) and port.status != states.ACTIVE:
                # no agent to wire it (noop): up at once, as a bound port without agents
                # (states.bound_status) and as Neutron's once its L3 agent has it
                states.transition(port, states.ACTIVE)
            common.touch(router)
            s.flush()
            result = _interface(router, port, subnets)
        self._notify()
        return result

    def _attach_port(
        self, session: Session, ctx: RequestContext, router: Router, port_id: str
    ) -> tuple[Port, builtins.list[Subnet]]:
        port = load_port(session, ctx, port_id)
        if port.device_id:
            raise exc.PortInUse(port.id, port.device_id)
        subnets = _port_subnets(session, [port.id])
        if not subnets:
            raise exc.BadRequest("router", "Router port must have at least one fixed IP")
        if len(subnets) > 1:
            raise exc.BadRequest("router", "Cannot have multiple IPv4 subnets on router port")
        _check_overlap(session, router.id, subnets)
        port.device_id = router.id
        port.device_owner = ROUTER_INTERFACE
        session.execute(sa.delete(PortSecurityGroup).where(PortSecurityGroup.port_id == port.id))
        common.touch(port)
        return port, subnets

    def _attach_subnet(
        self, session: Session, ctx: RequestContext, router: Router, subnet_id: str
    ) -> tuple[Port, builtins.list[Subnet]]:
        subnet = load_subnet(session, ctx, subnet_id)
        net = session.get(Network, subnet.network_id)
        if net is None or not may_use(session, ctx, net):
            raise exc.SubnetNotFound(subnet_id)
        if not subnet.gateway_ip:
            raise exc.BadRequest("router", "Subnet for router interface must have a gateway IP")
        _check_overlap(session, router.id, [subnet])
        port = self.service_port(
            session, ctx, net.id, subnet.project_id, ROUTER_INTERFACE, router.id, []
        )
        _allocate_gateway_ip(session, subnet, port.id)
        return port, [subnet]

    def remove_interface(
        self,
        ctx: RequestContext,
        router_id: str,
        subnet_id: str | None = None,
        port_id: str | None = None,
    ) -> RouterInterface:
        """Detach an interface given by its port or its subnet and delete its port
        ("Remove interface from router").

        Raises:
            RouterNotFound / SubnetNotFound (404), BadRequest (400: neither given),
            RouterInterfaceNotFound / RouterInterfaceNotFoundForSubnet (404),
            SubnetMismatchForPort (400), RouterInterfaceInUseByFloatingIP /
            RouterInterfaceInUseByRoute (409).
        """
        if not subnet_id and not port_id:
            raise exc.BadRequest("router", "Either subnet_id or port_id must be specified")
        with self.cloud.db.transaction() as s:
            router = load_router(s, ctx, router_id)
            port = self._find_interface(s, ctx, router, subnet_id, port_id)
            subnets = _port_subnets(s, [port.id])
            ids = [sub.id for sub in subnets]
            if _floating_ips_via(s, router.id, ids):
                raise exc.RouterInterfaceInUseByFloatingIP(router.id, ids[0])
            if _routes_through(s, router.id, subnets):
                raise exc.RouterInterfaceInUseByRoute(router.id, ids[0])
            result = _interface(router, port, subnets)
            delete_ports(s, [port.id])
            common.touch(router)
        self._notify()
        return result

    @staticmethod
    def _find_interface(
        session: Session,
        ctx: RequestContext,
        router: Router,
        subnet_id: str | None,
        port_id: str | None,
    ) -> Port:
        interfaces = router_ports(session, router.id, ROUTER_INTERFACE)
        if port_id:
            port = next((p for p in interfaces if p.id == port_id), None)
            if port is None:
                raise exc.RouterInterfaceNotFound(router.id, port_id)
            if subnet_id and subnet_id not in {s.id for s in _port_subnets(session, [port.id])}:
                raise exc.SubnetMismatchForPort(port_id, subnet_id)
            return port
        subnet = load_subnet(session, ctx, str(subnet_id))
        for port in interfaces:
            if subnet.id in {s.id for s in _port_subnets(session, [port.id])}:
                return port
        raise exc.RouterInterfaceNotFoundForSubnet(router.id, subnet.id)

    # -- extra routes (extraroute-atomic) ---------------------------------------------------
    def add_extraroutes(
        self, ctx: RequestContext, router_id: str, routes: builtins.list[Any]
    ) -> RouterRecord:
        """Add routes to the router's (already present ones are kept once).

        Raises:
            RouterNotFound (404), InvalidRoutes / RoutesExhausted (400).
        """
        return self._change_routes(ctx, router_id, routes, add=True)

    def remove_extraroutes(
        self, ctx: RequestContext, router_id: str, routes: builtins.list[Any]
    ) -> RouterRecord:
        """Remove routes from the router's (absent ones are ignored, as Neutron).

        Raises:
            RouterNotFound (404), InvalidRoutes (400: a malformed route).
        """
        return self._change_routes(ctx, router_id, routes, add=False)

    def _change_routes(
        self, ctx: RequestContext, router_id: str, routes: builtins.list[Any], add: bool
    ) -> RouterRecord:
        given = set(parse_routes(routes))
        with self.cloud.db.transaction() as s:
            router = load_router(s, ctx, router_id)
            current = set(_current_routes(s, router.id))
            wanted = current | given if add else current - given
            if wanted != current:
                _replace_routes(s, router.id, sorted(wanted))
                common.touch(router)
                s.flush()
            record = records(s, [router])[0]
        self._notify()
        return record
