"""Whole-cloud figures, printed as a table.

    .venv/bin/python bench/bench_cloud.py [--servers 200] [--skip-qemu]

1. seconds from ``pocketstack up`` (second start of a state directory) to the first token;
2. idle RSS of the whole control plane (the ``up`` process);
3. 200 concurrent server creates with the fake driver: p50/p95 seconds create → ACTIVE and
   servers ACTIVE per second;
4. seconds from server create to the guest's ready line with the qemu driver (TCG here).

Every cloud it starts runs in a temporary state directory on 127.0.0.1 and is stopped and
removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.helpers
from tests.helpers import free_port  # noqa: E402  (one free_port for tests and bench)

BIN = Path(sys.executable).parent / "pocketstack"


class Cloud:
    """A ``pocketstack up`` process on a state directory.

    Subclasses add ``up`` options (``up_args``) and may wait longer between readiness polls
    (``ready_interval``, seconds) or for the process to stop (``stop_timeout``, seconds).
    """

    ready_interval = 0.05
    stop_timeout = 60.0

    def __init__(self, state_dir: Path, driver: str, port: int):
        self.state_dir, self.driver, self.port = state_dir, driver, port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> float:
        """Start; return seconds until the first token is issued."""
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [
                str(BIN),
                "up",
                "--state-dir",
                str(self.state_dir),
                "--port",
                str(self.port),
                "--compute-driver",
                self.driver,
                *self.up_args(),
                "--no-write-user-clouds",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while time.monotonic() - t0 < 300:
            try:
                self.token("admin")
                return time.monotonic() - t0
            except (httpx.HTTPError, OSError, KeyError):
                time.sleep(self.ready_interval)
        raise RuntimeError("cloud did not come up")

    def up_args(self) -> list[str]:
        """``pocketstack up`` options beyond the state directory, port and driver."""
        return []

    def password(self, user: str) -> str:
        clouds = yaml.safe_load((self.state_dir / "clouds.yaml").read_text())["clouds"]
        return clouds[f"pocketstack-{user}"]["auth"]["password"]

    def token(self, user: str) -> str:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": user,
                            "domain": {"id": "default"},
                            "password": self.password(user),
                        }
                    },
                },
                "scope": {"project": {"name": user, "domain": {"id": "default"}}},
            }
        }
        r = httpx.post(f"{self.url}/identity/v3/auth/tokens", json=body, timeout=10)
        r.raise_for_status()
        return r.headers["X-Subject-Token"]

    def rss_mb(self) -> float:
        assert self.proc is not None
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        return kb / 1024

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _ids(cloud: Cloud, token: str) -> tuple[str, str, str]:
    h = {"X-Auth-Token": token}
    flavors = httpx.get(f"{cloud.url}/compute/v2.1/flavors", headers=h).json()["flavors"]
    flavor = next(f["id"] for f in flavors if f["name"] == "m1.tiny")
    images = httpx.get(f"{cloud.url}/image/v2/images?name=cirros", headers=h).json()["images"]
    nets = httpx.get(f"{cloud.url}/networking/v2.0/networks?name=private", headers=h).json()[
        "networks"
    ]
    return flavor, images[0]["id"], nets[0]["id"]


def _raise_quota(cloud: Cloud, count: int) -> None:
    admin = {"X-Auth-Token": cloud.token("admin")}
    projects = httpx.get(f"{cloud.url}/identity/v3/projects?name=demo", headers=admin).json()
    project_id = projects["projects"][0]["id"]
    r = httpx.put(
        f"{cloud.url}/compute/v2.1/os-quota-sets/{project_id}",
        headers=admin,
        json={"quota_set": {"instances": count, "cores": count * 4, "ram": count * 4096}},
    )
    r.raise_for_status()


async def _create_many(cloud: Cloud, count: int) -> tuple[list[float], float]:
    token = cloud.token("demo")
    flavor, image, net = _ids(cloud, token)
    h = {"X-Auth-Token": token}
    created: dict[str, float] = {}
    active: dict[str, float] = {}
    t0 = time.monotonic()
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=64)) as c:

        async def create(i: int) -> None:
            body = {
                "server": {
                    "name": f"bench-{i}",
                    "imageRef": image,
                    "flavorRef": flavor,
                    "networks": [{"uuid": net}],
                }
            }
            r = await c.post(f"{cloud.url}/compute/v2.1/servers", json=body, headers=h)
            r.raise_for_status()
            created[r.json()["server"]["id"]] = time.monotonic()

        async def watch() -> None:
            while len(active) < count:
                r = await c.get(f"{cloud.url}/compute/v2.1/servers/detail", headers=h)
                now = time.monotonic()
                for s in r.json()["servers"]:
                    if s["status"] == "ACTIVE" and s["id"] not in active:
                        active[s["id"]] = now
                    if s["status"] == "ERROR":
                        raise RuntimeError(f"server {s['id']} went to ERROR: {s.get('fault')}")
                if now - t0 > 300:
                    raise RuntimeError(f"only {len(active)} of {count} ACTIVE after 300 s")
                await asyncio.sleep(0.1)

        await asyncio.gather(watch(), *(create(i) for i in range(count)))
    total = max(active.values()) - t0
    latencies = [active[s] - created[s] for s in created]
    return latencies, total


def _qemu_ready_seconds(cloud: Cloud) -> float:
    token = cloud.token("demo")
    flavor, image, net = _ids(cloud, token)
    h = {"X-Auth-Token": token}
    body = {
        "server": {
            "name": "benchvm",
            "imageRef": image,
            "flavorRef": flavor,
            "networks": [{"uuid": net}],
        }
    }
    t0 = time.monotonic()
    r = httpx.post(f"{cloud.url}/compute/v2.1/servers", json=body, headers=h)
    r.raise_for_status()
    sid = r.json()["server"]["id"]
    while time.monotonic() - t0 < 120:
        r = httpx.post(
            f"{cloud.url}/compute/v2.1/servers/{sid}/action",
            headers=h,
            json={"os-getConsoleOutput": {"length": 50}},
        )
        if r.status_code == 200 and "pocketstack guest benchvm ready" in r.json()["output"]:
            elapsed = time.monotonic() - t0
            httpx.delete(f"{cloud.url}/compute/v2.1/servers/{sid}", headers=h)
            return elapsed
        time.sleep(0.1)
    raise RuntimeError("no ready line within 120 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=200)
    parser.add_argument("--skip-qemu", action="store_true")
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    tmp = Path(tempfile.mkdtemp(prefix="pocketstack-bench-"))
    try:
        cloud = Cloud(tmp / "fake", "fake", free_port())
        first = cloud.start()
        cloud.stop()
        second = cloud.start()
        rows.append(("up to first token, first start (bootstrap)", "", f"{first:.2f} s"))
        rows.append(("up to first token, later start", "< 5 s", f"{second:.2f} s"))
        time.sleep(3)
        rows.append(("control plane idle RSS", "< 300 MB", f"{cloud.rss_mb():.0f} MB"))
        _raise_quota(cloud, args.servers)
        latencies, total = asyncio.run(_create_many(cloud, args.servers))
        q = statistics.quantiles(latencies, n=20)
        rows.append((f"{args.servers} creates: all ACTIVE", "< 10 s", f"{total:.2f} s"))
        rows.append(
            (
                "create -> ACTIVE p50 / p95",
                "",
                f"{statistics.median(latencies):.2f} s / {q[18]:.2f} s",
            )
        )
        rows.append(("servers ACTIVE per second", "", f"{args.servers / total:.1f}"))
        cloud.stop()
        if not args.skip_qemu:
            qcloud = Cloud(tmp / "qemu", "qemu", free_port())
            qcloud.start()
            try:
                ready = _qemu_ready_seconds(qcloud)
                rows.append(("create -> guest ready line (qemu, TCG)", "< 5 s", f"{ready:.2f} s"))
            finally:
                qcloud.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_figures(rows, f"{os.cpu_count()} cores")


def print_figures(rows: list[tuple[str, str, str]], machine: str) -> None:
    """Print ``(figure, target, measured)`` rows as an aligned table, then the machine."""
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'target':<9} measured")
    for name, target, value in rows:
        print(f"{name:<{width}}  {target:<9} {value}")
    print(f"(machine: {machine}, python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
