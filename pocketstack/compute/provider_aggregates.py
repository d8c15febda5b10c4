"""Host aggregates copied onto compute hosts' resource providers, so that Placement's
``member_of`` (the scheduler's availability-zone prefilter, ``scheduler.request_filter``)
sees every host of a zone.

``aggregates.add_host``/``remove_host`` copy one change as nova-api does; what they cannot
copy (aggregates made before the copy existed, a host whose provider did not exist yet, a
provider made again later, a Placement failure that was only logged) is repaired here:

- ``sync_host``: make one host's provider carry exactly the host aggregates the host is in,
  keeping the aggregates that are no host aggregate (set through the Placement API). Called
  by ``aggregates`` on each change, and by ``host_manager.report_compute_node`` when the
  provider was created or updated and at most every ``REFRESH_SECONDS`` otherwise (Nova's
  ``[compute] resource_provider_association_refresh``).
- ``sync_all``: every compute host's provider (Nova's ``nova-manage placement
  sync_aggregates``), which the conductor runs at start-up and ``pocketstack placement
  sync-aggregates`` runs on demand.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from pocketstack.common.db import Database
from pocketstack.common.errors import PocketError
from pocketstack.compute.models import Aggregate, AggregateHost, ComputeNode
from pocketstack.compute.scheduler import claims
from pocketstack.placement import exceptions as pexc

LOG = logging.getLogger(__name__)

#: attempts of a provider's aggregates update that lost to a concurrent change
RETRIES = 3
#: seconds between two checks of an unchanged host's provider aggregates by its reports
#: (Nova's ``resource_provider_association_refresh`` default)
REFRESH_SECONDS = 300.0


def _db(db_or_cloud: Any) -> Database:
    return getattr(db_or_cloud, "db", db_or_cloud)  # type: ignore[no-any-return]


def _memberships(db: Database, host: str) -> tuple[set[str], set[str]]:
    """``(UUIDs of the aggregates holding host, UUIDs of every host aggregate)``."""
    with db.reader() as s:
        every = set(s.scalars(sa.select(Aggregate.uuid)))
        mine = set(
            s.scalars(
                sa.select(Aggregate.uuid)
                .join(AggregateHost, AggregateHost.aggregate_id == Aggregate.id)
                .where(AggregateHost.host == host)
            )
        )
    return mine, every


def sync_host(db_or_cloud: Any, host: str, provider_uuid: str | None = None) -> bool | None:
    """Make ``host``'s resource provider carry the host aggregates ``host`` is in.

    Args:
        db_or_cloud: a ``Cloud`` or a bare ``Database`` (``claims.placement_for``).
        provider_uuid: the provider, when the caller knows it (else found by the host's
            hypervisor hostname, ``claims.provider_of``).

    Returns:
        True: the provider carries them (changed or not); None: the host has no provider
        yet (its first report will copy them); False: Placement failed or kept losing to
        concurrent changes (logged; the next report or start-up sync tries again).

    Aggregates that are no host aggregate stay. The provider's generation is read before
    the memberships and checked on the write, so a concurrent ``add_host`` either is seen
    or makes this write conflict and read again.
    """
    providers = claims.placement_for(db_or_cloud).resource_providers
    try:
        uuid = provider_uuid or claims.provider_of(db_or_cloud, host)
        if uuid is None:
            return None
        for _attempt in range(RETRIES):
            generation, current = providers.get_aggregates(claims.SERVICE_CTX, uuid)
            mine, every = _memberships(_db(db_or_cloud), host)
            wanted = (set(current) - every) | mine
            if wanted == set(current):
                return True
            try:
                providers.set_aggregates(claims.SERVICE_CTX, uuid, sorted(wanted), generation)
            except pexc.ProviderGenerationConflict:
                continue
            return True
    except pexc.ResourceProviderNotFound:
        return None
    except PocketError as exc:
        LOG.warning("host %s: aggregates not copied to its resource provider: %s", host, exc)
        return False
    LOG.warning("host %s: aggregates not copied to its resource provider: concurrent changes", host)
    return False


@dataclass
class SyncResult:
    """What ``sync_all`` did: hosts whose provider carries their aggregates, hosts without
    a provider, hosts that failed (each sorted)."""

    synced: list[str] = field(default_factory=list)
    no_provider: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def sync_all(db_or_cloud: Any) -> SyncResult:
    """``sync_host`` for every compute host (with a compute node) and every host named by
    an aggregate, as Nova's ``nova-manage placement sync_aggregates``; never raises a
    Placement error (each is logged and counted in ``failed``)."""
    with _db(db_or_cloud).reader() as s:
        hosts = set(s.scalars(sa.select(ComputeNode.host)))
        hosts |= set(s.scalars(sa.select(AggregateHost.host)))
    result = SyncResult()
    for host in sorted(hosts):
        outcome = sync_host(db_or_cloud, host)
        if outcome is None:
            result.no_provider.append(host)
        elif outcome:
            result.synced.append(host)
        else:
            result.failed.append(host)
    if result.no_provider or result.failed:
        LOG.info(
            "aggregates sync: %d hosts synced; without a resource provider: %s; failed: %s",
            len(result.synced),
            ", ".join(result.no_provider) or "none",
            ", ".join(result.failed) or "none",
        )
    return result
