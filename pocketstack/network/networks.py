"""Networks (Neutron v2.0 ``/networks``): list, get, create, update, delete.

Visibility: a project sees its own networks plus ``shared`` and ``router:external`` ones
and those an RBAC policy (``rbac``) shares with it; anything else is ``NetworkNotFound``
(404). Only the owner (or an admin) changes a network; another project that only sees it
(shared, external) gets ``NotAuthorized`` (403). A
network is a VXLAN segment with a unique VNI (``provider:segmentation_id``) or, made by an
admin, a flat physical network (``segments``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.network import common, lists, quotas, rbac, segments, states
from pocketstack.network import exceptions as exc
from pocketstack.network.models import Network, NetworkRBAC, Port, PortSecurityGroup, Subnet

if TYPE_CHECKING:
    from pocketstack.service import Cloud

MAX_VNI = segments.MAX_VNI
DEFAULT_MTU = segments.MTUS["vxlan"]
#: device owners whose ports keep a network (and its subnets) from being deleted
# Ports Neutron deletes with their network; any other port (a user's unowned port too) keeps
# the network in use (409 NetworkInUse), as Neutron's delete_network.
AUTO_DELETE_PORT_OWNERS = (
    common.DHCP_OWNER,
    "network:distributed",
    "network:floatingip_agent_gateway",
)


def visible_filter(ctx: RequestContext) -> Any:
    """SQL condition: networks the caller may see (own, shared, external, or shared with
    the caller's project by an RBAC policy of either action)."""
    return sa.or_(
        Network.project_id == ctx.project_id,
        Network.shared.is_(True),
        Network.external.is_(True),
        sa.exists().where(
            NetworkRBAC.object_id == Network.id,
            NetworkRBAC.target_project == (ctx.project_id or ""),
        ),
    )


def usable_filter(ctx: RequestContext) -> Any:
    """SQL condition: networks the caller may plug ports into (own, shared with it)."""
    return sa.or_(
        Network.project_id == ctx.project_id,
        Network.shared.is_(True),
        rbac.granted(ctx, rbac.SHARED),
    )


def load_network(session: Session, ctx: RequestContext, network_id: str) -> Network:
    """A network visible to ``ctx``. Raises NetworkNotFound (404)."""
    net = session.get(Network, network_id)
    if net is None or not rbac.visible(session, ctx, net):
        raise exc.NetworkNotFound(network_id)
    return net


def may_use(session: Session, ctx: RequestContext, net: Network) -> bool:
    """Whether the caller may plug ports into ``net`` (owner, admin, or shared with its
    project by an ``access_as_shared`` policy, ``*`` included)."""
    return (
        ctx.is_admin
        or ctx.owns(net.project_id)
        or net.shared
        or rbac.has_access(session, ctx, net.id, rbac.SHARED)
    )


def load_owned_network(session: Session, ctx: RequestContext, network_id: str) -> Network:
    """A network the caller owns (or admin). Raises NetworkNotFound (404) / NotAuthorized."""
    net = load_network(session, ctx, network_id)
    if not common.check_project_scope(ctx, net.project_id):
        raise exc.NotAuthorized(f"Only the owner of network {network_id} may change it.")
    return net


@dataclass(frozen=True)
class NetworkCreate:
    """The attributes of a new network (``POST /v2.0/networks``, parsed by
    ``api/networks.py``). ``None`` for ``shared``, ``external`` and the ``provider:*``
    attributes means "not asked" (only an admin may ask)."""

    name: str = ""
    description: str = ""
    project_id: str | None = None
    admin_state_up: bool = True
    shared: bool | None = None
    external: bool | None = None
    mtu: int | None = None
    port_security_enabled: bool = True
    tags: list[str] = field(default_factory=list)
    network_type: str | None = None
    segmentation_id: int | None = None
    physical_network: str | None = None


@dataclass(frozen=True)
class NetworkUpdate:
    """The changes of ``PUT /v2.0/networks/{id}``; ``None`` leaves an attribute as it is."""

    name: str | None = None
    description: str | None = None
    admin_state_up: bool | None = None
    shared: bool | None = None
    external: bool | None = None
    mtu: int | None = None
    port_security_enabled: bool | None = None
    tags: list[str] | None = None


@dataclass(frozen=True)
class NetworkRecord:
    """A network with the ids of its subnets (oldest first), what its view shows;
    ``shared``/``external`` as the caller sees them (an RBAC policy for its project counts,
    as Neutron shows it)."""

    network: Network
    subnet_ids: list[str]
    shared: bool = False
    external: bool = False


#: ``NetworkUpdate`` attributes set on the row as given.
_PLAIN_CHANGES = (
    "name",
    "description",
    "admin_state_up",
    "shared",
    "external",
    "port_security_enabled",
    "tags",
)


def _has_subnet(wanted: str) -> Any:
    return sa.exists().where(Subnet.network_id == Network.id, Subnet.id == wanted)


#: API attribute -> the column a list both filters and sorts on.
_COLUMNS: dict[str, Any] = {
    "id": Network.id,
    "name": Network.name,
    "description": Network.description,
    "project_id": Network.project_id,
    "tenant_id": Network.project_id,
    "status": Network.status,
    "admin_state_up": Network.admin_state_up,
    "shared": Network.shared,
    "router:external": Network.external,
    "mtu": Network.mtu,
    "port_security_enabled": Network.port_security_enabled,
    "revision_number": Network.revision_number,
    "provider:network_type": Network.network_type,
    "provider:segmentation_id": Network.segmentation_id,
    "provider:physical_network": Network.physical_network,
}
#: API attribute -> what a list filters it on (see ``lists``).
FILTERS: dict[str, Any] = {
    **_COLUMNS,
    "subnets": _has_subnet,
    "is_default": sa.literal(False),
    "l2_adjacency": sa.literal(True),
    "qos_policy_id": sa.null(),
    "ipv4_address_scope": sa.null(),
    "ipv6_address_scope": sa.null(),
}
SORT = lists.sort_spec(_COLUMNS, Network)


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


def _records(
    session: Session, nets: list[Network], ctx: RequestContext | None = None
) -> list[NetworkRecord]:
    subnets = _subnet_ids(session, [n.id for n in nets])
    granted: set[tuple[str, str]] = set()
    if ctx is not None and ctx.project_id and nets:
        rows = session.execute(
            sa.select(NetworkRBAC.object_id, NetworkRBAC.action).where(
                NetworkRBAC.object_id.in_([n.id for n in nets]),
                NetworkRBAC.target_project == ctx.project_id,
            )
        )
        granted = {(str(object_id), str(action)) for object_id, action in rows}
    return [
        NetworkRecord(
            n,
            subnets[n.id],
            n.shared or (n.id, rbac.SHARED) in granted,
            n.external or (n.id, rbac.EXTERNAL) in granted,
        )
        for n in nets
    ]


def _check_admin_attrs(ctx: RequestContext, asked: dict[str, Any]) -> None:
    """Refuse admin-only attributes to others (``segments.requested`` checks the
    provider values)."""
    for key, value in asked.items():
        if value is not None and not ctx.is_admin:
            raise exc.NotAuthorized(f"Only an administrator may set {key}.")


class Networks:
    """The networks of ``cloud.network`` (``cloud.network.networks``); Networking API v2.0
    reference, "Networks". Every method returns ``NetworkRecord``s (rendered by
    ``api/views.py``)."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def create(self, ctx: RequestContext, spec: NetworkCreate) -> NetworkRecord:
        """Create a network: a VXLAN segment with a VNI of ``[network] vni_ranges``, or
        what an admin asks (``segments``).

        Raises:
            InvalidInput (400: MTU, VNI range, provider attributes), NotAuthorized (403:
            admin-only attribute, another project), TunnelIdInUse / FlatNetworkInUse (409:
            the segment is taken), OverQuota (409), NoNetworkAvailable (503: no VNI left).
        """
        _check_admin_attrs(
            ctx,
            {
                "shared": spec.shared,
                "router:external": spec.external,
                "provider:network_type": spec.network_type,
                "provider:segmentation_id": spec.segmentation_id,
                "provider:physical_network": spec.physical_network,
            },
        )
        segment = segments.requested(
            self.cloud.conf, spec.network_type, spec.segmentation_id, spec.physical_network
        )
        values = dict(
            project_id=common.owner_project(ctx, spec.project_id),
            name=spec.name,
            description=spec.description,
            admin_state_up=spec.admin_state_up,
            shared=bool(spec.shared),
            external=bool(spec.external),
            mtu=segment.mtu(spec.mtu),
            port_security_enabled=spec.port_security_enabled,
            status=states.NETWORK_INITIAL,
            tags=list(spec.tags),
        )
        with self.cloud.db.transaction() as s:
            quotas.check(s, str(values["project_id"]), "network")
            net = segments.add_network(s, self.cloud.conf, segment, values)
            for action, flag in rbac.FLAGS.items():
                if getattr(net, flag):
                    rbac.add(s, net, action, rbac.WILDCARD)
            return NetworkRecord(net, [], net.shared, net.external)

    def get(self, ctx: RequestContext, network_id: str) -> NetworkRecord:
        """One network. Raises NetworkNotFound (404)."""
        with self.cloud.db.reader() as s:
            return _records(s, [load_network(s, ctx, network_id)], ctx)[0]

    def list(self, ctx: RequestContext, query: lists.ListQuery) -> lists.Page[NetworkRecord]:
        """Networks the caller sees (own, shared, external; every project's when
        ``query.all_projects`` and admin), filtered, sorted and paged in SQL.

        Raises:
            InvalidInput (400: sort key or direction), NetworkNotFound (404: the marker).
        """
        with self.cloud.db.reader() as s:
            select = sa.select(Network).where(
                lists.filter_condition(FILTERS, query),
                lists.tag_condition(s, Network.tags, query.tags),
            )
            if not (query.all_projects and ctx.is_admin):
                select = select.where(visible_filter(ctx))
            page = lists.fetch(s, select, SORT, query, exc.NetworkNotFound)
            return lists.Page(_records(s, page.items, ctx), page.more)

    def update(self, ctx: RequestContext, network_id: str, changes: NetworkUpdate) -> NetworkRecord:
        """Change a network's attributes.

        Raises:
            NetworkNotFound (404), NotAuthorized (403: not the owner, admin-only
            attribute), InvalidInput (400: MTU), InvalidSharedSetting (409: unsharing
            while other projects have ports on it).
        """
        _check_admin_attrs(ctx, {"shared": changes.shared, "router:external": changes.external})
        with self.cloud.db.transaction() as s:
            net = load_owned_network(s, ctx, network_id)
            _update_wildcards(s, net, changes)
            common.set_given(net, changes, _PLAIN_CHANGES)
            if changes.mtu is not None:
                net.mtu = segments.mtu_for(net.network_type, changes.mtu)
            common.touch(net)
            s.flush()
            record = _records(s, [net], ctx)[0]
        self.cloud.network.notify_dataplane()  # mtu, admin_state_up
        return record

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
            s.execute(sa.delete(NetworkRBAC).where(NetworkRBAC.object_id == net.id))
            s.delete(net)
        self.cloud.network.notify_dataplane()  # its DHCP server, bridges and VXLAN devices


def _update_wildcards(session: Session, net: Network, changes: NetworkUpdate) -> None:
    """Make or drop the ``*`` policies a change of ``shared``/``router:external`` means.

    Raises:
        InvalidSharedSetting (409): unsharing while other projects have ports on it.
    """
    for action, flag in rbac.FLAGS.items():
        wanted = getattr(changes, flag)
        if wanted is None or wanted == getattr(net, flag):
            continue
        if wanted:
            rbac.add(session, net, action, rbac.WILDCARD)
        else:
            rbac.remove_wildcard(session, net, action)


def delete_ports(session: Session, port_ids: list[str]) -> None:
    """Delete ports with their addresses and group bindings (no checks); floating IPs
    mapped to them are disassociated (``DOWN``), as Neutron's delete_port does."""
    from pocketstack.network.models import FloatingIP, IPAllocation

    if not port_ids:
        return
    session.execute(
        sa.update(FloatingIP)
        .where(FloatingIP.port_id.in_(port_ids))
        .values(
            port_id=None,
            fixed_ip_address=None,
            router_id=None,
            status="DOWN",
            revision_number=FloatingIP.revision_number + 1,
        )
    )
    session.execute(sa.delete(IPAllocation).where(IPAllocation.port_id.in_(port_ids)))
    session.execute(sa.delete(PortSecurityGroup).where(PortSecurityGroup.port_id.in_(port_ids)))
    session.execute(sa.delete(Port).where(Port.id.in_(port_ids)))
