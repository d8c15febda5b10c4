"""Helpers shared by the network resource families: ownership, visibility, revisions and
inserts of rows with a random unique value.

(Request bodies are parsed into the families' records by ``network/api``; the families
never see a body.)
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, Final, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.network import exceptions as exc

M = TypeVar("M")

#: ``device_owner`` of the ports the Network service makes itself (Neutron's
#: ``DEVICE_OWNER_*`` constants).
DHCP_OWNER = "network:dhcp"
ROUTER_INTERFACE = "network:router_interface"
ROUTER_GATEWAY = "network:router_gateway"
FLOATINGIP = "network:floatingip"
#: a router's own ports (the L3 role plugs them; a floating IP's port is never bound)
ROUTER_OWNERS = (ROUTER_INTERFACE, ROUTER_GATEWAY)


class Unset(enum.Enum):
    """The type of ``UNSET``."""

    UNSET = "UNSET"


#: An attribute a request did not give, where ``None`` is a value (a subnet's
#: ``gateway_ip: null`` means "no gateway", an absent one "the first host").
UNSET: Final = Unset.UNSET


def owner_project(ctx: RequestContext, wanted: str | None) -> str:
    """The project a new resource belongs to: the caller's, or (admin only) ``wanted``.

    Raises:
        NotAuthorized (403): a non-admin asks for another project.
    """
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


def load_scoped(
    session: Session,
    ctx: RequestContext,
    model: type[M],
    row_id: str,
    not_found: Callable[[str], Exception],
) -> M:
    """The ``model`` row ``row_id`` if the caller may see it (own project or admin).

    Raises:
        ``not_found(row_id)`` (the family's 404) when there is no such row or it is another
        project's, so a caller cannot tell the two apart.
    """
    row = session.get(model, row_id)
    if row is None or not check_project_scope(ctx, row.project_id):  # type: ignore[attr-defined]
        raise not_found(row_id)
    return row


def set_given(row: Any, changes: Any, names: tuple[str, ...]) -> None:
    """Copy each of ``names`` from an update record (``NetworkUpdate``...) onto ``row``
    where the request gave it (not ``None``); a list is copied, not shared."""
    for name in names:
        value = getattr(changes, name)
        if value is not None:
            setattr(row, name, list(value) if isinstance(value, list) else value)


def touch(row: Any) -> None:
    """Bump a row's revision number; the change makes the ORM set ``updated_at``
    (``TimestampMixin``'s ``onupdate``) when the row is flushed."""
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
