"""Projects (Identity API v3 "Projects"; with domains, Keystone's ``resource``).

Projects have their domain as parent (no nested projects). Deleting or disabling a project
revokes the tokens scoped to it.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import json_contains
from pocketstack.identity import exceptions as exc
from pocketstack.identity.assignment import (
    delete_assignments_on,
    projects_of_user,
    target_ids_of_user,
)
from pocketstack.identity.domains import get_domain
from pocketstack.identity.models import Project

if TYPE_CHECKING:
    from pocketstack.identity.manager import IdentityManager


def get_project(s: Session, project_id: str) -> Project:
    """A project by id; raises ``ProjectNotFound``."""
    project = s.get(Project, project_id)
    if project is None:
        raise exc.ProjectNotFound(f"Could not find project: {project_id}.")
    return project


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
        if not (ctx.is_admin or ctx.system_scope):  # a system reader reads all
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
            delete_assignments_on(s, "project", project_id)
            s.delete(project)
        self.identity.tokens.revoke_project(project_id)

    def list_for_user(self, ctx: RequestContext, user_id: str) -> builtins.list[Project]:
        """Projects the user has a role on (GET /v3/users/{id}/projects, and
        /v3/auth/projects for the caller itself)."""
        with self.db.reader() as s:
            return projects_of_user(s, user_id)
