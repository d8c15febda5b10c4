"""What Compute asks of the network: check requested networks, give a server its ports.

The conductor calls, in order: ``validate_networks`` (at the API, before anything is
recorded), ``allocate_for_instance`` (after scheduling: one port per requested network, or
the user's ports bound), and ``deallocate_for_instance`` on delete or rollback. The
``network_info`` list these return is what the hypervisor driver and the config drive use::

    [{"port_id", "network_id", "network_name", "mac_address", "mtu", "devname", "vif_type",
      "fixed_ips": [{"ip_address", "subnet_id", "cidr", "gateway_ip", "enable_dhcp",
                     "dns_nameservers", "host_routes", "version": 4,
                     "floating_ips": [{"address", "type": "floating", "version": 4}]}]}]

A fixed IP's ``floating_ips`` are the floating IPs mapped to it (Nova's network model,
``nova.network.model.FixedIP``); Compute renders them as ``OS-EXT-IPS:type`` ``floating``.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.network import exceptions as exc
from pocketstack.network import states
from pocketstack.network.models import (
    FloatingIP,
    IPAllocation,
    Network,
    Port,
    SecurityGroup,
    Subnet,
)
from pocketstack.network.networks import delete_ports, load_network, may_use, usable_filter
from pocketstack.network.ports import PortCreate, create_port, load_port, vif_type_of
from pocketstack.network.secgroups import create_default

COMPUTE_OWNER = "compute:nova"


def _as_project(ctx: RequestContext, project_id: str) -> RequestContext:
    """The context to check visibility with: an admin caller as is, anyone else as the
    server's project (so a system context from the conductor cannot widen access)."""
    if ctx.is_admin and not ctx.is_system:
        return ctx
    return RequestContext(
        project_id=project_id, user_id=ctx.user_id, roles=("member",), request_id=ctx.request_id
    )


def _usable_networks(session: Session, ctx: RequestContext) -> list[str]:
    query = (
        sa.select(Network.id)
        .where(
            usable_filter(ctx),
            Network.external.is_(False),
        )
        .order_by(Network.created_at)
    )
    return list(session.scalars(query))


def _check_fixed_ip(session: Session, network_id: str, fixed_ip: Any) -> str:
    try:
        addr = ipaddress.ip_address(str(fixed_ip))
    except ValueError:
        raise exc.InvalidIpForSubnet(str(fixed_ip)) from None
    for subnet in session.scalars(sa.select(Subnet).where(Subnet.network_id == network_id)):
        net = ipaddress.ip_network(subnet.cidr)
        if addr in net:
            if (
                addr in (net.network_address, net.broadcast_address)
                or str(addr) == subnet.gateway_ip
            ):
                raise exc.InvalidIpForSubnet(str(addr))
            if session.get(IPAllocation, (subnet.id, str(addr))) is not None:
                raise exc.IpAddressAlreadyAllocated(str(addr), subnet.id)
            return str(addr)
    raise exc.InvalidIpForSubnet(str(addr))


def validate(
    session: Session, ctx: RequestContext, requested: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Check a server's requested networks; see ``NetworkManager.validate_networks``."""
    if not requested:
        usable = _usable_networks(session, ctx)
        if not usable:
            raise exc.NoNetworksAvailable()
        if len(usable) > 1:
            raise exc.NetworkAmbiguous()
        return [{"uuid": usable[0]}]
    result: list[dict[str, Any]] = []
    for item in requested:
        if item.get("port"):
            port = load_port(session, ctx, str(item["port"]))
            if port.device_id:
                raise exc.PortInUse(port.id, port.device_id)
            result.append({"port": port.id})
            continue
        if not item.get("uuid"):
            raise exc.InvalidInput("Each requested network needs a uuid or a port.")
        net = load_network(session, ctx, str(item["uuid"]))
        if not may_use(session, ctx, net):
            raise exc.NotAuthorized(
                f"Tenant {ctx.project_id} not allowed to create port on network {net.id}."
            )
        entry: dict[str, Any] = {"uuid": net.id}
        if item.get("fixed_ip"):
            entry["fixed_ip"] = _check_fixed_ip(session, net.id, item["fixed_ip"])
        result.append(entry)
    return result


def group_ids(session: Session, project_id: str, names: list[str]) -> list[str]:
    """Resolve group names or ids of ``project_id``; see ``security_group_ids``."""
    result: list[str] = []
    for name in names:
        if name == "default":
            result.append(create_default(session, project_id))
            continue
        group = session.get(SecurityGroup, name)
        if group is not None and group.project_id == project_id:
            result.append(group.id)
            continue
        matches = list(
            session.scalars(
                sa.select(SecurityGroup.id).where(
                    SecurityGroup.project_id == project_id, SecurityGroup.name == name
                )
            )
        )
        if not matches:
            raise exc.SecurityGroupNotFound(name)
        if len(matches) > 1:
            raise exc.DuplicateSecurityGroupName(
                f"Multiple security groups named {name} exist; use an id."
            )
        result.append(matches[0])
    return list(dict.fromkeys(result))


def _bind(
    session: Session,
    ctx: RequestContext,
    port_id: str,
    instance_uuid: str,
    host: str,
    vif_type: str,
    has_agents: bool,
) -> Port:
    port = load_port(session, ctx, port_id)
    if port.device_id:
        raise exc.PortInUse(port.id, port.device_id)
    port.device_id = instance_uuid
    port.device_owner = COMPUTE_OWNER
    same_host = port.host_id == host
    port.host_id = host
    states.transition(
        port, states.bound_status(host, has_agents, port.status if same_host else None)
    )
    port.vif_type = vif_type
    port.revision_number += 1
    return port


def allocate(
    session: Session,
    ctx: RequestContext,
    instance_uuid: str,
    project_id: str,
    host: str,
    requested: list[dict[str, Any]],
    security_groups: list[str],
    vif_type: str,
    has_agents: bool = False,
    first_index: int = 0,
) -> None:
    """Create or bind the server's ports in ``session`` (rolled back as a whole on error);
    bound ports are ``ACTIVE``, or ``DOWN`` until the host's agent wires them when
    ``has_agents`` (``states.bound_status``). Their NIC order starts at ``first_index``
    (a NIC attached later goes after the server's others)."""
    view = _as_project(ctx, project_id)
    items = validate(session, view, requested)
    groups = group_ids(session, project_id, security_groups or ["default"])
    for index, item in enumerate(items):
        if "port" in item:
            port = _bind(session, view, item["port"], instance_uuid, host, vif_type, has_agents)
        else:
            net = session.get(Network, item["uuid"])
            spec = PortCreate(
                network_id=item["uuid"],
                project_id=project_id,
                device_id=instance_uuid,
                device_owner=COMPUTE_OWNER,
                host_id=host,
                fixed_ips=[{"ip_address": item["fixed_ip"]}] if item.get("fixed_ip") else None,
                security_groups=groups if net is not None and net.port_security_enabled else None,
            )
            port = create_port(
                session,
                ctx.elevated(),
                spec,
                vif_type,
                created_by_compute=True,
                has_agents=has_agents,
            )
        port.device_index = first_index + index
    session.flush()


def _floating_ips(session: Session, port_id: str) -> dict[str, list[dict[str, Any]]]:
    """Fixed IP address -> the floating IPs mapped to it, as ``network_info`` holds them."""
    result: dict[str, list[dict[str, Any]]] = {}
    rows = session.execute(
        sa.select(FloatingIP.fixed_ip_address, FloatingIP.floating_ip_address)
        .where(FloatingIP.port_id == port_id)
        .order_by(FloatingIP.floating_ip_address)
    )
    for fixed, address in rows:
        result.setdefault(str(fixed), []).append(
            {"address": address, "type": "floating", "version": 4}
        )
    return result


def network_info(session: Session, instance_uuid: str) -> list[dict[str, Any]]:
    """The ``network_info`` of a server's ports, in NIC order."""
    ports = list(
        session.scalars(
            sa.select(Port)
            .where(Port.device_id == instance_uuid)
            .order_by(Port.device_index, Port.created_at)
        )
    )
    result = []
    for port in ports:
        net = session.get(Network, port.network_id)
        allocs = session.execute(
            sa.select(IPAllocation, Subnet)
            .join(Subnet, Subnet.id == IPAllocation.subnet_id)
            .where(IPAllocation.port_id == port.id)
            .order_by(IPAllocation.ip_address)
        )
        floating = _floating_ips(session, port.id)
        fixed_ips = [
            {
                "ip_address": a.ip_address,
                "subnet_id": sub.id,
                "cidr": sub.cidr,
                "gateway_ip": sub.gateway_ip,
                "enable_dhcp": sub.enable_dhcp,
                "dns_nameservers": list(sub.dns_nameservers),
                "host_routes": [dict(r) for r in sub.host_routes],
                "version": 4,
                "floating_ips": floating.get(a.ip_address, []),
            }
            for a, sub in allocs
        ]
        result.append(
            {
                "port_id": port.id,
                "network_id": port.network_id,
                "network_name": net.name if net else "",
                "mac_address": port.mac_address,
                "mtu": net.mtu if net else 1450,
                "devname": "tap" + port.id[:11],
                "vif_type": port.vif_type,
                "fixed_ips": fixed_ips,
            }
        )
    return result


def deallocate(session: Session, instance_uuid: str) -> None:
    """Delete the server's compute-made ports and unbind the user's (idempotent)."""
    ports = list(session.scalars(sa.select(Port).where(Port.device_id == instance_uuid)))
    delete_ports(session, [p.id for p in ports if p.created_by_compute])
    for port in ports:
        if not port.created_by_compute:
            port.device_id = ""
            port.device_owner = ""
            port.host_id = ""
            states.transition(port, states.DOWN)
            port.vif_type = "unbound"
            port.revision_number += 1


def deallocate_port(session: Session, instance_uuid: str, port_id: str) -> bool:
    """Take one port from a server: deleted when Compute made it, unbound otherwise.

    Returns:
        False when the port is not the server's (nothing done).
    """
    port = session.get(Port, port_id)
    if port is None or port.device_id != instance_uuid:
        return False
    if port.created_by_compute:
        delete_ports(session, [port.id])
        return True
    port.device_id = ""
    port.device_owner = ""
    port.host_id = ""
    states.transition(port, states.DOWN)
    port.vif_type = "unbound"
    port.revision_number += 1
    return True


def vif_type(conf: Any) -> str:
    """The vif type of ports bound on this cloud."""
    return vif_type_of(conf)
