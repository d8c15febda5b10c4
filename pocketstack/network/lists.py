"""Neutron list semantics done in SQL: filters, tag filters, sorting and keyset paging.

Networking API v2.0 reference, "Filtering and column selection", "Sorting", "Pagination":

- every attribute the family maps is a filter; ``?name=a&name=b`` matches either (repeated
  keys are OR, different keys AND); booleans match ``true``/``false`` (``1``/``0``); an
  absent value (``null``) matches ``""``, ``None`` or ``null``; attributes a family does not
  map are ignored, as they always were here;
- ``tags``/``tags-any``/``not-tags``/``not-tags-any`` take comma lists;
- ``sort_key``/``sort_dir`` and ``limit``/``marker``/``page_reverse`` (``common.paging``).

A family declares ``FILTERS``: API attribute -> a mapped column, a constant (``sa.null()``,
``sa.literal(False)``: the attribute the view always shows with that value) or a function
``wanted -> SQL condition`` (list attributes: ``EXISTS`` over the joined table or the JSON
list). The query is built here; the family runs it and loads what its view needs for the
page only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common import paging
from pocketstack.common.auth import RequestContext
from pocketstack.common.db import json_contains
from pocketstack.network import exceptions as exc

T = TypeVar("T")

#: Tag filter names of the "tag-ext" extension.
TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")
#: Values an absent (None) attribute matches, as the Python filter always took them.
_NULLISH = ("", "None", "null")
#: The largest ``limit`` passed to SQL (a 64-bit LIMIT overflows SQLite past 2**63).
MAX_LIMIT = 2**31


@dataclass(frozen=True)
class ListQuery:
    """A list request, parsed (``network.api.listing.parse``).

    Attributes:
        filters: attribute -> wanted values (OR); control keys excluded.
        tags: tag filter name (``TAG_FILTERS``) -> the tags it names.
        sort_keys, sort_dirs: as given (``asc``/``desc`` lower-cased).
        limit: page size, or None for every row.
        marker: id of the row the page starts after (before, with ``page_reverse``).
        page_reverse: page backwards from the marker.
        all_projects: an admin asks for every project's resources.
    """

    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    tags: Mapping[str, frozenset[str]] = field(default_factory=dict)
    sort_keys: Sequence[str] = ()
    sort_dirs: Sequence[str] = ()
    limit: int | None = None
    marker: str | None = None
    page_reverse: bool = False
    all_projects: bool = False


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, in the requested order.

    Attributes:
        items: the page's records.
        more: rows remain past the page in the direction of travel (forwards, or backwards
            with ``page_reverse``): the view links to them.
    """

    items: list[T]
    more: bool = False


def _canonical_int(text: str) -> bool:
    """Whether ``text`` is an integer as the view renders one, within SQL's 64 bits."""
    if not (text.isascii() and text.lstrip("-").isdigit()) or str(int(text)) != text:
        return False
    return -(2**63) <= int(text) < 2**63


def truth(wanted: str) -> bool | None:
    """A boolean filter value: ``true``/``1`` True, ``false``/``0`` False (any case), anything
    else None (it matches no row)."""
    text = wanted.lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    return None


def bool_filter(condition: Any) -> Callable[[str], Any]:
    """A ``FILTERS`` entry for a computed boolean attribute (``is_default``, ``alive``...):
    ``true`` matches the rows where the SQL ``condition`` holds, ``false`` the others, any
    other value no row."""

    def match(wanted: str) -> Any:
        value = truth(wanted)
        if value is None:
            return sa.false()
        return condition if value else sa.not_(condition)

    return match


def equals(expr: Any, wanted: str) -> Any:
    """The SQL condition "the attribute rendered from ``expr`` matches ``wanted``"."""
    kind = expr.type
    if isinstance(kind, sa.Boolean):
        value = truth(wanted)
        return sa.false() if value is None else expr.is_(value)
    if isinstance(kind, sa.Integer):
        match = expr == int(wanted) if _canonical_int(wanted) else sa.false()
    else:
        match = expr == wanted
    return sa.or_(expr.is_(None), match) if wanted in _NULLISH else match


def tag_condition(session: Session, column: Any, tags: Mapping[str, frozenset[str]]) -> Any:
    """SQL condition of the tag filters (every one given must hold)."""
    conditions = []
    for name, wanted in tags.items():
        each = [json_contains(session, column, t) for t in sorted(wanted)]
        every = sa.and_(sa.true(), *each)
        anyone = sa.or_(sa.false(), *each)
        conditions.append(
            {
                "tags": every,
                "tags-any": anyone,
                "not-tags": sa.not_(every),
                "not-tags-any": sa.not_(anyone),
            }[name]
        )
    return sa.and_(sa.true(), *conditions)


def filter_condition(filters: Mapping[str, Any], query: ListQuery) -> Any:
    """SQL condition of ``query.filters`` over a family's ``FILTERS`` (unknown: ignored)."""
    conditions = []
    for key, wanted in query.filters.items():
        target = filters.get(key)
        if target is None:
            continue
        wanted = [w for w in wanted if "\x00" not in w]  # no row holds NUL (PostgreSQL: error)
        if isinstance(target, sa.ClauseElement) or hasattr(target, "__clause_element__"):
            conditions.append(sa.or_(sa.false(), *(equals(target, w) for w in wanted)))
        else:
            conditions.append(sa.or_(sa.false(), *(target(w) for w in wanted)))
    return sa.and_(sa.true(), *conditions)


def sort_spec(columns: Mapping[str, Any], model: Any) -> paging.SortSpec:
    """Neutron's sorting of one family: by ``columns`` (API attribute -> mapped column, the
    ones its ``FILTERS`` also match on) and ``model``'s ``created_at``/``updated_at``,
    ascending by default, oldest first when the request names no key, ties broken by
    ``model.id``; an unknown key is a 400."""
    return paging.SortSpec(
        columns={**columns, "created_at": model.created_at, "updated_at": model.updated_at},
        default=[("created_at", paging.ASC)],
        tie_breaker=model.id,
        default_dir=paging.ASC,
        invalid=lambda message: exc.InvalidInput(message),
    )


def fetch(
    session: Session,
    select: sa.Select[Any],
    spec: paging.SortSpec,
    query: ListQuery,
    marker_missing: Callable[[Any], Any],
) -> Page[Any]:
    """Run the family's filtered ``select`` sorted and paged as ``query`` asks.

    The marker must be a row ``select`` lists (else ``marker_missing(marker)``, the family's
    404). With ``page_reverse`` the order is flipped for the SQL read and the page turned
    back, so items always come in the requested order.

    Raises:
        the spec's InvalidInput (400: unknown sort key or direction), ``marker_missing``.
    """
    order = spec.order(query.sort_keys, query.sort_dirs)
    if query.page_reverse:
        order = [(c, paging.DESC if d == paging.ASC else paging.ASC) for c, d in order]
    entity = select.column_descriptions[0]["entity"]

    def marker_row(s: Session, marker: Any) -> Any:
        if "\x00" in str(marker):
            return None
        return s.scalars(select.where(entity.id == marker)).first()

    limit = None if query.limit is None else min(query.limit, MAX_LIMIT)
    paged = paging.paginate(
        session,
        select,
        order,
        limit=None if limit is None else limit + 1,
        marker=query.marker,
        marker_row=marker_row,
        marker_missing=marker_missing,
    )
    rows = list(session.scalars(paged))
    more = limit is not None and len(rows) > limit
    rows = rows[:limit] if limit is not None else rows
    if query.page_reverse:
        rows.reverse()
    return Page(rows, more)


def fetch_owned(
    session: Session,
    ctx: RequestContext,
    model: Any,
    filters: Mapping[str, Any],
    spec: paging.SortSpec,
    query: ListQuery,
    marker_missing: Callable[[Any], Any],
) -> Page[Any]:
    """A page of a project-owned family's rows (``model`` has ``project_id`` and ``tags``):
    ``query``'s filters over ``filters`` and its tag filters, the caller's project only
    unless an admin asks ``all_projects``, sorted and paged by ``fetch``.

    Raises:
        the errors of ``fetch`` (400: sort key or direction; ``marker_missing``: the marker).
    """
    select = sa.select(model).where(
        filter_condition(filters, query),
        tag_condition(session, model.tags, query.tags),
    )
    if not (query.all_projects and ctx.is_admin):
        select = select.where(model.project_id == ctx.project_id)
    return fetch(session, select, spec, query, marker_missing)
