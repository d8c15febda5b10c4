"""Projects (Identity API v3 "Projects"; with domains, Keystone's ``resource``).

Projects nest as Keystone's do: a project's parent is another project of the same domain
(``parent_id``), or its domain. The hierarchy's rules are Keystone's: at most
``MAX_DEPTH`` levels, no enabled project under a disabled parent (400 on create, 403 on
enabling), no disabling a project with an enabled child (403), no deleting a project with
children (403: Keystone's "not a leaf"), and ``parent_id`` never changes. Deleting or
disabling a project revokes the tokens scoped to it.

Tags (Identity API v3 "Project tags") are a JSON list on the project: at most
``MAX_TAGS``, each 1..255 characters without ``/`` or ``,``, unique.
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
from pocketstack.identity.models import Domain, Project

if TYPE_CHECKING:
    from pocketstack.identity.manager import IdentityManager

#: Keystone's ``[DEFAULT] max_project_tree_depth``: levels of projects under a domain.
MAX_DEPTH = 5
#: Keystone's limit of tags on one project.
MAX_TAGS = 80


def check_tags(tags: builtins.list[Any]) -> builtins.list[str]:
    """Validate a project's tags (400 ``ValidationError`` as Keystone); returns them
    without duplicates, in order."""
    if len(tags) > MAX_TAGS:
        raise exc.ValidationError(f"A project may have at most {MAX_TAGS} tags.")
    for tag in tags:
        if not isinstance(tag, str) or not 1 <= len(tag) <= 255 or "/" in tag or "," in tag:
            raise exc.ValidationError(
                f"Invalid project tag {tag!r}: 1 to 255 characters, no '/' or ','."
            )
    return list(dict.fromkeys(tags))


def children_of(s: Session, project_id: str) -> builtins.list[Project]:
    """The projects whose parent is ``project_id``."""
    return list(
        s.scalars(sa.select(Project).where(Project.parent_id == project_id).order_by(Project.name))
    )


def subtree_of(s: Session, project_id: str) -> builtins.list[Project]:
    """Every project below ``project_id`` (breadth first)."""
    out: builtins.list[Project] = []
    frontier = [project_id]
    while frontier:
        level = [c for p in frontier for c in children_of(s, p)]
        out += level
        frontier = [c.id for c in level]
    return out


def parents_of(s: Session, project: Project) -> builtins.list[Project]:
    """The project's ancestors, nearest first (its domain is not among them)."""
    out: builtins.list[Project] = []
    parent_id = project.parent_id
    while parent_id:
        parent = s.get(Project, parent_id)
        if parent is None or parent in out:
            break
        out.append(parent)
        parent_id = parent.parent_id
    return out


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
        if filters.get("parent_id"):  # a project, or a domain (its top-level projects)
            parent = filters["parent_id"]
            q = q.where(
                sa.or_(
                    Project.parent_id == parent,
                    sa.and_(Project.parent_id.is_(None), Project.domain_id == parent),
                )
            )
        if ctx.is_admin or ctx.system_scope:  # a system reader reads all
            pass
        elif ctx.domain_id is not None and ctx.project_id is None:  # a domain reader
            q = q.where(Project.domain_id == ctx.domain_id)
        else:
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
        """A new project in ``domain_id`` under ``parent_id`` (a project of that domain, or
        the domain itself; default: the domain, ``default`` when neither is given).

        Raises:
            DomainNotFound, ProjectNotFound (the parent); ValidationError (400): a parent
            in another domain, under a disabled parent, deeper than ``MAX_DEPTH``, bad
            tags; DuplicateEntry when the name is taken in the domain.
        """
        tags = check_tags(list(tags or []))
        with self.db.transaction() as s:
            parent = s.get(Project, parent_id) if parent_id else None
            if parent_id and parent is None:  # a domain (top level), or nothing
                if s.get(Domain, parent_id) is None:
                    raise exc.ProjectNotFound(f"Could not find project: {parent_id}.")
                if domain_id and domain_id != parent_id:
                    raise exc.ValidationError("A project's parent must be in its domain.")
                domain_id = parent_id
            elif parent is not None:
                if domain_id and domain_id != parent.domain_id:
                    raise exc.ValidationError("A project's parent must be in its domain.")
                domain_id = parent.domain_id
                if enabled and not parent.enabled:
                    raise exc.ValidationError(
                        f"Cannot create an enabled project under the disabled project {parent.id}."
                    )
                if len(parents_of(s, parent)) + 2 > MAX_DEPTH:
                    raise exc.ValidationError(
                        f"Max hierarchy depth reached for the subtree of {parent.id}."
                    )
            domain_id = domain_id or "default"
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
                tags=tags,
                parent_id=parent.id if parent else None,
            )
            if project_id:
                project.id = project_id
            s.add(project)
        return project

    def update(self, ctx: RequestContext, project_id: str, changes: dict[str, Any]) -> Project:
        """Change ``name``, ``description``, ``enabled``, ``tags``; disabling revokes the
        project's tokens.

        Raises:
            ForbiddenAction (403): disabling a project with an enabled child, enabling one
                under a disabled parent, changing ``parent_id`` (as Keystone).
            ValidationError (400): bad tags.
        """
        if "tags" in changes:
            changes = {**changes, "tags": check_tags(list(changes["tags"] or []))}
        with self.db.transaction() as s:
            project = get_project(s, project_id)
            parent = s.get(Project, project.parent_id) if project.parent_id else None
            if "parent_id" in changes and changes["parent_id"] not in (
                project.parent_id,
                None if parent else project.domain_id,
            ):
                raise exc.ForbiddenAction("Update of `parent_id` is not allowed.")
            if changes.get("enabled") is False and project.enabled:
                if any(c.enabled for c in children_of(s, project_id)):
                    raise exc.ForbiddenAction(
                        f"Cannot disable project {project_id} since its subtree contains "
                        "enabled projects."
                    )
            if changes.get("enabled") is True and parent is not None and not parent.enabled:
                raise exc.ForbiddenAction(
                    f"Cannot enable project {project_id} since it has disabled parents."
                )
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
        """Delete a project and its assignments; revokes its tokens. Raises
        ``ForbiddenAction`` (403) for a project with children (Keystone's "not a leaf")."""
        with self.db.transaction() as s:
            project = get_project(s, project_id)
            if children_of(s, project_id):
                raise exc.ForbiddenAction(
                    f"Cannot delete the project {project_id} since it is not a leaf in the "
                    "hierarchy."
                )
            delete_assignments_on(s, "project", project_id)
            s.delete(project)
        self.identity.tokens.revoke_project(project_id)

    def hierarchy(
        self, ctx: RequestContext, project_id: str
    ) -> tuple[builtins.list[Project], builtins.list[Project]]:
        """``(parents nearest first, subtree breadth first)`` of a project (for
        ``parents_as_list`` and ``subtree_as_list``). A caller that is neither an admin nor
        a system reader sees only the projects it holds a role on, as Keystone."""
        with self.db.reader() as s:
            project = get_project(s, project_id)
            parents, subtree = parents_of(s, project), subtree_of(s, project_id)
            if not (ctx.is_admin or ctx.system_scope):
                mine = {p.id for p in projects_of_user(s, ctx.user_id or "")}
                parents = [p for p in parents if p.id in mine]
                subtree = [p for p in subtree if p.id in mine]
            return parents, subtree

    # -- tags (Identity API v3 "Project tags") -------------------------------------------
    def set_tags(self, ctx: RequestContext, project_id: str, tags: builtins.list[Any]) -> Project:
        """Replace the project's tags; raises ``ProjectNotFound``, ``ValidationError``."""
        return self.update(ctx, project_id, {"tags": tags})

    def add_tag(self, ctx: RequestContext, project_id: str, tag: str) -> Project:
        """Add one tag (idempotent); 400 past ``MAX_TAGS`` or for a bad tag."""
        with self.db.reader() as s:
            current = list(get_project(s, project_id).tags or [])
        return self.update(ctx, project_id, {"tags": [*current, tag]})

    def remove_tag(self, ctx: RequestContext, project_id: str, tag: str) -> None:
        """Remove one tag; raises ``ProjectTagNotFound`` (404) when it has no such tag."""
        current = self.check_tag(ctx, project_id, tag)
        self.update(ctx, project_id, {"tags": [t for t in current if t != tag]})

    def check_tag(self, ctx: RequestContext, project_id: str, tag: str) -> builtins.list[str]:
        """The project's tags; raises ``ProjectNotFound`` or ``ProjectTagNotFound`` (404)
        unless ``tag`` is one of them."""
        with self.db.reader() as s:
            current = list(get_project(s, project_id).tags or [])
        if tag not in current:
            raise exc.ProjectTagNotFound(f"Could not find project tag: {tag}.")
        return current

    def list_for_user(self, ctx: RequestContext, user_id: str) -> builtins.list[Project]:
        """Projects the user has a role on (GET /v3/users/{id}/projects, and
        /v3/auth/projects for the caller itself)."""
        with self.db.reader() as s:
            return projects_of_user(s, user_id)
