"""Scheduler test helpers: compute hosts registered the way the compute agent does it, and a
throw-away PostgreSQL database for the concurrency guarantee."""

from __future__ import annotations

import pytest

from pocketstack.compute import liveness
from pocketstack.compute.scheduler import host_manager
from tests.helpers import pg_database


def _add_host(
    db,
    conf,
    host,
    *,
    vcpus=8,
    memory_mb=8192,
    local_gb=100,
    az="nova",
    hypervisor_type="QEMU",
    cpu_info="x86_64 (QEMU 8.2)",
    **conf_changes,
):
    """Register ``host`` as its compute agent would: heartbeat, then resources.

    ``conf_changes`` (e.g. ``cpu_allocation_ratio=1.0``) set that node's ratios.
    """
    liveness.report_service(db, host, availability_zone=az)
    node_conf = conf.replace(**conf_changes) if conf_changes else conf
    host_manager.report_compute_node(
        db,
        node_conf,
        host,
        {
            "vcpus": vcpus,
            "memory_mb": memory_mb,
            "local_gb": local_gb,
            "hypervisor_type": hypervisor_type,
            "hypervisor_version": 8002000,
            "cpu_info": cpu_info,
        },
    )


def _exact_conf(conf):
    """``conf`` without overcommit or reserved memory: totals are the limits."""
    return conf.replace(
        cpu_allocation_ratio=1.0,
        ram_allocation_ratio=1.0,
        disk_allocation_ratio=1.0,
        reserved_host_memory_mb=0,
    )


@pytest.fixture
def add_host():
    """``add_host(db, conf, host, *, vcpus, memory_mb, local_gb, az, hypervisor_type,
    cpu_info, **ratios)``: register a compute host."""
    return _add_host


@pytest.fixture
def exact_conf(conf):
    """``conf`` without overcommit or reserved memory (limits equal the totals)."""
    return _exact_conf(conf)


@pytest.fixture
def pg_db():
    """A PostgreSQL database created for this test (tables by ``create_all``), then dropped
    (``tests.helpers.pg_database``: fails in CI, skips elsewhere when the server is down)."""
    with pg_database("sched_test") as database:
        yield database


@pytest.fixture(autouse=True)
def _host_cache_reads_every_change(monkeypatch):
    """The scheduler's host cache re-reads changed rows at every decision here (in a cloud
    at most every ``REFRESH_SECONDS``), so a test's direct change is seen at once."""
    from pocketstack.compute.scheduler import host_manager as hm

    monkeypatch.setattr(hm, "REFRESH_SECONDS", 0.0)
