"""Ports (Neutron v2.0 ``/ports``): a NIC on a network with MAC, fixed IPs and groups.

A project sees its own ports (admins all). A port may be created on a network the caller
owns or a shared one (admins anywhere); an external network that is not shared is 403.
Fixed IPs come from IPAM (``ipam``): ``fixed_ips`` absent means one address from the first
subnet with a free one; ``[{"subnet_id"}]``, ``[{"ip_address"}]`` or both ask for specific
ones. A port bound to a host (``binding:host_id``) is ACTIVE, otherwise DOWN; with a
driver that has agents (``linuxbridge``) a bound port stays DOWN until its host's network
agent reports it wired (``ports_up``). Every change fans out ``sync`` to the agents
(``NetworkManager.notify_dataplane``): a port's addresses and groups reach other hosts'
filters too. A server's port whose fixed IPs change, or that is deleted, makes Compute
refresh the server's addresses (``network-changed`` / ``network-vif-deleted``,
``NetworkManager.notify_compute``, after the commit).
"""

from __future__ import annotations

import builtins
import ipaddress
import random
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.common.drivers import NETWORK_DRIVERS
from pocketstack.network import (
    common,
    compute_notifier,
    extra_dhcp_opts,
    ipam,
    lists,
    quotas,
    states,
)
from pocketstack.network import exceptions as exc
from pocketstack.network.models import (
    FloatingIP,
    IPAllocation,
    Network,
    Port,
    PortSecurityGroup,
    Router,
    SecurityGroup,
    Subnet,
)
from pocketstack.network.networks import delete_ports, load_network, may_use
from pocketstack.network.secgroups import create_default

if TYPE_CHECKING:
    from pocketstack.service import Cloud

_MAC_RE = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")


@dataclass(frozen=True)
class PortCreate:
    """The attributes of a new port (``POST /v2.0/ports``, parsed by ``api/ports.py``, or
    made by ``instances.allocate``).

    ``fixed_ips`` None: one address from the first subnet with a free one;
    ``security_groups`` None: the project's default group (when port security is on);
    ``port_security_enabled`` None: the network's; ``host_id``/``vnic_type`` None: not
    asked (binding a host is admin only). MAC, fixed IPs and address pairs are checked
    here, not by the parser.
    """

    network_id: str
    name: str = ""
    description: str = ""
    project_id: str | None = None
    admin_state_up: bool = True
    mac_address: str | None = None
    fixed_ips: list[Any] | None = None
    device_id: str = ""
    device_owner: str = ""
    host_id: str | None = None
    vnic_type: str | None = None
    security_groups: list[str] | None = None
    port_security_enabled: bool | None = None
    allowed_address_pairs: list[Any] = field(default_factory=list)
    extra_dhcp_opts: list[Any] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PortUpdate:
    """The changes of ``PUT /v2.0/ports/{id}``; ``None`` leaves an attribute as it is
    (``fixed_ips: []``/``security_groups: []`` remove them all; ``extra_dhcp_opts`` merge
    into the port's, see ``extra_dhcp_opts.merge``)."""

    name: str | None = None
    description: str | None = None
    admin_state_up: bool | None = None
    mac_address: str | None = None
    fixed_ips: list[Any] | None = None
    device_id: str | None = None
    device_owner: str | None = None
    host_id: str | None = None
    vnic_type: str | None = None
    security_groups: list[str] | None = None
    port_security_enabled: bool | None = None
    allowed_address_pairs: list[Any] | None = None
    extra_dhcp_opts: list[Any] | None = None
    tags: list[str] | None = None


@dataclass(frozen=True)
class PortRecord:
    """A port with its addresses (by address) and its groups' ids (sorted)."""

    port: Port
    fixed_ips: list[IPAllocation]
    security_group_ids: list[str]


def vif_type_of(conf: Any) -> str:
    """The ``binding:vif_type`` of ports bound on this cloud (from the network driver)."""
    return NETWORK_DRIVERS.load_class(conf.network_driver).vif_type


def has_agents(conf: Any) -> bool:
    """Whether network agents wire this cloud's ports (the driver's ``has_agents``)."""
    return bool(NETWORK_DRIVERS.load_class(conf.network_driver).has_agents)


#: ``PortUpdate`` attributes set on the row as given.
_PLAIN_CHANGES = (
    "name",
    "description",
    "device_id",
    "device_owner",
    "admin_state_up",
    "port_security_enabled",
    "tags",
)


def _has_fixed_ip(wanted: str) -> Any:
    """``fixed_ips=ip_address=10.0.0.5`` or ``fixed_ips=subnet_id=<id>``."""
    key, _, value = wanted.partition("=")
    column = {"ip_address": IPAllocation.ip_address, "subnet_id": IPAllocation.subnet_id}.get(key)
    if column is None:
        return sa.false()
    return sa.exists().where(IPAllocation.port_id == Port.id, column == value)


def _has_group(wanted: str) -> Any:
    return sa.exists().where(
        PortSecurityGroup.port_id == Port.id, PortSecurityGroup.security_group_id == wanted
    )


#: API attribute -> the column a list both filters and sorts on.
_COLUMNS: dict[str, Any] = {
    "id": Port.id,
    "name": Port.name,
    "description": Port.description,
    "project_id": Port.project_id,
    "tenant_id": Port.project_id,
    "network_id": Port.network_id,
    "mac_address": Port.mac_address,
    "admin_state_up": Port.admin_state_up,
    "status": Port.status,
    "device_id": Port.device_id,
    "device_owner": Port.device_owner,
    "port_security_enabled": Port.port_security_enabled,
    "revision_number": Port.revision_number,
    "binding:host_id": Port.host_id,
    "binding:vif_type": Port.vif_type,
    "binding:vnic_type": Port.vnic_type,
}
#: API attribute -> what a list filters it on (see ``lists``).
FILTERS: dict[str, Any] = {
    **_COLUMNS,
    "fixed_ips": _has_fixed_ip,
    "security_groups": _has_group,
    "qos_policy_id": sa.null(),
    "propagate_uplink_status": sa.literal(False),
}
SORT = lists.sort_spec(_COLUMNS, Port)


def records(session: Session, ports: list[Port]) -> list[PortRecord]:
    """Ports with their fixed IPs and groups, read in two queries."""
    ids = [p.id for p in ports]
    ips: dict[str, list[IPAllocation]] = {i: [] for i in ids}
    groups: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        for a in session.scalars(
            sa.select(IPAllocation)
            .where(IPAllocation.port_id.in_(ids))
            .order_by(IPAllocation.ip_address)
        ):
            ips[str(a.port_id)].append(a)
        for b in session.scalars(
            sa.select(PortSecurityGroup).where(PortSecurityGroup.port_id.in_(ids))
        ):
            groups[b.port_id].append(b.security_group_id)
    return [PortRecord(p, ips[p.id], sorted(groups[p.id])) for p in ports]


def load_port(session: Session, ctx: RequestContext, port_id: str) -> Port:
    """A port of the caller's project (any for admin). Raises PortNotFound (404)."""
    return common.load_scoped(session, ctx, Port, port_id, exc.PortNotFound)


def _random_mac() -> str:
    return "fa:16:3e:" + ":".join(f"{random.randint(0, 255):02x}" for _ in range(3))


def _mac(given: str | None) -> str | None:
    if given is None:
        return None
    mac = str(given).lower()
    if not _MAC_RE.match(mac) or int(mac[:2], 16) & 1:
        raise exc.InvalidInput(f"'{given}' is not a valid MAC address.")
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


def _address_pairs(given: list[Any]) -> list[dict[str, str]]:
    pairs = []
    for pair in given:
        if not isinstance(pair, dict) or "ip_address" not in pair:
            raise exc.InvalidInput("allowed_address_pairs entries need an ip_address.")
        item = {"ip_address": _pair_address(pair["ip_address"])}
        if pair.get("mac_address"):
            item["mac_address"] = _mac(str(pair["mac_address"])) or ""
        pairs.append(item)
    return pairs


def _network_for_port(session: Session, ctx: RequestContext, network_id: str) -> Network:
    net = load_network(session, ctx, network_id)
    if not may_use(session, ctx, net):
        raise exc.NotAuthorized(
            f"Tenant {ctx.project_id} not allowed to create port on network {network_id}."
        )
    return net


def _allocate(session: Session, net: Network, port: Port, fixed_ips: Any) -> None:
    """Give the port its addresses: automatic when ``fixed_ips`` is None (``ipam.
    allocate_on_network``), else as asked; on a SLAAC / DHCPv6-stateless subnet the port's
    address is its EUI-64 one, and asking for a given address there is refused (a router
    interface, which takes the gateway, excepted), as Neutron's IPAM does."""
    subnets = list(
        session.scalars(
            sa.select(Subnet)
            .where(Subnet.network_id == net.id)
            .order_by(Subnet.created_at, Subnet.id)
        )
    )
    if fixed_ips is None:
        ipam.allocate_on_network(session, subnets, port.id, net.id, port.mac_address)
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
            if ipam.allocate_on_subnet(session, subnet, port.mac_address, port.id) is None:
                raise exc.IpAddressGenerationFailure(net.id)
            continue
        if subnet is None:
            addr = ipam.parse_ip(item["ip_address"], version=None)
            subnet = next((s for s in subnets if addr in ipaddress.ip_network(s.cidr)), None)
            if subnet is None:
                raise exc.InvalidIpForNetwork(str(addr))
        if (
            subnet.ip_version == 6
            and ipam.is_auto_address(subnet)
            and port.device_owner != common.ROUTER_INTERFACE
        ):
            raise exc.AllocationOnAutoAddressSubnet(str(item["ip_address"]), subnet.id)
        ipam.allocate_specific(session, subnet, item["ip_address"], port.id)


def _keep_auto_addresses(session: Session, port: Port, subnet_ids: set[str]) -> None:
    """After new ``fixed_ips``, give back the port's EUI-64 addresses on the auto-address
    subnets it had them on: Neutron keeps those on an update that does not name them."""
    have = set(
        session.scalars(sa.select(IPAllocation.subnet_id).where(IPAllocation.port_id == port.id))
    )
    for subnet_id in sorted(subnet_ids - have):
        subnet = session.get(Subnet, subnet_id)
        if subnet is not None:
            ipam.allocate_eui64(session, subnet, port.mac_address, port.id)


def _auto_subnet_ids(session: Session, port: Port) -> set[str]:
    """The auto-address subnets (``ipam.is_auto_address``) the port has an address on; none
    for a router interface (Neutron lets its addresses go)."""
    if port.device_owner == common.ROUTER_INTERFACE:
        return set()
    rows = session.scalars(
        sa.select(Subnet)
        .join(IPAllocation, IPAllocation.subnet_id == Subnet.id)
        .where(IPAllocation.port_id == port.id, Subnet.ip_version == 6)
    )
    return {s.id for s in rows if ipam.is_auto_address(s)}


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


def _binding(
    ctx: RequestContext,
    host_id: str | None,
    vnic: str | None,
    port: Port,
    vif_type: str,
    has_agents: bool = False,
) -> None:
    """Set the port's binding (admin only) and the status it gives (``states.bound_status``:
    with ``has_agents`` a port bound to a new host is ``DOWN`` until that host's agent
    reports it wired; on the same host it keeps its status)."""
    previous = port.host_id
    if host_id is not None:
        if not ctx.is_admin:
            raise exc.NotAuthorized("Only an administrator may set binding:host_id.")
        port.host_id = host_id
    if vnic is not None:
        if vnic != "normal":
            raise exc.InvalidInput(f"binding:vnic_type {vnic} is not supported: use normal.")
        port.vnic_type = vnic
    same_host = bool(previous) and previous == port.host_id
    states.transition(
        port, states.bound_status(port.host_id, has_agents, port.status if same_host else None)
    )
    port.vif_type = vif_type if port.host_id else "unbound"


def create_port(
    session: Session,
    ctx: RequestContext,
    spec: PortCreate,
    vif_type: str,
    created_by_compute: bool = False,
    has_agents: bool = False,
) -> Port:
    """Create a port in ``session`` (shared with ``allocate_for_instance``); ``has_agents``:
    see ``_binding``.

    Raises:
        NetworkNotFound (404), NotAuthorized (403), InvalidInput / InvalidIpForSubnet (400),
        IpAddressAlreadyAllocated / IpAddressGenerationFailure / MacAddressInUse (409).
    """
    net = _network_for_port(session, ctx, spec.network_id)
    values = dict(
        project_id=common.owner_project(ctx, spec.project_id),
        network_id=net.id,
        name=spec.name,
        description=spec.description,
        admin_state_up=spec.admin_state_up,
        device_id=spec.device_id,
        device_owner=spec.device_owner,
        port_security_enabled=net.port_security_enabled
        if spec.port_security_enabled is None
        else spec.port_security_enabled,
        allowed_address_pairs=_address_pairs(spec.allowed_address_pairs),
        extra_dhcp_opts=extra_dhcp_opts.for_create(spec.extra_dhcp_opts),
        created_by_compute=created_by_compute,
        status=states.PORT_INITIAL,
        tags=list(spec.tags),
    )
    mac = _mac(spec.mac_address)
    if mac is not None:
        if session.scalar(
            sa.select(Port.id).where(Port.network_id == net.id, Port.mac_address == mac)
        ):
            raise exc.MacAddressInUse(mac, net.id)
        port = common.add_unique(session, lambda: Port(mac_address=mac, **values), 1)
    else:
        port = common.add_unique(session, lambda: Port(mac_address=_random_mac(), **values))
    _binding(ctx, spec.host_id, spec.vnic_type, port, vif_type, has_agents)
    _allocate(session, net, port, spec.fixed_ips)
    _set_groups(session, ctx, port, spec.security_groups)
    session.flush()
    return port


def _check_not_service_port(session: Session, port: Port) -> None:
    """Refuse deleting a port its router or floating IP still owns (Neutron's
    ``prevent_l3_port_deletion``): ServicePortInUse (409)."""
    owner = {
        common.ROUTER_INTERFACE: Router,
        common.ROUTER_GATEWAY: Router,
        common.FLOATINGIP: FloatingIP,
    }.get(port.device_owner)
    if owner is not None and session.get(owner, port.device_id) is not None:
        raise exc.ServicePortInUse(port.id, f"has device owner {port.device_owner}")


class Ports:
    """The ports of ``cloud.network`` (``cloud.network.ports``); Networking API v2.0
    reference, "Ports". Every method returns ``PortRecord``s (rendered by
    ``api/views.py``)."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    @property
    def vif_type(self) -> str:
        """``binding:vif_type`` of bound ports."""
        return vif_type_of(self.cloud.conf)

    def create(self, ctx: RequestContext, spec: PortCreate) -> PortRecord:
        """Create a port (see ``create_port`` for the errors; OverQuota, 409, past the
        project's port quota)."""
        with self.cloud.db.transaction() as s:
            quotas.check(s, common.owner_project(ctx, spec.project_id), "port")
            port = create_port(s, ctx, spec, self.vif_type, has_agents=has_agents(self.cloud.conf))
            record = records(s, [port])[0]
        self.cloud.network.notify_dataplane()
        return record

    def create_many(
        self, ctx: RequestContext, specs: builtins.list[PortCreate]
    ) -> builtins.list[PortRecord]:
        """Neutron's bulk create: every port of ``specs`` in one transaction, so an error
        in any (those of ``create_port``; OverQuota, 409) creates none. Returns the ports
        in the order given."""
        with self.cloud.db.transaction() as s:
            ports = []
            for spec in specs:
                quotas.check(s, common.owner_project(ctx, spec.project_id), "port")
                has = has_agents(self.cloud.conf)
                ports.append(create_port(s, ctx, spec, self.vif_type, has_agents=has))
            found = records(s, ports)
        self.cloud.network.notify_dataplane()
        return found

    def get(self, ctx: RequestContext, port_id: str) -> PortRecord:
        """One port. Raises PortNotFound (404)."""
        with self.cloud.db.reader() as s:
            return records(s, [load_port(s, ctx, port_id)])[0]

    def list(self, ctx: RequestContext, query: lists.ListQuery) -> lists.Page[PortRecord]:
        """The caller's ports (every project's for an admin asking ``all_projects``),
        filtered, sorted and paged in SQL.

        Raises:
            InvalidInput (400: sort key or direction), PortNotFound (404: the marker).
        """
        with self.cloud.db.reader() as s:
            page = lists.fetch_owned(s, ctx, Port, FILTERS, SORT, query, exc.PortNotFound)
            return lists.Page(records(s, page.items), page.more)

    def update(self, ctx: RequestContext, port_id: str, changes: PortUpdate) -> PortRecord:
        """Change a port (name, device, binding, fixed IPs, groups...); new fixed IPs of a
        server's port are a ``network-changed`` event for Compute.

        Raises:
            PortNotFound (404), NotAuthorized (403), the 400s and 409s of ``create_port``.
        """
        events: builtins.list[compute_notifier.ServerPortEvent] = []
        with self.cloud.db.transaction() as s:
            port = load_port(s, ctx, port_id)
            common.set_given(port, changes, _PLAIN_CHANGES)
            if changes.allowed_address_pairs is not None:
                port.allowed_address_pairs = _address_pairs(changes.allowed_address_pairs)
            if changes.extra_dhcp_opts:  # null or [] change nothing, as in Neutron
                port.extra_dhcp_opts = extra_dhcp_opts.merge(
                    port.extra_dhcp_opts, changes.extra_dhcp_opts
                )
            if changes.mac_address is not None and _mac(changes.mac_address) != port.mac_address:
                raise exc.InvalidInput("mac_address cannot be changed.")
            _binding(
                ctx,
                changes.host_id,
                changes.vnic_type,
                port,
                self.vif_type,
                has_agents(self.cloud.conf),
            )
            if changes.fixed_ips is not None:
                auto = _auto_subnet_ids(s, port)
                ipam.release_port(s, port.id)
                s.flush()
                network = s.get(Network, port.network_id)
                if network is None:  # deleted under the port (the port goes with it)
                    raise exc.NetworkNotFound(f"Network {port.network_id} could not be found.")
                _allocate(s, network, port, changes.fixed_ips)
                _keep_auto_addresses(s, port, auto)
                events = compute_notifier.port_events(s, [port.id])
            if changes.security_groups is not None or changes.port_security_enabled is not None:
                groups = changes.security_groups
                if groups is None:
                    groups = self._current_groups(s, port.id) if port.port_security_enabled else []
                _set_groups(s, ctx, port, groups)
            common.touch(port)
            s.flush()
            record = records(s, [port])[0]
        self.cloud.network.notify_dataplane()
        self.cloud.network.notify_compute(events)
        return record

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
        """Delete a port and free its addresses (a floating IP mapped to it is
        disassociated); a server's port is a ``network-vif-deleted`` event for Compute.

        Raises:
            PortNotFound (404), ServicePortInUse (409: a router's or a floating IP's port,
            which only ``remove_router_interface``, the router or the floating IP delete).
        """
        with self.cloud.db.transaction() as s:
            port = load_port(s, ctx, port_id)
            _check_not_service_port(s, port)
            events = compute_notifier.port_events(s, [port.id], compute_notifier.VIF_DELETED)
            delete_ports(s, [port.id])
        self.cloud.network.notify_dataplane()
        self.cloud.network.notify_compute(events)
