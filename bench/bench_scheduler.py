"""Scheduler decisions at scale (issue 13): ``SchedulerManager.select_destination`` over
Placement, for 10, 100, 1,000 and 10,000 hosts, on SQLite and PostgreSQL.

For each backend and fleet size: a fresh database whose hosts are registered as the
conductor registers them (``services``, ``compute_nodes``, a resource provider with VCPU,
MEMORY_MB and DISK_GB inventory each; written in bulk so setting up 10,000 hosts takes
seconds), a few warm-up decisions (the host cache's first full read), then ``--requests``
decisions from 1 client and from 20 concurrent clients (threads of this process). Each
decision asks Placement for candidates, filters and weighs them and claims (a Placement
allocation plus the compute node counters, one transaction). Prints p50/p95 ms per
decision, decisions per second, NoValidHost count, and the ratio of the 1,000-host to the
10-host p50. PostgreSQL is the test server (``$POCKETSTACK_TEST_PG``, default
``postgresql://postgres@127.0.0.1:5432``); a database is created and dropped per run.

    .venv/bin/python bench/bench_scheduler.py                 # everything (~2-5 min)
    .venv/bin/python bench/bench_scheduler.py --hosts 1000 --backends sqlite
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pocketstack.common.config import Config  # noqa: E402
from pocketstack.common.db import Base, Database, import_all_models, utcnow  # noqa: E402
from pocketstack.common.errors import NoValidHost  # noqa: E402
from pocketstack.compute.liveness import COMPUTE_BINARY  # noqa: E402
from pocketstack.compute.models import ComputeNode, Service  # noqa: E402
from pocketstack.compute.scheduler.manager import SchedulerManager  # noqa: E402
from pocketstack.placement.models import Inventory, ResourceProvider  # noqa: E402

VCPUS, MEMORY_MB, DISK_GB = 64, 131072, 2048
RATIOS = {"VCPU": (4.0, 0), "MEMORY_MB": (1.5, 512), "DISK_GB": (1.0, 0)}
TOTALS = {"VCPU": VCPUS, "MEMORY_MB": MEMORY_MB, "DISK_GB": DISK_GB}
#: a decision: m1.small-like
REQUEST = {"vcpus": 1, "memory_mb": 2048, "disk_gb": 20}


def register_hosts(db: Database, count: int) -> None:
    """``count`` hosts as ``report_service`` + ``report_compute_node`` leave them, in bulk."""
    now = utcnow()
    names = [f"bench-{i:05d}" for i in range(count)]
    with db.transaction() as s:
        s.execute(
            sa.insert(Service),
            [
                dict(
                    uuid=str(uuid.uuid4()),
                    host=n,
                    binary=COMPUTE_BINARY,
                    topic="compute",
                    availability_zone="nova",
                    disabled=False,
                    forced_down=False,
                    last_seen_up=now,
                    report_count=1,
                    created_at=now,
                    updated_at=now,
                )
                for n in names
            ],
        )
        s.execute(
            sa.insert(ComputeNode),
            [
                dict(
                    uuid=str(uuid.uuid4()),
                    host=n,
                    hypervisor_hostname=n,
                    hypervisor_type="fake",
                    hypervisor_version=1000,
                    cpu_info="fake",
                    vcpus=VCPUS,
                    memory_mb=MEMORY_MB,
                    local_gb=DISK_GB,
                    cpu_allocation_ratio=4.0,
                    ram_allocation_ratio=1.5,
                    disk_allocation_ratio=1.0,
                    reserved_host_memory_mb=512,
                    created_at=now,
                    updated_at=now,
                )
                for n in names
            ],
        )
        s.execute(
            sa.insert(ResourceProvider),
            [
                dict(uuid=str(uuid.uuid4()), name=n, generation=1, created_at=now, updated_at=now)
                for n in names
            ],
        )
        s.execute(sa.update(ResourceProvider).values(root_provider_id=ResourceProvider.id))
        ids = s.scalars(sa.select(ResourceProvider.id)).all()
        s.execute(
            sa.insert(Inventory),
            [
                dict(
                    resource_provider_id=rp,
                    resource_class=rc,
                    total=TOTALS[rc],
                    reserved=reserved,
                    min_unit=1,
                    max_unit=TOTALS[rc],
                    step_size=1,
                    allocation_ratio=ratio,
                )
                for rp in ids
                for rc, (ratio, reserved) in RATIOS.items()
            ],
        )


def decide(sched: SchedulerManager, requests: int, clients: int) -> tuple[list[float], float, int]:
    """``requests`` decisions from ``clients`` threads: (latencies s, elapsed s, failures)."""
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    todo = iter(range(requests))

    def worker() -> None:
        nonlocal failures
        while True:
            with lock:
                if next(todo, None) is None:
                    return
            spec = {"instance_uuid": str(uuid.uuid4()), "image_properties": {}, **REQUEST}
            start = time.perf_counter()
            try:
                sched.select_destination(None, spec)
            except NoValidHost:
                with lock:
                    failures += 1
            with lock:
                latencies.append(time.perf_counter() - start)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - start, failures


@contextlib.contextmanager
def sqlite_db() -> Iterator[Database]:
    with tempfile.TemporaryDirectory() as tmp:
        import_all_models()
        db = Database(f"sqlite:///{tmp}/bench.db")
        Base.metadata.create_all(db.engine)
        try:
            yield db
        finally:
            db.dispose()


@contextlib.contextmanager
def postgresql_db() -> Iterator[Database]:
    from tests.helpers import pg_database

    with pg_database("bench_sched") as db:
        yield db


def run(backend: str, hosts: int, args: argparse.Namespace, p50s: dict) -> None:
    opener = sqlite_db if backend == "sqlite" else postgresql_db
    with opener() as db, tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        register_hosts(db, hosts)
        setup = time.perf_counter() - t0
        # no agent sends heartbeats here: hosts registered at setup must not be "down"
        # (service_down_time 60 s) when a slow run on a loaded machine passes a minute
        conf = Config.load({"state_dir": tmp, "service_down_time": 86400}, environ={})
        sched = SchedulerManager(conf, db)
        decide(sched, 5, 1)  # warm-up: the host cache's first (full) read
        for clients in (1, 20):
            lat, elapsed, failed = decide(sched, args.requests, clients)
            q = statistics.quantiles(lat, n=20)
            p50s[(backend, hosts, clients)] = q[9] * 1000
            print(
                f"{backend:>10} {hosts:>6} hosts {clients:>2} client(s): p50 {q[9] * 1000:6.1f} ms"
                f"  p95 {q[18] * 1000:6.1f} ms  {len(lat) / elapsed:6.0f} decisions/s"
                f"  NoValidHost {failed}  (setup {setup:.1f} s)",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="*", default=[10, 100, 1000, 10000])
    parser.add_argument("--backends", nargs="*", default=["sqlite", "postgresql"])
    parser.add_argument("--requests", type=int, default=200, help="decisions per figure")
    args = parser.parse_args()
    p50s: dict = {}
    for backend in args.backends:
        for hosts in args.hosts:
            try:
                run(backend, hosts, args, p50s)
            except Exception as exc:  # noqa: BLE001 - a backend that is down: say so, go on
                print(f"{backend:>10} {hosts:>6} hosts: not measured ({exc!r:.200})", flush=True)
    for backend in args.backends:
        for clients in (1, 20):
            small, large = p50s.get((backend, 10, clients)), p50s.get((backend, 1000, clients))
            if small and large:
                print(
                    f"{backend:>10} p50 ratio 1,000 hosts / 10 hosts, {clients:>2} client(s): "
                    f"{large / small:.1f}"
                )


if __name__ == "__main__":
    main()
