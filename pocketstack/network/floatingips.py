"""Floating IPs (Neutron v2.0 ``/floatingips``): addresses of an external network mapped
to fixed IPs of ports.

Networking API v2.0 reference, "Floating IPs (floatingips)" (with ``fip-port-details``):
list, get, create, update (associate with ``port_id`` (+ ``fixed_ip_address``),
disassociate with ``port_id: null``), delete.

A floating IP holds its address through a port of the external network
(``device_owner`` ``network:floatingip``, ``device_id`` = the floating IP's id, project
``""`` as in Neutron). Associating needs a router with a gateway on that external network
and an interface on the fixed IP's subnet; that router becomes ``router_id`` (else
``ExternalGatewayForFloatingIPNotFound``, 404). A floating IP is ``ACTIVE`` while
associated and ``DOWN`` otherwise. Deleting the fixed port disassociates it
(``networks.delete_ports``). After every change ``cloud.network.notify_dataplane()`` is
called when it exists, and when the mapping of a server's port changed (associate,
disassociate, delete of a mapped floating IP) Compute is told with ``network-changed``
for that port (``cloud.network.notify_compute``, after the commit).

A project sees its own floating IPs (an admin all).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import new_id
from pocketstack.network import common, compute_notifier, ipam, lists, quotas
from pocketstack.network import exceptions as exc
from pocketstack.network.common import FLOATINGIP, ROUTER_INTERFACE
from pocketstack.network.models import FloatingIP, IPAllocation, Port, Router, Subnet
from pocketstack.network.networks import delete_ports
from pocketstack.network.ports import load_port
from pocketstack.network.routers import Routers, external_network
from pocketstack.network.subnets import load_subnet

if TYPE_CHECKING:
    from pocketstack.service import Cloud

ACTIVE = "ACTIVE"
DOWN = "DOWN"


@dataclass(frozen=True)
class FloatingIPCreate:
    """The attributes of a new floating IP (``POST /v2.0/floatingips``, parsed by
    ``api/floatingips.py``). ``floating_ip_address``/``subnet_id`` None: any free address
    of the network; ``port_id`` None: not associated."""

    floating_network_id: str
    description: str = ""
    project_id: str | None = None
    floating_ip_address: str | None = None
    subnet_id: str | None = None
    port_id: str | None = None
    fixed_ip_address: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FloatingIPUpdate:
    """The changes of ``PUT /v2.0/floatingips/{id}``: ``port_id`` ``UNSET`` leaves the
    association, None disassociates, an id (re)associates (with ``fixed_ip_address`` when
    given)."""

    description: str | None = None
    port_id: str | None | common.Unset = common.UNSET
    fixed_ip_address: str | None = None
    tags: list[str] | None = None


@dataclass(frozen=True)
class FloatingIPRecord:
    """A floating IP with its fixed port (None when not associated), for ``port_details``."""

    floatingip: FloatingIP
    port: Port | None


#: API attribute -> the column a list both filters and sorts on.
_COLUMNS: dict[str, Any] = {
    "id": FloatingIP.id,
    "description": FloatingIP.description,
    "project_id": FloatingIP.project_id,
    "tenant_id": FloatingIP.project_id,
    "floating_network_id": FloatingIP.floating_network_id,
    "floating_ip_address": FloatingIP.floating_ip_address,
    "port_id": FloatingIP.port_id,
    "fixed_ip_address": FloatingIP.fixed_ip_address,
    "router_id": FloatingIP.router_id,
    "status": FloatingIP.status,
    "revision_number": FloatingIP.revision_number,
}
#: API attribute -> what a list filters it on (see ``lists``).
FILTERS: dict[str, Any] = {**_COLUMNS, "qos_policy_id": sa.null()}
SORT = lists.sort_spec(_COLUMNS, FloatingIP)


def load_floatingip(session: Session, ctx: RequestContext, floatingip_id: str) -> FloatingIP:
    """A floating IP of the caller's project (any for admin). Raises FloatingIPNotFound."""
    return common.load_scoped(session, ctx, FloatingIP, floatingip_id, exc.FloatingIPNotFound)


def records(session: Session, fips: builtins.list[FloatingIP]) -> builtins.list[FloatingIPRecord]:
    """Floating IPs with their fixed ports, read in one query."""
    port_ids = {f.port_id for f in fips if f.port_id}
    ports = (
        {p.id: p for p in session.scalars(sa.select(Port).where(Port.id.in_(port_ids)))}
        if port_ids
        else {}
    )
    return [FloatingIPRecord(f, ports.get(f.port_id or "")) for f in fips]


def disassociate(fip: FloatingIP) -> None:
    """Unmap a floating IP (no checks)."""
    fip.port_id = None
    fip.fixed_ip_address = None
    fip.router_id = None
    fip.status = DOWN


def _fixed_ip(port: Port, held: builtins.list[IPAllocation], wanted: str | None) -> IPAllocation:
    """The address of ``port`` to map: ``wanted``, or its only IPv4 address.

    Raises:
        BadRequest (400): ``wanted`` is not the port's, or it has none or several.
    """
    if wanted is not None:
        match = next((a for a in held if a.ip_address == wanted), None)
        if match is None:
            raise exc.BadRequest("floatingip", f"Port {port.id} does not have fixed ip {wanted}.")
        return match
    if not held:
        raise exc.BadRequest("floatingip", f"Port {port.id} does not have any IPv4 address.")
    if len(held) > 1:
        raise exc.BadRequest(
            "floatingip",
            f"Port {port.id} has multiple fixed IPv4 addresses.  Must provide a specific "
            "IPv4 address when assigning a floating IP.",
        )
    return held[0]


def _serving_router(session: Session, network_id: str, subnet_id: str) -> str | None:
    """A router with a gateway on ``network_id`` and an interface on ``subnet_id``."""
    return session.scalar(
        sa.select(Router.id)
        .join(Port, sa.and_(Port.device_id == Router.id, Port.device_owner == ROUTER_INTERFACE))
        .join(IPAllocation, IPAllocation.port_id == Port.id)
        .where(Router.gw_network_id == network_id, IPAllocation.subnet_id == subnet_id)
        .order_by(Router.created_at, Router.id)
        .limit(1)
    )


def associate(
    session: Session, ctx: RequestContext, fip: FloatingIP, port_id: str, fixed_ip: str | None
) -> None:
    """Map ``fip`` to a fixed IP of ``port_id`` through the router that connects them.

    Raises:
        PortNotFound (404: not the caller's), BadRequest (400: a service port, the fixed IP),
        ExternalGatewayForFloatingIPNotFound (404), FloatingIPPortAlreadyAssociated (409).
    """
    port = load_port(session, ctx, port_id)
    if port.project_id != fip.project_id and not ctx.is_admin:
        raise exc.PortNotFound(port_id)
    if port.device_owner.startswith("network:"):
        raise exc.BadRequest(
            "floatingip",
            f"Port {port.id} has owner {port.device_owner} and therefore cannot be "
            "associated with a floating IP.",
        )
    held = list(
        session.scalars(
            sa.select(IPAllocation)
            .where(IPAllocation.port_id == port.id)
            .order_by(IPAllocation.ip_address)
        )
    )
    alloc = _fixed_ip(port, held, fixed_ip)
    router_id = _serving_router(session, fip.floating_network_id, alloc.subnet_id)
    if router_id is None:
        raise exc.ExternalGatewayForFloatingIPNotFound(
            fip.floating_network_id, alloc.subnet_id, port.id
        )
    taken = session.scalar(
        sa.select(FloatingIP.id).where(
            FloatingIP.floating_network_id == fip.floating_network_id,
            FloatingIP.port_id == port.id,
            FloatingIP.fixed_ip_address == alloc.ip_address,
            FloatingIP.id != fip.id,
        )
    )
    if taken is not None:
        raise exc.FloatingIPPortAlreadyAssociated(
            fip.floating_ip_address, fip.id, port.id, alloc.ip_address, fip.floating_network_id
        )
    fip.port_id = port.id
    fip.fixed_ip_address = alloc.ip_address
    fip.router_id = router_id
    fip.status = ACTIVE


def _check_ipv4_subnet(session: Session, network_id: str) -> None:
    """Floating IPs are IPv4 addresses: Neutron's 400 for an external network without an
    IPv4 subnet (an IPv6-only one)."""
    found = session.scalar(
        sa.select(Subnet.id).where(Subnet.network_id == network_id, Subnet.ip_version == 4)
    )
    if found is None:
        raise exc.BadRequest(
            "floatingip", f"Network {network_id} does not contain any IPv4 subnet."
        )


def _keep_ipv4(session: Session, network_id: str, port_id: str) -> str:
    """The IPv4 address of a new floating IP's port, whose IPv6 addresses (a dual-stack
    external network gives it one of each family) are given back: Neutron allocates
    floating IPs from IPv4 subnets only.

    Raises:
        BadRequest (400): the port got no IPv4 address.
    """
    rows = session.execute(
        sa.select(IPAllocation.ip_address, IPAllocation.subnet_id, Subnet.ip_version)
        .join(Subnet, Subnet.id == IPAllocation.subnet_id)
        .where(IPAllocation.port_id == port_id)
        .order_by(IPAllocation.ip_address)
    ).all()
    v6 = [subnet_id for _ip, subnet_id, version in rows if version != 4]
    if v6:
        session.execute(
            sa.delete(IPAllocation).where(
                IPAllocation.port_id == port_id, IPAllocation.subnet_id.in_(v6)
            )
        )
    v4 = [ip for ip, _subnet_id, version in rows if version == 4]
    if not v4:
        raise exc.BadRequest(
            "floatingip", f"Network {network_id} does not contain any IPv4 subnet."
        )
    return str(v4[0])


class FloatingIPs:
    """The floating IPs of ``cloud.network`` (``cloud.network.floating_ips``); Networking
    API v2.0 reference, "Floating IPs". Methods return ``FloatingIPRecord``s (rendered by
    ``api/views.py``)."""

    def __init__(self, cloud: Cloud, routers: Routers):
        self.cloud = cloud
        self.routers = routers

    def _notify(self, events: builtins.list[compute_notifier.ServerPortEvent]) -> None:
        """The agents' ``sync``, then Compute's events (both after the commit)."""
        getattr(self.cloud.network, "notify_dataplane", lambda: None)()
        if events:
            getattr(self.cloud.network, "notify_compute", lambda _events: None)(events)

    def create(self, ctx: RequestContext, spec: FloatingIPCreate) -> FloatingIPRecord:
        """Allocate an address of an external network, mapped at once when ``port_id``
        is given.

        Raises:
            NetworkNotFound / SubnetNotFound (404), BadRequest (400: not an external
            network, a subnet of another network, no IPv4 subnet), InvalidIpForSubnet
            (400), IpAddressAlreadyAllocated / IpAddressGenerationFailure (409: the
            address is taken, none is left), OverQuota (409: the project's ``floatingip``
            quota), NotAuthorized (403: another project), the errors of ``associate``.
        """
        fip_id = new_id()
        project_id = common.owner_project(ctx, spec.project_id)
        with self.cloud.db.transaction() as s:
            quotas.check(s, project_id, "floatingip")
            net = external_network(s, ctx, spec.floating_network_id, "floatingip")
            _check_ipv4_subnet(s, net.id)
            fixed: dict[str, str] = {}
            if spec.subnet_id:
                subnet = load_subnet(s, ctx, spec.subnet_id)
                if subnet.network_id != net.id:
                    raise exc.BadRequest(
                        "floatingip",
                        f"Subnet {subnet.id} does not belong to network {net.id}.",
                    )
                if subnet.ip_version != 4:
                    raise exc.BadRequest("floatingip", f"Subnet {subnet.id} is not an IPv4 subnet.")
                fixed["subnet_id"] = subnet.id
            if spec.floating_ip_address:
                if (
                    ipam.parse_ip(spec.floating_ip_address, "floating_ip_address", None).version
                    != 4
                ):
                    raise exc.BadRequest(
                        "floatingip", f"{spec.floating_ip_address} is not an IPv4 address."
                    )
                fixed["ip_address"] = spec.floating_ip_address
            port = self.routers.service_port(
                s, ctx, net.id, "", FLOATINGIP, fip_id, [fixed] if fixed else None
            )
            address = _keep_ipv4(s, net.id, port.id)
            fip = FloatingIP(
                id=fip_id,
                project_id=project_id,
                description=spec.description,
                floating_network_id=net.id,
                floating_ip_address=address,
                floating_port_id=port.id,
                status=DOWN,
                tags=list(spec.tags),
            )
            s.add(fip)
            if spec.port_id:
                associate(s, ctx, fip, spec.port_id, spec.fixed_ip_address)
            s.flush()
            record = records(s, [fip])[0]
            events = compute_notifier.port_events(s, [fip.port_id])
        self._notify(events)
        return record

    def get(self, ctx: RequestContext, floatingip_id: str) -> FloatingIPRecord:
        """One floating IP. Raises FloatingIPNotFound (404)."""
        with self.cloud.db.reader() as s:
            return records(s, [load_floatingip(s, ctx, floatingip_id)])[0]

    def list(self, ctx: RequestContext, query: lists.ListQuery) -> lists.Page[FloatingIPRecord]:
        """The caller's floating IPs (every project's for an admin asking
        ``all_projects``), filtered, sorted and paged in SQL.

        Raises:
            InvalidInput (400: sort key or direction), FloatingIPNotFound (404: the marker).
        """
        with self.cloud.db.reader() as s:
            page = lists.fetch_owned(
                s, ctx, FloatingIP, FILTERS, SORT, query, exc.FloatingIPNotFound
            )
            return lists.Page(records(s, page.items), page.more)

    def update(
        self, ctx: RequestContext, floatingip_id: str, changes: FloatingIPUpdate
    ) -> FloatingIPRecord:
        """Change the description or tags, associate (``port_id``, ``fixed_ip_address``)
        or disassociate (``port_id`` None). A ``fixed_ip_address`` alone picks another
        address of the current port.

        Raises:
            FloatingIPNotFound (404), BadRequest (400: a fixed IP without a port), the
            errors of ``associate``.
        """
        with self.cloud.db.transaction() as s:
            fip = load_floatingip(s, ctx, floatingip_id)
            before = (fip.port_id, fip.fixed_ip_address)
            common.set_given(fip, changes, ("description", "tags"))
            port_id = changes.port_id
            if port_id is common.UNSET and changes.fixed_ip_address is not None:
                if fip.port_id is None:
                    raise exc.BadRequest(
                        "floatingip", "fixed_ip_address cannot be specified without a port_id"
                    )
                port_id = fip.port_id
            if port_id is None:
                disassociate(fip)
            elif port_id is not common.UNSET:
                associate(s, ctx, fip, port_id, changes.fixed_ip_address)
            common.touch(fip)
            s.flush()
            record = records(s, [fip])[0]
            moved = before != (fip.port_id, fip.fixed_ip_address)
            events = compute_notifier.port_events(s, [before[0], fip.port_id]) if moved else []
        self._notify(events)
        return record

    def delete(self, ctx: RequestContext, floatingip_id: str) -> None:
        """Release a floating IP and its address. Raises FloatingIPNotFound (404)."""
        with self.cloud.db.transaction() as s:
            fip = load_floatingip(s, ctx, floatingip_id)
            port_id = fip.floating_port_id
            events = compute_notifier.port_events(s, [fip.port_id])
            s.delete(fip)
            s.flush()
            delete_ports(s, [port_id])
        self._notify(events)
