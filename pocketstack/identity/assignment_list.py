"""The role assignment listing (GET /v3/role_assignments), with ``effective`` expansion.

Effective mode follows Keystone: group assignments are replaced by one assignment per member
user (remembering the group), and each assignment is followed by those of the roles it
implies (remembering the prior role).
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
    Project,
    Role,
    RoleAssignment,
    User,
)


def _raw_rows(s: Session, f: dict[str, Any]) -> list[dict[str, Any]]:
    q = sa.select(RoleAssignment)
    if f.get("project_id"):
        q = q.where(
            RoleAssignment.target_type == "project", RoleAssignment.target_id == f["project_id"]
        )
    if f.get("domain_id"):
        q = q.where(
            RoleAssignment.target_type == "domain", RoleAssignment.target_id == f["domain_id"]
        )
    if f.get("system"):
        q = q.where(RoleAssignment.target_type == "system")
    if f.get("group_id"):
        q = q.where(RoleAssignment.actor_type == "group", RoleAssignment.actor_id == f["group_id"])
    if f.get("user_id"):
        user = sa.and_(RoleAssignment.actor_type == "user", RoleAssignment.actor_id == f["user_id"])
        if f.get("effective"):  # and the user's groups, whose members _expand picks out
            groups = sa.select(GroupMembership.group_id).where(
                GroupMembership.user_id == f["user_id"]
            )
            user = sa.or_(
                user,
                sa.and_(RoleAssignment.actor_type == "group", RoleAssignment.actor_id.in_(groups)),
            )
        q = q.where(user)
    return [
        {
            "actor_type": r.actor_type,
            "actor_id": r.actor_id,
            "target_type": r.target_type,
            "target_id": r.target_id,
            "role_id": r.role_id,
            "membership_group": None,
            "prior_role": None,
        }
        for r in s.scalars(q)
    ]


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
    """

    role: Named
    actor_type: str
    actor: Named
    target_type: str
    target: Named
    membership_group: str | None = None
    prior_role: str | None = None


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
    )


def list_assignments(s: Session, f: dict[str, Any]) -> list[Assignment]:
    """Assignments matching the filters ``f`` (see ``Roles.list_assignments``)."""
    rows = _raw_rows(s, f)
    if f.get("effective"):
        rows = _expand(s, rows)
        if f.get("user_id"):
            rows = [r for r in rows if r["actor_type"] == "user" and r["actor_id"] == f["user_id"]]
    if f.get("role_id"):
        rows = [r for r in rows if r["role_id"] == f["role_id"]]
    return [_record(s, r, bool(f.get("include_names"))) for r in rows]
