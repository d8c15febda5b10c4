"""Host bookkeeping: compute node resources, their Placement providers, and the host states
the scheduler reads.

The conductor calls ``report_compute_node`` when a compute agent reports its host over the bus
(``agent_reports``: from the agent's periodic task, and once at start): the ``compute_nodes``
row and the host's resource provider with its inventory (``placement.compute_hosts``) and
the host's aggregates (``provider_aggregates``).
The scheduler reads host states from a ``HostStateCache`` (``host_cache(db)``), which the
reports keep current: each decision re-reads only the ``services`` and ``compute_nodes`` rows
whose ``updated_at`` moved since the last read, never the whole fleet.
``list_host_states`` reads every host (tools and tests).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
import weakref
from typing import Any

import sqlalchemy as sa

from pocketstack.common.db import Database, utcnow
from pocketstack.common.errors import PocketError
from pocketstack.compute import provider_aggregates
from pocketstack.compute.liveness import COMPUTE_BINARY, service_is_up
from pocketstack.compute.models import ComputeNode, Service
from pocketstack.compute.scheduler import claims
from pocketstack.compute.scheduler.claims import recompute_usage
from pocketstack.compute.scheduler.host_state import HostState, arch_from_cpu_info
from pocketstack.placement.allocation_candidates import Summary
from pocketstack.placement.compute_hosts import compute_inventory

LOG = logging.getLogger(__name__)

#: the cache re-reads changed rows at most this often (seconds)
REFRESH_SECONDS = 0.25
#: and reloads everything this often (deleted hosts and services)
FULL_RELOAD_SECONDS = 60.0
#: rows written this long before the newest change seen are read again: a writer may
#: commit after a later writer did
OVERLAP = dt.timedelta(seconds=0.5)
_RATIO_KEYS = (
    "cpu_allocation_ratio",
    "ram_allocation_ratio",
    "disk_allocation_ratio",
    "reserved_host_memory_mb",
)
#: per database, what each host reported last (its provider is written only on a change)
_REPORTED: weakref.WeakKeyDictionary[Database, dict[str, Any]] = weakref.WeakKeyDictionary()
#: per database, when each host's provider aggregates were last checked (time.monotonic)
_AGGREGATES_SYNCED: weakref.WeakKeyDictionary[Database, dict[str, float]] = (
    weakref.WeakKeyDictionary()
)
#: per database, the hosts whose earlier claims were adopted into Placement
_ADOPTED: weakref.WeakKeyDictionary[Database, set[str]] = weakref.WeakKeyDictionary()


def report_compute_node(db: Database, conf: Any, host: str, resources: dict[str, Any]) -> None:
    """Create or update ``host``'s compute node from the driver and recompute its usage.

    Args:
        conf: supplies ``cpu_allocation_ratio``, ``ram_allocation_ratio``,
            ``disk_allocation_ratio`` and ``reserved_host_memory_mb``.
        resources: the driver's ``get_host_resources()``: ``{"vcpus", "memory_mb" (MiB),
            "local_gb" (GiB), "hypervisor_type", "hypervisor_version", "cpu_info"}``;
            optional ``"hypervisor_hostname"`` (default ``host``) and ``"host_ip"``.

    The used counters are set to the sums of the host's allocations in the same transaction,
    with the node row locked, which repairs any drift left by a crash.
    """
    with db.transaction() as s:
        node = s.execute(
            sa.select(ComputeNode).where(ComputeNode.host == host).with_for_update()
        ).scalar_one_or_none()
        if node is None:
            node = ComputeNode(host=host)
            s.add(node)
        node.hypervisor_hostname = resources.get("hypervisor_hostname") or host
        node.hypervisor_type = str(resources.get("hypervisor_type") or "")
        node.hypervisor_version = int(resources.get("hypervisor_version") or 0)
        node.cpu_info = resources.get("cpu_info")
        node.host_ip = resources.get("host_ip", node.host_ip)
        node.instances_path = resources.get("instances_path", node.instances_path)
        node.instances_shared_storage = bool(resources.get("instances_shared_storage", False))
        node.vcpus = int(resources["vcpus"])
        node.memory_mb = int(resources["memory_mb"])
        node.local_gb = int(resources["local_gb"])
        node.cpu_allocation_ratio = float(conf.cpu_allocation_ratio)
        node.ram_allocation_ratio = float(conf.ram_allocation_ratio)
        node.disk_allocation_ratio = float(conf.disk_allocation_ratio)
        node.reserved_host_memory_mb = int(conf.reserved_host_memory_mb)
        s.flush()
        recompute_usage(s, node)
    reported = _REPORTED.setdefault(db, {})
    seen = repr((sorted(resources.items()), [getattr(conf, k) for k in _RATIO_KEYS]))
    # as Nova's report client: the provider is written only when something changed
    if reported.get(host) != seen and update_provider(db, conf, host, resources):
        reported[host] = seen
        _sync_aggregates(db, host, force=True)
    elif _sync_aggregates(db, host, force=False) is None:
        # the provider is gone (deleted through Placement): the next report makes it again
        reported.pop(host, None)
    adopted = _ADOPTED.setdefault(db, set())
    if host not in adopted:  # once per host and process: claims made before Placement
        claims.adopt_earlier_claims(db, host)
        adopted.add(host)


def _sync_aggregates(db: Database, host: str, force: bool) -> bool | None:
    """Copy ``host``'s aggregates to its provider (``provider_aggregates.sync_host``): when
    the provider was just created or updated (``force``), else at most every
    ``provider_aggregates.REFRESH_SECONDS``, so that a copy that failed is retried. The
    outcome of ``sync_host``; True when not due."""
    synced = _AGGREGATES_SYNCED.setdefault(db, {})
    now = time.monotonic()
    last = synced.get(host)
    if not force and last is not None and now - last < provider_aggregates.REFRESH_SECONDS:
        return True
    outcome = provider_aggregates.sync_host(db, host)
    if outcome:
        synced[host] = now
    else:  # no provider or a failure: the next report tries again
        synced.pop(host, None)
    return outcome


def update_provider(db: Any, conf: Any, host: str, resources: dict[str, Any]) -> bool:
    """Make ``host``'s resource provider (named after its hypervisor hostname) carry the
    inventory of ``resources`` with the ratios and reserved memory of ``conf``
    (``placement.compute_hosts``). A Placement failure is logged (False); the node report
    stands."""
    name = resources.get("hypervisor_hostname") or host
    allocation = {key: getattr(conf, key) for key in _RATIO_KEYS}
    try:
        inventory = compute_inventory(resources, allocation)
        claims.placement_for(db).compute_hosts.update(claims.SERVICE_CTX, name, inventory)
    except PocketError as exc:
        LOG.warning("compute host %s: its resource provider was not updated: %s", name, exc)
        return False
    return True


def _host_state(node: ComputeNode, svc: Service | None, conf: Any) -> HostState:
    return HostState(
        host=node.host,
        nodename=node.hypervisor_hostname,
        availability_zone=svc.availability_zone if svc else "nova",
        service_disabled=svc.disabled if svc else True,
        service_up=service_is_up(svc, conf) if svc else False,
        hypervisor_type=node.hypervisor_type,
        hypervisor_version=node.hypervisor_version,
        architecture=arch_from_cpu_info(node.cpu_info),
        vcpus=node.vcpus,
        memory_mb=node.memory_mb,
        local_gb=node.local_gb,
        vcpus_used=node.vcpus_used,
        memory_mb_used=node.memory_mb_used,
        local_gb_used=node.local_gb_used,
        running_vms=node.running_vms,
        cpu_allocation_ratio=node.cpu_allocation_ratio,
        ram_allocation_ratio=node.ram_allocation_ratio,
        disk_allocation_ratio=node.disk_allocation_ratio,
        reserved_host_memory_mb=node.reserved_host_memory_mb,
    )


def list_host_states(db: Database, conf: Any) -> list[HostState]:
    """Every compute node with its compute service's state, ordered by host name.

    A node without a ``nova-compute`` service row is listed as disabled and down.
    """
    with db.reader() as s:
        rows = s.execute(
            sa.select(ComputeNode, Service)
            .outerjoin(
                Service, sa.and_(Service.host == ComputeNode.host, Service.binary == COMPUTE_BINARY)
            )
            .order_by(ComputeNode.host)
        ).all()
        return [_host_state(node, svc, conf) for node, svc in rows]


_NODE_COLUMNS = (
    ComputeNode.host,
    ComputeNode.hypervisor_hostname,
    ComputeNode.hypervisor_type,
    ComputeNode.hypervisor_version,
    ComputeNode.cpu_info,
    ComputeNode.vcpus,
    ComputeNode.memory_mb,
    ComputeNode.local_gb,
    ComputeNode.cpu_allocation_ratio,
    ComputeNode.ram_allocation_ratio,
    ComputeNode.disk_allocation_ratio,
    ComputeNode.reserved_host_memory_mb,
    ComputeNode.updated_at,
)
_SERVICE_COLUMNS = (
    Service.host,
    Service.availability_zone,
    Service.disabled,
    Service.forced_down,
    Service.last_seen_up,
    Service.updated_at,
)


class HostStateCache:
    """The compute hosts as the scheduler's filters and weighers see them, kept in memory.

    ``refresh`` reads only the rows the agents' reports (or an admin) changed since the
    previous read; ``state`` builds one host's ``HostState`` from the cached rows and the
    usage a Placement candidate carries (so usage is always the database's, fresh).
    Thread-safe; one cache per database (``host_cache``).
    """

    def __init__(self, db: Database):
        self.db = db
        self._lock = threading.Lock()
        self._nodes: dict[str, HostState] = {}  # by hypervisor hostname
        self._by_host: dict[str, str] = {}  # host -> hypervisor hostname
        self._services: dict[str, Any] = {}  # host -> service columns
        self._since: dt.datetime | None = None  # when the last read began (utcnow)
        self._refreshed = 0.0
        self._loaded = -FULL_RELOAD_SECONDS

    def __len__(self) -> int:
        return len(self._nodes)

    def refresh(self, force: bool = False) -> None:
        """Read the rows changed since the last read began (less ``OVERLAP``; everything
        every ``FULL_RELOAD_SECONDS``); at most every ``REFRESH_SECONDS`` unless ``force``.
        ``updated_at`` is the writers' clock: controllers keep their clocks in step (NTP)."""
        now = time.monotonic()
        with self._lock:
            if not force and now - self._refreshed < REFRESH_SECONDS:
                return
            full = self._since is None or now - self._loaded >= FULL_RELOAD_SECONDS
            began = utcnow()
            with self.db.reader() as s:
                nodes = sa.select(*_NODE_COLUMNS)
                services = sa.select(*_SERVICE_COLUMNS).where(Service.binary == COMPUTE_BINARY)
                if not full and self._since is not None:
                    nodes = nodes.where(ComputeNode.updated_at >= self._since - OVERLAP)
                    services = services.where(Service.updated_at >= self._since - OVERLAP)
                node_rows = s.execute(nodes).all()
                service_rows = s.execute(services).all()
            if full:
                self._nodes, self._by_host, self._services = {}, {}, {}
                self._loaded = now
            for row in node_rows:
                self._nodes[row.hypervisor_hostname] = _template(row)
                self._by_host[row.host] = row.hypervisor_hostname
            for svc in service_rows:
                self._services[svc.host] = svc
            self._since = began
            self._refreshed = now

    def expire(self) -> None:
        """Make the next ``refresh`` read whatever its throttle would skip: this process
        just changed a service (an admin disabled or forced down a host), which the next
        decision must see. Another process's cache sees it within ``REFRESH_SECONDS``."""
        with self._lock:
            self._refreshed = -REFRESH_SECONDS

    def nodename(self, host: str) -> str | None:
        """The hypervisor hostname of compute host ``host`` (None when unknown)."""
        return self._by_host.get(host)

    def state(self, nodename: str, conf: Any, summary: Summary | None = None) -> HostState | None:
        """The ``HostState`` of the host whose hypervisor hostname (= provider name) is
        ``nodename``, its usage from ``summary`` (a Placement candidate); None when no
        compute node has that name."""
        template = self._nodes.get(nodename)
        if template is None:
            return None
        svc = self._services.get(template.host)
        used: dict[str, int] = {}
        if summary is not None:
            used = {rc: u for rc, (_capacity, u) in summary.resources.items()}
            uuid: str | None = summary.provider.uuid
        else:
            uuid = None
        return dataclasses.replace(
            template,
            availability_zone=svc.availability_zone if svc else "nova",
            service_disabled=bool(svc.disabled) if svc else True,
            service_up=service_is_up(svc, conf) if svc else False,
            vcpus_used=used.get("VCPU", 0),
            memory_mb_used=used.get("MEMORY_MB", 0),
            local_gb_used=used.get("DISK_GB", 0),
            provider_uuid=uuid,
        )


def _template(row: Any) -> HostState:
    return HostState(
        host=row.host,
        nodename=row.hypervisor_hostname,
        hypervisor_type=row.hypervisor_type,
        hypervisor_version=row.hypervisor_version,
        architecture=arch_from_cpu_info(row.cpu_info),
        vcpus=row.vcpus,
        memory_mb=row.memory_mb,
        local_gb=row.local_gb,
        cpu_allocation_ratio=row.cpu_allocation_ratio,
        ram_allocation_ratio=row.ram_allocation_ratio,
        disk_allocation_ratio=row.disk_allocation_ratio,
        reserved_host_memory_mb=row.reserved_host_memory_mb,
    )


_CACHES: weakref.WeakKeyDictionary[Database, HostStateCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def host_cache(db: Database) -> HostStateCache:
    """The one ``HostStateCache`` of ``db`` in this process."""
    with _CACHES_LOCK:
        cache = _CACHES.get(db)
        if cache is None:
            cache = _CACHES[db] = HostStateCache(db)
        return cache
