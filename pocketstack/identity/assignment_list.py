"""The role assignment listing (GET /v3/role_assignments), with ``effective`` expansion.

Effective mode follows Keystone: group assignments are replaced by one assignment per member
user (remembering the group), and each assignment is followed by those of the roles it
implies (remembering the prior role).

OS-INHERIT: an inherited assignment is listed on its own target with
``"OS-INHERIT:inherited_to": "projects"`` in its scope (``scope.OS-INHERIT:inherited_to``
lists only those); in effective mode it is listed instead once on each project it reaches
(the projects of its domain, or below its project), its ``assignment`` link naming the
inherited assignment, as Keystone does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

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


def _actor_filters(m: Any, q: Any, f: dict[str, Any]) -> Any:
    if f.get("group_id"):
        q = q.where(m.actor_type == "group", m.actor_id == f["group_id"])
    if f.get("user_id"):
        user = sa.and_(m.actor_type == "user", m.actor_id == f["user_id"])
        if f.get("effective"):  # and the user's groups, whose members _expand picks out
            groups = sa.select(GroupMembership.group_id).where(
                GroupMembership.user_id == f["user_id"]
            )
            user = sa.or_(user, sa.and_(m.actor_type == "group", m.actor_id.in_(groups)))
        q = q.where(user)
    return q


def _row(r: Any, inherited: bool) -> dict[str, Any]:
    return {
        "actor_type": r.actor_type,
        "actor_id": r.actor_id,
        "target_type": r.target_type,
        "target_id": r.target_id,
        "role_id": r.role_id,
        "membership_group": None,
        "prior_role": None,
        "inherited": inherited,
        "source": None,
    }


def _direct_rows(s: Session, f: dict[str, Any]) -> list[dict[str, Any]]:
    m = RoleAssignment
    q = sa.select(m)
    if f.get("project_id"):
        q = q.where(m.target_type == "project", m.target_id == f["project_id"])
    if f.get("domain_id"):
        q = q.where(m.target_type == "domain", m.target_id == f["domain_id"])
    if f.get("system"):
        q = q.where(m.target_type == "system")
    return [_row(r, False) for r in s.scalars(_actor_filters(m, q, f))]


def inheriting_targets(session: Session, project_id: str) -> list[tuple[str, str]]:
    """``[(target_type, target_id)]`` whose inherited assignments reach the project: its
    ancestors (nearest first) and its domain; empty for a project that does not exist."""
    project = session.get(Project, project_id)
    if project is None:
        return []
    out: list[tuple[str, str]] = []
    parent_id = project.parent_id
    while parent_id and ("project", parent_id) not in out:
        out.append(("project", parent_id))
        parent = session.get(Project, parent_id)
        parent_id = parent.parent_id if parent is not None else None
    return [*out, ("domain", project.domain_id)]


def reached_projects(s: Session, target_type: str, target_id: str) -> list[str]:
    """Ids of the projects an inherited assignment on the target reaches: every project of
    a domain, or every project below a project (breadth first)."""
    if target_type == "domain":
        q = sa.select(Project.id).where(Project.domain_id == target_id).order_by(Project.name)
        return list(s.scalars(q))
    out: list[str] = []
    frontier = [target_id]
    while frontier:
        q = sa.select(Project.id).where(Project.parent_id.in_(frontier)).order_by(Project.name)
        frontier = [p for p in s.scalars(q) if p not in out]
        out += frontier
    return out


def _inherited_rows(s: Session, f: dict[str, Any]) -> list[dict[str, Any]]:
    m = InheritedRoleAssignment
    q = sa.select(m)
    effective = bool(f.get("effective"))
    if f.get("system") or (effective and f.get("domain_id")):
        return []  # they reach the domain's projects, never the domain nor the system
    if effective and f.get("project_id"):  # those on its ancestors and domain reach it
        targets = inheriting_targets(s, f["project_id"])
        if not targets:
            return []
        q = q.where(sa.or_(*(sa.and_(m.target_type == t, m.target_id == i) for t, i in targets)))
    elif f.get("project_id"):
        q = q.where(m.target_type == "project", m.target_id == f["project_id"])
    elif f.get("domain_id"):
        q = q.where(m.target_type == "domain", m.target_id == f["domain_id"])
    rows = [_row(r, True) for r in s.scalars(_actor_filters(m, q, f))]
    if not effective:
        return rows
    out = []
    for row in rows:
        source = (row["target_type"], row["target_id"])
        for pid in reached_projects(s, *source):
            if not f.get("project_id") or pid == f["project_id"]:
                out.append({**row, "target_type": "project", "target_id": pid, "source": source})
    return out


def _raw_rows(s: Session, f: dict[str, Any]) -> list[dict[str, Any]]:
    direct = [] if f.get("inherited") and not f.get("effective") else _direct_rows(s, f)
    return direct + _inherited_rows(s, f)


def _expand(s: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row in rows:
        if row["actor_type"] == "group":
            members = s.scalars(
                sa.select(GroupMembership.user_id).where(
                    GroupMembership.group_id == row["actor_id"]
                )
            )
            for user_id in members:
                out.append(
                    {
                        **row,
                        "actor_type": "user",
                        "actor_id": user_id,
                        "membership_group": row["actor_id"],
                    }
                )
        else:
            out.append(row)
    # the implication graph is small: read it once rather than once per row and step
    implies: dict[str, list[str]] = {}
    for prior_id, implied_id in s.execute(
        sa.select(ImpliedRole.prior_role_id, ImpliedRole.implied_role_id).order_by(
            ImpliedRole.prior_role_id, ImpliedRole.implied_role_id
        )
    ):
        implies.setdefault(prior_id, []).append(implied_id)
    implied: list[dict[str, Any]] = []
    for row in out:
        seen = {row["role_id"]}
        frontier = [row["role_id"]]
        while frontier:
            prior = frontier.pop()
            for imp in implies.get(prior, []):
                if imp not in seen:
                    seen.add(imp)
                    frontier.append(imp)
                    implied.append({**row, "role_id": imp, "prior_role": prior})
    return out + implied


@dataclass(frozen=True)
class Ref:
    """An id and its name (None when the row is gone): the domain of a user, group or
    project in a listing with names, and a token's domain and roles (``tokens.py``)."""

    id: str
    name: str | None


@dataclass(frozen=True)
class Named:
    """A role, actor or target of an assignment: its id, and with ``include_names`` its
    name (None when not asked for, or the row is gone) and, for users, groups and projects,
    its domain."""

    id: str
    name: str | None = None
    domain: Ref | None = None


@dataclass(frozen=True)
class Assignment:
    """One role assignment of GET /v3/role_assignments.

    Attributes:
        actor_type: ``user`` or ``group``; target_type: ``project``, ``domain`` or
            ``system`` (target id ``system``).
        membership_group: in effective mode, the group the user holds the role through.
        prior_role: in effective mode, the role id that implies this one.
        inherited: an OS-INHERIT assignment (on ``source`` in effective mode).
        source: in effective mode, ``(target_type, target_id)`` of the inherited
            assignment this one on a project comes from; else None.
    """

    role: Named
    actor_type: str
    actor: Named
    target_type: str
    target: Named
    membership_group: str | None = None
    prior_role: str | None = None
    inherited: bool = False
    source: tuple[str, str] | None = None


def _named(s: Session, model: Any, ident: str, names: bool, domain: bool) -> Named:
    if not names:
        return Named(ident)
    row = s.get(model, ident)
    if row is None:
        return Named(ident)
    if not domain:
        return Named(ident, row.name)
    dom = s.get(Domain, row.domain_id)
    return Named(ident, row.name, Ref(row.domain_id, dom.name if dom else None))


def _record(s: Session, row: dict[str, Any], names: bool) -> Assignment:
    actor_model = User if row["actor_type"] == "user" else Group
    target_model = Project if row["target_type"] == "project" else Domain
    return Assignment(
        role=_named(s, Role, row["role_id"], names, False),
        actor_type=row["actor_type"],
        actor=_named(s, actor_model, row["actor_id"], names, True),
        target_type=row["target_type"],
        target=(
            Named(row["target_id"])
            if row["target_type"] == "system"
            else _named(s, target_model, row["target_id"], names, row["target_type"] == "project")
        ),
        membership_group=row["membership_group"],
        prior_role=row["prior_role"],
        inherited=row["inherited"],
        source=row["source"],
    )


def list_assignments(s: Session, f: dict[str, Any]) -> list[Assignment]:
    """Assignments matching the filters ``f`` (see ``Roles.list_assignments``). With
    ``include_subtree`` (and a ``project_id``), those on the project and on every project
    below it, each listed as the project alone would list it (Keystone's
    ``include_subtree``)."""
    if f.get("include_subtree") and f.get("project_id"):
        projects = [f["project_id"], *reached_projects(s, "project", f["project_id"])]
        rows = [r for pid in projects for r in _raw_rows(s, {**f, "project_id": pid})]
    else:
        rows = _raw_rows(s, f)
    if f.get("effective"):
        rows = _expand(s, rows)
        if f.get("user_id"):
            rows = [r for r in rows if r["actor_type"] == "user" and r["actor_id"] == f["user_id"]]
    if f.get("role_id"):
        rows = [r for r in rows if r["role_id"] == f["role_id"]]
    return [_record(s, r, bool(f.get("include_names"))) for r in rows]
