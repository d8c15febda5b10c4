"""Sorting and keyset paging of list queries, done in SQL, for every service.

OpenStack lists page with ``limit`` and ``marker`` (the id of the last item the client saw)
and sort with ``sort_key``/``sort_dir`` pairs (Compute API reference "Paginated collections",
Networking API "Pagination" and "Sorting", Image API "Sorting and pagination"). ``paginate``
turns such a request into one ``SELECT``: it orders by the sort keys plus a unique tie-breaker
column, and starts after the marker row with a keyset condition (``(a, b, id) > (ma, mb, mid)``
spelled out column by column, as oslo.db's ``paginate_query``), so the database reads only the
page and a page never repeats or skips a row when others are added meanwhile.

NULLs sort first in ascending order on every database (SQLite, PostgreSQL and MySQL disagree
by default), by ordering on ``col IS NULL`` before ``col``.

Services keep their own filters (``query.where(...)``) and their own error for an unknown
marker: each passes the exception to raise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common import errors

ASC, DESC = "asc", "desc"


@dataclass(frozen=True)
class SortSpec:
    """What a list may be sorted by.

    Attributes:
        columns: API sort key -> mapped column (``{"name": Server.display_name}``).
        default: ``(key, dir)`` pairs used when the request names none.
        tie_breaker: a unique column ordered last (and compared last after a marker).
        default_dir: direction of a key given without one (``desc`` for Nova, ``asc`` for
            Neutron).
        invalid: ``message -> error`` raised by ``order`` for an unknown key or direction
            (default: 400 ``BadRequest``, as Nova and Glance answer).
    """

    columns: Mapping[str, Any]
    default: Sequence[tuple[str, str]]
    tie_breaker: Any
    default_dir: str = DESC
    invalid: Callable[[str], errors.PocketError] = field(
        default=lambda message: errors.BadRequest(message)
    )

    def order(
        self, keys: Sequence[str] | None, dirs: Sequence[str] | None
    ) -> list[tuple[Any, str]]:
        """``[(column, "asc"|"desc")]`` for the request, tie-breaker last.

        A key without its own direction takes the last given direction (Nova's rule), or
        ``default_dir`` when none was given.

        Raises:
            the spec's ``invalid`` error (400 BadRequest by default): an unknown key or
            direction.
        """
        pairs: list[tuple[str, str]]
        if keys:
            given = list(dirs or [])
            pairs = []
            for i, key in enumerate(keys):
                direction = (
                    given[i] if i < len(given) else (given[-1] if given else self.default_dir)
                )
                pairs.append((key, direction))
        else:
            pairs = list(self.default)
        result = []
        for key, direction in pairs:
            if key not in self.columns or direction not in (ASC, DESC):
                raise self.invalid(f"Invalid sort key or direction: {key} {direction}.")
            result.append((self.columns[key], direction))
        tie_dir = result[-1][1] if result else self.default_dir
        if not any(col is self.tie_breaker for col, _ in result):
            result.append((self.tie_breaker, tie_dir))
        return result


def paginate(
    session: Session,
    query: sa.Select[Any],
    order: Sequence[tuple[Any, str]],
    *,
    limit: int | None,
    marker: Any = None,
    marker_row: Callable[[Session, Any], Any | None] | None = None,
    marker_missing: Callable[[Any], errors.PocketError] | None = None,
) -> sa.Select[Any]:
    """``query`` ordered by ``order``, starting after ``marker``, at most ``limit`` rows.

    Args:
        session: to load the marker row (a reader session).
        query: the service's filtered ``SELECT`` of one mapped entity.
        order: ``[(column, dir)]`` from ``SortSpec.order``; the last column must be unique.
        limit: rows wanted (None: all); a negative limit is the caller's 400 to raise.
        marker: the id of the last row seen, or None for the first page.
        marker_row: ``(session, marker) -> row or None``; the marker must be a row the same
            query would list, so services pass a lookup restricted like their list.
        marker_missing: ``marker -> error`` raised when ``marker_row`` finds nothing
            (Nova: 400 "marker [x] not found"; Glance: 400; Neutron: 404).

    Returns:
        The new ``SELECT`` (execute it with ``session.scalars``).

    Raises:
        ``marker_missing(marker)``: the marker names no listed row.
    """
    for column, direction in order:
        query = query.order_by(column.is_(None).desc() if direction == ASC else column.is_(None))
        query = query.order_by(column.asc() if direction == ASC else column.desc())
    if marker is not None:
        row = marker_row(session, marker) if marker_row is not None else None
        if row is None:
            if marker_missing is None:
                raise errors.BadRequest(f"marker [{marker}] not found")
            raise marker_missing(marker)
        query = query.where(after(order, row))
    if limit is not None:
        query = query.limit(limit)
    return query


def after(order: Sequence[tuple[Any, str]], row: Any) -> Any:
    """The SQL condition "comes after ``row`` in ``order``" (NULLs first when ascending).

    For keys ``k1..kn``: ``k1 > r1 OR (k1 = r1 AND k2 > r2) OR ...``, where "greater" follows
    each key's direction and treats NULL as smaller than every value.
    """
    alternatives = []
    equal_so_far: list[Any] = []
    for column, direction in order:
        value = getattr(row, column.key)
        if isinstance(value, bool):  # SQLAlchemy takes only = and IS against a Python bool
            value = sa.literal(value, column.type)
        alternatives.append(sa.and_(*equal_so_far, _beyond(column, direction, value)))
        equal_so_far.append(column.is_(None) if value is None else column == value)
    return sa.or_(*alternatives)


def _beyond(column: Any, direction: str, value: Any) -> Any:
    if direction == ASC:  # NULL < every value
        return column.is_not(None) if value is None else column > value
    if value is None:  # descending: nothing comes after NULL
        return sa.false()
    return sa.or_(column < value, column.is_(None))
