"""``SchedulerManager``: filters, then weighers, then an atomic claim (seed 002/004).

The conductor calls ``select_destination`` for each instance it builds and ``release`` when a
build fails or a server is deleted. The request ``spec``::

    {"instance_uuid": str, "project_id": str, "vcpus": int, "memory_mb": int (MiB),
     "disk_gb": int (GiB), "availability_zone": str | None, "image_properties": dict,
     "ignore_hosts": [str], "force_host": str | None}

``force_host`` (an admin's ``az:host``, parsed by the API) skips the filters, as in Nova; the
claim still refuses a host that cannot hold the instance.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from pocketstack.common.db import Database
from pocketstack.common.errors import NoValidHost
from pocketstack.compute.scheduler import claims, host_manager
from pocketstack.compute.scheduler.filters import BaseHostFilter
from pocketstack.compute.scheduler.filters.availability_zone_filter import (
    AvailabilityZoneFilter,
)
from pocketstack.compute.scheduler.filters.compute_filter import ComputeFilter
from pocketstack.compute.scheduler.filters.core_filter import CoreFilter
from pocketstack.compute.scheduler.filters.disk_filter import DiskFilter
from pocketstack.compute.scheduler.filters.image_props_filter import ImagePropertiesFilter
from pocketstack.compute.scheduler.filters.ram_filter import RamFilter
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

LOG = logging.getLogger(__name__)

#: enabled filters, in the order they run (cheap, most selective first)
FILTERS: tuple[type[BaseHostFilter], ...] = (
    ComputeFilter,
    AvailabilityZoneFilter,
    RamFilter,
    CoreFilter,
    DiskFilter,
    ImagePropertiesFilter,
    ServerGroupAffinityFilter,
    ServerGroupAntiAffinityFilter,
)
#: enabled weighers
WEIGHERS: tuple[type[BaseWeigher], ...] = (RAMWeigher, CPUWeigher)

NO_HOSTS = "There are not enough hosts available."


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
        """Filter the hosts, weigh them, claim the best one (next one if the claim is lost).

        Returns:
            ``{"host": <compute host>, "node": <hypervisor hostname>, "details": <what the
            scheduler did, in words: each filter's host counts, the weighed hosts and the
            winner with its weight>}``; the instance now holds an allocation there
            (``release`` gives it back).

        Raises:
            NoValidHost: "No valid host was found. <why>" — no host passed the filters (the
                message ends with each filter's host counts; the log names the hosts each
                filter removed) or every claim was lost.
        """
        request_id = getattr(ctx, "request_id", None)
        summary: list[str] = []
        hosts = self._candidates(spec, request_id, summary)
        weighed = weigh_hosts(hosts, spec, self.weighers, self.conf)
        LOG.debug(
            "[%s] weighed hosts: %s", request_id, ", ".join(f"{h}={w:.3f}" for w, h in weighed)
        )
        for _weight, host in weighed:
            if self.claim(
                host.host,
                spec["instance_uuid"],
                int(spec.get("vcpus") or 0),
                int(spec.get("memory_mb") or 0),
                int(spec.get("disk_gb") or 0),
            ):
                LOG.info(
                    "[%s] instance %s scheduled to %s", request_id, spec["instance_uuid"], host
                )
                weights = ", ".join(f"{h.host}={w:.3f}" for w, h in weighed)
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
        """The hosts that may take the request: filtered, or the forced host; ``summary``
        gets what was done, in words."""
        ignore = set(spec.get("ignore_hosts") or ())
        hosts = [
            h for h in host_manager.list_host_states(self.db, self.conf) if h.host not in ignore
        ]
        random.shuffle(hosts)  # equal weights then spread concurrent requests
        force = spec.get("force_host")
        if force:
            forced = [h for h in hosts if h.host == force]
            if not forced:
                raise NoValidHost(f"No valid host was found. No such host - host: {force}")
            summary.append(f"Host {force} requested: filters skipped")
            return forced
        return self._filter(hosts, spec, request_id, summary)

    def _filter(
        self,
        hosts: list[HostState],
        spec: dict[str, Any],
        request_id: str | None,
        summary: list[str] | None = None,
    ) -> list[HostState]:
        """Run every enabled filter; raise NoValidHost when none is left. ``summary`` gets
        ``"Filter results: <filter> (start: n, end: m), ..."``."""
        results = []
        for flt in self.filters:
            passed = flt.filter_all(hosts, spec)
            results.append(f"{flt.name} (start: {len(hosts)}, end: {len(passed)})")
            removed = sorted(h.host for h in hosts if h not in passed)
            if removed:
                LOG.info("[%s] %s removed hosts %s", request_id, flt.name, ", ".join(removed))
            hosts = passed
            if not hosts:
                break
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
        """Give back the instance's claim (no-op when it has none); one transaction."""
        claims.release(self.db, instance_uuid)
