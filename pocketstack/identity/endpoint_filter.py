"""OS-EP-FILTER (Identity API v3 extension "OS-EP-FILTER"): endpoints associated with
projects directly (``cloud.identity.project_endpoints``) or through endpoint groups
(``cloud.identity.endpoint_groups``), and the catalog filter they make: a project with any
association sees only its associated endpoints in its tokens' catalog (Keystone's
``endpoint_filter`` catalog, with ``return_all_endpoints_if_no_filter`` true).
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.common.errors import NotFound
from pocketstack.identity import exceptions as exc
from pocketstack.identity.ext_models import EndpointGroup, ProjectEndpoint, ProjectEndpointGroup
from pocketstack.identity.models import Endpoint, Project

if TYPE_CHECKING:
    from pocketstack.identity.manager import IdentityManager

#: the attributes an endpoint group may filter on (Keystone's ``valid_filter_keys``)
FILTER_KEYS = ("interface", "service_id", "region_id")


class EndpointGroupNotFound(NotFound):
    """404: no endpoint group with this id."""


class ProjectEndpointNotFound(NotFound):
    """404: the endpoint (or group) is not associated with the project."""


def _project(s: Session, project_id: str) -> Project:
    row = s.get(Project, project_id)
    if row is None:
        raise exc.ProjectNotFound(f"Could not find project: {project_id}.")
    return row


def _endpoint(s: Session, endpoint_id: str) -> Endpoint:
    row = s.get(Endpoint, endpoint_id)
    if row is None:
        raise exc.EndpointNotFound(f"Could not find endpoint: {endpoint_id}.")
    return row


def _group(s: Session, group_id: str) -> EndpointGroup:
    row = s.get(EndpointGroup, group_id)
    if row is None:
        raise EndpointGroupNotFound(f"Could not find endpoint group: {group_id}.")
    return row


def check_filters(filters: Any) -> dict[str, Any]:
    """``filters`` as a dict of ``FILTER_KEYS``; ValidationError (400) otherwise."""
    if not isinstance(filters, dict) or not filters:
        raise exc.ValidationError("Invalid filters: expected a non-empty object.")
    bad = sorted(k for k in filters if k not in FILTER_KEYS)
    if bad:
        raise exc.ValidationError(
            f"{', '.join(bad)} is not a valid endpoint group filter; use {', '.join(FILTER_KEYS)}."
        )
    return dict(filters)


def _matching(s: Session, filters: dict[str, Any]) -> list[Endpoint]:
    q = sa.select(Endpoint).order_by(Endpoint.service_id, Endpoint.interface)
    for key, value in filters.items():
        q = q.where(getattr(Endpoint, key) == value)
    return list(s.scalars(q))


class ProjectEndpoints:
    """Direct project-endpoint associations (``cloud.identity.project_endpoints``)."""

    def __init__(self, identity: IdentityManager):
        self.db = identity.db

    def add(self, ctx: RequestContext, project_id: str, endpoint_id: str) -> None:
        """Associate (idempotent); raises ``ProjectNotFound``, ``EndpointNotFound``."""
        with self.db.transaction() as s:
            _project(s, project_id)
            _endpoint(s, endpoint_id)
            if s.get(ProjectEndpoint, (endpoint_id, project_id)) is None:
                s.add(ProjectEndpoint(endpoint_id=endpoint_id, project_id=project_id))

    def check(self, ctx: RequestContext, project_id: str, endpoint_id: str) -> None:
        """Raises ``ProjectNotFound``, ``EndpointNotFound`` or ``ProjectEndpointNotFound``."""
        with self.db.reader() as s:
            _project(s, project_id)
            _endpoint(s, endpoint_id)
            if s.get(ProjectEndpoint, (endpoint_id, project_id)) is None:
                raise ProjectEndpointNotFound(
                    f"Endpoint {endpoint_id} not found in project {project_id}."
                )

    def remove(self, ctx: RequestContext, project_id: str, endpoint_id: str) -> None:
        """Dissociate; raises as ``check``."""
        self.check(ctx, project_id, endpoint_id)
        with self.db.transaction() as s:
            row = s.get(ProjectEndpoint, (endpoint_id, project_id))
            if row is not None:
                s.delete(row)

    def list_endpoints(self, ctx: RequestContext, project_id: str) -> list[Endpoint]:
        """The project's endpoints, direct and through its groups; ``ProjectNotFound``."""
        with self.db.reader() as s:
            _project(s, project_id)
            return _project_endpoints(s, project_id)

    def list_projects(self, ctx: RequestContext, endpoint_id: str) -> list[Project]:
        """The projects an endpoint is directly associated with; ``EndpointNotFound``."""
        with self.db.reader() as s:
            _endpoint(s, endpoint_id)
            q = (
                sa.select(Project)
                .join(ProjectEndpoint, ProjectEndpoint.project_id == Project.id)
                .where(ProjectEndpoint.endpoint_id == endpoint_id)
                .order_by(Project.name)
            )
            return list(s.scalars(q))


def _project_endpoints(s: Session, project_id: str) -> list[Endpoint]:
    direct = s.scalars(
        sa.select(Endpoint)
        .join(ProjectEndpoint, ProjectEndpoint.endpoint_id == Endpoint.id)
        .where(ProjectEndpoint.project_id == project_id)
    )
    found = {e.id: e for e in direct}
    groups = s.scalars(
        sa.select(EndpointGroup)
        .join(ProjectEndpointGroup, ProjectEndpointGroup.endpoint_group_id == EndpointGroup.id)
        .where(ProjectEndpointGroup.project_id == project_id)
    )
    for group in groups:
        found.update({e.id: e for e in _matching(s, dict(group.filters or {}))})
    return sorted(found.values(), key=lambda e: (e.service_id, e.interface, e.id))


def filtered_endpoint_ids(db: Any, project_id: str) -> set[str] | None:
    """The endpoint ids a project's catalog is limited to, or None when the project has no
    association (its catalog is then the whole catalog)."""
    with db.reader() as s:
        has_any = s.scalar(
            sa.select(ProjectEndpoint.endpoint_id)
            .where(ProjectEndpoint.project_id == project_id)
            .limit(1)
        ) or s.scalar(
            sa.select(ProjectEndpointGroup.endpoint_group_id)
            .where(ProjectEndpointGroup.project_id == project_id)
            .limit(1)
        )
        if not has_any:
            return None
        return {e.id for e in _project_endpoints(s, project_id)}


class EndpointGroups:
    """Endpoint groups and their projects (``cloud.identity.endpoint_groups``)."""

    def __init__(self, identity: IdentityManager):
        self.db = identity.db

    def list(self, ctx: RequestContext, name: str | None = None) -> builtins.list[EndpointGroup]:
        """Every endpoint group (optionally only those named ``name``)."""
        q = sa.select(EndpointGroup).order_by(EndpointGroup.name)
        if name is not None:
            q = q.where(EndpointGroup.name == name)
        with self.db.reader() as s:
            return builtins.list(s.scalars(q))

    def get(self, ctx: RequestContext, group_id: str) -> EndpointGroup:
        """One group; raises ``EndpointGroupNotFound``."""
        with self.db.reader() as s:
            return _group(s, group_id)

    def create(
        self, ctx: RequestContext, name: str, filters: Any, description: str | None = None
    ) -> EndpointGroup:
        """A new group; ValidationError (400) for filters on other attributes."""
        row = EndpointGroup(name=name, description=description, filters=check_filters(filters))
        with self.db.transaction() as s:
            s.add(row)
        return row

    def update(self, ctx: RequestContext, group_id: str, changes: dict[str, Any]) -> EndpointGroup:
        """Change ``name``, ``description``, ``filters``; raises as ``get``/``create``."""
        with self.db.transaction() as s:
            row = _group(s, group_id)
            if "filters" in changes:
                row.filters = check_filters(changes["filters"])
            for key in ("name", "description"):
                if key in changes:
                    setattr(row, key, changes[key])
        return row

    def delete(self, ctx: RequestContext, group_id: str) -> None:
        """Delete a group and its project associations."""
        with self.db.transaction() as s:
            row = _group(s, group_id)
            s.execute(
                sa.delete(ProjectEndpointGroup).where(
                    ProjectEndpointGroup.endpoint_group_id == group_id
                )
            )
            s.delete(row)

    def list_endpoints(self, ctx: RequestContext, group_id: str) -> builtins.list[Endpoint]:
        """The endpoints a group's filters match."""
        with self.db.reader() as s:
            return _matching(s, dict(_group(s, group_id).filters or {}))

    def list_projects(self, ctx: RequestContext, group_id: str) -> builtins.list[Project]:
        """The projects associated with a group."""
        with self.db.reader() as s:
            _group(s, group_id)
            q = (
                sa.select(Project)
                .join(ProjectEndpointGroup, ProjectEndpointGroup.project_id == Project.id)
                .where(ProjectEndpointGroup.endpoint_group_id == group_id)
                .order_by(Project.name)
            )
            return builtins.list(s.scalars(q))

    def for_project(self, ctx: RequestContext, project_id: str) -> builtins.list[EndpointGroup]:
        """The groups associated with a project; ``ProjectNotFound``."""
        with self.db.reader() as s:
            _project(s, project_id)
            q = (
                sa.select(EndpointGroup)
                .join(
                    ProjectEndpointGroup, ProjectEndpointGroup.endpoint_group_id == EndpointGroup.id
                )
                .where(ProjectEndpointGroup.project_id == project_id)
                .order_by(EndpointGroup.name)
            )
            return builtins.list(s.scalars(q))

    def add_project(self, ctx: RequestContext, group_id: str, project_id: str) -> None:
        """Associate a group with a project (idempotent)."""
        with self.db.transaction() as s:
            _group(s, group_id)
            _project(s, project_id)
            if s.get(ProjectEndpointGroup, (group_id, project_id)) is None:
                s.add(ProjectEndpointGroup(endpoint_group_id=group_id, project_id=project_id))

    def get_project(self, ctx: RequestContext, group_id: str, project_id: str) -> Project:
        """The project, when associated with the group; else ``ProjectEndpointNotFound``."""
        with self.db.reader() as s:
            _group(s, group_id)
            project = _project(s, project_id)
            if s.get(ProjectEndpointGroup, (group_id, project_id)) is None:
                raise ProjectEndpointNotFound(
                    f"Endpoint group {group_id} not found in project {project_id}."
                )
            return project

    def remove_project(self, ctx: RequestContext, group_id: str, project_id: str) -> None:
        """Dissociate; raises as ``get_project``."""
        self.get_project(ctx, group_id, project_id)
        with self.db.transaction() as s:
            row = s.get(ProjectEndpointGroup, (group_id, project_id))
            if row is not None:
                s.delete(row)
