"""Allocations and usages (Placement API reference, "Allocations", "Resource provider
allocations", "Usages", "Resource provider usages").

A write replaces every allocation of the consumers it names, in one transaction:

1. the consumer generation the caller sent is checked (microversion 1.28+);
2. the consumers' allocations are deleted and the new ones inserted;
3. for the providers written to, one SQL query sums the allocations per class (the new
   ones included) and compares them with each inventory's capacity and unit constraints;
4. every provider touched has its generation bumped from the value read in this
   transaction (``UPDATE ... WHERE generation = :seen``, as ``bump_generation``).

The write runs prebuilt Core statements (no ORM objects) on the session's connection, the
new allocation rows as one executemany: on the scheduler's hot path the ORM's unit of work
and building statements per call cost more than the database's work.

Step 4 is what makes concurrent writers safe on every backend: on SQLite the write
transaction holds the database lock from its start; on PostgreSQL a second writer that read
the same generation blocks on the first one's row update and then matches no row, and the
whole write is retried (``RETRIES`` times, as Placement retries) on fresh data. So
allocations against one provider never pass its capacity.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.placement import exceptions as exc
from pocketstack.placement.models import Allocation, Consumer, Inventory, ResourceProvider
from pocketstack.placement.resource_providers import load

if TYPE_CHECKING:
    from pocketstack.service import Cloud

#: how many times a write lost to a concurrent one is retried before 409
RETRIES = 10
#: a consumer generation that was not sent (before 1.28)
UNCHECKED = object()


@dataclasses.dataclass
class ConsumerAllocations:
    """The allocations one write sets for one consumer.

    Attributes:
        allocations: ``{provider uuid: {resource class: amount}}``; empty to remove all.
        generation: the consumer generation the caller saw (None: a new consumer), or
            ``UNCHECKED`` before microversion 1.28.
    """

    consumer: str
    allocations: dict[str, dict[str, int]]
    project_id: str
    user_id: str
    generation: object = UNCHECKED
    consumer_type: str | None = None


@dataclasses.dataclass(frozen=True)
class ConsumerView:
    """A consumer's allocations: ``{provider uuid: (provider generation, {rc: used})}``."""

    allocations: dict[str, tuple[int, dict[str, int]]]
    project_id: str | None = None
    user_id: str | None = None
    generation: int | None = None
    consumer_type: str | None = None


def _usage_by_class(s: Session, rp_ids: Sequence[int]) -> dict[tuple[int, str], int]:
    rows = s.execute(
        sa.select(
            Allocation.resource_provider_id, Allocation.resource_class, sa.func.sum(Allocation.used)
        )
        .where(Allocation.resource_provider_id.in_(list(rp_ids)))
        .group_by(Allocation.resource_provider_id, Allocation.resource_class)
    )
    return {(rp_id, rc): int(used) for rp_id, rc, used in rows}


# -- the write's statements, built once (SQLAlchemy caches their compiled form) --------------
_ALLOC = Allocation.__table__.c
_RP = ResourceProvider.__table__.c
_CONS = cast(sa.Table, Consumer.__table__)
_INV = Inventory.__table__.c
_PROVIDERS_TOUCHED = sa.select(_RP.id, _RP.uuid, _RP.generation).where(
    sa.or_(
        _RP.uuid.in_(sa.bindparam("wanted", expanding=True)),
        _RP.id.in_(
            sa.select(_ALLOC.resource_provider_id).where(
                _ALLOC.consumer_id.in_(sa.bindparam("consumers", expanding=True))
            )
        ),
    )
)
_CONSUMERS = sa.select(_CONS.c.id, _CONS.c.uuid, _CONS.c.generation, _CONS.c.consumer_type).where(
    _CONS.c.uuid.in_(sa.bindparam("consumers", expanding=True))
)
_DELETE_ALLOCATIONS = sa.delete(cast(sa.Table, Allocation.__table__)).where(
    _ALLOC.consumer_id.in_(sa.bindparam("consumers", expanding=True))
)
_INSERT_ALLOCATION = sa.insert(cast(sa.Table, Allocation.__table__))
_INVENTORY_USAGE = sa.select(
    _INV.resource_provider_id,
    _INV.resource_class,
    _INV.total,
    _INV.reserved,
    _INV.min_unit,
    _INV.max_unit,
    _INV.step_size,
    _INV.allocation_ratio,
    sa.select(sa.func.coalesce(sa.func.sum(_ALLOC.used), 0))
    .where(
        _ALLOC.resource_provider_id == _INV.resource_provider_id,
        _ALLOC.resource_class == _INV.resource_class,
    )
    .scalar_subquery()
    .label("used"),
).where(_INV.resource_provider_id.in_(sa.bindparam("ids", expanding=True)))
#: the generation bump: one conditional UPDATE (``bump_generation``'s, without the ORM)
_BUMP = (
    sa.update(cast(sa.Table, ResourceProvider.__table__))
    .where(_RP.id == sa.bindparam("rp_id"), _RP.generation == sa.bindparam("seen"))
    .values(generation=sa.bindparam("next"))
)
_DELETE_CONSUMER = sa.delete(_CONS).where(_CONS.c.id == sa.bindparam("consumer_pk"))
_INSERT_CONSUMER = sa.insert(_CONS)
_UPDATE_CONSUMER = (
    sa.update(_CONS)
    .where(_CONS.c.id == sa.bindparam("consumer_pk"))
    .values(
        project_id=sa.bindparam("new_project_id"),
        user_id=sa.bindparam("new_user_id"),
        consumer_type=sa.bindparam("new_consumer_type"),
        generation=sa.bindparam("new_generation"),
    )
)


class _Retry(Exception):
    """A concurrent write changed a provider meanwhile: start again."""


class Allocations:
    """``cloud.placement.allocations``."""

    def __init__(self, cloud: Cloud):
        self.db = cloud.db

    def get(self, ctx: RequestContext, consumer: str) -> ConsumerView:
        """The consumer's allocations (empty for an unknown consumer, as Placement)."""
        with self.db.reader() as s:
            row = s.execute(
                sa.select(Consumer).where(Consumer.uuid == consumer)
            ).scalar_one_or_none()
            found = s.execute(
                sa.select(
                    ResourceProvider.uuid,
                    ResourceProvider.generation,
                    Allocation.resource_class,
                    Allocation.used,
                )
                .join(ResourceProvider, ResourceProvider.id == Allocation.resource_provider_id)
                .where(Allocation.consumer_id == consumer)
            )
            allocations: dict[str, tuple[int, dict[str, int]]] = {}
            for uuid, generation, rc, used in found:
                allocations.setdefault(uuid, (generation, {}))[1][rc] = used
        if row is None:
            return ConsumerView(allocations)
        return ConsumerView(
            allocations, row.project_id, row.user_id, row.generation, row.consumer_type
        )

    def for_provider(self, ctx: RequestContext, uuid: str) -> tuple[int, dict[str, dict[str, int]]]:
        """``(provider generation, {consumer: {rc: used}})``; 404 for no provider."""
        with self.db.reader() as s:
            rp = load(s, uuid)
            rows = s.execute(
                sa.select(Allocation.consumer_id, Allocation.resource_class, Allocation.used).where(
                    Allocation.resource_provider_id == rp.id
                )
            )
            out: dict[str, dict[str, int]] = {}
            for consumer, rc, used in rows:
                out.setdefault(consumer, {})[rc] = used
            return rp.generation, out

    def replace(
        self,
        ctx: RequestContext,
        writes: Sequence[ConsumerAllocations],
        also: Callable[[Session], None] | None = None,
    ) -> None:
        """Set the allocations of every consumer in ``writes`` at once (all or nothing).

        ``also(session)``, when given, runs in the same transaction after the write (the
        compute scheduler keeps its per-host counters with it); it runs again on a retry.

        Raises:
            InvalidQuery (400): an unknown provider. ConsumerGenerationConflict (409).
            CapacityExceeded (409): over capacity, no such inventory, or outside the
            inventory's min/max unit and step. ConcurrentUpdate (409): still losing to
            concurrent writers after ``RETRIES`` tries.
        """
        for _attempt in range(RETRIES):
            try:
                with self.db.transaction() as s:
                    self._write(s, writes)
                    if also is not None:
                        also(s)
                return
            except _Retry:
                continue
        raise exc.ConcurrentUpdate(
            "Unable to allocate inventory: another process changed the resource providers "
            "concurrently; retry the request."
        )

    def delete(self, ctx: RequestContext, consumer: str) -> None:
        """Remove every allocation of ``consumer`` (404 when it has none)."""
        view = self.get(ctx, consumer)
        if not view.allocations:
            raise exc.AllocationsNotFound(consumer)
        self.replace(
            ctx,
            [ConsumerAllocations(consumer, {}, view.project_id or "", view.user_id or "")],
        )

    def _write(self, s: Session, writes: Sequence[ConsumerAllocations]) -> None:
        # Core statements built once (module level) on one connection: the ORM's unit of
        # work and per-call statement building cost more than the database's work here
        conn = s.connection()
        consumers = [w.consumer for w in writes]
        wanted = sorted({uuid for w in writes for uuid in w.allocations})
        # providers the consumers held before, and those they will hold, with generations
        providers = {
            row.uuid: row
            for row in conn.execute(_PROVIDERS_TOUCHED, {"wanted": wanted, "consumers": consumers})
        }
        missing = sorted(set(wanted) - set(providers))
        if missing:
            raise exc.InvalidQuery(
                f"Unable to allocate inventory: resource provider {missing[0]} could not be found."
            )
        existing = {row.uuid: row for row in conn.execute(_CONSUMERS, {"consumers": consumers})}
        for w in writes:
            self._check_consumer_generation(w, existing.get(w.consumer))
        conn.execute(_DELETE_ALLOCATIONS, {"consumers": consumers})
        rows = [
            {
                "resource_provider_id": providers[uuid].id,
                "consumer_id": w.consumer,
                "resource_class": rc,
                "used": amount,
            }
            for w in writes
            for uuid, resources in w.allocations.items()
            for rc, amount in resources.items()
        ]
        if rows:
            conn.execute(_INSERT_ALLOCATION, rows)  # one executemany
        self._check_capacity(conn, writes, providers)
        for row in providers.values():
            done = conn.execute(
                _BUMP, {"rp_id": row.id, "seen": row.generation, "next": row.generation + 1}
            )
            if done.rowcount != 1:
                raise _Retry()
        self._save_consumers(conn, writes, existing)

    @staticmethod
    def _check_consumer_generation(w: ConsumerAllocations, row: sa.Row | None) -> None:
        if w.generation is UNCHECKED:
            return
        if row is None and w.generation is not None:
            raise exc.ConsumerGenerationConflict(
                w.consumer, f"consumer generation conflict - expected null but got {w.generation}"
            )
        if row is not None and w.generation != row.generation:
            expected = row.generation
            raise exc.ConsumerGenerationConflict(
                w.consumer,
                f"consumer generation conflict - expected {expected} but got {w.generation}",
            )

    @staticmethod
    def _check_capacity(
        conn: sa.Connection, writes: Sequence[ConsumerAllocations], providers: Mapping[str, sa.Row]
    ) -> None:
        asked = {
            (providers[uuid].id, rc): (uuid, amount)
            for w in writes
            for uuid, resources in w.allocations.items()
            for rc, amount in resources.items()
        }
        if not asked:
            return
        ids = sorted({rp_id for rp_id, _rc in asked})
        # each inventory with the sum of its class's allocations (the new ones included)
        inventories = {
            (row.resource_provider_id, row.resource_class): row
            for row in conn.execute(_INVENTORY_USAGE, {"ids": ids})
        }
        for key, (uuid, amount) in sorted(asked.items()):
            rc = key[1]
            inv = inventories.get(key)
            if inv is None:
                raise exc.CapacityExceeded(
                    f"Unable to allocate inventory: Inventory for '{rc}' on resource provider "
                    f"'{uuid}' invalid."
                )
            if amount < inv.min_unit or amount > inv.max_unit or amount % inv.step_size:
                raise exc.CapacityExceeded(
                    f"Unable to allocate inventory: Unable to create allocation for '{rc}' on "
                    f"resource provider '{uuid}'. The requested amount would violate "
                    "inventory constraints."
                )
            capacity = int((inv.total - inv.reserved) * inv.allocation_ratio)
            if int(inv.used) > capacity:
                raise exc.CapacityExceeded(
                    f"Unable to allocate inventory: Unable to create allocation for '{rc}' on "
                    f"resource provider '{uuid}'. The requested amount would exceed the "
                    "capacity."
                )

    @staticmethod
    def _save_consumers(
        conn: sa.Connection, writes: Sequence[ConsumerAllocations], existing: Mapping[str, sa.Row]
    ) -> None:
        for w in writes:
            row = existing.get(w.consumer)
            if not w.allocations:
                if row is not None:
                    conn.execute(_DELETE_CONSUMER, {"consumer_pk": row.id})
                continue
            if row is None:
                conn.execute(
                    _INSERT_CONSUMER,
                    {
                        "uuid": w.consumer,
                        "project_id": w.project_id,
                        "user_id": w.user_id,
                        "consumer_type": w.consumer_type,
                        "generation": 1,
                    },
                )
                continue
            conn.execute(
                _UPDATE_CONSUMER,
                {
                    "consumer_pk": row.id,
                    "new_project_id": w.project_id,
                    "new_user_id": w.user_id,
                    "new_consumer_type": (
                        w.consumer_type if w.consumer_type is not None else row.consumer_type
                    ),
                    "new_generation": row.generation + 1,
                },
            )

    # -- usages ----------------------------------------------------------------------------
    def provider_usages(self, ctx: RequestContext, uuid: str) -> tuple[int, dict[str, int]]:
        """``(generation, {rc: used})`` for every class the provider has inventory of."""
        with self.db.reader() as s:
            rp = load(s, uuid)
            classes = s.scalars(
                sa.select(Inventory.resource_class).where(Inventory.resource_provider_id == rp.id)
            )
            used = _usage_by_class(s, [rp.id])
            return rp.generation, {rc: used.get((rp.id, rc), 0) for rc in classes}

    def project_usages(
        self,
        ctx: RequestContext,
        project_id: str,
        user_id: str | None = None,
        consumer_type: str | None = None,
    ) -> dict[str, int]:
        """``{rc: used}`` over the consumers of ``project_id`` (and ``user_id``)."""
        with self.db.reader() as s:
            query = (
                sa.select(Allocation.resource_class, sa.func.sum(Allocation.used))
                .join(Consumer, Consumer.uuid == Allocation.consumer_id)
                .where(Consumer.project_id == project_id)
                .group_by(Allocation.resource_class)
            )
            if user_id is not None:
                query = query.where(Consumer.user_id == user_id)
            if consumer_type is not None:
                query = query.where(Consumer.consumer_type == consumer_type)
            return {rc: int(used) for rc, used in s.execute(query)}

    def project_usages_by_type(
        self,
        ctx: RequestContext,
        project_id: str,
        user_id: str | None = None,
        consumer_type: str | None = None,
    ) -> dict[str, tuple[int, dict[str, int]]]:
        """``{consumer type: (consumer count, {rc: used})}`` of the project (1.38's
        ``/usages``): every type when ``consumer_type`` is None, ``all`` for the sum of
        every type, ``unknown`` for consumers written without a type."""
        with self.db.reader() as s:
            kind = sa.func.coalesce(Consumer.consumer_type, "unknown")
            query = (
                sa.select(
                    kind,
                    Allocation.resource_class,
                    sa.func.sum(Allocation.used),
                    sa.func.count(sa.distinct(Consumer.uuid)),
                )
                .join(Consumer, Consumer.uuid == Allocation.consumer_id)
                .where(Consumer.project_id == project_id)
                .group_by(kind, Allocation.resource_class)
            )
            if user_id is not None:
                query = query.where(Consumer.user_id == user_id)
            count_query = (
                sa.select(kind, sa.func.count(sa.distinct(Consumer.uuid)))
                .join(Allocation, Consumer.uuid == Allocation.consumer_id)
                .where(Consumer.project_id == project_id)
                .group_by(kind)
            )
            if user_id is not None:
                count_query = count_query.where(Consumer.user_id == user_id)
            counts = {k: int(n) for k, n in s.execute(count_query)}
            out: dict[str, tuple[int, dict[str, int]]] = {}
            total: dict[str, int] = {}
            for k, rc, used, _n in s.execute(query):
                out.setdefault(k, (counts.get(k, 0), {}))[1][rc] = int(used)
                total[rc] = total.get(rc, 0) + int(used)
        if consumer_type == "all":
            return {"all": (sum(counts.values()), total)}
        if consumer_type is not None:
            return {consumer_type: out.get(consumer_type, (0, {}))}
        return out
