"""Helpers shared by the network resource families: attribute checks, visibility, ids.

Request bodies reach the managers as the dict of the resource (``{"name": ..., ...}``);
``check_attrs`` refuses unknown attributes the way Neutron does (400), and the ``want_*``
helpers validate one attribute each.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import isotime
from pocketstack.network import exceptions as exc

#: Attributes every resource accepts on create (and ignores when they name the caller).
COMMON_ATTRS = frozenset({"name", "description", "tenant_id", "project_id", "tags"})


def check_attrs(body: dict[str, Any], allowed: set[str] | frozenset[str]) -> None:
    """Raise InvalidInput (400) naming attributes not in ``allowed`` or ``COMMON_ATTRS``."""
    unknown = sorted(set(body) - set(allowed) - COMMON_ATTRS)
    if unknown:
        raise exc.InvalidInput(f"Unrecognized attribute(s) '{', '.join(unknown)}'")


def want_str(body: dict[str, Any], key: str, default: str = "", maxlen: int = 255) -> str:
    """A string attribute (None becomes ``default``), at most ``maxlen`` characters."""
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise exc.InvalidInput(f"'{value}' is not a valid string for {key}.")
    if len(value) > maxlen:
        raise exc.InvalidInput(f"'{key}' exceeds maximum length of {maxlen}.")
    return value


def want_bool(body: dict[str, Any], key: str, default: bool) -> bool:
    """A boolean attribute (``true``/``false`` strings accepted, as Neutron does)."""
    value = body.get(key, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise exc.InvalidInput(f"'{value}' is not a valid boolean value for {key}.")


def want_list(body: dict[str, Any], key: str) -> list[Any]:
    """A list attribute (None becomes [])."""
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise exc.InvalidInput(f"'{value}' is not a list for {key}.")
    return value


def owner_project(ctx: RequestContext, body: dict[str, Any]) -> str:
    """The project a new resource belongs to: the caller's, or (admin only) the one asked.

    Raises:
        NotAuthorized (403): a non-admin asks for another project.
    """
    wanted = body.get("project_id") or body.get("tenant_id")
    if wanted and wanted != ctx.project_id:
        if not ctx.is_admin:
            raise exc.NotAuthorized(
                "Only an administrator may create resources for another project."
            )
        return str(wanted)
    return ctx.project_id or ""


def check_project_scope(ctx: RequestContext, project_id: str) -> bool:
    """Whether the caller may see a resource owned by ``project_id`` (own or admin)."""
    return ctx.is_admin or ctx.owns(project_id)


def standard_attrs(row: Any) -> dict[str, Any]:
    """The standard attributes every Neutron resource shows."""
    return {
        "id": row.id,
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "name": row.name,
        "description": row.description or "",
        "created_at": isotime(row.created_at),
        "updated_at": isotime(row.updated_at or row.created_at),
        "revision_number": row.revision_number,
        "tags": list(row.tags or []),
    }


def touch(row: Any) -> None:
    """Bump a row's revision number (updated_at follows through the ORM)."""
    row.revision_number = (row.revision_number or 0) + 1


def add_unique(session: Session, make_row: Any, attempts: int = 32) -> Any:
    """Insert ``make_row()`` in a savepoint, retrying with a new row on ``IntegrityError``.

    ``make_row`` picks its unique value (a MAC, a VNI) afresh on each call. Returns the row.

    Raises:
        IntegrityError: still colliding after ``attempts`` tries.
    """
    for attempt in range(attempts):
        row = make_row()
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
            return row
        except IntegrityError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
