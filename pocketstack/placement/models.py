"""Placement tables (docs/placement.md; migration ``0010``).

Placement's own tables, prefixed ``placement_`` (compute already has ``allocations``):

- ``placement_resource_providers``: a provider (a compute host, a nested NUMA node, a
  shared storage pool) with its ``generation``, bumped on every change of its inventory,
  traits, aggregates or allocations; ``parent_provider_id``/``root_provider_id`` make trees.
- ``placement_inventories``: one row per (provider, resource class): ``total``,
  ``reserved``, ``min_unit``, ``max_unit``, ``step_size``, ``allocation_ratio``. Capacity is
  ``(total - reserved) * allocation_ratio``.
- ``placement_allocations``: what one consumer uses of one class on one provider.
- ``placement_consumers``: a consumer's project, user, type and ``generation``.
- ``placement_resource_classes`` / ``placement_traits``: the custom (``CUSTOM_*``) names;
  the standard ones come from ``os-resource-classes`` and ``os-traits``, never stored.
- ``placement_provider_traits`` / ``placement_provider_aggregates``: a provider's traits
  (by name) and aggregate UUIDs.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pocketstack.common.db import Base, TimestampMixin

_RP_FK = "placement_resource_providers.id"


class ResourceProvider(TimestampMixin, Base):
    """A source of resources; ``generation`` guards every change against lost updates."""

    __tablename__ = "placement_resource_providers"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    generation: Mapped[int] = mapped_column(default=0)
    parent_provider_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey(_RP_FK), default=None, index=True
    )
    root_provider_id: Mapped[int | None] = mapped_column(default=None, index=True)


class Inventory(Base):
    """How much of one resource class a provider has."""

    __tablename__ = "placement_inventories"
    __table_args__ = (sa.UniqueConstraint("resource_provider_id", "resource_class"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    resource_provider_id: Mapped[int] = mapped_column(
        sa.ForeignKey(_RP_FK, ondelete="CASCADE"), index=True
    )
    resource_class: Mapped[str] = mapped_column(sa.String(255), index=True)
    total: Mapped[int] = mapped_column(sa.BigInteger)
    reserved: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    min_unit: Mapped[int] = mapped_column(sa.BigInteger, default=1)
    max_unit: Mapped[int] = mapped_column(sa.BigInteger)
    step_size: Mapped[int] = mapped_column(sa.BigInteger, default=1)
    allocation_ratio: Mapped[float] = mapped_column(sa.Float, default=1.0)


class Allocation(Base):
    """``used`` units of one class on one provider, held by one consumer."""

    __tablename__ = "placement_allocations"
    __table_args__ = (
        sa.Index("ix_placement_allocations_rp_rc", "resource_provider_id", "resource_class"),
    )
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    resource_provider_id: Mapped[int] = mapped_column(sa.ForeignKey(_RP_FK))
    consumer_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    resource_class: Mapped[str] = mapped_column(sa.String(255))
    used: Mapped[int] = mapped_column(sa.BigInteger)


class Consumer(TimestampMixin, Base):
    """The owner of a set of allocations (a server, a migration)."""

    __tablename__ = "placement_consumers"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True)
    project_id: Mapped[str] = mapped_column(sa.String(255), index=True)
    user_id: Mapped[str] = mapped_column(sa.String(255), index=True)
    consumer_type: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    generation: Mapped[int] = mapped_column(default=0)


class ResourceClass(TimestampMixin, Base):
    """A custom resource class (``CUSTOM_*``)."""

    __tablename__ = "placement_resource_classes"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(255), unique=True)


class Trait(TimestampMixin, Base):
    """A custom trait (``CUSTOM_*``)."""

    __tablename__ = "placement_traits"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(255), unique=True)


class ProviderTrait(Base):
    """A provider has a trait (standard or custom, by name)."""

    __tablename__ = "placement_provider_traits"
    resource_provider_id: Mapped[int] = mapped_column(
        sa.ForeignKey(_RP_FK, ondelete="CASCADE"), primary_key=True
    )
    trait: Mapped[str] = mapped_column(sa.String(255), primary_key=True, index=True)


class ProviderAggregate(Base):
    """A provider is a member of an aggregate (a UUID; aggregates have no table)."""

    __tablename__ = "placement_provider_aggregates"
    resource_provider_id: Mapped[int] = mapped_column(
        sa.ForeignKey(_RP_FK, ondelete="CASCADE"), primary_key=True
    )
    aggregate_uuid: Mapped[str] = mapped_column(sa.String(36), primary_key=True, index=True)
