"""Seconds from asking for a console URL (what ``openstack console url show`` sends) to the
first console byte in a websocket client, printed as a table.

    .venv/bin/python bench/bench_console.py [--rounds 5] [--driver qemu|fake]

A ``pocketstack up`` (qemu driver by default: TCG or KVM as the host allows) in a temporary
state directory on 127.0.0.1 boots one m1.tiny server and waits for its ready line; then,
``--rounds`` times for each of ``novnc`` and ``serial``: ``POST /servers/{id}/
remote-consoles`` (2.6), open the URL's websocket through the console proxy and wait for
the first byte from the guest: the VNC server's ``RFB 003.008`` greeting, or for the serial
port the getty's answer to an Enter typed at once. The figure is the whole span; the URL
part is shown apart. The server, the cloud and its directory are removed at the end.
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
from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cloud import Cloud, print_figures  # noqa: E402  (the same cloud handling)
from bench_power import _boot  # noqa: E402  (boots "powervm" and waits for its ready line)

from tests.api.test_remote_consoles import ws_url  # noqa: E402  (noVNC's path joined)
from tests.helpers import free_port  # noqa: E402

#: console type -> protocol
TYPES = {"novnc": "vnc", "serial": "serial"}


def _first_byte(
    cloud: Cloud, h: dict[str, str], sid: str, console_type: str
) -> tuple[float, float]:
    """(seconds to the URL, seconds to the first console byte), both from the POST."""
    t0 = time.monotonic()
    r = httpx.post(
        f"{cloud.url}/compute/v2.1/servers/{sid}/remote-consoles",
        headers={**h, "OpenStack-API-Version": "compute 2.6"},
        json={"remote_console": {"protocol": TYPES[console_type], "type": console_type}},
    )
    r.raise_for_status()
    url = r.json()["remote_console"]["url"]
    t_url = time.monotonic() - t0
    with connect(ws_url(url), subprotocols=["binary"], open_timeout=30) as ws:
        if console_type == "serial":
            ws.send(b"\r")  # the serial port says nothing until the guest prints
        data = ws.recv(timeout=60)
        if not data:
            raise RuntimeError(f"{console_type}: an empty first frame")
    return t_url, time.monotonic() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--driver", default="qemu", choices=("qemu", "fake"))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pocketstack-bench-console-"))
    cloud = Cloud(tmp / args.driver, args.driver, free_port())
    figures: dict[str, list[tuple[float, float]]] = {t: [] for t in TYPES}
    try:
        cloud.start()
        h = {"X-Auth-Token": cloud.token("demo")}
        sid = _boot(cloud, h)
        for _ in range(args.rounds):
            for console_type in TYPES:
                figures[console_type].append(_first_byte(cloud, h, sid, console_type))
        httpx.delete(f"{cloud.url}/compute/v2.1/servers/{sid}", headers=h)
    finally:
        cloud.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    rows = []
    for console_type, runs in figures.items():
        urls = [u for u, _ in runs]
        total = [t for _, t in runs]
        rows.append(
            (
                f"{console_type}: URL to first byte (median of {args.rounds}, min-max)",
                "",
                f"{statistics.median(total):.3f} s ({min(total):.3f}-{max(total):.3f}); "
                f"URL alone {statistics.median(urls):.3f} s",
            )
        )
    print_figures(rows, f"{os.cpu_count()} cores, {args.driver} driver, m1.tiny guest")


if __name__ == "__main__":
    main()
