"""Compute tables: flavors, keypairs, instances and their actions, services, compute nodes.

Resource usage of hosts is kept as counters on ``compute_nodes`` changed by conditional
``UPDATE`` (atomic claims, see ``pocketstack.compute.scheduler``) with one ``allocations`` row
per instance so that a release is idempotent; the agent's periodic task recomputes the
counters from the allocations (Nova's resource tracker does the same).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pocketstack.common.db import Base, TimestampMixin, new_id, utcnow


class Flavor(TimestampMixin, Base):
    """A hardware template (Nova ``flavors``); ``flavorid`` is the API id."""

    __tablename__ = "flavors"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    flavorid: Mapped[str] = mapped_column(sa.String(255), unique=True)
    name: Mapped[str] = mapped_column(sa.String(255), unique=True)
    vcpus: Mapped[int]
    memory_mb: Mapped[int]
    root_gb: Mapped[int] = mapped_column(default=0)
    ephemeral_gb: Mapped[int] = mapped_column(default=0)
    swap: Mapped[int] = mapped_column(default=0)
    rxtx_factor: Mapped[float] = mapped_column(default=1.0)
    is_public: Mapped[bool] = mapped_column(default=True)
    disabled: Mapped[bool] = mapped_column(default=False)
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)
    extra_specs: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    #: project ids allowed to use a private flavor
    projects: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)


class KeyPair(TimestampMixin, Base):
    """An SSH public key of a user (Nova keypairs are per user, not per project)."""

    __tablename__ = "key_pairs"
    __table_args__ = (sa.UniqueConstraint("user_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    user_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    fingerprint: Mapped[str] = mapped_column(sa.String(255))
    public_key: Mapped[str] = mapped_column(sa.Text)
    type: Mapped[str] = mapped_column(sa.String(16), default="ssh")


class Instance(TimestampMixin, Base):
    """A server. ``vm_state``/``task_state``/``power_state`` as in Nova (see ``states``)."""

    __tablename__ = "instances"
    uuid: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(sa.String(255))
    hostname: Mapped[str] = mapped_column(sa.String(255))
    project_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    user_id: Mapped[str] = mapped_column(sa.String(64))
    image_ref: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    flavor: Mapped[dict[str, Any]] = mapped_column(sa.JSON)  # snapshot of the flavor at boot
    #: the API id of the flavor at boot (the ``flavor`` list filter)
    flavor_id: Mapped[str | None] = mapped_column(sa.String(255), default=None, index=True)
    vcpus: Mapped[int]
    memory_mb: Mapped[int]
    root_gb: Mapped[int]
    ephemeral_gb: Mapped[int] = mapped_column(default=0)
    vm_state: Mapped[str] = mapped_column(sa.String(32), index=True)
    task_state: Mapped[str | None] = mapped_column(sa.String(32), default=None)
    power_state: Mapped[int] = mapped_column(default=0)
    host: Mapped[str | None] = mapped_column(sa.String(255), default=None, index=True)
    node: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    availability_zone: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    requested_availability_zone: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    key_name: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    key_data: Mapped[str | None] = mapped_column(sa.Text, default=None)
    user_data: Mapped[str | None] = mapped_column(sa.Text, default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", sa.JSON, default=dict)
    security_groups: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    #: networks/ports asked for at create: [{"uuid"|"port"|"fixed_ip": ...}]
    requested_networks: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    #: the network_info list from the network service (see drivers.base InstanceSpec)
    network_info: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    #: the InstanceSpec built at boot (without the token), reused by power actions and reboots
    spec: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, default=None)
    config_drive: Mapped[bool] = mapped_column(default=True)
    launch_index: Mapped[int] = mapped_column(default=0)
    reservation_id: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    access_ip_v4: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    access_ip_v6: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    launched_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, default=None)
    terminated_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, default=None)
    deleted: Mapped[bool] = mapped_column(default=False, index=True)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, default=None)
    locked: Mapped[bool] = mapped_column(default=False)
    #: who locked it (Nova's ``locked_by``): ``owner`` (its project) or ``admin``
    locked_by: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    #: why, as given to ``lock`` (microversion 2.73)
    locked_reason: Mapped[str | None] = mapped_column(sa.Text, default=None)
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)
    #: the controller (``ControllerService.id``) running this server's build steps: set by
    #: the API that records it, taken by the conductor that builds it (``conductor``)
    controller_id: Mapped[str | None] = mapped_column(sa.String(255), default=None, index=True)


class InstanceFault(Base):
    """The last error of a server (the API's ``fault``: code, message, details, created)."""

    __tablename__ = "instance_faults"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    instance_uuid: Mapped[str] = mapped_column(sa.String(36), index=True)
    code: Mapped[int] = mapped_column(default=500)
    message: Mapped[str] = mapped_column(sa.Text)
    details: Mapped[str | None] = mapped_column(sa.Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)


class InstanceAction(Base):
    """One user request on a server (``create``, ``stop``...), keyed by its request id."""

    __tablename__ = "instance_actions"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(sa.String(255))
    instance_uuid: Mapped[str] = mapped_column(sa.String(36), index=True)
    request_id: Mapped[str] = mapped_column(sa.String(255), index=True)
    user_id: Mapped[str | None] = mapped_column(sa.String(64))
    project_id: Mapped[str | None] = mapped_column(sa.String(64))
    start_time: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    finish_time: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, default=None)
    message: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    updated_at: Mapped[dt.datetime | None] = mapped_column(
        sa.DateTime, default=utcnow, onupdate=utcnow
    )


class InstanceActionEvent(Base):
    """One workflow step of an action (``compute_schedule_instances``...): times, result."""

    __tablename__ = "instance_action_events"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(
        sa.ForeignKey("instance_actions.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(sa.String(255))
    start_time: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    finish_time: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, default=None)
    result: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    traceback: Mapped[str | None] = mapped_column(sa.Text, default=None)
    host: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    details: Mapped[str | None] = mapped_column(sa.Text, default=None)


class Service(TimestampMixin, Base):
    """A running binary on a host (``nova-compute`` on ``node1``) with its heartbeat."""

    __tablename__ = "services"
    __table_args__ = (sa.UniqueConstraint("host", "binary"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), default=new_id, unique=True)
    host: Mapped[str] = mapped_column(sa.String(255))
    binary: Mapped[str] = mapped_column(sa.String(255))
    topic: Mapped[str] = mapped_column(sa.String(255))
    availability_zone: Mapped[str] = mapped_column(sa.String(255), default="nova")
    disabled: Mapped[bool] = mapped_column(default=False)
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    forced_down: Mapped[bool] = mapped_column(default=False)
    last_seen_up: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, default=None)
    report_count: Mapped[int] = mapped_column(default=0)


class ControllerService(Base):
    """A controller (``pocketstack controller`` or ``up``) with its heartbeat.

    ``id`` names the controller, ``<hostname>:<port>``, the same across its restarts; builds
    record it (``Instance.controller_id``) so that only builds of a dead controller are
    recovered (``pocketstack.compute.controllers``).
    """

    __tablename__ = "controllers"
    id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    last_seen_up: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, default=None)
    report_count: Mapped[int] = mapped_column(default=0)


class ComputeNode(TimestampMixin, Base):
    """The resources of one hypervisor and what is claimed of them."""

    __tablename__ = "compute_nodes"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), default=new_id, unique=True)
    host: Mapped[str] = mapped_column(sa.String(255), unique=True)
    hypervisor_hostname: Mapped[str] = mapped_column(sa.String(255))
    hypervisor_type: Mapped[str] = mapped_column(sa.String(64))
    hypervisor_version: Mapped[int] = mapped_column(default=0)
    host_ip: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    cpu_info: Mapped[str | None] = mapped_column(sa.Text, default=None)
    vcpus: Mapped[int]
    memory_mb: Mapped[int]
    local_gb: Mapped[int]
    vcpus_used: Mapped[int] = mapped_column(default=0)
    memory_mb_used: Mapped[int] = mapped_column(default=0)
    local_gb_used: Mapped[int] = mapped_column(default=0)
    running_vms: Mapped[int] = mapped_column(default=0)
    cpu_allocation_ratio: Mapped[float] = mapped_column(default=4.0)
    ram_allocation_ratio: Mapped[float] = mapped_column(default=1.5)
    disk_allocation_ratio: Mapped[float] = mapped_column(default=1.0)
    reserved_host_memory_mb: Mapped[int] = mapped_column(default=512)
    #: the host's instances directory and whether other hosts share it (migration 0018,
    #: ``compute.instance_storage``)
    instances_path: Mapped[str | None] = mapped_column(sa.String(1024), default=None)
    instances_shared_storage: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class Allocation(Base):
    """What one instance has claimed on a compute node; deleting it releases the claim."""

    __tablename__ = "allocations"
    instance_uuid: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    host: Mapped[str] = mapped_column(sa.String(255), index=True)
    vcpus: Mapped[int]
    memory_mb: Mapped[int]
    disk_gb: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)


class Quota(Base):
    """A per-project limit overriding the default (``instances``, ``cores``, ``ram``...)."""

    __tablename__ = "quotas"
    __table_args__ = (sa.UniqueConstraint("project_id", "resource"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(sa.String(64))
    resource: Mapped[str] = mapped_column(sa.String(255))
    hard_limit: Mapped[int]


class BlockDeviceMapping(Base):
    """A volume (or local disk) of a server, as Nova's ``block_device_mapping`` rows
    (docs/block-storage.md "Nova's side"; Nova's ``objects.BlockDeviceMapping``).

    ``source_type``: ``image``/``volume``/``snapshot``/``blank``; ``destination_type``:
    ``volume`` (a Cinder volume, ``volume_id`` and ``attachment_id`` set once attached) or
    ``local``; ``boot_index`` 0 is the boot disk, None (or -1 in a request) not bootable;
    ``connection_info`` the volume API's (``driver_volume_type`` + ``data``, CHAP secret
    included: never rendered by the API). Soft-deleted (``deleted``) when detached or when
    the server goes.
    """

    __tablename__ = "block_device_mappings"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    instance_uuid: Mapped[str] = mapped_column(sa.String(36), index=True)
    source_type: Mapped[str] = mapped_column(sa.String(32))
    destination_type: Mapped[str] = mapped_column(sa.String(32))
    boot_index: Mapped[int | None] = mapped_column(default=None)
    device_name: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    volume_id: Mapped[str | None] = mapped_column(sa.String(36), default=None, index=True)
    attachment_id: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    snapshot_id: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    image_id: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    volume_size: Mapped[int | None] = mapped_column(default=None)
    guest_format: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    disk_bus: Mapped[str] = mapped_column(sa.String(32), default="virtio")
    delete_on_termination: Mapped[bool] = mapped_column(default=False)
    connection_info: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, default=None)
    tag: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(
        sa.DateTime, default=utcnow, onupdate=utcnow
    )
    deleted: Mapped[bool] = mapped_column(default=False, index=True)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, default=None)


class InstanceGroup(TimestampMixin, Base):
    """A server group (Nova ``instance_groups``): one ``policy`` of ``affinity``,
    ``anti-affinity``, ``soft-affinity``, ``soft-anti-affinity``; ``rules``
    ``{"max_server_per_host": n}`` (anti-affinity only, microversion 2.64)."""

    __tablename__ = "instance_groups"
    uuid: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(sa.String(255))
    project_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    user_id: Mapped[str] = mapped_column(sa.String(64))
    policy: Mapped[str] = mapped_column(sa.String(32))
    rules: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class InstanceGroupMember(Base):
    """A server in a server group (``--hint group=<uuid>`` at create); one group a server."""

    __tablename__ = "instance_group_members"
    instance_uuid: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    group_uuid: Mapped[str] = mapped_column(
        sa.ForeignKey("instance_groups.uuid", ondelete="CASCADE"), index=True
    )


class Aggregate(TimestampMixin, Base):
    """A host aggregate (Nova ``aggregates``): a name, an optional availability zone (kept
    as the ``availability_zone`` metadata key, as Nova does) and free metadata."""

    __tablename__ = "aggregates"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=new_id)
    name: Mapped[str] = mapped_column(sa.String(255), unique=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", sa.JSON, default=dict)


class AggregateHost(Base):
    """A compute host in an aggregate (Nova ``aggregate_hosts``)."""

    __tablename__ = "aggregate_hosts"
    aggregate_id: Mapped[int] = mapped_column(
        sa.ForeignKey("aggregates.id", ondelete="CASCADE"), primary_key=True
    )
    host: Mapped[str] = mapped_column(sa.String(255), primary_key=True)


class InstanceTag(Base):
    """A tag of a server (Nova ``tags``, microversion 2.26): a string of 1..60 characters
    without ``/`` or ``,``; at most 50 per server (``compute.tags``)."""

    __tablename__ = "instance_tags"
    instance_uuid: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    tag: Mapped[str] = mapped_column(sa.String(60), primary_key=True, index=True)


class Migration(TimestampMixin, Base):
    """A move of a server between hosts (Nova ``migrations``): resize, cold migration, live
    migration or evacuation; ``compute.migrations`` creates and reads them.

    ``id`` is the API's integer id (``/servers/{id}/migrations/{id}``), ``uuid`` the 2.59 one,
    also the Placement consumer of the destination's claim while the move is in progress.
    ``migration_type``: ``migration``/``resize``/``live-migration``/``evacuation``;
    ``status`` (Nova's): ``pre-migrating``, ``migrating``, ``post-migrating``, ``finished``
    (awaiting confirm), ``confirming``, ``confirmed``, ``reverting``, ``reverted``,
    ``running``/``preparing``/``queued`` (live), ``completed``, ``done`` (evacuation),
    ``error``, ``failed``, ``cancelled``. ``old_instance_type_id``/``new_instance_type_id``
    are ``flavors.id``; ``old_flavor``/``new_flavor`` the instance's flavor snapshots
    (Nova keeps those on ``instance_extra``). Memory and disk progress in bytes (live).
    """

    __tablename__ = "migrations"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=new_id)
    instance_uuid: Mapped[str] = mapped_column(sa.String(36), index=True)
    source_compute: Mapped[str | None] = mapped_column(sa.String(255), default=None, index=True)
    source_node: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    dest_compute: Mapped[str | None] = mapped_column(sa.String(255), default=None, index=True)
    dest_node: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    dest_host: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    old_instance_type_id: Mapped[int | None] = mapped_column(default=None)
    new_instance_type_id: Mapped[int | None] = mapped_column(default=None)
    old_flavor: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, default=None)
    new_flavor: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, default=None)
    status: Mapped[str] = mapped_column(sa.String(32), index=True)
    migration_type: Mapped[str] = mapped_column(sa.String(32), index=True)
    hidden: Mapped[bool] = mapped_column(default=False)
    memory_total: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    memory_processed: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    memory_remaining: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    disk_total: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    disk_processed: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    disk_remaining: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    project_id: Mapped[str | None] = mapped_column(sa.String(64), default=None, index=True)
    user_id: Mapped[str | None] = mapped_column(sa.String(64), default=None, index=True)


class ConsoleAuthToken(Base):
    """A console URL's one-time token (Nova's ``console_auth_tokens``), kept only as its
    SHA-256 so every controller's proxy can redeem it and a restart keeps it
    (``compute.consoles``). ``console_type`` is Nova's (``novnc``, ``serial``); ``connect``
    where the proxy reaches the console (``{"unix": path}`` on ``host``); ``expires`` a Unix
    time in seconds."""

    __tablename__ = "console_auth_tokens"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(sa.String(255), unique=True)
    console_type: Mapped[str] = mapped_column(sa.String(255))
    instance_uuid: Mapped[str] = mapped_column(sa.String(36), index=True)
    host: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    connect: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    expires: Mapped[float] = mapped_column(sa.Float, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
