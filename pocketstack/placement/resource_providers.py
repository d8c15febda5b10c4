"""Resource providers, their aggregates and their traits (Placement API reference,
"Resource Providers", "Resource provider aggregates", "Resource provider traits").

Every change of a provider's inventory, traits, aggregates or allocations bumps its
``generation`` with one conditional ``UPDATE ... WHERE generation = <seen>``
(``bump_generation``): a caller that sent a stale generation, or lost a race, gets
``ProviderGenerationConflict`` (409 ``placement.concurrent_update``) and nothing changes.
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import new_id
from pocketstack.placement import exceptions as exc
from pocketstack.placement.models import (
    Allocation,
    Inventory,
    ProviderAggregate,
    ProviderTrait,
    ResourceProvider,
)

if TYPE_CHECKING:
    from pocketstack.service import Cloud


@dataclasses.dataclass(frozen=True)
class Provider:
    """A provider as the API shows it: ``parent_provider_uuid``/``root_provider_uuid``
    resolved (None for a root's parent)."""

    id: int
    uuid: str
    name: str
    generation: int
    parent_provider_uuid: str | None
    root_provider_uuid: str
    created_at: dt.datetime
    updated_at: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class ProviderFilters:
    """``GET /resource_providers`` (and allocation candidates) filters.

    Attributes:
        member_of: groups of aggregate UUIDs; a provider is in every group's aggregates
            (any one of each group).
        forbidden_aggregates: a provider in any of these is dropped (``!`` prefix, 1.32).
        required: trait names the provider has, all of them.
        required_any: groups of trait names, one of each group (``in:`` prefix, 1.39).
        forbidden: trait names the provider must not have (``!`` prefix, 1.22).
        in_tree: a provider UUID; only providers of its tree.
    """

    name: str | None = None
    uuid: str | None = None
    member_of: tuple[tuple[str, ...], ...] = ()
    forbidden_aggregates: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    required_any: tuple[tuple[str, ...], ...] = ()
    forbidden: tuple[str, ...] = ()
    in_tree: str | None = None


def provider_query() -> sa.Select:
    """``SELECT`` of providers with their parent's and root's UUIDs (``Provider`` rows).

    Built on the tables (not ORM aliases): it is built once per request, and on the hot
    path of every scheduling decision."""
    rp = ResourceProvider.__table__.c
    parent = ResourceProvider.__table__.alias("parent_rp")
    root = ResourceProvider.__table__.alias("root_rp")
    return (
        sa.select(
            rp.id,
            rp.uuid,
            rp.name,
            rp.generation,
            parent.c.uuid.label("parent_provider_uuid"),
            sa.func.coalesce(root.c.uuid, rp.uuid).label("root_provider_uuid"),
            rp.created_at,
            rp.updated_at,
        )
        .select_from(ResourceProvider.__table__)
        .outerjoin(parent, parent.c.id == rp.parent_provider_id)
        .outerjoin(root, root.c.id == rp.root_provider_id)
    )


def filter_conditions(s: Session | None, f: ProviderFilters) -> list[sa.ColumnElement[bool]]:
    """SQL conditions on ``ResourceProvider`` for ``f`` (no row is loaded). ``s`` is only
    used (and needed) for ``in_tree``."""
    rp = ResourceProvider
    conds: list[sa.ColumnElement[bool]] = []
    if f.name is not None:
        conds.append(rp.name == f.name)
    if f.uuid is not None:
        conds.append(rp.uuid == f.uuid)

    def in_aggregates(aggs: Sequence[str]) -> sa.ColumnElement[bool]:
        return sa.exists().where(
            ProviderAggregate.resource_provider_id == rp.id,
            ProviderAggregate.aggregate_uuid.in_(list(aggs)),
        )

    def has_traits(names: Sequence[str]) -> sa.ColumnElement[bool]:
        return sa.exists().where(
            ProviderTrait.resource_provider_id == rp.id, ProviderTrait.trait.in_(list(names))
        )

    conds += [in_aggregates(group) for group in f.member_of]
    if f.forbidden_aggregates:
        conds.append(~in_aggregates(f.forbidden_aggregates))
    conds += [has_traits([name]) for name in f.required]
    conds += [has_traits(group) for group in f.required_any]
    if f.forbidden:
        conds.append(~has_traits(f.forbidden))
    if f.in_tree is not None:
        if s is None:
            raise ValueError("filter_conditions: in_tree needs a session")
        tree = s.execute(
            sa.select(sa.func.coalesce(rp.root_provider_id, rp.id)).where(rp.uuid == f.in_tree)
        ).scalar()
        # an unknown tree has no provider (Placement answers an empty list)
        conds.append(sa.func.coalesce(rp.root_provider_id, rp.id) == tree if tree else sa.false())
    return conds


def capacity_conditions(query: sa.Select, resources: Mapping[str, int]) -> sa.Select:
    """``query`` over ``ResourceProvider`` joined and filtered so that every provider left
    can take ``resources`` (``{rc: amount}``) now.

    Per class: an inner join on the provider's inventory of it, and the used amount as a
    correlated ``SUM`` over that provider's allocations of the class (the index on
    ``(resource_provider_id, resource_class)`` answers it), so a ``LIMIT`` stops the scan
    after enough providers instead of summing every provider's usage first."""
    rp_id = ResourceProvider.__table__.c.id
    allocations = Allocation.__table__.c
    for n, (rc, amount) in enumerate(sorted(resources.items())):
        inv_table = Inventory.__table__.alias(f"inv{n}")
        inv = inv_table.c
        used = (
            sa.select(sa.func.coalesce(sa.func.sum(allocations.used), 0))
            .where(allocations.resource_provider_id == rp_id, allocations.resource_class == rc)
            .correlate(ResourceProvider.__table__)
            .scalar_subquery()
        )
        query = query.join(
            inv_table,
            sa.and_(inv.resource_provider_id == rp_id, inv.resource_class == rc),
        ).where(
            inv.min_unit <= amount,
            inv.max_unit >= amount,
            _value(amount) % inv.step_size == 0,
            (inv.total - inv.reserved) * inv.allocation_ratio - used >= amount,
        )
    return query


def _value(amount: Any) -> Any:
    """``amount`` as a SQL value: a bound parameter stays one (a cached query's)."""
    return amount if isinstance(amount, sa.BindParameter) else sa.literal(amount)


def bump_generation(s: Session, provider_id: int, uuid: str, seen: int) -> int:
    """Set the provider's generation to ``seen + 1`` if it is still ``seen``; the new one.

    Raises:
        ProviderGenerationConflict: another change came first (409).
    """
    done = s.execute(
        sa.update(ResourceProvider)
        .where(ResourceProvider.id == provider_id, ResourceProvider.generation == seen)
        .values(generation=seen + 1)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise exc.ProviderGenerationConflict(uuid)
    return seen + 1


def load(s: Session, uuid: str) -> Provider:
    """The provider ``uuid`` in session ``s``, or ``ResourceProviderNotFound``."""
    row = s.execute(provider_query().where(ResourceProvider.uuid == uuid)).one_or_none()
    if row is None:
        raise exc.ResourceProviderNotFound(uuid)
    return Provider(*row)


class ResourceProviders:
    """``cloud.placement.resource_providers``: providers, their aggregates and traits."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.db = cloud.db

    def list(
        self,
        ctx: RequestContext,
        filters: ProviderFilters,
        resources: Mapping[str, int] | None = None,
    ) -> builtins.list[Provider]:
        """Providers matching ``filters`` that can take ``resources`` (``{rc: amount}``,
        microversion 1.4) now, oldest first."""
        with self.db.reader() as s:
            conds = filter_conditions(s, filters)
            query = capacity_conditions(provider_query(), resources or {})
            rows = s.execute(query.where(*conds).order_by(ResourceProvider.id))
            return [Provider(*row) for row in rows]

    def get(self, ctx: RequestContext, uuid: str) -> Provider:
        """One provider; ``ResourceProviderNotFound`` (404)."""
        with self.db.reader() as s:
            return load(s, uuid)

    def create(
        self, ctx: RequestContext, name: str, uuid: str | None = None, parent: str | None = None
    ) -> Provider:
        """A new provider (generation 0) under ``parent`` (a provider UUID) if given.

        Raises:
            DuplicateName (409): the name or UUID is taken. ResourceProviderNotFound as
            ``InvalidQuery`` (400): no such parent.
        """
        uuid = uuid or new_id()
        try:
            with self.db.transaction() as s:
                taken = s.execute(
                    sa.select(ResourceProvider.name, ResourceProvider.uuid).where(
                        sa.or_(ResourceProvider.name == name, ResourceProvider.uuid == uuid)
                    )
                ).first()
                if taken is not None:
                    what = f"name: {name}" if taken.name == name else f"uuid: {uuid}"
                    raise exc.DuplicateName(what)
                row = ResourceProvider(uuid=uuid, name=name, generation=0)
                if parent is not None:
                    up = self._parent(s, parent)
                    row.parent_provider_id = up.id
                    row.root_provider_id = up.root_provider_id or up.id
                s.add(row)
        except IntegrityError:  # a concurrent create of the same name won
            raise exc.DuplicateName(f"name: {name}") from None
        return self.get(ctx, uuid)

    @staticmethod
    def _parent(s: Session, parent: str) -> ResourceProvider:
        up = s.execute(
            sa.select(ResourceProvider).where(ResourceProvider.uuid == parent)
        ).scalar_one_or_none()
        if up is None:
            raise exc.InvalidQuery(f"parent provider UUID {parent} does not exist.")
        return up

    def update(
        self, ctx: RequestContext, uuid: str, name: str, parent: str | None, set_parent: bool
    ) -> Provider:
        """Rename the provider; with ``set_parent``, give a root a parent (a provider of
        another tree). Changing or removing an existing parent is refused (400), as before
        Placement 1.37.

        Raises:
            ResourceProviderNotFound (404), DuplicateName (409), InvalidQuery (400).
        """
        with self.db.transaction() as s:
            row = s.execute(
                sa.select(ResourceProvider).where(ResourceProvider.uuid == uuid)
            ).scalar_one_or_none()
            if row is None:
                raise exc.ResourceProviderNotFound(uuid)
            clash = s.execute(
                sa.select(ResourceProvider.id).where(
                    ResourceProvider.name == name, ResourceProvider.id != row.id
                )
            ).first()
            if clash is not None:
                raise exc.DuplicateName(f"name: {name}")
            row.name = name
            if set_parent:
                self._set_parent(s, row, parent)
        return self.get(ctx, uuid)

    def _set_parent(self, s: Session, row: ResourceProvider, parent: str | None) -> None:
        current = None
        if row.parent_provider_id is not None:
            current = s.get(ResourceProvider, row.parent_provider_id)
        if current is not None and (parent is None or current.uuid != parent):
            raise exc.InvalidQuery("re-parenting a provider is not currently allowed.")
        if parent is None or current is not None:
            return
        up = self._parent(s, parent)
        new_root = up.root_provider_id or up.id
        if new_root == (row.root_provider_id or row.id):
            raise exc.InvalidQuery("creating loop in the provider tree is not allowed.")
        old_root = row.root_provider_id or row.id
        s.execute(
            sa.update(ResourceProvider)
            .where(
                sa.func.coalesce(ResourceProvider.root_provider_id, ResourceProvider.id) == old_root
            )
            .values(root_provider_id=new_root)
            .execution_options(synchronize_session=False)
        )
        row.parent_provider_id = up.id
        row.root_provider_id = new_root

    def delete(self, ctx: RequestContext, uuid: str) -> None:
        """Delete a provider with its inventory, traits and aggregates.

        Raises:
            ResourceProviderNotFound (404), ProviderInUse (409: it has allocations),
            CannotDeleteParent (409: it has children).
        """
        with self.db.transaction() as s:
            row = s.execute(
                sa.select(ResourceProvider).where(ResourceProvider.uuid == uuid)
            ).scalar_one_or_none()
            if row is None:
                raise exc.ResourceProviderNotFound(uuid)
            used = s.execute(
                sa.select(Allocation.id).where(Allocation.resource_provider_id == row.id).limit(1)
            ).first()
            if used is not None:
                raise exc.ProviderInUse(
                    f"Unable to delete resource provider {uuid}: Resource provider has allocations."
                )
            child = s.execute(
                sa.select(ResourceProvider.id)
                .where(ResourceProvider.parent_provider_id == row.id)
                .limit(1)
            ).first()
            if child is not None:
                raise exc.CannotDeleteParent(
                    f"Unable to delete parent resource provider {uuid}: It has child "
                    "resource providers."
                )
            for model in (ProviderTrait, ProviderAggregate):
                s.execute(sa.delete(model).where(model.resource_provider_id == row.id))
            s.execute(sa.delete(Inventory).where(Inventory.resource_provider_id == row.id))
            s.delete(row)

    # -- aggregates ------------------------------------------------------------------------
    def get_aggregates(self, ctx: RequestContext, uuid: str) -> tuple[int, builtins.list[str]]:
        """``(generation, aggregate UUIDs)`` of the provider."""
        with self.db.reader() as s:
            rp = load(s, uuid)
            aggs = s.scalars(
                sa.select(ProviderAggregate.aggregate_uuid)
                .where(ProviderAggregate.resource_provider_id == rp.id)
                .order_by(ProviderAggregate.aggregate_uuid)
            )
            return rp.generation, list(aggs)

    def set_aggregates(
        self, ctx: RequestContext, uuid: str, aggregates: Sequence[str], generation: int | None
    ) -> tuple[int, builtins.list[str]]:
        """Replace the provider's aggregates; with ``generation`` (1.19+) checked and bumped.

        Raises:
            ResourceProviderNotFound (404), ProviderGenerationConflict (409).
        """
        with self.db.transaction() as s:
            rp = load(s, uuid)
            if generation is not None:
                bump_generation(s, rp.id, uuid, generation)
            s.execute(
                sa.delete(ProviderAggregate).where(ProviderAggregate.resource_provider_id == rp.id)
            )
            s.add_all(
                ProviderAggregate(resource_provider_id=rp.id, aggregate_uuid=a)
                for a in sorted(set(aggregates))
            )
        return self.get_aggregates(ctx, uuid)

    # -- traits ----------------------------------------------------------------------------
    def get_traits(self, ctx: RequestContext, uuid: str) -> tuple[int, builtins.list[str]]:
        """``(generation, trait names)`` of the provider."""
        with self.db.reader() as s:
            rp = load(s, uuid)
            names = s.scalars(
                sa.select(ProviderTrait.trait)
                .where(ProviderTrait.resource_provider_id == rp.id)
                .order_by(ProviderTrait.trait)
            )
            return rp.generation, list(names)

    def set_traits(
        self, ctx: RequestContext, uuid: str, traits: Sequence[str], generation: int
    ) -> tuple[int, builtins.list[str]]:
        """Replace the provider's traits (each must exist: ``Traits.check_exist``).

        Raises:
            ResourceProviderNotFound (404), TraitNotFound as InvalidQuery (400),
            ProviderGenerationConflict (409).
        """
        self.cloud.placement.traits.check_exist(ctx, traits)
        with self.db.transaction() as s:
            rp = load(s, uuid)
            bump_generation(s, rp.id, uuid, generation)
            s.execute(sa.delete(ProviderTrait).where(ProviderTrait.resource_provider_id == rp.id))
            s.add_all(
                ProviderTrait(resource_provider_id=rp.id, trait=t) for t in sorted(set(traits))
            )
        return self.get_traits(ctx, uuid)

    def delete_traits(self, ctx: RequestContext, uuid: str) -> None:
        """Remove every trait of the provider (bumps its generation)."""
        with self.db.transaction() as s:
            rp = load(s, uuid)
            bump_generation(s, rp.id, uuid, rp.generation)
            s.execute(sa.delete(ProviderTrait).where(ProviderTrait.resource_provider_id == rp.id))
