"""Subnet pools (Neutron v2.0 ``/subnetpools``): list, get, create, update, delete, and the
allocation of a subnet's CIDR from a pool (Networking API v2.0 reference, "Subnet pools";
the ``subnet_allocation`` extension).

A pool holds IPv4 ``prefixes``; a subnet created with ``subnetpool_id`` (and a
``prefixlen``, else the pool's ``default_prefixlen``) gets the first free block of that size,
never overlapping another subnet of the pool; one that asks for a ``cidr`` gets it if it is
inside the prefixes and free. Prefix lengths keep ``min_prefixlen <= default_prefixlen <=
max_prefixlen``, no prefix longer than ``max_prefixlen``; prefixes only grow. A pool is its
owner's, or every project's when ``shared`` (admin only). Pools of one address scope never
overlap. Neutron answers "no room left" with ``SubnetAllocationError``, which it does not
map to a status (a 500); here it is a 409.
"""

from __future__ import annotations

import builtins
import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.network import common, lists
from pocketstack.network import exceptions as exc
from pocketstack.network.address_scopes import load_scope
from pocketstack.network.models import Subnet, SubnetPool

if TYPE_CHECKING:
    from pocketstack.service import Cloud

IPV4_MIN_PREFIXLEN = 8
IPV4_MAX_PREFIXLEN = 32


@dataclass(frozen=True)
class SubnetPoolCreate:
    """``POST /v2.0/subnetpools`` parsed; ``None`` prefix lengths take Neutron's defaults
    (min 8, max 32, default the min)."""

    prefixes: list[str]
    name: str = ""
    description: str = ""
    project_id: str | None = None
    min_prefixlen: int | None = None
    max_prefixlen: int | None = None
    default_prefixlen: int | None = None
    shared: bool | None = None
    is_default: bool | None = None
    default_quota: int | None = None
    address_scope_id: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SubnetPoolUpdate:
    """``PUT /v2.0/subnetpools/{id}`` parsed; ``None`` leaves an attribute as it is
    (``address_scope_id`` ``common.UNSET``: unchanged, ``None``: no scope)."""

    name: str | None = None
    description: str | None = None
    prefixes: list[str] | None = None
    min_prefixlen: int | None = None
    max_prefixlen: int | None = None
    default_prefixlen: int | None = None
    is_default: bool | None = None
    default_quota: int | None = None
    address_scope_id: str | None | common.Unset = common.UNSET
    tags: list[str] | None = None


_COLUMNS: dict[str, Any] = {
    "id": SubnetPool.id,
    "name": SubnetPool.name,
    "description": SubnetPool.description,
    "project_id": SubnetPool.project_id,
    "tenant_id": SubnetPool.project_id,
    "ip_version": SubnetPool.ip_version,
    "min_prefixlen": SubnetPool.min_prefixlen,
    "max_prefixlen": SubnetPool.max_prefixlen,
    "default_prefixlen": SubnetPool.default_prefixlen,
    "shared": SubnetPool.shared,
    "is_default": SubnetPool.is_default,
    "default_quota": SubnetPool.default_quota,
    "address_scope_id": SubnetPool.address_scope_id,
    "revision_number": SubnetPool.revision_number,
}
SORT = lists.sort_spec(_COLUMNS, SubnetPool)


def _prefixes(values: builtins.list[str]) -> builtins.list[ipaddress.IPv4Network]:
    """Parsed, merged (overlapping and adjacent ones collapsed) IPv4 prefixes.

    Raises:
        InvalidInput (400): none, not a CIDR, an IPv6 prefix.
    """
    if not values:
        raise exc.InvalidInput("Invalid input for operation: prefixes must not be empty.")
    nets = []
    for value in values:
        try:
            net = ipaddress.ip_network(str(value).strip(), strict=False)
        except ValueError:
            raise exc.InvalidInput(f"'{value}' is not a valid IP subnet.") from None
        if net.version != 4:
            raise exc.InvalidInput("IPv6 subnet pools are not supported yet; use IPv4 prefixes.")
        nets.append(net)
    return sorted(ipaddress.collapse_addresses(nets))


def _check_bounds(pool: SubnetPool, prefixes: builtins.list[ipaddress.IPv4Network]) -> None:
    """``min <= default <= max`` within 0..32, and every prefix holds a block of
    ``max_prefixlen`` (no prefix is longer).

    Raises:
        IllegalSubnetPoolPrefixBounds (400).
    """
    if not 0 <= pool.min_prefixlen <= IPV4_MAX_PREFIXLEN:
        raise exc.IllegalSubnetPoolPrefixBounds(
            "min_prefixlen", pool.min_prefixlen, "max_prefixlen", IPV4_MAX_PREFIXLEN
        )
    if not pool.min_prefixlen <= pool.max_prefixlen <= IPV4_MAX_PREFIXLEN:
        raise exc.IllegalSubnetPoolPrefixBounds(
            "max_prefixlen", pool.max_prefixlen, "min_prefixlen", pool.min_prefixlen
        )
    if pool.default_prefixlen < pool.min_prefixlen:
        raise exc.IllegalSubnetPoolPrefixBounds(
            "default_prefixlen", pool.default_prefixlen, "min_prefixlen", pool.min_prefixlen
        )
    if pool.default_prefixlen > pool.max_prefixlen:
        raise exc.IllegalSubnetPoolPrefixBounds(
            "default_prefixlen", pool.default_prefixlen, "max_prefixlen", pool.max_prefixlen
        )
    for prefix in prefixes:
        if prefix.prefixlen > pool.max_prefixlen:
            raise exc.IllegalSubnetPoolPrefixBounds(
                "prefixlen", prefix.prefixlen, "max_prefixlen", pool.max_prefixlen
            )


def _check_scope(session: Session, ctx: RequestContext, pool: SubnetPool) -> None:
    """The pool's address scope is visible, IPv4, and no other pool of it overlaps.

    Raises:
        AddressScopeNotFound (404), InvalidInput / AddressScopePrefixConflict (400).
    """
    if pool.address_scope_id is None:
        return
    scope = load_scope(session, ctx, pool.address_scope_id)
    if scope.ip_version != pool.ip_version:
        raise exc.InvalidInput(
            f"Illegal subnetpool association: subnetpool {pool.id} cannot be associated "
            f"with address scope {scope.id}."
        )
    mine = [ipaddress.ip_network(p) for p in pool.prefixes]
    others = session.scalars(
        sa.select(SubnetPool).where(
            SubnetPool.address_scope_id == scope.id, SubnetPool.id != pool.id
        )
    )
    for other in others:
        for prefix in other.prefixes:
            if any(ipaddress.ip_network(prefix).overlaps(m) for m in mine):
                raise exc.AddressScopePrefixConflict()


def load_pool(session: Session, ctx: RequestContext, pool_id: str) -> SubnetPool:
    """A pool the caller sees (own, shared, admin). Raises SubnetPoolNotFound (404)."""
    row = session.get(SubnetPool, pool_id)
    if row is None or not (row.shared or common.check_project_scope(ctx, row.project_id)):
        raise exc.SubnetPoolNotFound(pool_id)
    return row


def _owned(session: Session, ctx: RequestContext, pool_id: str) -> SubnetPool:
    row = load_pool(session, ctx, pool_id)
    if not common.check_project_scope(ctx, row.project_id):
        raise exc.NotAuthorized(f"Only the owner of subnet pool {pool_id} may change it.")
    return row


def _used(session: Session, pool_id: str) -> builtins.list[ipaddress.IPv4Network]:
    cidrs = session.scalars(sa.select(Subnet.cidr).where(Subnet.subnetpool_id == pool_id))
    return [ipaddress.IPv4Network(c) for c in cidrs]


def _first_free(
    prefixes: builtins.list[ipaddress.IPv4Network],
    used: builtins.list[ipaddress.IPv4Network],
    prefixlen: int,
) -> ipaddress.IPv4Network | None:
    """The lowest block of ``prefixlen`` inside ``prefixes`` that overlaps none of
    ``used`` (each step skips past the blocks it hits, so the walk is bounded by
    ``len(used)`` per prefix)."""
    size = 2 ** (IPV4_MAX_PREFIXLEN - prefixlen)
    for prefix in prefixes:
        if prefix.prefixlen > prefixlen:
            continue
        addr, end = int(prefix.network_address), int(prefix.broadcast_address)
        while addr + size - 1 <= end:
            block = ipaddress.IPv4Network((addr, prefixlen))
            clash = [u for u in used if u.overlaps(block)]
            if not clash:
                return block
            after = max(int(u.broadcast_address) for u in clash) + 1
            addr = -(-after // size) * size
    return None


def allocate(
    session: Session,
    ctx: RequestContext,
    pool_id: str,
    cidr: str | None,
    prefixlen: int | None,
) -> str:
    """A subnet's CIDR from pool ``pool_id``: ``cidr`` if free and inside the pool, else
    the first free block of ``prefixlen`` (the pool's default when None).

    Raises:
        SubnetPoolNotFound (404), PrefixLengthNotAllowed / InvalidInput (400: outside the
        pool's bounds or prefixes), SubnetAllocationError (409: taken, or no room left).
    """
    pool = load_pool(session, ctx, pool_id)
    # the pool's row locked (PostgreSQL, MySQL; SQLite serialises writers anyway) so two
    # allocations from one pool cannot both take the same free block
    session.refresh(pool, with_for_update=True)
    prefixes = [ipaddress.IPv4Network(p) for p in pool.prefixes]
    used = _used(session, pool.id)
    if cidr is not None:
        try:
            wanted = ipaddress.ip_network(cidr.strip(), strict=False)
        except ValueError:
            raise exc.InvalidInput(f"'{cidr}' is not a valid IP subnet.") from None
        if not isinstance(wanted, ipaddress.IPv4Network):
            raise exc.InvalidInput("IPv6 subnets are not supported yet; use ip_version 4.")
        _check_length(pool, wanted.prefixlen)
        if not any(wanted.subnet_of(p) for p in prefixes):
            raise exc.InvalidInput(
                "Cannot allocate requested subnet from the available set of prefixes"
            )
        if any(u.overlaps(wanted) for u in used):
            raise exc.SubnetAllocationError(f"Subnet {wanted} is already allocated.")
        return str(wanted)
    length = pool.default_prefixlen if prefixlen is None else prefixlen
    _check_length(pool, length)
    block = _first_free(prefixes, used, length)
    if block is None:
        raise exc.SubnetAllocationError(
            f"Insufficient prefix space to allocate subnet size /{length}"
        )
    return str(block)


def _check_length(pool: SubnetPool, length: int) -> None:
    if length < pool.min_prefixlen:
        raise exc.PrefixLengthNotAllowed(length, "minimum", pool.min_prefixlen)
    if length > pool.max_prefixlen:
        raise exc.PrefixLengthNotAllowed(length, "maximum", pool.max_prefixlen)


class SubnetPools:
    """The subnet pools of ``cloud.network`` (``cloud.network.subnetpools``); every method
    returns ``SubnetPool`` rows (rendered by ``api/views.py``)."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def create(self, ctx: RequestContext, spec: SubnetPoolCreate) -> SubnetPool:
        """Create a pool.

        Raises:
            InvalidInput / IllegalSubnetPoolPrefixBounds / AddressScopePrefixConflict (400),
            NotAuthorized (403: ``shared``/``is_default``/another project by a non-admin),
            AddressScopeNotFound (404).
        """
        for key, value in (("shared", spec.shared), ("is_default", spec.is_default)):
            if value is not None and not ctx.is_admin:
                raise exc.NotAuthorized(f"Only an administrator may set {key}.")
        prefixes = _prefixes(spec.prefixes)
        low = IPV4_MIN_PREFIXLEN if spec.min_prefixlen is None else spec.min_prefixlen
        pool = SubnetPool(
            project_id=common.owner_project(ctx, spec.project_id),
            name=spec.name,
            description=spec.description,
            ip_version=4,
            min_prefixlen=low,
            max_prefixlen=IPV4_MAX_PREFIXLEN if spec.max_prefixlen is None else spec.max_prefixlen,
            default_prefixlen=low if spec.default_prefixlen is None else spec.default_prefixlen,
            shared=bool(spec.shared),
            is_default=bool(spec.is_default),
            default_quota=spec.default_quota,
            address_scope_id=spec.address_scope_id,
            prefixes=[str(p) for p in prefixes],
            revision_number=1,
            tags=list(spec.tags),
        )
        _check_bounds(pool, prefixes)
        with self.cloud.db.transaction() as s:
            s.add(pool)
            s.flush()
            _check_scope(s, ctx, pool)
            return pool

    def get(self, ctx: RequestContext, pool_id: str) -> SubnetPool:
        """One pool. Raises SubnetPoolNotFound (404)."""
        with self.cloud.db.reader() as s:
            return load_pool(s, ctx, pool_id)

    def list(self, ctx: RequestContext, query: lists.ListQuery) -> lists.Page[SubnetPool]:
        """Pools the caller sees (own and shared; every one for an admin asking
        ``all_projects``), filtered, sorted and paged in SQL.

        Raises:
            InvalidInput (400: sort), SubnetPoolNotFound (404: the marker).
        """
        with self.cloud.db.reader() as s:
            select = sa.select(SubnetPool).where(
                lists.filter_condition(_COLUMNS, query),
                lists.tag_condition(s, SubnetPool.tags, query.tags),
            )
            if not (query.all_projects and ctx.is_admin):
                select = select.where(
                    sa.or_(SubnetPool.project_id == ctx.project_id, SubnetPool.shared)
                )
            return lists.fetch(s, select, SORT, query, exc.SubnetPoolNotFound)

    def update(self, ctx: RequestContext, pool_id: str, changes: SubnetPoolUpdate) -> SubnetPool:
        """Change a pool: names, bounds, more prefixes, its address scope.

        Raises:
            SubnetPoolNotFound / AddressScopeNotFound (404), NotAuthorized (403),
            IllegalSubnetPoolPrefixUpdate / IllegalSubnetPoolPrefixBounds /
            AddressScopePrefixConflict (400).
        """
        if changes.is_default is not None and not ctx.is_admin:
            raise exc.NotAuthorized("Only an administrator may set is_default.")
        with self.cloud.db.transaction() as s:
            pool = _owned(s, ctx, pool_id)
            prefixes = [ipaddress.IPv4Network(p) for p in pool.prefixes]
            if changes.prefixes is not None:
                new = _prefixes(changes.prefixes)
                if not all(any(old.subnet_of(n) for n in new) for old in prefixes):
                    raise exc.IllegalSubnetPoolPrefixUpdate(
                        "Existing prefixes must be a subset of the new prefixes"
                    )
                prefixes = new
                pool.prefixes = [str(p) for p in new]
            common.set_given(
                pool,
                changes,
                (
                    "name",
                    "description",
                    "min_prefixlen",
                    "max_prefixlen",
                    "default_prefixlen",
                    "is_default",
                    "default_quota",
                    "tags",
                ),
            )
            if changes.address_scope_id is not common.UNSET:
                pool.address_scope_id = changes.address_scope_id
            _check_bounds(pool, prefixes)
            _check_scope(s, ctx, pool)
            common.touch(pool)
            s.flush()
            return pool

    def delete(self, ctx: RequestContext, pool_id: str) -> None:
        """Delete a pool.

        Raises:
            SubnetPoolNotFound (404), NotAuthorized (403), SubnetPoolInUse (409: subnets
            were allocated from it).
        """
        with self.cloud.db.transaction() as s:
            pool = _owned(s, ctx, pool_id)
            if _used(s, pool.id):
                raise exc.SubnetPoolInUse(pool_id, "Subnets are allocated from it.")
            s.delete(pool)
