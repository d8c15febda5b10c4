"""Scheduler test helpers: compute hosts registered the way the compute agent does it, and a
throw-away PostgreSQL database for the concurrency guarantee."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from pocketstack.common.db import Base, Database, import_all_models, normalize_url
from pocketstack.compute import liveness
from pocketstack.compute.scheduler import host_manager
from tests.helpers import PG_ADMIN_URL, backend_unavailable


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
    """A PostgreSQL database created for this test (tables by ``create_all``), then dropped.

    When the local PostgreSQL server (trust auth, user postgres) is unreachable: fails in
    CI, skips elsewhere.
    """
    name = f"sched_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(
        normalize_url(PG_ADMIN_URL + "/postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as c:
            c.exec_driver_sql(f"CREATE DATABASE {name}")
    except Exception as exc:  # noqa: BLE001 - any connection failure means "no server here"
        admin.dispose()
        backend_unavailable(f"PostgreSQL at {PG_ADMIN_URL}", exc.__class__.__name__)
    import_all_models()
    database = Database(f"{PG_ADMIN_URL}/{name}")
    try:
        Base.metadata.create_all(database.engine)
        yield database
    finally:
        database.dispose()
        with admin.connect() as c:
            c.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()
