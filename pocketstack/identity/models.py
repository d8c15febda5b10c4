"""Identity tables: domains, projects, users, groups, roles, assignments, catalog,
application credentials and token revocation events (Keystone v3's data model, trimmed).

Secrets (user passwords, application credential secrets) are stored only as bcrypt hashes.
Role assignments live in one table with an ``actor`` (user or group) and a ``target``
(project or domain), as Keystone's ``assignment`` table does.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pocketstack.common.db import Base, TimestampMixin, new_id, utcnow


def _hex_id() -> str:
    """Keystone-style resource id: 32 hex characters (a UUID4 without hyphens)."""
    return new_id().replace("-", "")


class Domain(TimestampMixin, Base):
    """A namespace of projects, users and groups (``default`` is made by bootstrap)."""

    __tablename__ = "identity_domains"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, default=_hex_id)
    name: Mapped[str] = mapped_column(sa.String(255), unique=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    enabled: Mapped[bool] = mapped_column(default=True)


class Project(TimestampMixin, Base):
    """A tenant; ``parent_id`` is its parent project, or None directly under its domain
    (Keystone's project hierarchy; the API shows the domain's id as the parent then)."""

    __tablename__ = "identity_projects"
    __table_args__ = (sa.UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, default=_hex_id)
    name: Mapped[str] = mapped_column(sa.String(255))
    domain_id: Mapped[str] = mapped_column(sa.ForeignKey("identity_domains.id"), index=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    tags: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    parent_id: Mapped[str | None] = mapped_column(sa.String(64), default=None, index=True)


class User(TimestampMixin, Base):
    """A person or service account; ``password_hash`` is bcrypt (never returned).

    ``failed_auth_count`` counts failed logins in a row and ``failed_auth_at`` is the last
    one (Keystone's lockout columns): the user is locked out when the count reaches
    ``lockout_failure_attempts`` until ``lockout_duration`` seconds after that time.
    """

    __tablename__ = "identity_users"
    __table_args__ = (sa.UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, default=_hex_id)
    name: Mapped[str] = mapped_column(sa.String(255))
    domain_id: Mapped[str] = mapped_column(sa.ForeignKey("identity_domains.id"), index=True)
    password_hash: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    enabled: Mapped[bool] = mapped_column(default=True)
    default_project_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)
    email: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    failed_auth_count: Mapped[int] = mapped_column(default=0, server_default=sa.text("0"))
    failed_auth_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, default=None)


class Group(TimestampMixin, Base):
    """A set of users; roles assigned to a group apply to its members."""

    __tablename__ = "identity_groups"
    __table_args__ = (sa.UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, default=_hex_id)
    name: Mapped[str] = mapped_column(sa.String(255))
    domain_id: Mapped[str] = mapped_column(sa.ForeignKey("identity_domains.id"), index=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")


class GroupMembership(Base):
    """User ``user_id`` is a member of group ``group_id``."""

    __tablename__ = "identity_group_members"
    group_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Role(TimestampMixin, Base):
    """A global role (``admin``, ``member``, ``reader``...)."""

    __tablename__ = "identity_roles"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, default=_hex_id)
    name: Mapped[str] = mapped_column(sa.String(255), unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)


class ImpliedRole(Base):
    """Holding ``prior_role_id`` also grants ``implied_role_id`` (e.g. admin => member)."""

    __tablename__ = "identity_implied_roles"
    prior_role_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_roles.id", ondelete="CASCADE"), primary_key=True
    )
    implied_role_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_roles.id", ondelete="CASCADE"), primary_key=True
    )


class RoleAssignment(Base):
    """``actor_id`` (a user or group, per ``actor_type``) holds ``role_id`` on a target
    (a project or domain, per ``target_type``)."""

    __tablename__ = "identity_role_assignments"
    actor_type: Mapped[str] = mapped_column(sa.String(8), primary_key=True)  # user|group
    actor_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, index=True)
    target_type: Mapped[str] = mapped_column(sa.String(8), primary_key=True)  # project|domain
    target_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, index=True)
    role_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_roles.id", ondelete="CASCADE"), primary_key=True
    )


class InheritedRoleAssignment(Base):
    """OS-INHERIT: ``actor_id`` holds ``role_id`` on every project below a target (a
    domain: all its projects; a project: its whole subtree, not the project itself), as
    Keystone's ``assignment`` rows with ``inherited`` true. A table of its own, so that a
    direct grant and an inherited one of the same role on the same target both exist and
    no query of direct assignments ever sees an inherited one."""

    __tablename__ = "identity_inherited_role_assignments"
    actor_type: Mapped[str] = mapped_column(sa.String(8), primary_key=True)  # user|group
    actor_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, index=True)
    target_type: Mapped[str] = mapped_column(sa.String(8), primary_key=True)  # project|domain
    target_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, index=True)
    role_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_roles.id", ondelete="CASCADE"), primary_key=True
    )


class Region(TimestampMixin, Base):
    """A catalog region (``RegionOne``)."""

    __tablename__ = "identity_regions"
    id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    parent_region_id: Mapped[str | None] = mapped_column(sa.String(255), default=None)


class Service(TimestampMixin, Base):
    """A catalog service (type ``compute``, name ``nova``)."""

    __tablename__ = "identity_services"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, default=_hex_id)
    type: Mapped[str] = mapped_column(sa.String(255), index=True)
    name: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)
    enabled: Mapped[bool] = mapped_column(default=True)


class Endpoint(TimestampMixin, Base):
    """One URL of a service for an interface (public, internal, admin) in a region."""

    __tablename__ = "identity_endpoints"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, default=_hex_id)
    service_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_services.id", ondelete="CASCADE"), index=True
    )
    interface: Mapped[str] = mapped_column(sa.String(8))
    region_id: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    url: Mapped[str] = mapped_column(sa.Text)
    enabled: Mapped[bool] = mapped_column(default=True)


class ApplicationCredential(Base):
    """A secret a user delegates to an application, bound to one project and some roles.

    ``roles`` is a list of role ids; ``secret_hash`` is bcrypt.
    """

    __tablename__ = "identity_application_credentials"
    __table_args__ = (sa.UniqueConstraint("user_id", "name"),)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, default=_hex_id)
    name: Mapped[str] = mapped_column(sa.String(255))
    user_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_users.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)
    secret_hash: Mapped[str] = mapped_column(sa.String(255))
    roles: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    unrestricted: Mapped[bool] = mapped_column(default=False)
    expires_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)


class Credential(TimestampMixin, Base):
    """A user's credential (Keystone's ``credential``): ``type`` is ``ec2``, ``totp``,
    ``cert``... and ``encrypted_blob`` the Fernet token of its blob (``credentials.py``;
    the blob is never stored in clear). An ``ec2`` credential's id is the SHA-256 hex of its
    access key."""

    __tablename__ = "identity_credentials"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, default=_hex_id)
    user_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_users.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    type: Mapped[str] = mapped_column(sa.String(255))
    encrypted_blob: Mapped[str] = mapped_column(sa.Text)


class RevocationEvent(Base):
    """Tokens matching this event are revoked.

    At most one of the match fields is set: ``audit_id`` (one token and its rescoped
    children), ``user_id``, ``project_id`` or ``app_cred_id``. For user and project events
    only tokens issued at or before ``issued_before`` are revoked, so that new tokens work.
    An event with none set revokes nothing: it tells every controller to recompute the
    token contexts it cached (roles changed; see ``tokens.TokenProvider.invalidate``).
    """

    __tablename__ = "identity_revocation_events"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    audit_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    user_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    project_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    app_cred_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    issued_before: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow, index=True)


class Trust(Base):
    """OS-TRUST: ``trustor_user_id`` delegates ``roles`` (role ids) on ``project_id`` to
    ``trustee_user_id``, who may then get tokens scoped to the trust (as the trustor with
    ``impersonation``). ``remaining_uses`` (None: unlimited) counts the tokens it may still
    give; ``expires_at`` (None: never) is UTC. Redelegation is not supported
    (``allow_redelegation`` is always false)."""

    __tablename__ = "identity_trusts"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, default=_hex_id)
    trustor_user_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_users.id", ondelete="CASCADE"), index=True
    )
    trustee_user_id: Mapped[str] = mapped_column(
        sa.ForeignKey("identity_users.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    impersonation: Mapped[bool] = mapped_column(default=False)
    roles: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    expires_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, default=None)
    remaining_uses: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
