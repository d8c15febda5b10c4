"""Network tables: networks, subnets, ports, IP allocations, security groups and rules.

Following Neutron's schema in spirit:

- ``ipallocations`` has one row per address in use, primary key ``(subnet_id, ip_address)``,
  so two concurrent allocations of one address cannot both commit (see ``ipam``).
- ``networks.segmentation_id`` (the VXLAN VNI) and ``ports (network_id, mac_address)`` are
  unique for the same reason.
- ``agents`` has one row per ``(agent_type, host)``, written by the agents' ``report_state``
  (see docs/network-dataplane.md "Tables").
- ``default_security_groups`` maps a project to its default group, one row per project, so
  two requests that create it at once end with one group.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pocketstack.common.db import Base, TimestampMixin, new_id, utcnow


class Network(TimestampMixin, Base):
    """An L2 network (Neutron ``networks`` plus its provider segment)."""

    __tablename__ = "networks"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    name: Mapped[str] = mapped_column(sa.String(255), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    admin_state_up: Mapped[bool] = mapped_column(default=True)
    shared: Mapped[bool] = mapped_column(default=False)
    external: Mapped[bool] = mapped_column(default=False)
    mtu: Mapped[int] = mapped_column(default=1450)
    status: Mapped[str] = mapped_column(sa.String(16), default="ACTIVE")
    network_type: Mapped[str] = mapped_column(sa.String(32), default="vxlan")
    #: the VXLAN VNI; None for a flat network (which has no segment id)
    segmentation_id: Mapped[int | None] = mapped_column(unique=True, default=None)
    #: the provider physical network of a flat network (``public``); None for vxlan
    physical_network: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    port_security_enabled: Mapped[bool] = mapped_column(default=True)
    revision_number: Mapped[int] = mapped_column(default=1)
    tags: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)


class Subnet(TimestampMixin, Base):
    """An IPv4 or IPv6 subnet of a network with its allocation pools (``[{"start", "end"}]``);
    an IPv6 one with its ``ipv6_ra_mode`` / ``ipv6_address_mode`` (``slaac``,
    ``dhcpv6-stateful``, ``dhcpv6-stateless`` or None)."""

    __tablename__ = "subnets"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    network_id: Mapped[str] = mapped_column(sa.ForeignKey("networks.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(255), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    ip_version: Mapped[int] = mapped_column(default=4)
    cidr: Mapped[str] = mapped_column(sa.String(64))
    gateway_ip: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    enable_dhcp: Mapped[bool] = mapped_column(default=True)
    allocation_pools: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    dns_nameservers: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    host_routes: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    #: the subnet pool its CIDR was allocated from (``subnetpools``), if any
    subnetpool_id: Mapped[str | None] = mapped_column(sa.String(36), index=True, default=None)
    ipv6_ra_mode: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    ipv6_address_mode: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    revision_number: Mapped[int] = mapped_column(default=1)
    tags: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)


class Port(TimestampMixin, Base):
    """A virtual NIC on a network; its addresses are its ``ipallocations`` rows."""

    __tablename__ = "ports"
    __table_args__ = (sa.UniqueConstraint("network_id", "mac_address"),)
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    network_id: Mapped[str] = mapped_column(sa.ForeignKey("networks.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(255), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    mac_address: Mapped[str] = mapped_column(sa.String(32))
    admin_state_up: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="DOWN")
    device_id: Mapped[str] = mapped_column(sa.String(255), default="", index=True)
    device_owner: Mapped[str] = mapped_column(sa.String(255), default="")
    host_id: Mapped[str] = mapped_column(sa.String(255), default="")
    vnic_type: Mapped[str] = mapped_column(sa.String(32), default="normal")
    vif_type: Mapped[str] = mapped_column(sa.String(32), default="unbound")
    port_security_enabled: Mapped[bool] = mapped_column(default=True)
    allowed_address_pairs: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    #: Neutron's extra_dhcp_opt extension: ``[{"opt_name", "opt_value", "ip_version"}]``,
    #: one per (opt_name, ip_version), in the order they were first set
    extra_dhcp_opts: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    #: made by allocate_for_instance, so deallocate_for_instance deletes it
    created_by_compute: Mapped[bool] = mapped_column(default=False)
    #: position among the server's NICs (eth0, eth1...) when bound by compute
    device_index: Mapped[int] = mapped_column(default=0)
    revision_number: Mapped[int] = mapped_column(default=1)
    tags: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)


class IPAllocation(Base):
    """One address in use on a subnet, by a port."""

    __tablename__ = "ipallocations"
    subnet_id: Mapped[str] = mapped_column(
        sa.ForeignKey("subnets.id", ondelete="CASCADE"), primary_key=True
    )
    ip_address: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    network_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    port_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("ports.id", ondelete="CASCADE"), index=True, default=None
    )


class SecurityGroup(TimestampMixin, Base):
    """A named set of filtering rules of a project."""

    __tablename__ = "securitygroups"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    name: Mapped[str] = mapped_column(sa.String(255), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    stateful: Mapped[bool] = mapped_column(default=True)
    revision_number: Mapped[int] = mapped_column(default=1)
    tags: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)


class DefaultSecurityGroup(Base):
    """The default group of each project (one row per project)."""

    __tablename__ = "default_security_groups"
    project_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        sa.ForeignKey("securitygroups.id", ondelete="CASCADE")
    )


class SecurityGroupRule(TimestampMixin, Base):
    """One rule of a group; ``protocol`` None means any, ports None mean all."""

    __tablename__ = "securitygrouprules"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    security_group_id: Mapped[str] = mapped_column(
        sa.ForeignKey("securitygroups.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[str] = mapped_column(sa.String(16))
    ethertype: Mapped[str] = mapped_column(sa.String(8), default="IPv4")
    protocol: Mapped[str | None] = mapped_column(sa.String(40), default=None)
    port_range_min: Mapped[int | None] = mapped_column(default=None)
    port_range_max: Mapped[int | None] = mapped_column(default=None)
    remote_ip_prefix: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    remote_group_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("securitygroups.id", ondelete="CASCADE"), default=None
    )
    description: Mapped[str] = mapped_column(sa.Text, default="")
    revision_number: Mapped[int] = mapped_column(default=1)


class PortSecurityGroup(Base):
    """Which groups apply to which port."""

    __tablename__ = "port_security_groups"
    port_id: Mapped[str] = mapped_column(
        sa.ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True
    )
    security_group_id: Mapped[str] = mapped_column(
        sa.ForeignKey("securitygroups.id"), primary_key=True, index=True
    )


class Agent(Base):
    """A network agent of one host (Neutron ``agents``), kept alive by ``report_state``.

    ``agent_type`` is ``Linux bridge agent``, ``DHCP agent`` or ``L3 agent``; ``binary`` the
    matching ``neutron-*-agent`` name; ``configurations`` the agent's JSON report
    (``local_ip``, ``bridge_mappings``...). The API's ``alive`` is computed from
    ``heartbeat_timestamp`` against ``[network] agent_down_time``.
    """

    __tablename__ = "agents"
    __table_args__ = (sa.UniqueConstraint("agent_type", "host"),)
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    agent_type: Mapped[str] = mapped_column(sa.String(255))
    binary: Mapped[str] = mapped_column(sa.String(255))
    host: Mapped[str] = mapped_column(sa.String(255), index=True)
    topic: Mapped[str] = mapped_column(sa.String(255))
    availability_zone: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    admin_state_up: Mapped[bool] = mapped_column(default=True)
    configurations: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    started_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    heartbeat_timestamp: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)


class NetworkQuota(Base):
    """A project's limit on one network resource, overriding the default (Neutron ``quotas``).

    ``resource`` is one of Neutron's quota keys (``network``, ``subnet``, ``port``,
    ``router``, ``floatingip``, ``security_group``, ``security_group_rule``); ``limit`` -1
    means unlimited.
    """

    __tablename__ = "network_quotas"
    __table_args__ = (sa.UniqueConstraint("project_id", "resource"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    resource: Mapped[str] = mapped_column(sa.String(255))
    limit: Mapped[int]


class Router(TimestampMixin, Base):
    """A project's virtual router (Neutron ``routers``, with the ``ext-gw-mode`` attribute).

    Its ports are ordinary ``ports`` rows with ``device_id`` = the router's id and
    ``device_owner`` ``network:router_interface`` (one per attached subnet) or
    ``network:router_gateway`` (at most one, on ``gw_network_id``).
    """

    __tablename__ = "routers"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    name: Mapped[str] = mapped_column(sa.String(255), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    admin_state_up: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="ACTIVE")
    #: the external network of the gateway, None without one
    gw_network_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("networks.id"), index=True, default=None
    )
    #: SNAT of the internal networks to the gateway address (``enable_snat``)
    enable_snat: Mapped[bool] = mapped_column(default=True)
    revision_number: Mapped[int] = mapped_column(default=1)
    tags: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)


class RouterRoute(Base):
    """One extra route of a router (Neutron ``routerroutes``, the ``extraroute`` extension)."""

    __tablename__ = "routerroutes"
    router_id: Mapped[str] = mapped_column(
        sa.ForeignKey("routers.id", ondelete="CASCADE"), primary_key=True
    )
    destination: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    nexthop: Mapped[str] = mapped_column(sa.String(64), primary_key=True)


class FloatingIP(TimestampMixin, Base):
    """An address of an external network, optionally mapped to a fixed IP of a port
    (Neutron ``floatingips``). Its address is held by ``floating_port_id``, a port with
    ``device_owner`` ``network:floatingip``; ``router_id`` is the router that connects the
    fixed port's subnet to the external network while associated.

    One fixed IP of a port has at most one floating IP per external network (unique
    ``(floating_network_id, port_id, fixed_ip_address)``).
    """

    __tablename__ = "floatingips"
    __table_args__ = (sa.UniqueConstraint("floating_network_id", "port_id", "fixed_ip_address"),)
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    floating_network_id: Mapped[str] = mapped_column(sa.ForeignKey("networks.id"), index=True)
    floating_ip_address: Mapped[str] = mapped_column(sa.String(64))
    floating_port_id: Mapped[str] = mapped_column(
        sa.ForeignKey("ports.id", ondelete="CASCADE"), index=True
    )
    port_id: Mapped[str | None] = mapped_column(sa.ForeignKey("ports.id"), index=True, default=None)
    fixed_ip_address: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    router_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("routers.id"), index=True, default=None
    )
    status: Mapped[str] = mapped_column(sa.String(16), default="DOWN")
    revision_number: Mapped[int] = mapped_column(default=1)
    tags: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)


class NetworkRBAC(Base):
    """An RBAC policy on a network (Neutron ``networkrbacs``): project ``target_project``
    (or ``*``, every project) may use network ``object_id`` as ``action`` says
    (``access_as_shared``: see it and plug ports into it; ``access_as_external``: see it
    as an external network). ``project_id`` is the policy's owner, the network's project."""

    __tablename__ = "networkrbacs"
    __table_args__ = (sa.UniqueConstraint("action", "object_id", "target_project"),)
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    object_id: Mapped[str] = mapped_column(
        sa.ForeignKey("networks.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(sa.String(255))
    target_project: Mapped[str] = mapped_column(sa.String(255), index=True)


class AddressScope(Base):
    """An address scope (Neutron ``address_scopes``): subnet pools in one scope never
    overlap, and routers route between subnets of one scope without NAT."""

    __tablename__ = "address_scopes"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    name: Mapped[str] = mapped_column(sa.String(255), default="")
    ip_version: Mapped[int] = mapped_column(default=4)
    shared: Mapped[bool] = mapped_column(default=False)


class SubnetPool(TimestampMixin, Base):
    """A subnet pool (Neutron ``subnetpools``): ``prefixes`` (a JSON list of CIDRs) from
    which subnets get their CIDR, ``min_prefixlen`` <= a subnet's prefix length <=
    ``max_prefixlen`` (``default_prefixlen`` when the request names none)."""

    __tablename__ = "subnetpools"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    name: Mapped[str] = mapped_column(sa.String(255), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    ip_version: Mapped[int] = mapped_column(default=4)
    default_prefixlen: Mapped[int] = mapped_column(default=8)
    min_prefixlen: Mapped[int] = mapped_column(default=8)
    max_prefixlen: Mapped[int] = mapped_column(default=32)
    shared: Mapped[bool] = mapped_column(default=False)
    is_default: Mapped[bool] = mapped_column(default=False)
    default_quota: Mapped[int | None] = mapped_column(default=None)
    address_scope_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("address_scopes.id"), index=True, default=None
    )
    prefixes: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    revision_number: Mapped[int] = mapped_column(default=1)
    tags: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
