"""``pocketstack object-status``: per storage node of the ring, what it holds and how its
consistency services are doing, read from each node's ``/recon/object`` (Swift's
``swift-recon``):

    NODE             DEVICES PARTS OBJECTS  BYTES QUARANTINED HANDOFFS ASYNC LAST REPLICATION
    127.0.0.1:40001  d1        974     500  2.0MB           0        0     0 12s ago (3.1s)

A node that does not answer is listed as ``unreachable``.
"""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pocketstack.objectstore.ring import Ring

COLUMNS = (
    ("NODE", "node"),
    ("DEVICES", "devices"),
    ("PARTS", "partitions"),
    ("OBJECTS", "objects"),
    ("BYTES", "bytes"),
    ("QUARANTINED", "quarantined"),
    ("HANDOFFS", "handoffs_pending"),
    ("ASYNC", "async_pending"),
    ("LAST REPLICATION", "replication"),
)


def node_addresses(ring: Any) -> list[tuple[str, int]]:
    """The distinct ``(ip, port)`` of the ring's devices, in device order."""
    seen: list[tuple[str, int]] = []
    for dev in ring.devs:
        if dev is not None and (dev["ip"], dev["port"]) not in seen:
            seen.append((dev["ip"], dev["port"]))
    return seen


def fetch_report(ip: str, port: int, timeout: float = 10.0) -> dict[str, Any]:
    """One node's ``/recon/object`` with ``node`` (``ip:port``) added; ``{"node", "error"}``
    when it does not answer."""
    host = f"[{ip}]" if ":" in ip else ip
    address = f"{host}:{port}"
    try:
        with urllib.request.urlopen(f"http://{address}/recon/object", timeout=timeout) as resp:
            report = json.loads(resp.read())
    except (OSError, ValueError) as exc:
        return {"node": address, "error": str(exc)}
    report["node"] = address
    return report


def collect(ring: Any, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The reports of every node of ``ring``, asked in parallel."""
    addresses = node_addresses(ring)
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(addresses)))) as pool:
        return list(pool.map(lambda a: fetch_report(a[0], a[1], timeout), addresses))


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1000
    return str(count)


def _replication(summary: Any, now: float) -> str:
    if not summary or not summary.get("finished"):
        return "never"
    ago = max(0.0, now - summary["finished"])
    took = summary["finished"] - summary.get("started", summary["finished"])
    return f"{ago:.0f}s ago ({took:.1f}s)"


def _cell(report: dict[str, Any], key: str, now: float) -> str:
    value = report.get(key)
    if key == "devices":
        return ",".join(value or [])
    if key == "bytes":
        return _size(int(value or 0))
    if key == "quarantined":
        return str(sum((value or {}).values()))
    if key == "replication":
        return _replication(value, now)
    return str(value)


def format_table(reports: list[dict[str, Any]], now: float | None = None) -> str:
    """The reports as the text table ``object-status`` prints."""
    now = time.time() if now is None else now
    rows = [[title for title, _ in COLUMNS]]
    for report in reports:
        if "error" in report:
            rows.append([report["node"], f"unreachable: {report['error']}"])
            continue
        rows.append([_cell(report, key, now) for _, key in COLUMNS])
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(len(COLUMNS))]
    lines = []
    for row in rows:
        if len(row) == 2 and row is not rows[0]:
            lines.append(f"{row[0]:<{widths[0]}}  {row[1]}")
            continue
        cells = [
            c.ljust(w) if i < 2 or i == len(row) - 1 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def run(ring_location: str) -> int:
    """Print the table for the ring at ``ring_location`` (path or URL); returns the exit
    status: 0 when every node answered, 1 otherwise."""
    reports = collect(Ring(ring_location))
    print(format_table(reports))
    return 1 if any("error" in r for r in reports) else 0
