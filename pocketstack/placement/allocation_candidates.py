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
            query = _capacity_query(classes)
            # no ORDER BY: with one, the database would find and sort every candidate
            # before applying the LIMIT; without, it stops at the limit (Placement's order
            # is unspecified too). The few found are sorted here.
            query = query.where(*filter_conditions(s, filters))
            if limit is not None:
                query = query.limit(limit)
            rows = s.execute(query, params)
            providers = sorted((Provider(*row) for row in rows), key=lambda p: p.id)
            ids = [p.id for p in providers]
            if not ids:
                return []
            inv = Inventory.__table__.c
            inventories = s.execute(
                sa.select(
                    inv.resource_provider_id,
                    inv.resource_class,
                    inv.total,
                    inv.reserved,
                    inv.allocation_ratio,
                ).where(inv.resource_provider_id.in_(ids))
            ).all()
            alloc = Allocation.__table__.c
            used = {
                (rp_id, rc): int(total)
                for rp_id, rc, total in s.execute(
                    sa.select(
                        alloc.resource_provider_id, alloc.resource_class, sa.func.sum(alloc.used)
                    )
                    .where(alloc.resource_provider_id.in_(ids))
                    .group_by(alloc.resource_provider_id, alloc.resource_class)
                )
            }
            traits: dict[int, list[str]] = {}
            for rp_id, name in s.execute(
                sa.select(ProviderTrait.resource_provider_id, ProviderTrait.trait)
                .where(ProviderTrait.resource_provider_id.in_(ids))
                .order_by(ProviderTrait.trait)
            ):
                traits.setdefault(rp_id, []).append(name)
        summaries: dict[int, dict[str, tuple[int, int]]] = {i: {} for i in ids}
        for row in inventories:
            capacity = int((row.total - row.reserved) * row.allocation_ratio)
            summaries[row.resource_provider_id][row.resource_class] = (
                capacity,
                used.get((row.resource_provider_id, row.resource_class), 0),
            )
        return [Summary(p, summaries[p.id], traits.get(p.id, [])) for p in providers]


@functools.lru_cache(maxsize=128)
def _capacity_query(classes: tuple[str, ...]) -> sa.Select:
    """The candidates query for these resource classes, amounts as bound parameters
    ``amount_<n>`` (n: the class's index in ``classes``): built once per set of classes,
    as building it costs more than the database takes to answer it."""
    amounts = {rc: sa.bindparam(f"amount_{n}", type_=sa.Integer) for n, rc in enumerate(classes)}
    return capacity_conditions(provider_query(), amounts)  # type: ignore[arg-type]
