"""Concurrent server creates over a fleet of fake compute hosts (issue 13), on the real code
paths: ``pocketstack up --compute-driver fake --fake-hosts N`` (one process: API,
conductor, scheduler over Placement, N fake compute agents), then ``--servers`` creates
sent at once by ``--clients`` openstacksdk clients (``networks: none``, microversion 2.37:
the private network's /24 would run out of addresses; ports are another bench's subject).

Prints the seconds until every server is ACTIVE (or ERROR) and p50/p95 of create ->
ACTIVE per server (from the create request to the first listing that shows it ACTIVE;
the listing polls every 0.5 s), and how many ended in ERROR. Nova with Rally at 1,000 fake
hosts: median 6.2 s, p95 8.0 s. Stops waiting after ``--timeout`` seconds and prints what
finished.

    .venv/bin/python bench/bench_fake_fleet.py --hosts 1000 --servers 1000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import conftest  # noqa: E402
from tests.conftest import launch_cloud  # noqa: E402

_wait_ready = conftest._wait_ready


def _patient_wait_ready(proc, marker, timeout):  # type: ignore[no-untyped-def]
    """Starting 1,000 fake hosts takes longer than a test cloud may."""
    return _wait_ready(proc, marker, max(timeout, 900))


conftest._wait_ready = _patient_wait_ready


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=480.0)
    args = parser.parse_args()
    # Nova's intervals (the test harness runs every periodic task each 2 s): heartbeats
    # every 10 s, resources every 60 s, power-state sync every 600 s
    extra = [
        "--fake-hosts", str(args.hosts), "--periodic-interval", "10",
        "--report-interval", "10", "--update-resources-interval", "60",
        "--sync-power-state-interval", "600",
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with launch_cloud(Path(tmp) / "state", driver="fake", extra=extra) as cloud:
            print(f"cloud with {args.hosts} fake hosts up in {time.perf_counter() - t0:.0f} s")
            run(cloud, args)


def run(cloud, args: argparse.Namespace) -> None:
    n = args.servers
    cloud.openstack(
        "quota", "set", "--instances", str(n + 10), "--cores", str(2 * n + 10), "--ram",
        str(512 * n + 10000), "demo",
        cloud="pocketstack-admin", json_output=False,
    )  # fmt: skip
    demo = cloud.sdk()
    flavor = demo.compute.find_flavor("m1.tiny")
    image = demo.image.find_image("cirros")
    local = threading.local()
    sent: dict[str, float] = {}
    lock = threading.Lock()

    def create(i: int) -> None:
        if not hasattr(local, "conn"):
            local.conn = cloud.sdk()
        start = time.perf_counter()
        server = local.conn.compute.create_server(
            name=f"b{i}", flavor_id=flavor.id, image_id=image.id, networks="none"
        )
        with lock:
            sent[server.id] = start

    admin = cloud.sdk("pocketstack-admin")
    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        creating = [pool.submit(create, i) for i in range(n)]
        done: dict[str, float] = {}
        errors: set[str] = set()
        while time.perf_counter() - t0 < args.timeout:
            time.sleep(0.5)
            now = time.perf_counter()
            for s in admin.compute.servers(details=True, all_projects=True):
                if s.id in done or s.id in errors:
                    continue
                if s.status == "ACTIVE":
                    done[s.id] = now
                elif s.status == "ERROR":
                    errors.add(s.id)
            if len(done) + len(errors) >= n:
                break
        failed_requests = sum(1 for f in creating if f.done() and f.exception())
    total = time.perf_counter() - t0
    latencies = [done[i] - sent[i] for i in done if i in sent]
    finished = len(done) + len(errors) >= n
    print(
        f"{n} creates over {args.hosts} fake hosts, {args.clients} clients: "
        f"{len(done)} ACTIVE, {len(errors)} ERROR, {failed_requests} refused "
        + (f"in {total:.1f} s" if finished else f"(not all done after {total:.0f} s)")
    )
    if len(latencies) >= 2:
        q = statistics.quantiles(latencies, n=20)
        print(f"create -> ACTIVE: p50 {q[9]:.1f} s, p95 {q[18]:.1f} s")


if __name__ == "__main__":
    main()
