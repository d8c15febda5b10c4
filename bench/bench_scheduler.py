"""Scheduler throughput: concurrent ``select_destination`` calls against a fresh database.

Prints placements per second and p50/p95 latency for ``--requests`` concurrent requests from
``--threads`` threads over ``--hosts`` hosts, on SQLite (a temp file) and, with
``--database postgresql+psycopg2://...``, on that PostgreSQL database (tables are created; use
a throw-away database).

    .venv/bin/python bench/bench_scheduler.py --hosts 10 --requests 200 --threads 20
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid

from pocketstack.common.config import Config
from pocketstack.common.db import Base, Database, import_all_models
from pocketstack.common.errors import NoValidHost
from pocketstack.compute import liveness
from pocketstack.compute.scheduler import host_manager
from pocketstack.compute.scheduler.manager import SchedulerManager

RESOURCES = {
    "vcpus": 64,
    "memory_mb": 131072,
    "local_gb": 2048,
    "hypervisor_type": "fake",
    "hypervisor_version": 1000,
    "cpu_info": "fake",
}


def run(url: str, args: argparse.Namespace, state_dir: str) -> None:
    """Register ``args.hosts`` hosts in ``url`` and time ``args.requests`` placements."""
    conf = Config.load({"state_dir": state_dir, "database": url}, environ={})
    import_all_models()
    db = Database(url)
    Base.metadata.create_all(db.engine)
    for i in range(args.hosts):
        liveness.report_service(db, f"bench-{i}")
        host_manager.report_compute_node(db, conf, f"bench-{i}", RESOURCES)
    sched = SchedulerManager(conf, db)
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    todo = iter(range(args.requests))

    def worker() -> None:
        nonlocal failures
        while True:
            with lock:
                if next(todo, None) is None:
                    return
            spec = {
                "instance_uuid": str(uuid.uuid4()),
                "vcpus": 1,
                "memory_mb": 512,
                "disk_gb": 1,
                "image_properties": {},
            }
            start = time.perf_counter()
            try:
                sched.select_destination(None, spec)
            except NoValidHost:
                with lock:
                    failures += 1
            with lock:
                latencies.append(time.perf_counter() - start)

    threads = [threading.Thread(target=worker) for _ in range(args.threads)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    q = statistics.quantiles(latencies, n=20)
    print(
        f"{url.split(':')[0]:>20}: {args.requests} placements on {args.hosts} hosts in "
        f"{elapsed:.2f} s = {args.requests / elapsed:.0f}/s; p50 {q[9] * 1000:.1f} ms, "
        f"p95 {q[18] * 1000:.1f} ms; NoValidHost {failures}"
    )
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--database", default="", help="also run on this PostgreSQL URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/bench.db", args, tmp)
        if args.database:
            run(args.database, args, tmp)


if __name__ == "__main__":
    main()
