"""Domains (Identity API v3 "Domains"; with projects, Keystone's ``resource``).

A domain must be disabled before it is deleted (403 otherwise, as Keystone), and deleting
it deletes its projects, users and groups; disabling it revokes their tokens.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.identity import exceptions as exc
from pocketstack.identity.assignment import (
    delete_assignments_on,
    delete_inherited_of,
)
from pocketstack.identity.models import Domain, Group, Project, RoleAssignment, User

if TYPE_CHECKING:
    from pocketstack.identity.manager import IdentityManager


def get_domain(s: Session, domain_id: str) -> Domain:
    """A domain by id; raises ``DomainNotFound``."""
    dom = s.get(Domain, domain_id)
    if dom is None:
        raise exc.DomainNotFound(f"Could not find domain: {domain_id}.")
    return dom


class Domains:
    """Domains (``cloud.identity.domains``)."""

    def __init__(self, identity: IdentityManager):
        self.identity = identity
        self.db = identity.db

    def list(
        self, ctx: RequestContext, name: str | None = None, enabled: bool | None = None
    ) -> list[Domain]:
        """Domains matching the filters; a non-admin sees only its own domain."""
        q = sa.select(Domain).order_by(Domain.name)
        if name is not None:
            q = q.where(Domain.name == name)
        if enabled is not None:
            q = q.where(Domain.enabled == enabled)
        if not (ctx.is_admin or ctx.system_scope):  # a system reader reads all
            q = q.where(Domain.id == ctx.domain_id)
        with self.db.reader() as s:
            return list(s.scalars(q))

    def get(self, ctx: RequestContext, domain_id: str) -> Domain:
        """One domain; raises ``DomainNotFound``. (The API lets a non-admin see only its
        own domain, 403 for any other, known or not: ``identity:get_domain``.)"""
        with self.db.reader() as s:
            return get_domain(s, domain_id)

    def create(
        self,
        ctx: RequestContext,
        name: str,
        description: str = "",
        enabled: bool = True,
        domain_id: str | None = None,
    ) -> Domain:
        """A new domain; raises ``DuplicateEntry`` when the name is taken."""
        with self.db.transaction() as s:
            if s.scalar(sa.select(Domain).where(Domain.name == name)) is not None:
                raise exc.DuplicateEntry(f"Duplicate entry found with name {name}.")
            if domain_id and s.get(Domain, domain_id) is not None:
                raise exc.DuplicateEntry(f"Duplicate entry found with ID {domain_id}.")
            dom = Domain(name=name, description=description or "", enabled=enabled)
            if domain_id:
                dom.id = domain_id
            s.add(dom)
        return dom

    def update(self, ctx: RequestContext, domain_id: str, changes: dict[str, Any]) -> Domain:
        """Change ``name``, ``description``, ``enabled``. Disabling revokes the tokens of
        the domain's users and of its projects (as Keystone), at once on every controller
        within ``tokens.REVOCATION_REFRESH``."""
        projects: list[str] = []
        users: list[str] = []
        with self.db.transaction() as s:
            dom = get_domain(s, domain_id)
            if "name" in changes and changes["name"] != dom.name:
                if s.scalar(sa.select(Domain).where(Domain.name == changes["name"])):
                    raise exc.DuplicateEntry(f"Duplicate entry found with name {changes['name']}.")
                dom.name = changes["name"]
            if "description" in changes:  # null clears it, as in Keystone
                dom.description = changes["description"] or ""
            if "enabled" in changes:
                dom.enabled = changes["enabled"]
            if changes.get("enabled") is False:
                projects = list(s.scalars(sa.select(Project.id).where(Project.domain_id == dom.id)))
                users = list(s.scalars(sa.select(User.id).where(User.domain_id == dom.id)))
        self._revoke_tokens(projects, users)
        return dom

    def _revoke_tokens(self, projects: builtins.list[str], users: builtins.list[str]) -> None:
        for pid in projects:
            self.identity.tokens.revoke_project(pid)
        for uid in users:
            self.identity.tokens.revoke_user(uid)

    def delete(self, ctx: RequestContext, domain_id: str) -> None:
        """Delete a disabled domain and everything in it.

        Raises:
            DomainNotFound; ForbiddenAction (403) when the domain is enabled.
        """
        with self.db.transaction() as s:
            dom = get_domain(s, domain_id)
            if dom.enabled:
                raise exc.ForbiddenAction(
                    "Cannot delete a domain that is enabled, please disable it first."
                )
            projects = list(s.scalars(sa.select(Project.id).where(Project.domain_id == domain_id)))
            users = list(s.scalars(sa.select(User.id).where(User.domain_id == domain_id)))
            for pid in projects:
                delete_assignments_on(s, "project", pid)
            delete_assignments_on(s, "domain", domain_id)
            s.execute(sa.delete(RoleAssignment).where(RoleAssignment.actor_id.in_(users)))
            delete_inherited_of(s, users)
            s.execute(sa.delete(Project).where(Project.domain_id == domain_id))
            s.execute(sa.delete(User).where(User.domain_id == domain_id))
            s.execute(sa.delete(Group).where(Group.domain_id == domain_id))
            s.delete(dom)
        self._revoke_tokens(projects, users)
