"""``SchedulerManager``: Placement candidates, then filters, then weighers, then an atomic
claim (seed 002/004; docs/placement.md, "The scheduler on top").

1. **Ask Placement**: ``GET /allocation_candidates?resources=VCPU:v,MEMORY_MB:m,DISK_GB:d
   &limit=MAX_PLACEMENT_RESULTS`` as one SQL query: the database drops every host without
   room (what Nova's RamFilter, CoreFilter and DiskFilter did in Python), and with the
   ``required``/``forbidden`` traits of the flavor's and image's ``trait:*`` and the
   zone's aggregates as ``member_of`` (``request_filter``), the hosts without them.
2. **Filter and weigh the candidates only**: the host states come from the in-memory
   ``host_manager.HostStateCache`` (kept current from the agents' reports), the usage from
   the candidates. If the filters leave nothing and Placement stopped at the limit, the
   request is asked again without a limit, so a filter (zone, group...) never misses a host
   that was past the limit.
3. **Claim**: write the instance's allocation on the best host (``claims``); a lost race
   (the host filled meanwhile) moves on to the next one.

The conductor calls ``select_destination`` for each instance it builds and ``release`` when a
build fails or a server is deleted. The request ``spec``::

    {"instance_uuid": str, "project_id": str, "vcpus": int, "memory_mb": int (MiB),
     "disk_gb": int (GiB), "availability_zone": str | None, "image_properties": dict,
     "flavor_extra_specs": dict (optional),
     "ignore_hosts": [str], "force_host": str | None, "user_id": str (optional),
     "consumer_type": "INSTANCE" (default) or "MIGRATION"}

``instance_uuid`` is the consumer the claim is written for: a move (resize, cold
migration) passes its migration's UUID with ``consumer_type`` ``MIGRATION`` to hold the
destination while the instance still holds the source (``claims.move_claim`` at confirm).

``force_host`` (an admin's ``az:host``, parsed by the API) skips the filters, as in Nova; the
claim still refuses a host that cannot hold the instance.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from pocketstack.common.db import Database
from pocketstack.common.errors import NoValidHost
from pocketstack.compute.scheduler import claims, host_manager, request_filter
from pocketstack.compute.scheduler.filters import BaseHostFilter
from pocketstack.compute.scheduler.filters.aggregate_instance_extra_specs_filter import (
    AggregateInstanceExtraSpecsFilter,
)
from pocketstack.compute.scheduler.filters.availability_zone_filter import (
    AvailabilityZoneFilter,
)
from pocketstack.compute.scheduler.filters.compute_filter import ComputeFilter
from pocketstack.compute.scheduler.filters.different_host_filter import DifferentHostFilter
from pocketstack.compute.scheduler.filters.image_props_filter import ImagePropertiesFilter
from pocketstack.compute.scheduler.filters.same_host_filter import SameHostFilter
from pocketstack.compute.scheduler.filters.server_group_affinity_filter import (
    ServerGroupAffinityFilter,
)
from pocketstack.compute.scheduler.filters.server_group_anti_affinity_filter import (
    ServerGroupAntiAffinityFilter,
)
from pocketstack.compute.scheduler.host_state import HostState
from pocketstack.compute.scheduler.weighers import BaseWeigher, weigh_hosts
from pocketstack.compute.scheduler.weighers.cpu import CPUWeigher
from pocketstack.compute.scheduler.weighers.ram import RAMWeigher
from pocketstack.compute.scheduler.weighers.server_group_soft_affinity import (
    ServerGroupSoftAffinityWeigher,
)
from pocketstack.compute.scheduler.weighers.server_group_soft_anti_affinity import (
    ServerGroupSoftAntiAffinityWeigher,
)

LOG = logging.getLogger(__name__)

#: enabled filters, in the order they run (cheap, most selective first). RAM, vCPUs and
#: disk are Placement's (the candidates query); RamFilter, CoreFilter and DiskFilter stay
#: available for a caller that filters host states without Placement.
FILTERS: tuple[type[BaseHostFilter], ...] = (
    ComputeFilter,
    AvailabilityZoneFilter,
    ImagePropertiesFilter,
    ServerGroupAffinityFilter,
    ServerGroupAntiAffinityFilter,
    SameHostFilter,
    DifferentHostFilter,
    AggregateInstanceExtraSpecsFilter,
)
#: enabled weighers
WEIGHERS: tuple[type[BaseWeigher], ...] = (
    RAMWeigher,
    CPUWeigher,
    ServerGroupSoftAffinityWeigher,
    ServerGroupSoftAntiAffinityWeigher,
)

NO_HOSTS = "There are not enough hosts available."
#: how many weighed hosts the schedule event's details name (the best ones)
WEIGHTS_SHOWN = 10
#: how many candidates Placement returns per request (Nova's ``max_placement_results``)
MAX_PLACEMENT_RESULTS = 50


class SchedulerManager:
    """Chooses a compute host for an instance and claims its resources there.

    Args:
        conf: ``Config``; reads ``weigher_multiplier`` and ``service_down_time``.
        db: the ``Database`` holding ``services``, ``compute_nodes`` and ``allocations``.
    """

    def __init__(self, conf: Any, db: Database):
        self.conf = conf
        self.db = db
        self.filters = [cls() for cls in FILTERS]
        self.weighers = [cls() for cls in WEIGHERS]

    def select_destination(self, ctx: Any, spec: dict[str, Any]) -> dict[str, str]:
        """Ask Placement, filter and weigh the candidates, claim the best one (the next
        one if the claim is lost).

        Returns:
            ``{"host": <compute host>, "node": <hypervisor hostname>, "details": <what the
            scheduler did, in words: each filter's host counts (Placement's first), the
            weighed hosts and the winner with its weight>}``; the instance now holds an
            allocation there (``release`` gives it back).

        Raises:
            NoValidHost: "No valid host was found. <why>" — no host passed Placement and the
                filters (the message ends with each filter's host counts; the log names the
                hosts each filter removed) or every claim was lost.
        """
        request_id = getattr(ctx, "request_id", None)
        summary: list[str] = []
        hosts = self._candidates(spec, request_id, summary)
        weighed = weigh_hosts(hosts, spec, self.weighers, self.conf)
        LOG.debug(
            "[%s] weighed hosts: %s", request_id, ", ".join(f"{h}={w:.3f}" for w, h in weighed)
        )
        resources = claims.resources_of(
            int(spec.get("vcpus") or 0),
            int(spec.get("memory_mb") or 0),
            int(spec.get("disk_gb") or 0),
        )
        for _weight, host in weighed:
            if claims.claim_for_consumer(
                self.db,
                spec["instance_uuid"],
                host.host,
                resources,
                project_id=str(spec.get("project_id") or ""),
                user_id=str(spec.get("user_id") or ""),
                consumer_type=str(spec.get("consumer_type") or claims.INSTANCE),
                provider_uuid=host.provider_uuid,
            ):
                LOG.info(
                    "[%s] instance %s scheduled to %s", request_id, spec["instance_uuid"], host
                )
                weights = ", ".join(f"{h.host}={w:.3f}" for w, h in weighed[:WEIGHTS_SHOWN])
                more = len(weighed) - WEIGHTS_SHOWN
                if more > 0:
                    weights += f" and {more} more"
                details = (
                    f"{'; '.join(summary)}. Weighed hosts: {weights}. "
                    f"Chosen: {host.host} (weight {_weight:.3f})."
                )
                return {"host": host.host, "node": host.nodename, "details": details}
            LOG.info(
                "[%s] claim for instance %s lost on %s, trying the next host",
                request_id,
                spec["instance_uuid"],
                host,
            )
        raise NoValidHost(
            f"No valid host was found. {NO_HOSTS} Claims failed on {len(weighed)} host(s)."
        )

    def _candidates(
        self, spec: dict[str, Any], request_id: str | None, summary: list[str]
    ) -> list[HostState]:
        """The hosts that may take the request: Placement's candidates, filtered, or the
        forced host; ``summary`` gets what was done, in words."""
        cache = host_manager.host_cache(self.db)
        cache.refresh()
        force = spec.get("force_host")
        if force:
            nodename = cache.nodename(force)
            if nodename is None:
                cache.refresh(force=True)
                nodename = cache.nodename(force)
            state = cache.state(nodename, self.conf) if nodename else None
            if state is None:
                raise NoValidHost(f"No valid host was found. No such host - host: {force}")
            summary.append(f"Host {force} requested: filters skipped")
            return [state]
        hosts, total = self._ask_placement(spec, MAX_PLACEMENT_RESULTS)
        try:
            return self._filter(hosts, spec, request_id, summary, total)
        except NoValidHost:
            if total < MAX_PLACEMENT_RESULTS:
                raise
        hosts, total = self._ask_placement(spec, None)
        return self._filter(hosts, spec, request_id, summary, total)

    def _ask_placement(
        self, spec: dict[str, Any], limit: int | None
    ) -> tuple[list[HostState], int]:
        """``(host states of the candidates, how many candidates Placement returned)``:
        the hosts with room for the request, less ``ignore_hosts``, in random order (equal
        weights then spread concurrent requests)."""
        cache = host_manager.host_cache(self.db)
        resources = claims.resources_of(
            int(spec.get("vcpus") or 0),
            int(spec.get("memory_mb") or 0),
            int(spec.get("disk_gb") or 0),
        )
        found = claims.placement_for(self.db).allocation_candidates.find(
            claims.SERVICE_CTX,
            resources,
            request_filter.provider_filters(self.db, spec),
            limit=limit,
        )
        ignore = set(spec.get("ignore_hosts") or ())
        hosts = []
        for candidate in found:
            state = cache.state(candidate.provider.name, self.conf, candidate)
            if state is None:  # a provider the cache does not know yet (a new host)
                cache.refresh(force=True)
                state = cache.state(candidate.provider.name, self.conf, candidate)
            if state is not None and state.host not in ignore:
                hosts.append(state)
        random.shuffle(hosts)
        return hosts, len(found)

    def _filter(
        self,
        hosts: list[HostState],
        spec: dict[str, Any],
        request_id: str | None,
        summary: list[str] | None = None,
        candidates: int | None = None,
    ) -> list[HostState]:
        """Run every enabled filter; raise NoValidHost when none is left. ``summary`` gets
        ``"Filter results: Placement (start: <hosts known>, end: <candidates>), <filter>
        (start: n, end: m), ..."`` (Placement's part when ``candidates`` is given)."""
        results = []
        if candidates is not None:
            known = len(host_manager.host_cache(self.db))
            results.append(f"Placement (start: {max(known, candidates)}, end: {candidates})")
        for flt in self.filters:
            if not hosts:
                break
            passed = flt.filter_all(hosts, spec)
            results.append(f"{flt.name} (start: {len(hosts)}, end: {len(passed)})")
            if len(passed) < len(hosts):
                kept = {id(h) for h in passed}
                removed = sorted(h.host for h in hosts if id(h) not in kept)
                LOG.info("[%s] %s removed hosts %s", request_id, flt.name, ", ".join(removed))
            hosts = passed
        if not hosts:
            LOG.info(
                "[%s] filtering removed all hosts for instance %s. Filter results: %s",
                request_id,
                spec.get("instance_uuid"),
                "; ".join(results),
            )
            raise NoValidHost(
                f"No valid host was found. {NO_HOSTS} Filter results: {', '.join(results)}."
            )
        if summary is not None:
            summary.append(f"Filter results: {', '.join(results)}")
        return hosts

    def claim(
        self, host: str, instance_uuid: str, vcpus: int, memory_mb: int, disk_gb: int
    ) -> bool:
        """Claim ``vcpus``, ``memory_mb`` (MiB) and ``disk_gb`` (GiB) on ``host`` for the
        instance, atomically; idempotent per instance. See ``claims.claim``.

        Returns:
            True when the instance holds the claim; False when the host is full or unknown.
        """
        return claims.claim(self.db, host, instance_uuid, vcpus, memory_mb, disk_gb)

    def release(self, instance_uuid: str) -> None:
        """Give back the instance's claim (no-op when it has none); one transaction.
        Also releases a migration's claim when given the migration's UUID."""
        claims.release(self.db, instance_uuid)

    def claim_for_consumer(
        self, consumer_uuid: str, host: str, resources: dict[str, int], **kw: Any
    ) -> bool:
        """Claim ``resources`` (``{"VCPU", "MEMORY_MB", "DISK_GB"}``) on ``host`` for any
        consumer, e.g. a migration's UUID on a move's destination
        (``claims.claim_for_consumer``); False when it does not fit."""
        return claims.claim_for_consumer(self.db, consumer_uuid, host, resources, **kw)

    def move_claim(self, from_consumer: str, to_consumer: str) -> bool:
        """Move every allocation of ``from_consumer`` to ``to_consumer`` atomically
        (``claims.move_claim``)."""
        return claims.move_claim(self.db, from_consumer, to_consumer)
