"""Resize seconds of a real guest, printed as a table.

    .venv/bin/python bench/bench_resize.py [--rounds 2] [--driver qemu]

A ``pocketstack up`` with the chosen driver (default qemu) and
``--allow-resize-to-same-host`` in a temporary state directory on 127.0.0.1 boots one
m1.tiny cirros server and waits for its ready line; then, ``--rounds`` times, it is
resized to m1.small and reverted (a resize never shrinks a disk, so a round cannot confirm
and resize back). Timed from the POST to the status as
a client polling every 50 ms sees it: ``resize`` -> VERIFY_RESIZE (the guest shut down, its
disk copied and grown, QEMU started with the new flavor), ``revertResize`` -> ACTIVE (the
new guest destroyed, the old one started again), and a last ``resize`` + ``confirmResize``
-> ACTIVE. After each revert the guest's next ready line is awaited (not timed): a guest
still booting ignores the ACPI power button and a resize then waits for the 30 s shutdown
timeout. The server, the cloud and its directory are removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cloud import Cloud, print_figures  # noqa: E402  (the same cloud handling)
from bench_power import _boot  # noqa: E402

from tests.helpers import free_port  # noqa: E402  (bench_cloud put the repository on the path)


class ResizeCloud(Cloud):
    """A cloud whose resizes may stay on its one host."""

    def up_args(self) -> list[str]:
        return ["--allow-resize-to-same-host"]


def _timed(cloud: Cloud, h: dict[str, str], sid: str, body: dict[str, Any], status: str) -> float:
    """Seconds from the action's POST to the server showing ``status`` with no task."""
    url = f"{cloud.url}/compute/v2.1/servers/{sid}"
    t0 = time.monotonic()
    r = httpx.post(f"{url}/action", headers=h, json=body)
    if r.status_code not in (202, 204):
        raise RuntimeError(f"{body}: {r.status_code} {r.text}")
    while time.monotonic() - t0 < 300:
        shown = httpx.get(url, headers=h).json()["server"]
        if shown["status"] == status and shown.get("OS-EXT-STS:task_state") is None:
            return time.monotonic() - t0
        if shown["status"] == "ERROR":
            raise RuntimeError(f"{body}: server went ERROR")
        time.sleep(0.05)
    raise RuntimeError(f"{body}: not {status} within 300 s")


def _readies(cloud: Cloud, h: dict[str, str], sid: str) -> int:
    """How many times the guest printed its ready line (one a boot)."""
    r = httpx.post(
        f"{cloud.url}/compute/v2.1/servers/{sid}/action",
        headers=h,
        json={"os-getConsoleOutput": {"length": -1}},
    )
    return r.json()["output"].count("pocketstack guest powervm ready") if r.is_success else 0


def _booted(cloud: Cloud, h: dict[str, str], sid: str, more_than: int) -> None:
    """Wait (not timed) until the guest has booted again: a resize's ACPI shutdown of a
    guest still booting waits for the 30 s timeout, which is not what is measured here."""
    deadline = time.monotonic() + 180
    while _readies(cloud, h, sid) <= more_than:
        if time.monotonic() > deadline:
            raise RuntimeError("the guest did not boot again within 180 s")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--driver", default="qemu", choices=("qemu", "fake"))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pocketstack-bench-resize-"))
    cloud = ResizeCloud(tmp / "state", args.driver, free_port())
    seconds: dict[str, list[float]] = {"resize": [], "revert": [], "confirm": []}
    try:
        cloud.start()
        h = {"X-Auth-Token": cloud.token("demo")}
        sid = _boot(cloud, h)
        for _ in range(args.rounds):
            boots = _readies(cloud, h, sid)
            seconds["resize"].append(
                _timed(cloud, h, sid, {"resize": {"flavorRef": "2"}}, "VERIFY_RESIZE")
            )
            seconds["revert"].append(_timed(cloud, h, sid, {"revertResize": None}, "ACTIVE"))
            if args.driver == "qemu":
                _booted(cloud, h, sid, boots)
        seconds["resize"].append(
            _timed(cloud, h, sid, {"resize": {"flavorRef": "2"}}, "VERIFY_RESIZE")
        )
        seconds["confirm"].append(_timed(cloud, h, sid, {"confirmResize": None}, "ACTIVE"))
        httpx.delete(f"{cloud.url}/compute/v2.1/servers/{sid}", headers=h)
    finally:
        cloud.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    rows = [
        (
            f"{name} (median of {len(values)}, min-max)",
            "",
            f"{statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f})",
        )
        for name, values in seconds.items()
    ]
    print_figures(rows, f"{os.cpu_count()} cores, {args.driver}, m1.tiny -> m1.small")


if __name__ == "__main__":
    main()
