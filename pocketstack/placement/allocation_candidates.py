"""Allocation candidates (Placement API reference, "Allocation candidates"): the providers
that can take a request's resources now, found by the database in one query.

``find`` builds one ``SELECT`` over resource providers: per requested class, a join on its
inventory and on that class's summed allocations, keeping a provider only when
``(total - reserved) * allocation_ratio - used >= amount`` and the amount fits the
inventory's ``min_unit``/``max_unit``/``step_size``; required, any-of and forbidden traits
and aggregates (``member_of``) and ``in_tree`` are ``EXISTS`` conditions of the same
query, and ``limit`` its ``LIMIT``. Python then only reads the summaries of the (at most
``limit``) providers found, in three batched queries.

Each candidate is one provider that holds every requested class itself: resources are not
spread over a provider tree or shared providers (nested and sharing candidates, granular
request groups: docs/placement.md, "Not yet").
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING

import sqlalchemy as sa

from pocketstack.common.auth import RequestContext
from pocketstack.placement.models import Allocation, Inventory, ProviderTrait
from pocketstack.placement.resource_providers import (
    Provider,
    ProviderFilters,
    capacity_conditions,
    filter_conditions,
    provider_query,
)

if TYPE_CHECKING:
    from pocketstack.service import Cloud


@dataclasses.dataclass(frozen=True)
class Summary:
    """A candidate provider with ``{rc: (capacity, used)}`` of all its inventory and its
    traits."""

    provider: Provider
    resources: dict[str, tuple[int, int]]
    traits: list[str]


class AllocationCandidates:
    """``cloud.placement.allocation_candidates``."""

    def __init__(self, cloud: Cloud):
        self.db = cloud.db

    def find(
        self,
        ctx: RequestContext,
        resources: Mapping[str, int],
        filters: ProviderFilters,
        limit: int | None = None,
    ) -> list[Summary]:
        """The providers that can take ``resources`` and pass ``filters``, at most
        ``limit`` (which ones is up to the database), oldest first, each with its summary.

        Raises:
            InvalidQuery (400): ``in_tree`` names no provider.
        """
        with self.db.reader() as s:
            classes = tuple(sorted(resources))
            params = {f"amount_{n}": int(resources[rc]) for n, rc in enumerate(classes)}
            if filters.in_tree is None:
                # the whole statement built once per (classes, filters, limit): SQLAlchemy
                # then reuses its compiled form without rebuilding or re-keying it
                query = _candidates_query(classes, filters, limit)
            else:  # in_tree's condition names a tree found by a query of its own
                query = _capacity_query(classes).where(*filter_conditions(s, filters))
                if limit is not None:
                    query = query.limit(limit)
            conn = s.connection()
            # no ORDER BY: with one, the database would find and sort every candidate
            # before applying the LIMIT; without, it stops at the limit (Placement's order
            # is unspecified too). The few found are sorted here.
            rows = conn.execute(query, params)
            providers = sorted((Provider(*row) for row in rows), key=lambda p: p.id)
            ids = [p.id for p in providers]
            if not ids:
                return []
            # two round trips for the summaries: inventories with their used amounts, traits
            inventories = conn.execute(_SUMMARY_INVENTORIES, {"ids": ids}).all()
            traits: dict[int, list[str]] = {}
            for rp_id, name in conn.execute(_SUMMARY_TRAITS, {"ids": ids}):
                traits.setdefault(rp_id, []).append(name)
        summaries: dict[int, dict[str, tuple[int, int]]] = {i: {} for i in ids}
        for row in inventories:
            capacity = int((row.total - row.reserved) * row.allocation_ratio)
            summaries[row.resource_provider_id][row.resource_class] = (
                capacity,
                int(row.used),
            )
        return [Summary(p, summaries[p.id], traits.get(p.id, [])) for p in providers]


@functools.lru_cache(maxsize=128)
def _capacity_query(classes: tuple[str, ...]) -> sa.Select:
    """The candidates query for these resource classes, amounts as bound parameters
    ``amount_<n>`` (n: the class's index in ``classes``): built once per set of classes,
    as building it costs more than the database takes to answer it."""
    amounts = {rc: sa.bindparam(f"amount_{n}", type_=sa.Integer) for n, rc in enumerate(classes)}
    return capacity_conditions(provider_query(), amounts)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=256)
def _candidates_query(
    classes: tuple[str, ...], filters: ProviderFilters, limit: int | None
) -> sa.Select:
    """``_capacity_query(classes)`` with ``filters`` (no ``in_tree``) and ``limit``."""
    query = _capacity_query(classes).where(*filter_conditions(None, filters))
    return query.limit(limit) if limit is not None else query


_INV = Inventory.__table__.c
_ALLOC = Allocation.__table__.c
_PT = ProviderTrait.__table__.c
#: the candidates' inventories, each with the sum of its class's allocations (answered by
#: the ``(resource_provider_id, resource_class)`` index of ``placement_allocations``)
_SUMMARY_INVENTORIES = sa.select(
    _INV.resource_provider_id,
    _INV.resource_class,
    _INV.total,
    _INV.reserved,
    _INV.allocation_ratio,
    sa.select(sa.func.coalesce(sa.func.sum(_ALLOC.used), 0))
    .where(
        _ALLOC.resource_provider_id == _INV.resource_provider_id,
        _ALLOC.resource_class == _INV.resource_class,
    )
    .scalar_subquery()
    .label("used"),
).where(_INV.resource_provider_id.in_(sa.bindparam("ids", expanding=True)))
_SUMMARY_TRAITS = (
    sa.select(_PT.resource_provider_id, _PT.trait)
    .where(_PT.resource_provider_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(_PT.trait)
)
