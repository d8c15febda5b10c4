"""Resource provider inventories (Placement API reference, "Resource provider
inventories"): how much of each resource class a provider has.

Capacity of one inventory is ``int((total - reserved) * allocation_ratio)``. Every write
checks the provider generation the caller sent and bumps it (``bump_generation``); an
inventory that still has allocations cannot be removed (409 ``placement.inventory.inuse``).
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.placement import exceptions as exc
from pocketstack.placement.models import Allocation, Inventory
from pocketstack.placement.resource_providers import bump_generation, load

if TYPE_CHECKING:
    from pocketstack.service import Cloud

#: the largest total, reserved, min/max unit and step Placement takes (a signed 32-bit int)
MAX_INT = 2**31 - 1
FIELDS = ("total", "reserved", "min_unit", "max_unit", "step_size", "allocation_ratio")


@dataclasses.dataclass(frozen=True)
class InventoryRecord:
    """One inventory as the API shows it."""

    resource_class: str
    total: int
    reserved: int = 0
    min_unit: int = 1
    max_unit: int = MAX_INT
    step_size: int = 1
    allocation_ratio: float = 1.0

    @property
    def capacity(self) -> int:
        """What may be allocated: ``int((total - reserved) * allocation_ratio)``."""
        return int((self.total - self.reserved) * self.allocation_ratio)


def _record(row: Inventory) -> InventoryRecord:
    return InventoryRecord(
        row.resource_class,
        row.total,
        row.reserved,
        row.min_unit,
        row.max_unit,
        row.step_size,
        row.allocation_ratio,
    )


def make_record(
    rc: str, values: Mapping[str, Any], reserved_may_equal_total: bool
) -> InventoryRecord:
    """An ``InventoryRecord`` from an API body's fields (defaults as Placement's).

    Raises:
        InvalidInventory (400): ``min_unit`` over ``max_unit``, ``reserved`` over
        ``total`` (or equal before microversion 1.26).
    """
    record = InventoryRecord(rc, **{k: values[k] for k in FIELDS if k in values})
    if record.min_unit > record.max_unit:
        raise exc.InvalidInventory(
            f"Unable to update inventory for resource provider: min_unit ({record.min_unit}) "
            f"must be less than or equal to max_unit ({record.max_unit}) for {rc}."
        )
    too_much = record.reserved > record.total or (
        record.reserved == record.total and not reserved_may_equal_total
    )
    if too_much:
        raise exc.InvalidInventory(
            f"Unable to update inventory for resource provider: Invalid inventory for "
            f"'{rc}'. The reserved value ({record.reserved}) is greater than or equal to "
            f"total ({record.total})."
        )
    return record


class Inventories:
    """``cloud.placement.inventories``."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.db = cloud.db

    def list(self, ctx: RequestContext, uuid: str) -> tuple[int, list[InventoryRecord]]:
        """``(provider generation, inventories)``; ``ResourceProviderNotFound`` (404)."""
        with self.db.reader() as s:
            rp = load(s, uuid)
            rows = s.scalars(
                sa.select(Inventory)
                .where(Inventory.resource_provider_id == rp.id)
                .order_by(Inventory.resource_class)
            )
            return rp.generation, [_record(r) for r in rows]

    def get(self, ctx: RequestContext, uuid: str, rc: str) -> tuple[int, InventoryRecord]:
        """``(provider generation, the inventory of class rc)``; 404 if none."""
        generation, found = self.list(ctx, uuid)
        for record in found:
            if record.resource_class == rc:
                return generation, record
        raise exc.InventoryNotFound(rc, uuid)

    def _check_classes(self, ctx: RequestContext, records: builtins.list[InventoryRecord]) -> None:
        for record in records:
            if not self.cloud.placement.resource_classes.exists(ctx, record.resource_class):
                raise exc.InvalidInventory(
                    f"Unknown resource class in inventory for resource provider: "
                    f"{record.resource_class}"
                )

    def replace(
        self,
        ctx: RequestContext,
        uuid: str,
        generation: int,
        records: builtins.list[InventoryRecord],
    ) -> tuple[int, builtins.list[InventoryRecord]]:
        """Set the provider's whole inventory (``PUT .../inventories``): classes absent
        from ``records`` are removed.

        Raises:
            ResourceProviderNotFound (404), InvalidInventory (400),
            ProviderGenerationConflict (409), InventoryInUse (409: a removed class has
            allocations).
        """
        self._check_classes(ctx, records)
        with self.db.transaction() as s:
            rp = load(s, uuid)
            bump_generation(s, rp.id, uuid, generation)
            wanted = {r.resource_class: r for r in records}
            existing = {
                row.resource_class: row
                for row in s.scalars(
                    sa.select(Inventory).where(Inventory.resource_provider_id == rp.id)
                )
            }
            for rc in set(existing) - set(wanted):
                self._remove(s, rp.id, uuid, existing[rc])
            for rc, record in wanted.items():
                row = existing.get(rc) or Inventory(resource_provider_id=rp.id, resource_class=rc)
                for name in FIELDS:
                    setattr(row, name, getattr(record, name))
                s.add(row)
        return self.list(ctx, uuid)

    def update_one(
        self, ctx: RequestContext, uuid: str, generation: int, record: InventoryRecord, create: bool
    ) -> tuple[int, InventoryRecord]:
        """Change (``PUT .../inventories/{rc}``) or, with ``create``, add (``POST``) one
        class's inventory.

        Raises:
            InventoryNotFound (400 on PUT: no inventory of that class to update), Exists
            (409 on POST: it exists), and as ``replace``.
        """
        self._check_classes(ctx, [record])
        with self.db.transaction() as s:
            rp = load(s, uuid)
            bump_generation(s, rp.id, uuid, generation)
            row = s.execute(
                sa.select(Inventory).where(
                    Inventory.resource_provider_id == rp.id,
                    Inventory.resource_class == record.resource_class,
                )
            ).scalar_one_or_none()
            if create and row is not None:
                raise exc.Exists(
                    f"Update conflict: Inventory for '{record.resource_class}' on resource "
                    f"provider '{uuid}' already exists."
                )
            if not create and row is None:
                raise exc.InvalidInventory(
                    f"No inventory record with resource class for resource provider {uuid}"
                )
            row = row or Inventory(resource_provider_id=rp.id, resource_class=record.resource_class)
            for name in FIELDS:
                setattr(row, name, getattr(record, name))
            s.add(row)
        return self.get(ctx, uuid, record.resource_class)

    def delete(self, ctx: RequestContext, uuid: str, rc: str | None) -> None:
        """Remove one class's inventory (``rc``), or all of it (``rc`` None, 1.5); bumps
        the generation.

        Raises:
            ResourceProviderNotFound / InventoryNotFound (404), InventoryInUse (409).
        """
        with self.db.transaction() as s:
            rp = load(s, uuid)
            query = sa.select(Inventory).where(Inventory.resource_provider_id == rp.id)
            if rc is not None:
                query = query.where(Inventory.resource_class == rc)
            rows = list(s.scalars(query))
            if rc is not None and not rows:
                raise exc.InventoryNotFound(rc, uuid)
            bump_generation(s, rp.id, uuid, rp.generation)
            for row in rows:
                self._remove(s, rp.id, uuid, row)

    @staticmethod
    def _remove(s: Session, rp_id: int, uuid: str, row: Inventory) -> None:
        used = s.execute(
            sa.select(Allocation.id)
            .where(
                Allocation.resource_provider_id == rp_id,
                Allocation.resource_class == row.resource_class,
            )
            .limit(1)
        ).first()
        if used is not None:
            raise exc.InventoryInUse(
                f"Inventory for '{row.resource_class}' on resource provider '{uuid}' in use."
            )
        s.delete(row)
