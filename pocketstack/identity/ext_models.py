"""Identity tables of the catalog and configuration extensions (alembic 0019): policy
blobs (Identity API v3 "Policies"), OS-EP-FILTER's project-endpoint associations and
endpoint groups, and domain-specific configuration ("Domain configuration").

Kept apart from ``models.py`` so the base identity tables stay readable; registered in
``common/db.py``'s model list like every service's ``models``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pocketstack.common.db import Base, TimestampMixin
from pocketstack.identity.models import _hex_id


class Policy(TimestampMixin, Base):
    """A policy blob Keystone stores for other services (``type`` is its MIME type)."""

    __tablename__ = "identity_policies"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, default=_hex_id)
    type: Mapped[str] = mapped_column(sa.String(255))
    blob: Mapped[str] = mapped_column(sa.Text)
    extra: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class ProjectEndpoint(Base):
    """OS-EP-FILTER: an endpoint associated with a project directly."""

    __tablename__ = "identity_project_endpoints"
    endpoint_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_endpoints.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_projects.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class EndpointGroup(Base):
    """OS-EP-FILTER: the endpoints matching ``filters`` (``interface``, ``service_id``,
    ``region_id``)."""

    __tablename__ = "identity_endpoint_groups"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, default=_hex_id)
    name: Mapped[str] = mapped_column(sa.String(255))
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)
    filters: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class ProjectEndpointGroup(Base):
    """OS-EP-FILTER: an endpoint group associated with a project."""

    __tablename__ = "identity_project_endpoint_groups"
    endpoint_group_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_endpoint_groups.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_projects.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class DomainConfig(Base):
    """One option of a domain's configuration (``group`` ``identity`` or ``ldap``); the
    value is JSON. ``sensitive`` options (passwords) are never returned by the API."""

    __tablename__ = "identity_domain_configs"
    domain_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_domains.id", ondelete="CASCADE"), primary_key=True
    )
    group: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    option: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    value: Mapped[Any] = mapped_column(sa.JSON)
    sensitive: Mapped[bool] = mapped_column(default=False)


class RegisteredLimit(Base):
    """Unified limits: the default limit of a service's resource (in a region)."""

    __tablename__ = "identity_registered_limits"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, default=_hex_id)
    service_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_services.id", ondelete="CASCADE"), index=True
    )
    region_id: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    resource_name: Mapped[str] = mapped_column(sa.String(255))
    default_limit: Mapped[int] = mapped_column(sa.Integer)
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)


class Limit(Base):
    """Unified limits: a project's (or domain's) limit overriding a registered limit."""

    __tablename__ = "identity_limits"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, default=_hex_id)
    registered_limit_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_registered_limits.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[str | None] = mapped_column(sa.String(64), index=True, default=None)
    domain_id: Mapped[str | None] = mapped_column(sa.String(64), index=True, default=None)
    resource_limit: Mapped[int] = mapped_column(sa.Integer)
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)
