"""Token figures, printed as a table.

    .venv/bin/python bench/bench_tokens.py [--seconds 10] [--clients 16]

1. bcrypt verifications per second at the cost pocketstack hashes passwords with
   (``pocketstack.identity.hashing.ROUNDS``), in one process and in one process per core:
   the ceiling of password token issue, which verifies one bcrypt hash per token;
2. token issue (``POST /identity/v3/auth/tokens``, password, project scope) per second and
   its p50/p99 latency with 1 client and with ``--clients`` concurrent clients, and the
   ratio to the bcrypt ceiling;
3. token validation (``GET /identity/v3/auth/tokens`` with ``X-Subject-Token``) and a cheap
   authenticated call (``GET /compute/v2.1/flavors``) per second, p50/p99, 1 and
   ``--clients`` clients;
4. 2,000 validations of one cached token in-process (``TokenProvider.validate``), which
   the unit tests once asserted to take under 0.5 s.

The cloud is a ``pocketstack up`` (embedded, fake driver) on 127.0.0.1 in a temporary state
directory, stopped and removed at the end; clients run in this process, on the same cores.
Every phase stops after ``--seconds`` or its request count, whichever comes first.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from bench_cloud import Cloud, free_port, print_figures

from pocketstack.identity import hashing

#: Most requests of one phase (a phase also stops after --seconds).
MAX_ISSUES = 2_000
MAX_VALIDATIONS = 20_000
#: In-process cached validations, and the wall-clock bound the unit tests once asserted.
CACHED_VALIDATIONS = 2_000
CACHED_TARGET_S = 0.5

Row = tuple[str, str, str]


# ---------------------------------------------------------------- bcrypt floor
def _bcrypt_worker(args: tuple[str, float]) -> int:
    """bcrypt checks of one hash done in ``seconds`` (run in a pool process)."""
    hashed, seconds = args
    done = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        hashing.check_secret("bench-password", hashed)
        done += 1
    return done


def bcrypt_rates(seconds: float) -> tuple[float, float, int]:
    """Checks per second in one process, and in one process per core (and that count)."""
    hashed = hashing.hash_secret("bench-password")
    single = _bcrypt_worker((hashed, seconds)) / seconds
    cores = os.cpu_count() or 1
    with multiprocessing.get_context("spawn").Pool(cores) as pool:
        counts = pool.map(_bcrypt_worker, [(hashed, seconds)] * cores)
    return single, sum(counts) / seconds, cores


# ---------------------------------------------------------------- HTTP load
async def load(
    clients: int,
    seconds: float,
    limit: int,
    send: Callable[[httpx.AsyncClient], Any],
) -> tuple[float, list[float]]:
    """``clients`` concurrent loops calling ``send`` (one request each, checked by it) until
    ``seconds`` pass or ``limit`` requests are done; returns (requests/s, latencies)."""
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds
    async with httpx.AsyncClient(
        timeout=60, limits=httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    ) as client:

        async def loop() -> None:
            while time.perf_counter() < deadline and len(latencies) < limit:
                t0 = time.perf_counter()
                await send(client)
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(loop() for _ in range(clients)))
    return len(latencies) / (time.perf_counter() - started), latencies


def _auth_body(user: str, password: str) -> dict[str, Any]:
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"id": "default"}, "password": password}
                },
            },
            "scope": {"project": {"name": user, "domain": {"id": "default"}}},
        }
    }


def _row(name: str, rate: float, latencies: list[float], target: str = "") -> Row:
    q = statistics.quantiles(latencies, n=100)
    return (
        name,
        target,
        f"{rate:8.1f}/s   p50 {q[49] * 1000:7.1f} ms   p99 {q[98] * 1000:7.1f} ms"
        f"   ({len(latencies)} requests)",
    )


def http_figures(cloud: Cloud, args: argparse.Namespace) -> tuple[list[Row], dict[str, float]]:
    """Issue and validation rows, and the issue rates by client count."""
    url = cloud.url
    body = _auth_body("demo", cloud.password("demo"))
    admin = cloud.token("admin")
    subject = cloud.token("demo")

    async def issue(c: httpx.AsyncClient) -> None:
        r = await c.post(f"{url}/identity/v3/auth/tokens", json=body)
        assert r.status_code == 201, r.text

    async def validate(c: httpx.AsyncClient) -> None:
        r = await c.get(
            f"{url}/identity/v3/auth/tokens",
            headers={"X-Auth-Token": admin, "X-Subject-Token": subject},
        )
        assert r.status_code == 200, r.text

    async def flavors(c: httpx.AsyncClient) -> None:
        r = await c.get(f"{url}/compute/v2.1/flavors", headers={"X-Auth-Token": subject})
        assert r.status_code == 200, r.text

    rows: list[Row] = []
    issue_rates: dict[str, float] = {}
    phases = (
        ("token issue (POST auth/tokens, password)", issue, MAX_ISSUES),
        ("token validation (GET auth/tokens)", validate, MAX_VALIDATIONS),
        ("authenticated GET /compute/v2.1/flavors", flavors, MAX_VALIDATIONS),
    )
    for name, send, limit in phases:
        for clients in (1, args.clients):
            asyncio.run(load(clients, 1.0, 20, send))  # warm up connections and caches
            rate, latencies = asyncio.run(load(clients, args.seconds, limit, send))
            label = f"{name}, {clients} client{'s' if clients > 1 else ''}"
            rows.append(_row(label, rate, latencies))
            if send is issue:
                issue_rates[str(clients)] = rate
    return rows, issue_rates


# ---------------------------------------------------------------- in-process cache
def cached_validation_seconds(state_dir: Path) -> float:
    """Seconds for ``CACHED_VALIDATIONS`` validations of one token in the cache window."""
    from pocketstack.common.bus import InProcessBus
    from pocketstack.common.config import Config
    from pocketstack.common.db import Base, Database, import_all_models
    from pocketstack.service import Cloud as Managers

    conf = Config.load({"state_dir": str(state_dir), "compute_driver": "fake"}, environ={})
    import_all_models()
    db = Database(conf.database)
    Base.metadata.create_all(db.engine)
    bus = InProcessBus(workers=2)
    try:
        managers = Managers(conf, db, bus)
        managers.identity.bootstrap("adminpw", "demopw")
        auth = _auth_body("demo", "demopw")["auth"]
        token, _info, _catalog = managers.identity.auth.issue(auth)
        provider = managers.identity.tokens
        provider.validate(token)
        start = time.perf_counter()
        for _ in range(CACHED_VALIDATIONS):
            provider.validate(token)
        return time.perf_counter() - start
    finally:
        bus.stop()
        db.dispose()


def main() -> None:
    """Run every phase and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="most seconds per phase")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    args = parser.parse_args()
    rows: list[Row] = []
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="pocketstack-bench-tokens-"))
    try:
        single, pooled, cores = bcrypt_rates(min(args.seconds, 5.0))
        rows.append((f"bcrypt checks (cost {hashing.ROUNDS}), 1 process", "", f"{single:8.1f}/s"))
        rows.append(
            (f"bcrypt checks (cost {hashing.ROUNDS}), {cores} processes", "", f"{pooled:8.1f}/s")
        )
        cloud = Cloud(tmp / "state", "fake", free_port())
        cloud.start()
        try:
            http_rows, issue_rates = http_figures(cloud, args)
        finally:
            cloud.stop()
        rows += http_rows
        rows.append(
            (
                "token issue / bcrypt ceiling, 1 client : 1 process",
                "<= 1",
                f"{issue_rates['1'] / single:8.2f}",
            )
        )
        rows.append(
            (
                f"token issue / bcrypt ceiling, {args.clients} clients : {cores} processes",
                "<= 1",
                f"{issue_rates[str(args.clients)] / pooled:8.2f}",
            )
        )
        seconds = cached_validation_seconds(tmp / "inproc")
        rows.append(
            (
                f"{CACHED_VALIDATIONS} cached validations in-process",
                f"< {CACHED_TARGET_S} s",
                f"{seconds * 1000:8.1f} ms ({CACHED_VALIDATIONS / seconds:,.0f}/s)",
            )
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_figures(
        rows,
        f"{os.cpu_count()} cores shared by the cloud and the clients, "
        f"load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after",
    )


if __name__ == "__main__":
    main()
