"""Block storage tables (docs/block-storage.md, "Data model"; migration ``0008``).

Cinder's table and column names where it has them. Volumes, snapshots and backups are
soft-deleted (``deleted`` true, ``deleted_at`` set) as Cinder's are, so a result cast from an
agent about a deleted row still finds it; every listing filters ``deleted`` out.

- ``volumes.host`` is Cinder's ``<host>@<backend>#<pool>`` (``node1@file#file``); the agent
  of a volume is the part before ``@`` (``states.agent_host``).
- ``volume_attachments`` keeps one row per attachment, with its ``connection_info`` (the
  export's CHAP secret included: never rendered to a non-admin caller).
- ``volume_services`` has one row per ``(host, binary)``: ``cinder-scheduler`` (the
  controller), ``cinder-volume`` (``host`` is ``<host>@<backend>``, capabilities from the
  last ``report_state``), ``cinder-backup``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pocketstack.common.db import Base, TimestampMixin, new_id


class SoftDeleteMixin:
    """Cinder's soft delete: ``deleted`` and ``deleted_at``."""

    deleted: Mapped[bool] = mapped_column(default=False, index=True)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, default=None)


class Volume(TimestampMixin, SoftDeleteMixin, Base):
    """A block device of ``size`` GiB on one backend host."""

    __tablename__ = "volumes"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    user_id: Mapped[str] = mapped_column(sa.String(64), default="")
    name: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)
    size: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(sa.String(32), default="creating")
    attach_status: Mapped[str] = mapped_column(sa.String(32), default="detached")
    availability_zone: Mapped[str] = mapped_column(sa.String(255), default="nova")
    host: Mapped[str | None] = mapped_column(sa.String(255), default=None, index=True)
    volume_type_id: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    snapshot_id: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    source_volid: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    image_id: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    bootable: Mapped[bool] = mapped_column(default=False)
    multiattach: Mapped[bool] = mapped_column(default=False)
    encrypted: Mapped[bool] = mapped_column(default=False)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", sa.JSON, default=dict)
    image_metadata: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    provider_location: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    migration_status: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    #: the status before an operation that returns to it (backing-up, uploading)
    previous_status: Mapped[str | None] = mapped_column(sa.String(32), default=None)
    #: the size before an extend (recovery puts it back when the extend is lost)
    previous_size: Mapped[int | None] = mapped_column(default=None)
    #: why the volume went to error (NoValidBackend, the agent's fault)
    fault: Mapped[str | None] = mapped_column(sa.Text, default=None)


class VolumeType(TimestampMixin, Base):
    """A volume type: a name, extra specs (``volume_backend_name``...) and its access."""

    __tablename__ = "volume_types"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(sa.String(255), unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)
    is_public: Mapped[bool] = mapped_column(default=True)
    extra_specs: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    #: the projects a private type is shared with (``os-volume-type-access``)
    projects: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)


class Snapshot(TimestampMixin, SoftDeleteMixin, Base):
    """A point-in-time copy of a volume, kept on the volume's backend."""

    __tablename__ = "snapshots"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    volume_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    project_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    user_id: Mapped[str] = mapped_column(sa.String(64), default="")
    name: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)
    size: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(sa.String(32), default="creating")
    progress: Mapped[str] = mapped_column(sa.String(16), default="0%")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", sa.JSON, default=dict)


class VolumeAttachment(TimestampMixin, Base):
    """One attachment of a volume to a server (Cinder's attachments API, 3.27+)."""

    __tablename__ = "volume_attachments"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    volume_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    instance_uuid: Mapped[str | None] = mapped_column(sa.String(36), default=None, index=True)
    attached_host: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    mountpoint: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    attach_mode: Mapped[str] = mapped_column(sa.String(8), default="rw")
    attach_status: Mapped[str] = mapped_column(sa.String(16), default="reserved")
    attach_time: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, default=None)
    connection_info: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, default=None)
    connector: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, default=None)


class Backup(TimestampMixin, SoftDeleteMixin, Base):
    """A backup of a volume in a backup store (written by the backups family, V4)."""

    __tablename__ = "backups"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    volume_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    snapshot_id: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    project_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    user_id: Mapped[str] = mapped_column(sa.String(64), default="")
    name: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)
    size: Mapped[int] = mapped_column(default=0)
    object_count: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(sa.String(32), default="creating")
    fail_reason: Mapped[str | None] = mapped_column(sa.Text, default=None)
    is_incremental: Mapped[bool] = mapped_column(default=False)
    has_dependent_backups: Mapped[bool] = mapped_column(default=False)
    parent_id: Mapped[str | None] = mapped_column(sa.String(36), default=None)
    container: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    service_metadata: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    availability_zone: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    host: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    data_timestamp: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", sa.JSON, default=dict)


class VolumeQuota(Base):
    """A project's limit of one resource (``volumes``, ``gigabytes``...); absent: default."""

    __tablename__ = "volume_quotas"
    __table_args__ = (sa.UniqueConstraint("project_id", "resource"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    resource: Mapped[str] = mapped_column(sa.String(255))
    hard_limit: Mapped[int] = mapped_column()


class VolumeService(Base):
    """One block storage service row (``openstack volume service list``)."""

    __tablename__ = "volume_services"
    __table_args__ = (sa.UniqueConstraint("host", "binary"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    host: Mapped[str] = mapped_column(sa.String(255))
    binary: Mapped[str] = mapped_column(sa.String(64))
    availability_zone: Mapped[str] = mapped_column(sa.String(255), default="nova")
    backend: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    capabilities: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    disabled: Mapped[bool] = mapped_column(default=False)
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)
