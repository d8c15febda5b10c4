"""Resource claims as Placement allocations (docs/placement.md, "The scheduler on top").

A claim is a Placement allocation: the consumer (an instance, or a migration during a move)
holds ``VCPU``, ``MEMORY_MB`` and ``DISK_GB`` on the resource provider of a compute host
(the provider named after the host's hypervisor hostname, ``placement.compute_hosts``).
Each write is one transaction of ``placement.allocations.Allocations.replace``: the
consumer's allocations are replaced, the provider's capacity is checked by one SQL sum and
every provider touched gets its generation bumped, so concurrent claims never overcommit a
host on SQLite or PostgreSQL. In the same transaction the compute node's counters
(``compute_nodes.*_used``, the ``allocations`` row per consumer, which the hypervisors API
shows) follow, so both bookkeepings move together.

The functions the scheduler and the move operations (resize, cold migration) use:

- ``claim_for_consumer(db_or_cloud, consumer_uuid, host, resources, ...) -> bool``: the
  consumer's allocations become ``resources`` (``{"VCPU": n, "MEMORY_MB": MiB,
  "DISK_GB": GiB}``) on ``host``'s provider; False when the host is full or unknown
  (a lost claim: try the next host). Idempotent. Use a migration's UUID as the consumer
  to hold a destination host during a resize or migration.
- ``claim(db, host, instance_uuid, vcpus, memory_mb, disk_gb) -> bool``: the same for an
  instance, with the flavor's three numbers.
- ``release(db_or_cloud, consumer_uuid) -> bool``: drop every allocation of the consumer
  (False when it had none). Idempotent.
- ``move_claim(db_or_cloud, from_consumer, to_consumer) -> bool``: in one transaction the
  allocations of ``from_consumer`` become those of ``to_consumer`` (replacing what
  ``to_consumer`` held) and ``from_consumer`` is left with none: Placement's
  ``POST /allocations``. Confirming a resize moves the migration's claim on the destination
  to the instance; reverting releases the migration's claim. False when ``from_consumer``
  holds nothing.

``db_or_cloud`` is a ``Database`` or the ``Cloud`` (its ``placement`` is then used).
"""

from __future__ import annotations

import logging
import types
import weakref
from collections.abc import Callable, Mapping
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import Database
from pocketstack.compute.models import Allocation, ComputeNode
from pocketstack.placement import exceptions as pexc
from pocketstack.placement.allocations import UNCHECKED, ConsumerAllocations
from pocketstack.placement.manager import PlacementManager
from pocketstack.placement.resource_providers import ProviderFilters

LOG = logging.getLogger(__name__)

#: the context of the scheduler's own Placement calls (a service, as Nova's report client)
SERVICE_CTX = RequestContext(user_id="nova", project_id="service", roles=("admin", "service"))
#: Placement's consumer types (microversion 1.38)
INSTANCE, MIGRATION = "INSTANCE", "MIGRATION"
#: how many times ``move_claim`` re-reads after a concurrent change of a consumer
MOVE_RETRIES = 5

_PLACEMENTS: weakref.WeakKeyDictionary[Database, PlacementManager] = weakref.WeakKeyDictionary()


def placement_for(db_or_cloud: Any) -> PlacementManager:
    """The Placement manager of ``db_or_cloud``: the cloud's, or one made (once per
    database) over a bare ``Database``."""
    placement = getattr(db_or_cloud, "placement", None)
    if isinstance(placement, PlacementManager):
        return placement
    db = getattr(db_or_cloud, "db", db_or_cloud)
    found = _PLACEMENTS.get(db)
    if found is None:
        shim = types.SimpleNamespace(db=db)
        found = PlacementManager(cast(Any, shim))
        shim.placement = found
        _PLACEMENTS[db] = found
    return found


def _db(db_or_cloud: Any) -> Database:
    return cast(Database, getattr(db_or_cloud, "db", db_or_cloud))


def resources_of(vcpus: int, memory_mb: int, disk_gb: int) -> dict[str, int]:
    """``{"VCPU": vcpus, "MEMORY_MB": memory_mb, "DISK_GB": disk_gb}`` without the zeros
    (Placement refuses an amount of 0)."""
    wanted = {"VCPU": int(vcpus), "MEMORY_MB": int(memory_mb), "DISK_GB": int(disk_gb)}
    return {rc: amount for rc, amount in wanted.items() if amount > 0}


def provider_of(db_or_cloud: Any, host: str) -> str | None:
    """The UUID of ``host``'s resource provider (named after its hypervisor hostname), or
    None when the host has no compute node or no provider."""
    with _db(db_or_cloud).reader() as s:
        nodename = s.scalar(
            sa.select(ComputeNode.hypervisor_hostname).where(ComputeNode.host == host)
        )
    if nodename is None:
        return None
    found = placement_for(db_or_cloud).resource_providers.list(
        SERVICE_CTX, ProviderFilters(name=nodename)
    )
    return found[0].uuid if found else None


# -- the compute node counters, kept in the claim's transaction ----------------------------
# Core statements built once: a claim runs them on every decision, and the ORM's unit of
# work and per-call statement building cost more than the database's work
_NODE = cast(sa.Table, ComputeNode.__table__)
_COUNTED = cast(sa.Table, Allocation.__table__)
_CHANGE_USAGE = (
    sa.update(_NODE)
    .where(_NODE.c.host == sa.bindparam("node_host"))
    .values(
        vcpus_used=_NODE.c.vcpus_used + sa.bindparam("d_vcpus", type_=sa.Integer),
        memory_mb_used=_NODE.c.memory_mb_used + sa.bindparam("d_memory_mb", type_=sa.Integer),
        local_gb_used=_NODE.c.local_gb_used + sa.bindparam("d_disk_gb", type_=sa.Integer),
        running_vms=_NODE.c.running_vms + sa.bindparam("d_vms", type_=sa.Integer),
        # a claim is no change of the host itself: the scheduler's host cache re-reads
        # only nodes whose updated_at moved (host_manager.HostStateCache)
        updated_at=_NODE.c.updated_at,
    )
)
_COUNTED_ROW = sa.select(
    _COUNTED.c.host, _COUNTED.c.vcpus, _COUNTED.c.memory_mb, _COUNTED.c.disk_gb
).where(_COUNTED.c.instance_uuid == sa.bindparam("consumer"))
_DELETE_COUNTED = sa.delete(_COUNTED).where(_COUNTED.c.instance_uuid == sa.bindparam("consumer"))
_INSERT_COUNTED = sa.insert(_COUNTED)


def _change_usage(s: Session, host: str, resources: Mapping[str, int], sign: int) -> None:
    s.connection().execute(
        _CHANGE_USAGE,
        {
            "node_host": host,
            "d_vcpus": sign * resources.get("VCPU", 0),
            "d_memory_mb": sign * resources.get("MEMORY_MB", 0),
            "d_disk_gb": sign * resources.get("DISK_GB", 0),
            "d_vms": sign,
        },
    )


def _drop_counted(s: Session, consumer: str) -> sa.Row[str, int, int, int] | None:
    """Delete the consumer's ``allocations`` row and take it off its host's counters; the
    row (host, vcpus, memory_mb, disk_gb), if this transaction deleted it."""
    conn = s.connection()
    row = conn.execute(_COUNTED_ROW, {"consumer": consumer}).first()
    if row is None:
        return None
    deleted = conn.execute(_DELETE_COUNTED, {"consumer": consumer}).rowcount
    if deleted != 1:
        return None
    _change_usage(
        s, row.host, {"VCPU": row.vcpus, "MEMORY_MB": row.memory_mb, "DISK_GB": row.disk_gb}, -1
    )
    return row


def _count(s: Session, consumer: str, host: str, resources: Mapping[str, int]) -> None:
    """Record the consumer's claim on ``host`` in ``allocations`` and the host's counters."""
    s.connection().execute(
        _INSERT_COUNTED,
        {
            "instance_uuid": consumer,
            "host": host,
            "vcpus": resources.get("VCPU", 0),
            "memory_mb": resources.get("MEMORY_MB", 0),
            "disk_gb": resources.get("DISK_GB", 0),
        },
    )
    _change_usage(s, host, resources, +1)


# -- claims -----------------------------------------------------------------------------------
def claim_for_consumer(
    db_or_cloud: Any,
    consumer_uuid: str,
    host: str,
    resources: Mapping[str, int],
    *,
    project_id: str = "",
    user_id: str = "",
    consumer_type: str = INSTANCE,
    provider_uuid: str | None = None,
) -> bool:
    """Make ``resources`` on ``host`` the consumer's only allocation, atomically.

    Args:
        consumer_uuid: an instance's UUID, or a migration's UUID for a move's destination.
        resources: ``{"VCPU": n, "MEMORY_MB": MiB, "DISK_GB": GiB}`` (zeros left out).
        provider_uuid: ``host``'s provider when the caller knows it (the scheduler's
            candidates); looked up otherwise.

    Returns:
        True when the consumer now holds the claim on ``host`` (also when it already did);
        False when the host is unknown or has no room (nothing changed then).
    """
    provider = provider_uuid or provider_of(db_or_cloud, host)
    if provider is None:
        return False
    placement = placement_for(db_or_cloud)
    wanted = {rc: int(n) for rc, n in resources.items() if int(n) > 0}

    def counters(s: Session) -> None:
        _drop_counted(s, consumer_uuid)
        _count(s, consumer_uuid, host, wanted)

    def write(generation: object, project: str, user: str) -> bool:
        alloc = ConsumerAllocations(
            consumer_uuid, {provider: wanted}, project, user, generation, consumer_type
        )
        try:
            placement.allocations.replace(SERVICE_CTX, [alloc], also=counters)
        except pexc.ConsumerGenerationConflict:
            raise
        except (pexc.CapacityExceeded, pexc.ConcurrentUpdate, pexc.InvalidQuery) as exc:
            LOG.debug("claim of %s on %s lost: %s", consumer_uuid, host, exc)
            return False
        return True

    # first as a new consumer (no read: the scheduler's common case); a consumer that
    # holds allocations already answers a generation conflict, and is read
    try:
        return write(None, project_id, user_id)
    except pexc.ConsumerGenerationConflict:
        pass
    current = placement.allocations.get(SERVICE_CTX, consumer_uuid)
    if {uuid: res for uuid, (_g, res) in current.allocations.items()} == {provider: wanted}:
        return True
    return write(UNCHECKED, current.project_id or project_id, current.user_id or user_id)


def claim(
    db: Any,
    host: str,
    instance_uuid: str,
    vcpus: int,
    memory_mb: int,
    disk_gb: int,
    *,
    project_id: str = "",
    user_id: str = "",
    provider_uuid: str | None = None,
) -> bool:
    """Claim ``vcpus``, ``memory_mb`` (MiB) and ``disk_gb`` (GiB) on ``host`` for an
    instance (``claim_for_consumer``). A claim it held elsewhere moves here in the same
    transaction; if ``host`` does not fit, the old claim stays.

    Returns:
        True when the instance holds the claim on ``host``; False when ``host`` is full or
        unknown (the claim is "lost").
    """
    return claim_for_consumer(
        db,
        instance_uuid,
        host,
        resources_of(vcpus, memory_mb, disk_gb),
        project_id=project_id,
        user_id=user_id,
        provider_uuid=provider_uuid,
    )


def release(db_or_cloud: Any, consumer_uuid: str) -> bool:
    """Drop every allocation of the consumer (an instance or a migration), one transaction.

    The write carries the consumer generation read first, so of concurrent releases of one
    consumer exactly one releases (the others get a generation conflict: nothing to do).

    Returns:
        True when this call released something, False when the consumer held nothing.
    """
    placement = placement_for(db_or_cloud)
    view = placement.allocations.get(SERVICE_CTX, consumer_uuid)
    dropped: list[sa.Row[str, int, int, int] | None] = [None]

    def counters(s: Session) -> None:
        dropped[0] = _drop_counted(s, consumer_uuid)

    write = ConsumerAllocations(
        consumer_uuid,
        {},
        view.project_id or "",
        view.user_id or "",
        generation=view.generation if view.allocations else UNCHECKED,
    )
    try:
        placement.allocations.replace(SERVICE_CTX, [write], also=counters)
    except pexc.ConsumerGenerationConflict:
        return False
    released = bool(view.allocations) or dropped[0] is not None
    if released:
        LOG.debug("released the claims of %s", consumer_uuid)
    return released


def move_claim(db_or_cloud: Any, from_consumer: str, to_consumer: str) -> bool:
    """Move every allocation of ``from_consumer`` to ``to_consumer`` in one transaction
    (Placement's ``POST /allocations`` with both consumers): ``to_consumer``'s former
    allocations are replaced, ``from_consumer`` holds nothing afterwards.

    Returns:
        False when ``from_consumer`` held nothing (nothing changed), else True.

    Raises:
        ConcurrentUpdate (409): the consumers kept changing meanwhile (after
            ``MOVE_RETRIES`` re-reads).
    """
    placement = placement_for(db_or_cloud)
    for _attempt in range(MOVE_RETRIES):
        source = placement.allocations.get(SERVICE_CTX, from_consumer)
        if not source.allocations:
            return False
        target = placement.allocations.get(SERVICE_CTX, to_consumer)
        writes = [
            ConsumerAllocations(
                to_consumer,
                {uuid: dict(res) for uuid, (_g, res) in source.allocations.items()},
                target.project_id or source.project_id or "",
                target.user_id or source.user_id or "",
                generation=target.generation,
                consumer_type=target.consumer_type or INSTANCE,
            ),
            ConsumerAllocations(
                from_consumer,
                {},
                source.project_id or "",
                source.user_id or "",
                generation=source.generation,
            ),
        ]
        try:
            placement.allocations.replace(
                SERVICE_CTX, writes, also=_move_counted(from_consumer, to_consumer)
            )
        except pexc.ConsumerGenerationConflict:
            continue
        return True
    raise pexc.ConcurrentUpdate(f"Unable to move the allocations of consumer {from_consumer}.")


def _move_counted(from_consumer: str, to_consumer: str) -> Callable[[Session], None]:
    """The counters' side of ``move_claim``: ``to_consumer``'s row goes, ``from_consumer``'s
    is renamed (its host keeps the same usage)."""

    def counters(s: Session) -> None:
        _drop_counted(s, to_consumer)
        s.execute(
            sa.update(Allocation)
            .where(Allocation.instance_uuid == from_consumer)
            .values(instance_uuid=to_consumer)
            .execution_options(synchronize_session=False)
        )

    return counters


# -- claims made before Placement ---------------------------------------------------------
_JOINS = """
FROM allocations a
JOIN compute_nodes n ON n.host = a.host
JOIN placement_resource_providers rp ON rp.name = n.hypervisor_hostname
"""
_NEW = (
    "WHERE a.host = :host AND NOT EXISTS "
    "(SELECT 1 FROM placement_consumers c WHERE c.uuid = a.instance_uuid)"
)
#: the allocations first: they test that the consumer row does not exist yet
_ADOPT_BUMP = (
    "UPDATE placement_resource_providers SET generation = generation + 1 WHERE name = "
    "(SELECT hypervisor_hostname FROM compute_nodes WHERE host = :host)"
)
ADOPT_STATEMENTS = (
    *(
        "INSERT INTO placement_allocations "
        "(resource_provider_id, consumer_id, resource_class, used) "
        f"SELECT rp.id, a.instance_uuid, '{rc}', a.{column} {_JOINS} {_NEW} AND a.{column} > 0"
        for rc, column in (("VCPU", "vcpus"), ("MEMORY_MB", "memory_mb"), ("DISK_GB", "disk_gb"))
    ),
    "INSERT INTO placement_consumers "
    "(uuid, project_id, user_id, consumer_type, generation, created_at, updated_at) "
    "SELECT a.instance_uuid, COALESCE(i.project_id, ''), COALESCE(i.user_id, ''), "
    f"'INSTANCE', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP {_JOINS} "
    f"LEFT JOIN instances i ON i.uuid = a.instance_uuid {_NEW}",
)


def adopt_earlier_claims(db: Database, host: str) -> None:
    """Make every claim on ``host`` recorded only in ``allocations`` (made before the
    scheduler used Placement) a Placement allocation of its consumer, type ``INSTANCE``,
    in one transaction that bumps the host provider's generation when it adopted any
    (concurrent claims on it retry). Consumers that have Placement allocations are left
    alone. Idempotent."""
    with db.transaction() as s:
        adopted = 0
        for sql in ADOPT_STATEMENTS:
            result = s.execute(sa.text(sql), {"host": host})
            adopted += cast(CursorResult[Any], result).rowcount
        if adopted:
            s.execute(sa.text(_ADOPT_BUMP), {"host": host})


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
