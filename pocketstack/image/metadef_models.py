"""Image tables of the metadata definitions catalog (alembic 0023): Glance's
``metadef_namespaces``, ``metadef_resource_types``, ``metadef_namespace_resource_types``,
``metadef_objects``, ``metadef_properties`` and ``metadef_tags``.

A namespace is named by its ``namespace`` string (``OS::Compute::Quota``); its objects,
properties and tags are unique by name inside it and go with it when it is deleted.
Registered in ``common/db.py``'s model list like every service's ``models``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pocketstack.common.db import Base, TimestampMixin

_NS_FK = "image_metadef_namespaces.id"


class MetadefNamespace(TimestampMixin, Base):
    """A namespace of definitions; ``visibility`` public or private, ``owner`` a project id
    (a private namespace is seen by its owner project and admins only)."""

    __tablename__ = "image_metadef_namespaces"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    namespace: Mapped[str] = mapped_column(sa.String(80), unique=True)
    display_name: Mapped[str | None] = mapped_column(sa.String(80), default=None)
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)
    visibility: Mapped[str] = mapped_column(sa.String(32), default="private")
    protected: Mapped[bool] = mapped_column(default=False)
    owner: Mapped[str | None] = mapped_column(sa.String(255), default=None, index=True)


class MetadefResourceType(TimestampMixin, Base):
    """A kind of resource definitions apply to (``OS::Glance::Image``, ``OS::Nova::Flavor``...);
    ``protected`` ones are the standard types seeded by the migration."""

    __tablename__ = "image_metadef_resource_types"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    protected: Mapped[bool] = mapped_column(default=False)


class MetadefResourceTypeAssociation(TimestampMixin, Base):
    """A namespace applies to a resource type, its properties named with ``prefix`` and set
    on the type's ``properties_target`` (e.g. ``image`` of a volume)."""

    __tablename__ = "image_metadef_resource_type_associations"
    __table_args__ = (sa.UniqueConstraint("namespace_id", "resource_type_id"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    namespace_id: Mapped[int] = mapped_column(sa.ForeignKey(_NS_FK, ondelete="CASCADE"), index=True)
    resource_type_id: Mapped[int] = mapped_column(
        sa.ForeignKey("image_metadef_resource_types.id"), index=True
    )
    prefix: Mapped[str | None] = mapped_column(sa.String(80), default=None)
    properties_target: Mapped[str | None] = mapped_column(sa.String(80), default=None)


class MetadefObject(TimestampMixin, Base):
    """A named group of property definitions (``properties``: name -> JSON schema of the
    property) with the names among them that are ``required``."""

    __tablename__ = "image_metadef_objects"
    __table_args__ = (sa.UniqueConstraint("namespace_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    namespace_id: Mapped[int] = mapped_column(sa.ForeignKey(_NS_FK, ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)
    required: Mapped[list[Any] | None] = mapped_column(sa.JSON, default=None)
    properties: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, default=None)


class MetadefProperty(TimestampMixin, Base):
    """One property definition of a namespace: its JSON schema (``title``, ``type``,
    ``enum``, ``minimum``...; Glance's ``PropertyType``) without the name."""

    __tablename__ = "image_metadef_properties"
    __table_args__ = (sa.UniqueConstraint("namespace_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    namespace_id: Mapped[int] = mapped_column(sa.ForeignKey(_NS_FK, ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    json_schema: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class MetadefTag(TimestampMixin, Base):
    """A tag name a namespace offers for resources."""

    __tablename__ = "image_metadef_tags"
    __table_args__ = (sa.UniqueConstraint("namespace_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    namespace_id: Mapped[int] = mapped_column(sa.ForeignKey(_NS_FK, ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(255))
