"""Pause/unpause and suspend/resume seconds of a real guest, printed as a table.

    .venv/bin/python bench/bench_power.py [--rounds 3]

A ``pocketstack up`` with the qemu driver (TCG or KVM, as the host allows) in a temporary
state directory on 127.0.0.1 boots one m1.tiny cirros server and waits for its ready line;
then, ``--rounds`` times, each of ``pause``, ``unpause``, ``suspend`` and ``resume`` is
timed from the ``POST /servers/{id}/action`` to the status it ends in (PAUSED, ACTIVE,
SUSPENDED, ACTIVE), as a client polling every 50 ms sees it. Suspend writes the guest's
memory to disk (QMP migrate to a file) and ends QEMU; resume starts QEMU restoring it.
The server, the cloud and its directory are removed at the end.
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

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cloud import Cloud, _ids, print_figures  # noqa: E402  (the same cloud handling)

from tests.helpers import free_port  # noqa: E402  (bench_cloud put the repository on the path)

#: action -> the status it ends in
STEPS = (("pause", "PAUSED"), ("unpause", "ACTIVE"), ("suspend", "SUSPENDED"), ("resume", "ACTIVE"))


def _boot(cloud: Cloud, h: dict[str, str]) -> str:
    flavor, image, net = _ids(cloud, h["X-Auth-Token"])
    body = {"server": {"name": "powervm", "imageRef": image, "flavorRef": flavor}}
    body["server"]["networks"] = [{"uuid": net}]
    r = httpx.post(f"{cloud.url}/compute/v2.1/servers", json=body, headers=h)
    r.raise_for_status()
    sid = r.json()["server"]["id"]
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        r = httpx.post(
            f"{cloud.url}/compute/v2.1/servers/{sid}/action",
            headers=h,
            json={"os-getConsoleOutput": {"length": 50}},
        )
        if r.status_code == 200 and "pocketstack guest powervm ready" in r.json()["output"]:
            return sid
        time.sleep(0.2)
    raise RuntimeError("no ready line within 180 s")


def _timed(cloud: Cloud, h: dict[str, str], sid: str, action: str, status: str) -> float:
    """Seconds from the action's POST to the server showing ``status``."""
    url = f"{cloud.url}/compute/v2.1/servers/{sid}"
    t0 = time.monotonic()
    r = httpx.post(f"{url}/action", headers=h, json={action: None})
    if r.status_code != 202:
        raise RuntimeError(f"{action}: {r.status_code} {r.text}")
    while time.monotonic() - t0 < 300:
        shown = httpx.get(url, headers=h).json()["server"]
        if shown["status"] == status and shown.get("OS-EXT-STS:task_state") is None:
            return time.monotonic() - t0
        if shown["status"] == "ERROR":
            raise RuntimeError(f"{action}: server went ERROR")
        time.sleep(0.05)
    raise RuntimeError(f"{action}: not {status} within 300 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pocketstack-bench-power-"))
    cloud = Cloud(tmp / "qemu", "qemu", free_port())
    seconds: dict[str, list[float]] = {action: [] for action, _ in STEPS}
    try:
        cloud.start()
        h = {"X-Auth-Token": cloud.token("demo")}
        sid = _boot(cloud, h)
        for _ in range(args.rounds):
            for action, status in STEPS:
                seconds[action].append(_timed(cloud, h, sid, action, status))
        httpx.delete(f"{cloud.url}/compute/v2.1/servers/{sid}", headers=h)
    finally:
        cloud.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    rows = [
        (
            f"{action} -> {status} (median of {args.rounds}, min-max)",
            "",
            f"{statistics.median(seconds[action]):.2f} s "
            f"({min(seconds[action]):.2f}-{max(seconds[action]):.2f})",
        )
        for action, status in STEPS
    ]
    print_figures(rows, f"{os.cpu_count()} cores, m1.tiny guest")


if __name__ == "__main__":
    main()
