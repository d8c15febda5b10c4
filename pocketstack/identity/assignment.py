"""Roles, implied roles and role assignments (Keystone's ``assignment`` backend).

Module-level query helpers (``effective_roles``, ``projects_of_user``) take an open session;
the token provider uses them on every validation. ``Roles`` is the API-facing family
(``cloud.identity.roles``).

Effective roles of a user on a target = roles assigned to the user or to any of its groups on
that target, closed over implied roles (admin => manager => member => reader after
bootstrap).

Targets are a project, a domain or the system (Keystone's system scope: ``target_type``
and ``target_id`` both ``"system"``, as Keystone's ``system_assignment`` table names it).

OS-INHERIT: an inherited assignment (``InheritedRoleAssignment``) on a domain counts on
every project of the domain, one on a project on every project below it (not on the
project itself, nor on the domain); the roles on a project are its direct ones plus those
inherited from its ancestors and its domain.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.identity import exceptions as exc
from pocketstack.identity.assignment_list import Assignment, inheriting_targets, list_assignments
from pocketstack.identity.models import (
    Domain,
    Group,
    GroupMembership,
    ImpliedRole,
    InheritedRoleAssignment,
    Project,
    Role,
    RoleAssignment,
    User,
)

if TYPE_CHECKING:
    from pocketstack.identity.manager import IdentityManager

ACTORS = {"user": (User, exc.UserNotFound), "group": (Group, exc.GroupNotFound)}
TARGETS = {"project": (Project, exc.ProjectNotFound), "domain": (Domain, exc.DomainNotFound)}
#: The target type and id of a system role assignment.
SYSTEM_ID = "system"


def expand_implied(session: Session, role_ids: set[str]) -> set[str]:
    """``role_ids`` plus every role they imply, transitively."""
    result = set(role_ids)
    frontier = set(role_ids)
    while frontier:
        rows = session.scalars(
            sa.select(ImpliedRole.implied_role_id).where(ImpliedRole.prior_role_id.in_(frontier))
        ).all()
        frontier = set(rows) - result
        result |= frontier
    return result


def group_ids_of_user(session: Session, user_id: str) -> list[str]:
    """Ids of the groups ``user_id`` is a member of."""
    return list(
        session.scalars(
            sa.select(GroupMembership.group_id).where(GroupMembership.user_id == user_id)
        )
    )


def inherited_role_ids(session: Session, actors: list[str], project_id: str) -> set[str]:
    """Role ids the actors inherit on a project from its ancestors and its domain."""
    targets = inheriting_targets(session, project_id)
    if not targets:
        return set()
    m = InheritedRoleAssignment
    return set(
        session.scalars(
            sa.select(m.role_id).where(
                m.actor_id.in_(actors),
                sa.or_(*(sa.and_(m.target_type == t, m.target_id == i) for t, i in targets)),
            )
        )
    )


def direct_role_ids(session: Session, user_id: str, target_type: str, target_id: str) -> set[str]:
    """Role ids assigned to the user or its groups on the target (no implied roles); on a
    project, with those inherited from its ancestors and domain (OS-INHERIT)."""
    actors = [user_id, *group_ids_of_user(session, user_id)]
    ids = set(
        session.scalars(
            sa.select(RoleAssignment.role_id).where(
                RoleAssignment.actor_id.in_(actors),
                RoleAssignment.target_type == target_type,
                RoleAssignment.target_id == target_id,
            )
        )
    )
    if target_type == "project":
        ids |= inherited_role_ids(session, actors, target_id)
    return ids


def effective_roles(
    session: Session,
    user_id: str,
    target_type: str,
    target_id: str,
    restrict_to: list[str] | None = None,
) -> list[Role]:
    """The user's effective roles on a target, sorted by name.

    Args:
        restrict_to: role ids of an application credential; the result is then the
            intersection of their expansion with the user's effective roles.
    """
    ids = expand_implied(session, direct_role_ids(session, user_id, target_type, target_id))
    if restrict_to is not None:
        ids &= expand_implied(session, set(restrict_to))
    if not ids:
        return []
    return list(session.scalars(sa.select(Role).where(Role.id.in_(ids)).order_by(Role.name)))


def target_ids_of_user(user_id: str, target_type: str = "project") -> sa.Select[str]:
    """The ``SELECT`` of the ids of the projects (or domains) on which the user (directly
    or through a group) holds any role, for ``Project.id.in_(...)``."""
    groups = sa.select(GroupMembership.group_id).where(GroupMembership.user_id == user_id)
    return sa.select(RoleAssignment.target_id).where(
        RoleAssignment.target_type == target_type,
        sa.or_(RoleAssignment.actor_id == user_id, RoleAssignment.actor_id.in_(groups)),
    )


def inherited_project_ids(session: Session, user_id: str) -> set[str]:
    """Ids of the projects on which the user (directly or through a group) inherits a role:
    every project of a domain, and every project below a project, it has one on."""
    m = InheritedRoleAssignment
    groups = sa.select(GroupMembership.group_id).where(GroupMembership.user_id == user_id)
    rows = session.execute(
        sa.select(m.target_type, m.target_id).where(
            sa.or_(m.actor_id == user_id, m.actor_id.in_(groups))
        )
    ).all()
    domains = {i for t, i in rows if t == "domain"}
    out = set(session.scalars(sa.select(Project.id).where(Project.domain_id.in_(domains))))
    frontier = {i for t, i in rows if t == "project"}
    while frontier:  # the subtrees, level by level
        level = set(session.scalars(sa.select(Project.id).where(Project.parent_id.in_(frontier))))
        frontier = level - out
        out |= level
    return out


def projects_of_user(session: Session, user_id: str) -> list[Project]:
    """Projects on which the user (directly, through a group, or by inheritance) holds
    any role."""
    q = sa.select(Project).where(
        sa.or_(
            Project.id.in_(target_ids_of_user(user_id)),
            Project.id.in_(inherited_project_ids(session, user_id)),
        )
    )
    return list(session.scalars(q.order_by(Project.name)))


def delete_assignments_on(session: Session, target_type: str, target_id: str) -> None:
    """Delete every assignment, inherited ones too, on a project or domain (it is being
    deleted)."""
    for m in (RoleAssignment, InheritedRoleAssignment):
        session.execute(sa.delete(m).where(m.target_type == target_type, m.target_id == target_id))


def delete_inherited_of(session: Session, actor_ids: list[str]) -> None:
    """Delete the inherited assignments of these users or groups (they are being deleted)."""
    session.execute(
        sa.delete(InheritedRoleAssignment).where(InheritedRoleAssignment.actor_id.in_(actor_ids))
    )


def _get(session: Session, kind: dict[str, Any], which: str, ident: str) -> Any:
    if which == SYSTEM_ID:  # the system always exists
        return None
    model, error = kind[which]
    row = session.get(model, ident)
    if row is None:
        raise error(f"Could not find {which}: {ident}.")
    return row


class Roles:
    """Roles, implied roles and assignments (``cloud.identity.roles``)."""

    def __init__(self, identity: IdentityManager):
        self.db = identity.db
        self.identity = identity

    # -- roles ---------------------------------------------------------------------------
    def list(self, ctx: RequestContext, name: str | None = None) -> list[Role]:
        """Roles, optionally filtered by exact ``name`` (GET /v3/roles)."""
        q = sa.select(Role).order_by(Role.name)
        if name is not None:
            q = q.where(Role.name == name)
        with self.db.reader() as s:
            return list(s.scalars(q))

    def get(self, ctx: RequestContext, role_id: str) -> Role:
        """One role; raises ``RoleNotFound``."""
        with self.db.reader() as s:
            return _get_role(s, role_id)

    def create(
        self,
        ctx: RequestContext,
        name: str,
        description: str | None = None,
        role_id: str | None = None,
    ) -> Role:
        """A new global role; raises ``DuplicateEntry`` (409) when the name is taken."""
        with self.db.transaction() as s:
            if s.scalar(sa.select(Role).where(Role.name == name)) is not None:
                raise exc.DuplicateEntry(f"Duplicate entry found with name {name}.")
            role = Role(name=name, description=description)
            if role_id:
                role.id = role_id
            s.add(role)
        return role

    def update(self, ctx: RequestContext, role_id: str, changes: dict[str, Any]) -> Role:
        """Change ``name``/``description``; raises ``RoleNotFound``, ``DuplicateEntry``.
        A rename is seen by tokens at once (policies name roles)."""
        with self.db.transaction() as s:
            role = _get_role(s, role_id)
            if "name" in changes and changes["name"] != role.name:
                if s.scalar(sa.select(Role).where(Role.name == changes["name"])) is not None:
                    raise exc.DuplicateEntry(f"Duplicate entry found with name {changes['name']}.")
                role.name = changes["name"]
            if "description" in changes:
                role.description = changes["description"]
        if "name" in changes:
            self.identity.tokens.invalidate()
        return role

    def delete(self, ctx: RequestContext, role_id: str) -> None:
        """Delete a role with its assignments and implications; raises ``RoleNotFound``.
        Tokens lose it at once (``TokenProvider.invalidate``)."""
        with self.db.transaction() as s:
            role = _get_role(s, role_id)
            for m in (RoleAssignment, InheritedRoleAssignment):
                s.execute(sa.delete(m).where(m.role_id == role_id))
            s.execute(
                sa.delete(ImpliedRole).where(
                    sa.or_(
                        ImpliedRole.prior_role_id == role_id, ImpliedRole.implied_role_id == role_id
                    )
                )
            )
            s.delete(role)
        self.identity.tokens.invalidate()

    # -- implied roles -------------------------------------------------------------------
    def create_implied(
        self, ctx: RequestContext, prior_id: str, implied_id: str
    ) -> tuple[Role, Role]:
        """``prior`` now implies ``implied`` (idempotent); returns both roles."""
        with self.db.transaction() as s:
            prior, implied = _get_role(s, prior_id), _get_role(s, implied_id)
            if prior_id == implied_id or prior_id in expand_implied(s, {implied_id}):
                raise exc.ValidationError("Implied roles must not form a cycle.")
            if s.get(ImpliedRole, (prior_id, implied_id)) is None:
                s.add(ImpliedRole(prior_role_id=prior_id, implied_role_id=implied_id))
        self.identity.tokens.invalidate()
        return prior, implied

    def get_implied(self, ctx: RequestContext, prior_id: str, implied_id: str) -> tuple[Role, Role]:
        """Both roles when ``prior`` implies ``implied``; raises ``ImpliedRoleNotFound``."""
        with self.db.reader() as s:
            prior, implied = _get_role(s, prior_id), _get_role(s, implied_id)
            if s.get(ImpliedRole, (prior_id, implied_id)) is None:
                raise exc.ImpliedRoleNotFound(f"{prior.name} does not imply {implied.name}.")
            return prior, implied

    def delete_implied(self, ctx: RequestContext, prior_id: str, implied_id: str) -> None:
        """Remove an implication (tokens lose the implied role at once); raises
        ``ImpliedRoleNotFound``."""
        self.get_implied(ctx, prior_id, implied_id)
        with self.db.transaction() as s:
            s.execute(
                sa.delete(ImpliedRole).where(
                    ImpliedRole.prior_role_id == prior_id, ImpliedRole.implied_role_id == implied_id
                )
            )
        self.identity.tokens.invalidate()

    def list_implied(
        self, ctx: RequestContext, prior_id: str | None = None
    ) -> builtins.list[tuple[Role, builtins.list[Role]]]:
        """``[(prior, [implied...])]`` for one prior role or for all (role_inferences)."""
        with self.db.reader() as s:
            q = sa.select(ImpliedRole)
            if prior_id is not None:
                _get_role(s, prior_id)
                q = q.where(ImpliedRole.prior_role_id == prior_id)
            pairs: dict[str, list[Role]] = {}
            for row in s.scalars(q):
                pairs.setdefault(row.prior_role_id, []).append(_get_role(s, row.implied_role_id))
            if prior_id is not None and prior_id not in pairs:
                pairs[prior_id] = []
            return [(_get_role(s, p), sorted(i, key=lambda r: r.name)) for p, i in pairs.items()]

    # -- assignments ---------------------------------------------------------------------
    def grant(
        self,
        ctx: RequestContext,
        role_id: str,
        actor_type: str,
        actor_id: str,
        target_type: str,
        target_id: str,
        inherited: bool = False,
    ) -> None:
        """Assign a role (idempotent; tokens carry it from their next use); raises the
        NotFound of whichever part is missing. ``inherited``: an OS-INHERIT assignment,
        holding on the projects below the target rather than on the target itself."""
        model = _model(inherited)
        with self.db.transaction() as s:
            _get(s, TARGETS, target_type, target_id)
            _get(s, ACTORS, actor_type, actor_id)
            _get_role(s, role_id)
            key = (actor_type, actor_id, target_type, target_id, role_id)
            if s.get(model, key) is None:
                s.add(
                    model(
                        actor_type=actor_type,
                        actor_id=actor_id,
                        target_type=target_type,
                        target_id=target_id,
                        role_id=role_id,
                    )
                )
        self.identity.tokens.invalidate()

    def check_grant(
        self,
        ctx: RequestContext,
        role_id: str,
        actor_type: str,
        actor_id: str,
        target_type: str,
        target_id: str,
        inherited: bool = False,
    ) -> None:
        """Raise ``RoleAssignmentNotFound`` unless the assignment (an inherited one, with
        ``inherited``) exists."""
        with self.db.reader() as s:
            _get(s, TARGETS, target_type, target_id)
            _get(s, ACTORS, actor_type, actor_id)
            _get_role(s, role_id)
            key = (actor_type, actor_id, target_type, target_id, role_id)
            if s.get(_model(inherited), key) is None:
                raise exc.RoleAssignmentNotFound(
                    f"Could not find role assignment with role: {role_id}, {actor_type}: "
                    f"{actor_id}, {target_type}: {target_id}."
                )

    def revoke_grant(
        self,
        ctx: RequestContext,
        role_id: str,
        actor_type: str,
        actor_id: str,
        target_type: str,
        target_id: str,
        inherited: bool = False,
    ) -> None:
        """Remove an assignment (an inherited one, with ``inherited``); raises
        ``RoleAssignmentNotFound``.

        Tokens already issued lose the role from their next use on this controller, within
        ``tokens.REVOCATION_REFRESH`` on the others (``TokenProvider.invalidate``); a token
        left with no role on its project is refused (401).
        """
        self.check_grant(ctx, role_id, actor_type, actor_id, target_type, target_id, inherited)
        m = _model(inherited)
        with self.db.transaction() as s:
            s.execute(
                sa.delete(m).where(
                    m.actor_type == actor_type,
                    m.actor_id == actor_id,
                    m.target_type == target_type,
                    m.target_id == target_id,
                    m.role_id == role_id,
                )
            )
        self.identity.tokens.invalidate()

    def list_grants(
        self,
        ctx: RequestContext,
        actor_type: str,
        actor_id: str,
        target_type: str,
        target_id: str,
        inherited: bool = False,
    ) -> builtins.list[Role]:
        """Roles directly assigned to the actor on the target (or, with ``inherited``,
        assigned there to be inherited by the projects below)."""
        m = _model(inherited)
        with self.db.reader() as s:
            _get(s, TARGETS, target_type, target_id)
            _get(s, ACTORS, actor_type, actor_id)
            ids = sa.select(m.role_id).where(
                m.actor_type == actor_type,
                m.actor_id == actor_id,
                m.target_type == target_type,
                m.target_id == target_id,
            )
            return list(s.scalars(sa.select(Role).where(Role.id.in_(ids)).order_by(Role.name)))

    def list_assignments(
        self, ctx: RequestContext, filters: dict[str, Any]
    ) -> builtins.list[Assignment]:
        """GET /v3/role_assignments.

        Args:
            filters: any of ``user_id``, ``group_id``, ``project_id``, ``domain_id``,
                ``role_id`` (str), ``system``, ``effective``, ``include_names``,
                ``include_subtree`` (bool; with ``project_id`` only).
        """
        if not ctx.is_admin and not ctx.system_scope:  # a non-admin sees only its own assignments
            filters = {**filters, "user_id": ctx.user_id}
        with self.db.reader() as s:
            return list_assignments(s, filters)


def _model(inherited: bool) -> type[RoleAssignment] | type[InheritedRoleAssignment]:
    return InheritedRoleAssignment if inherited else RoleAssignment


def _get_role(s: Session, role_id: str) -> Role:
    role = s.get(Role, role_id)
    if role is None:
        raise exc.RoleNotFound(f"Could not find role: {role_id}.")
    return role
