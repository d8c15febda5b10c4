"""Atomic resource claims on compute nodes.

A claim is one conditional ``UPDATE compute_nodes SET <used> = <used> + n WHERE host = :h AND
<used> + n <= <limit>`` plus the insert of the instance's ``allocations`` row, in one
transaction. The condition is evaluated on the row the ``UPDATE`` locks, so concurrent claims
never overcommit a host: on SQLite the write transaction starts with ``BEGIN IMMEDIATE`` (one
writer at a time); on PostgreSQL a second ``UPDATE`` waits for the first to commit and re-checks
its ``WHERE`` on the new row version (READ COMMITTED). ``rowcount == 0`` means the host is full
(or gone): the claim is lost and the caller tries the next host.

Limits: ``vcpus * cpu_allocation_ratio``, ``memory_mb * ram_allocation_ratio -
reserved_host_memory_mb`` and ``local_gb * disk_allocation_ratio`` (the filters use the same
formulas, see ``host_state.HostState``).
"""

from __future__ import annotations

import logging
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pocketstack.common.db import Database
from pocketstack.compute.models import Allocation, ComputeNode

LOG = logging.getLogger(__name__)


def _add_usage(session: Session, host: str, vcpus: int, memory_mb: int, disk_gb: int) -> bool:
    """Conditionally add usage to ``host``'s counters; False when it does not fit."""
    node = ComputeNode
    stmt = (
        sa.update(node)
        .where(
            node.host == host,
            node.vcpus_used + vcpus <= node.vcpus * node.cpu_allocation_ratio,
            node.memory_mb_used + memory_mb
            <= node.memory_mb * node.ram_allocation_ratio - node.reserved_host_memory_mb,
            node.local_gb_used + disk_gb <= node.local_gb * node.disk_allocation_ratio,
        )
        .values(
            vcpus_used=node.vcpus_used + vcpus,
            memory_mb_used=node.memory_mb_used + memory_mb,
            local_gb_used=node.local_gb_used + disk_gb,
            running_vms=node.running_vms + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], session.execute(stmt)).rowcount == 1


def _subtract_usage(session: Session, alloc: Allocation) -> None:
    """Take an allocation's usage off its host's counters (unconditionally)."""
    node = ComputeNode
    session.execute(
        sa.update(node)
        .where(node.host == alloc.host)
        .values(
            vcpus_used=node.vcpus_used - alloc.vcpus,
            memory_mb_used=node.memory_mb_used - alloc.memory_mb,
            local_gb_used=node.local_gb_used - alloc.disk_gb,
            running_vms=node.running_vms - 1,
        )
        .execution_options(synchronize_session=False)
    )


def _delete_allocation(session: Session, instance_uuid: str) -> Allocation | None:
    """Delete the instance's allocation row; return it only if this transaction deleted it.

    The ``DELETE``'s rowcount decides, so two concurrent releases subtract once.
    """
    alloc = session.get(Allocation, instance_uuid)
    if alloc is None:
        return None
    session.expunge(alloc)
    result = session.execute(
        sa.delete(Allocation)
        .where(Allocation.instance_uuid == instance_uuid)
        .execution_options(synchronize_session=False)
    )
    deleted = cast(CursorResult[Any], result).rowcount
    return alloc if deleted == 1 else None


def claim(
    db: Database, host: str, instance_uuid: str, vcpus: int, memory_mb: int, disk_gb: int
) -> bool:
    """Claim resources for one instance on ``host``, atomically.

    Idempotent: when the instance already holds an allocation on ``host`` nothing changes and
    the result is True. An allocation on another host is moved (released there, claimed here)
    in the same transaction; if the new host does not fit, the old allocation stays.

    Args:
        vcpus, memory_mb (MiB), disk_gb (GiB): the flavor's resources.

    Returns:
        True when the instance now holds the claim on ``host``; False when ``host`` is full or
        has no compute node (the claim "lost").
    """
    try:
        with db.transaction() as s:
            existing = s.get(Allocation, instance_uuid)
            if existing is not None and existing.host == host:
                return True
            if existing is not None:
                moved = _delete_allocation(s, instance_uuid)
                if moved is not None:
                    _subtract_usage(s, moved)
            if not _add_usage(s, host, vcpus, memory_mb, disk_gb):
                s.rollback()
                return False
            s.add(
                Allocation(
                    instance_uuid=instance_uuid,
                    host=host,
                    vcpus=vcpus,
                    memory_mb=memory_mb,
                    disk_gb=disk_gb,
                )
            )
            s.flush()
    except IntegrityError:
        # A concurrent claim for the same instance inserted its allocation first.
        with db.reader() as s:
            winner = s.get(Allocation, instance_uuid)
            return winner is not None and winner.host == host
    return True


def release(db: Database, instance_uuid: str) -> bool:
    """Release the instance's claim: delete its allocation and subtract it from the host.

    Idempotent: one transaction, and the counters change only if this call deleted the row.

    Returns:
        True when an allocation was released, False when there was none.
    """
    with db.transaction() as s:
        alloc = _delete_allocation(s, instance_uuid)
        if alloc is None:
            return False
        _subtract_usage(s, alloc)
    LOG.debug("released %s on %s", instance_uuid, alloc.host)
    return True


def recompute_usage(session: Session, node: ComputeNode) -> None:
    """Set ``node``'s counters to the sums of its allocations (repairs drift after crashes).

    Call inside the transaction that locked ``node`` (``SELECT ... FOR UPDATE``) so a claim
    committing meanwhile is either counted in the sums or applied after this write.
    """
    row = session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(Allocation.vcpus), 0),
            sa.func.coalesce(sa.func.sum(Allocation.memory_mb), 0),
            sa.func.coalesce(sa.func.sum(Allocation.disk_gb), 0),
            sa.func.count(Allocation.instance_uuid),
        ).where(Allocation.host == node.host)
    ).one()
    node.vcpus_used, node.memory_mb_used, node.local_gb_used, node.running_vms = (
        int(row[0]),
        int(row[1]),
        int(row[2]),
        int(row[3]),
    )
