"""Network tables: networks, subnets, ports, IP allocations, security groups and rules.

Following Neutron's schema in spirit:

- ``ipallocations`` has one row per address in use, primary key ``(subnet_id, ip_address)``,
  so two concurrent allocations of one address cannot both commit (see ``ipam``).
- ``networks.segmentation_id`` (the VXLAN VNI) and ``ports (network_id, mac_address)`` are
  unique for the same reason.
- ``default_security_groups`` maps a project to its default group, one row per project, so
  two requests that create it at once end with one group.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pocketstack.common.db import Base, TimestampMixin, new_id


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
    segmentation_id: Mapped[int] = mapped_column(unique=True)
    port_security_enabled: Mapped[bool] = mapped_column(default=True)
    revision_number: Mapped[int] = mapped_column(default=1)
    tags: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)


class Subnet(TimestampMixin, Base):
    """An IPv4 subnet of a network with its allocation pools (``[{"start", "end"}]``)."""

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
