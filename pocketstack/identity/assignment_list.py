"""The role assignment listing (GET /v3/role_assignments), with ``effective`` expansion.

Effective mode follows Keystone: group assignments are replaced by one assignment per member
user (remembering the group), and each assignment is followed by those of the roles it
implies (remembering the prior role).
"""

from __future__ import annotations

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
    if f.get("group_id"):
        q = q.where(RoleAssignment.actor_type == "group", RoleAssignment.actor_id == f["group_id"])
    if f.get("user_id") and not f.get("effective"):
        q = q.where(RoleAssignment.actor_type == "user", RoleAssignment.actor_id == f["user_id"])
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
    implied: list[dict[str, Any]] = []
    for row in out:
        seen = {row["role_id"]}
        frontier = [(row["role_id"])]
        while frontier:
            prior = frontier.pop()
            for imp in s.scalars(
                sa.select(ImpliedRole.implied_role_id).where(ImpliedRole.prior_role_id == prior)
            ):
                if imp not in seen:
                    seen.add(imp)
                    frontier.append(imp)
                    implied.append({**row, "role_id": imp, "prior_role": prior})
    return out + implied


def _named(s: Session, model: Any, ident: str, names: bool, domain: bool) -> dict[str, Any]:
    ref: dict[str, Any] = {"id": ident}
    if not names:
        return ref
    row = s.get(model, ident)
    if row is None:
        return ref
    ref["name"] = row.name
    if domain:
        dom = s.get(Domain, row.domain_id)
        ref["domain"] = {"id": row.domain_id, "name": dom.name if dom else None}
    return ref


def _render(s: Session, row: dict[str, Any], names: bool) -> dict[str, Any]:
    actor_model = User if row["actor_type"] == "user" else Group
    target_model = Project if row["target_type"] == "project" else Domain
    return {
        "role": _named(s, Role, row["role_id"], names, False),
        row["actor_type"]: _named(s, actor_model, row["actor_id"], names, True),
        "scope": {
            row["target_type"]: _named(
                s, target_model, row["target_id"], names, row["target_type"] == "project"
            )
        },
        "membership_group": row["membership_group"],
        "prior_role": row["prior_role"],
    }


def list_assignments(s: Session, f: dict[str, Any]) -> list[dict[str, Any]]:
    """Assignments matching the filters ``f`` (see ``RoleManager.list_assignments``)."""
    rows = _raw_rows(s, f)
    if f.get("effective"):
        rows = _expand(s, rows)
        if f.get("user_id"):
            rows = [r for r in rows if r["actor_type"] == "user" and r["actor_id"] == f["user_id"]]
    if f.get("role_id"):
        rows = [r for r in rows if r["role_id"] == f["role_id"]]
    return [_render(s, r, bool(f.get("include_names"))) for r in rows]
