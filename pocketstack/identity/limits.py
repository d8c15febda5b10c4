"""Unified limits (Identity API v3 "Unified Limits"): registered limits, the default limit
of a service's resource in a region (``cloud.identity.registered_limits``), and limits, a
project's or domain's override of one (``cloud.identity.limits``). The enforcement model is
``flat`` (Keystone's default): limits of a project's parents do not bound it.

As Keystone: a registered limit is unique per (service, region, resource) and a limit per
(project or domain, service, region, resource) (409 otherwise); a limit needs a registered
limit of its service, region and resource (403 ``NoLimitReference``); an unknown service,
region, project or domain is 400.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.common.errors import Forbidden, NotFound
from pocketstack.identity import exceptions as exc
from pocketstack.identity.ext_models import Limit, RegisteredLimit
from pocketstack.identity.models import Domain, Project, Region, Service

if TYPE_CHECKING:
    from pocketstack.identity.manager import IdentityManager

MODEL = {
    "name": "flat",
    "description": "Limit enforcement and validation does not take project hierarchy into "
    "consideration.",
}


class RegisteredLimitNotFound(NotFound):
    """404: no registered limit with this id."""


class LimitNotFound(NotFound):
    """404: no limit with this id (or not the caller's)."""


class NoLimitReference(Forbidden):
    """403: a limit without a registered limit of its service, region and resource."""


def _bad(what: str) -> exc.ValidationError:
    return exc.ValidationError(f"Invalid input for field '{what}'.")


def _check_refs(s: Session, service_id: str, region_id: str | None) -> None:
    if s.get(Service, service_id) is None:
        raise _bad("service_id")
    if region_id is not None and s.get(Region, region_id) is None:
        raise _bad("region_id")


class RegisteredLimits:
    """Registered limits (``cloud.identity.registered_limits``)."""

    def __init__(self, identity: IdentityManager):
        self.db = identity.db

    def list(self, ctx: RequestContext, **filters: str | None) -> builtins.list[RegisteredLimit]:
        """Filtered by ``service_id``, ``region_id``, ``resource_name``."""
        q = sa.select(RegisteredLimit).order_by(RegisteredLimit.resource_name, RegisteredLimit.id)
        for key in ("service_id", "region_id", "resource_name"):
            if filters.get(key) is not None:
                q = q.where(getattr(RegisteredLimit, key) == filters[key])
        with self.db.reader() as s:
            return builtins.list(s.scalars(q))

    def get(self, ctx: RequestContext, limit_id: str) -> RegisteredLimit:
        """One registered limit; raises ``RegisteredLimitNotFound``."""
        with self.db.reader() as s:
            return _get_registered(s, limit_id)

    def create(
        self, ctx: RequestContext, items: builtins.list[dict[str, Any]]
    ) -> builtins.list[RegisteredLimit]:
        """Create all of ``items`` or none; raises ValidationError (400), DuplicateEntry."""
        rows = []
        with self.db.transaction() as s:
            for item in items:
                _check_refs(s, item["service_id"], item.get("region_id"))
                row = RegisteredLimit(
                    service_id=item["service_id"],
                    region_id=item.get("region_id"),
                    resource_name=item["resource_name"],
                    default_limit=item["default_limit"],
                    description=item.get("description"),
                )
                _unique_registered(s, row)
                s.add(row)
                s.flush()
                rows.append(row)
        return rows

    def update(
        self, ctx: RequestContext, limit_id: str, changes: dict[str, Any]
    ) -> RegisteredLimit:
        """Change ``service_id``, ``region_id``, ``resource_name``, ``default_limit``,
        ``description``; the same errors as ``create``."""
        with self.db.transaction() as s:
            row = _get_registered(s, limit_id)
            for key in ("service_id", "region_id", "resource_name", "default_limit", "description"):
                if key in changes:
                    setattr(row, key, changes[key])
            _check_refs(s, row.service_id, row.region_id)
            _unique_registered(s, row)
        return row

    def delete(self, ctx: RequestContext, limit_id: str) -> None:
        """Delete a registered limit and the limits that refer to it."""
        with self.db.transaction() as s:
            s.delete(_get_registered(s, limit_id))


def _get_registered(s: Session, limit_id: str) -> RegisteredLimit:
    row = s.get(RegisteredLimit, limit_id)
    if row is None:
        raise RegisteredLimitNotFound(f"Could not find registered limit: {limit_id}.")
    return row


def _unique_registered(s: Session, row: RegisteredLimit) -> None:
    q = sa.select(RegisteredLimit.id).where(
        RegisteredLimit.service_id == row.service_id,
        RegisteredLimit.resource_name == row.resource_name,
        RegisteredLimit.region_id.is_(None)
        if row.region_id is None
        else RegisteredLimit.region_id == row.region_id,
    )
    if row.id is not None:
        q = q.where(RegisteredLimit.id != row.id)
    if s.scalar(q.limit(1)):
        raise exc.DuplicateEntry(
            f"Duplicate entry found with resource_name {row.resource_name} for registered limit."
        )


class Limits:
    """Project and domain limits (``cloud.identity.limits``)."""

    def __init__(self, identity: IdentityManager):
        self.db = identity.db

    def list(
        self, ctx: RequestContext, own_only: bool, **filters: str | None
    ) -> builtins.list[tuple[Limit, RegisteredLimit]]:
        """Limits with their registered limit, filtered by ``service_id``, ``region_id``,
        ``resource_name``, ``project_id``, ``domain_id``; ``own_only``: only the caller's
        project's (Keystone filters a project member's listing so)."""
        q = sa.select(Limit, RegisteredLimit).join(
            RegisteredLimit, Limit.registered_limit_id == RegisteredLimit.id
        )
        for key in ("service_id", "region_id", "resource_name"):
            if filters.get(key) is not None:
                q = q.where(getattr(RegisteredLimit, key) == filters[key])
        for key in ("project_id", "domain_id"):
            if filters.get(key) is not None:
                q = q.where(getattr(Limit, key) == filters[key])
        if own_only:
            q = q.where(Limit.project_id == ctx.project_id)
        with self.db.reader() as s:
            return [(lim, reg) for lim, reg in s.execute(q.order_by(Limit.id))]

    def get(
        self, ctx: RequestContext, limit_id: str, own_only: bool
    ) -> tuple[Limit, RegisteredLimit]:
        """One limit; ``LimitNotFound`` (also for another project's, with ``own_only``)."""
        with self.db.reader() as s:
            lim = _get_limit(s, limit_id)
            if own_only and lim.project_id != ctx.project_id:
                raise LimitNotFound(f"Could not find limit: {limit_id}.")
            return lim, s.get_one(RegisteredLimit, lim.registered_limit_id)

    def create(
        self, ctx: RequestContext, items: builtins.list[dict[str, Any]]
    ) -> builtins.list[tuple[Limit, RegisteredLimit]]:
        """Create all of ``items`` or none.

        Raises: ValidationError (400: unknown service, region, project or domain, or
        neither/both of project_id and domain_id); NoLimitReference (403); DuplicateEntry.
        """
        out = []
        with self.db.transaction() as s:
            for item in items:
                reg = _reference(s, item)
                row = Limit(
                    registered_limit_id=reg.id,
                    project_id=item.get("project_id"),
                    domain_id=item.get("domain_id"),
                    resource_limit=item["resource_limit"],
                    description=item.get("description"),
                )
                _unique_limit(s, row)
                s.add(row)
                s.flush()
                out.append((row, reg))
        return out

    def update(
        self, ctx: RequestContext, limit_id: str, changes: dict[str, Any]
    ) -> tuple[Limit, RegisteredLimit]:
        """Change ``resource_limit`` and ``description`` (Keystone's updatable fields)."""
        with self.db.transaction() as s:
            row = _get_limit(s, limit_id)
            for key in ("resource_limit", "description"):
                if key in changes:
                    setattr(row, key, changes[key])
            return row, s.get_one(RegisteredLimit, row.registered_limit_id)

    def delete(self, ctx: RequestContext, limit_id: str) -> None:
        """Delete a limit; ``LimitNotFound``."""
        with self.db.transaction() as s:
            s.delete(_get_limit(s, limit_id))


def _get_limit(s: Session, limit_id: str) -> Limit:
    row = s.get(Limit, limit_id)
    if row is None:
        raise LimitNotFound(f"Could not find limit: {limit_id}.")
    return row


def _reference(s: Session, item: dict[str, Any]) -> RegisteredLimit:
    project_id, domain_id = item.get("project_id"), item.get("domain_id")
    if (project_id is None) == (domain_id is None):
        raise exc.ValidationError("A limit needs exactly one of project_id and domain_id.")
    if project_id is not None and s.get(Project, project_id) is None:
        raise _bad("project_id")
    if domain_id is not None and s.get(Domain, domain_id) is None:
        raise _bad("domain_id")
    service_id, region_id = item["service_id"], item.get("region_id")
    _check_refs(s, service_id, region_id)
    reg = s.scalar(
        sa.select(RegisteredLimit).where(
            RegisteredLimit.service_id == service_id,
            RegisteredLimit.resource_name == item["resource_name"],
            RegisteredLimit.region_id.is_(None)
            if region_id is None
            else RegisteredLimit.region_id == region_id,
        )
    )
    if reg is None:
        raise NoLimitReference(
            "The limit of resource "
            f"{item['resource_name']} has no registered limit for service {service_id}."
        )
    return reg


def _unique_limit(s: Session, row: Limit) -> None:
    q = sa.select(Limit.id).where(
        Limit.registered_limit_id == row.registered_limit_id,
        Limit.project_id.is_(None)
        if row.project_id is None
        else Limit.project_id == row.project_id,
        Limit.domain_id.is_(None) if row.domain_id is None else Limit.domain_id == row.domain_id,
    )
    if s.scalar(q.limit(1)):
        raise exc.DuplicateEntry("Duplicate entry found for limit.")
