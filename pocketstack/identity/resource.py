"""Domains and projects (Identity API v3 "Domains" and "Projects"; Keystone's ``resource``).

Projects have their domain as parent (no nested projects). Deleting or disabling a project
revokes the tokens scoped to it; a domain must be disabled before it is deleted (403
otherwise, as Keystone), and deleting it deletes its projects, users and groups.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import json_contains
from pocketstack.identity import exceptions as exc
from pocketstack.identity.assignment import projects_of_user, target_ids_of_user
from pocketstack.identity.models import Domain, Group, Project, RoleAssignment, User

if TYPE_CHECKING:
    from pocketstack.identity.manager import IdentityManager


def get_domain(s: Session, domain_id: str) -> Domain:
    """A domain by id; raises ``DomainNotFound``."""
    dom = s.get(Domain, domain_id)
    if dom is None:
        raise exc.DomainNotFound(f"Could not find domain: {domain_id}.")
    return dom


def get_project(s: Session, project_id: str) -> Project:
    """A project by id; raises ``ProjectNotFound``."""
    project = s.get(Project, project_id)
    if project is None:
        raise exc.ProjectNotFound(f"Could not find project: {project_id}.")
    return project


def _delete_assignments(s: Session, target_type: str, target_id: str) -> None:
    s.execute(
        sa.delete(RoleAssignment).where(
            RoleAssignment.target_type == target_type, RoleAssignment.target_id == target_id
        )
    )


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
        if not ctx.is_admin:
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
                _delete_assignments(s, "project", pid)
            _delete_assignments(s, "domain", domain_id)
            s.execute(sa.delete(RoleAssignment).where(RoleAssignment.actor_id.in_(users)))
            s.execute(sa.delete(Project).where(Project.domain_id == domain_id))
            s.execute(sa.delete(User).where(User.domain_id == domain_id))
            s.execute(sa.delete(Group).where(Group.domain_id == domain_id))
            s.delete(dom)
        self._revoke_tokens(projects, users)


class Projects:
    """Projects (``cloud.identity.projects``)."""

    def __init__(self, identity: IdentityManager):
        self.identity = identity
        self.db = identity.db

    def list(self, ctx: RequestContext, filters: dict[str, Any]) -> list[Project]:
        """Projects matching ``filters`` (``domain_id``, ``name``, ``enabled``,
        ``parent_id``, ``tags``: all tags, ``tags-any``). Policy admits only admins (a
        non-admin gets 403, as Keystone's default; it lists its own projects with
        ``list_for_user``); should a non-admin context get here, it sees only the
        projects it has a role on. Every filter is SQL (tags through
        ``common.db.json_contains``)."""
        q = sa.select(Project).order_by(Project.name)
        for key in ("domain_id", "name", "enabled"):
            if filters.get(key) is not None:
                q = q.where(getattr(Project, key) == filters[key])
        if filters.get("parent_id"):
            q = q.where(Project.domain_id == filters["parent_id"])
        if not ctx.is_admin:
            q = q.where(Project.id.in_(target_ids_of_user(ctx.user_id or "")))
        with self.db.reader() as s:
            every = [json_contains(s, Project.tags, t) for t in sorted(filters.get("tags") or [])]
            anyof = [json_contains(s, Project.tags, t) for t in filters.get("tags-any") or []]
            if every:
                q = q.where(*every)
            if anyof:
                q = q.where(sa.or_(*anyof))
            return list(s.scalars(q))

    def get(self, ctx: RequestContext, project_id: str) -> Project:
        """One project; raises ``ProjectNotFound``. (The API lets a non-admin see only its
        token's project, 403 for any other, known or not, as Keystone's default
        ``identity:get_project``; openstackclient's ``find_project`` then uses the id as
        given.)"""
        with self.db.reader() as s:
            return get_project(s, project_id)

    def create(
        self,
        ctx: RequestContext,
        name: str,
        domain_id: str | None = None,
        description: str = "",
        enabled: bool = True,
        tags: builtins.list[str] | None = None,
        parent_id: str | None = None,
        project_id: str | None = None,
    ) -> Project:
        """A new project in ``domain_id`` (default: ``parent_id``, else ``default``).

        Raises:
            DomainNotFound; ValidationError when ``parent_id`` is not the domain (no
            project hierarchy); DuplicateEntry when the name is taken in the domain.
        """
        domain_id = domain_id or parent_id or "default"
        if parent_id and parent_id != domain_id:
            raise exc.ValidationError(
                "Nested projects are not supported: parent_id must be the project's domain."
            )
        with self.db.transaction() as s:
            get_domain(s, domain_id)
            if (
                s.scalar(
                    sa.select(Project).where(Project.domain_id == domain_id, Project.name == name)
                )
                is not None
            ):
                raise exc.DuplicateEntry(
                    f"Duplicate entry found with name {name} in domain {domain_id}."
                )
            project = Project(
                name=name,
                domain_id=domain_id,
                description=description or "",
                enabled=enabled,
                tags=list(tags or []),
            )
            if project_id:
                project.id = project_id
            s.add(project)
        return project

    def update(self, ctx: RequestContext, project_id: str, changes: dict[str, Any]) -> Project:
        """Change ``name``, ``description``, ``enabled``, ``tags``; disabling revokes the
        project's tokens."""
        with self.db.transaction() as s:
            project = get_project(s, project_id)
            if "name" in changes and changes["name"] != project.name:
                if s.scalar(
                    sa.select(Project).where(
                        Project.domain_id == project.domain_id, Project.name == changes["name"]
                    )
                ):
                    raise exc.DuplicateEntry(f"Duplicate entry found with name {changes['name']}.")
                project.name = changes["name"]
            if "description" in changes:  # null clears it, as in Keystone
                project.description = changes["description"] or ""
            for key in ("enabled", "tags"):
                if key in changes:
                    setattr(project, key, changes[key])
        if changes.get("enabled") is False:
            self.identity.tokens.revoke_project(project_id)
        return project

    def delete(self, ctx: RequestContext, project_id: str) -> None:
        """Delete a project and its assignments; revokes its tokens."""
        with self.db.transaction() as s:
            project = get_project(s, project_id)
            _delete_assignments(s, "project", project_id)
            s.delete(project)
        self.identity.tokens.revoke_project(project_id)

    def list_for_user(self, ctx: RequestContext, user_id: str) -> builtins.list[Project]:
        """Projects the user has a role on (GET /v3/users/{id}/projects, and
        /v3/auth/projects for the caller itself)."""
        with self.db.reader() as s:
            return projects_of_user(s, user_id)
