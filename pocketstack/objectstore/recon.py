"""``/recon/...`` on a storage node: what the node holds and what its consistency services
did, as JSON (Swift's recon middleware, ``swift.common.middleware.recon``), read by
``pocketstack object-status``.

    GET /recon/object        everything below in one answer (what object-status reads)
    GET /recon/diskusage     [{"device", "mounted", "size", "used", "avail"}]
    GET /recon/quarantined   {"objects", "containers", "accounts"}
    GET /recon/async         {"async_pending"}
    GET /recon/replication   the last replication pass
    GET /recon/auditor       the last audit pass
    GET /recon/expirer       the last expirer pass

``/recon/object``::

    {"devices": ["d1"], "partitions": 312, "objects": 500, "bytes": 2048000,
     "containers": 3, "quarantined": {"objects": 1, "containers": 0, "accounts": 0},
     "handoffs_pending": 0, "async_pending": 0, "expiring": 0,
     "replication": {..., "finished": 1764526000.1} | null, "auditor": {...} | null,
     "expirer": {...} | null}

``partitions`` counts the object partitions on the node's devices, ``handoffs_pending`` the
partitions (objects and databases) held on a device the ring does not make a primary of them
(what the replicator still has to move home).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pocketstack.objectstore.auditor import load_recon, quarantined_count
from pocketstack.objectstore.expirer import pending_count

if TYPE_CHECKING:
    from pocketstack.objectstore.node import StorageNode

KINDS = ("objects", "containers", "accounts")


def _listdir(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _object_counts(part_dir: Path) -> tuple[int, int]:
    """``(live objects, their bytes)`` of one object partition directory."""
    objects = size = 0
    for suffix in _listdir(part_dir):
        for name_hash in _listdir(part_dir / suffix):
            files = _listdir(part_dir / suffix / name_hash)
            durable = [f for f in files if f.endswith((".data", ".ts"))]
            if not durable:
                continue
            newest = max(durable, key=lambda f: f.rsplit(".", 1)[0])
            if newest.endswith(".data"):
                objects += 1
                try:
                    size += (part_dir / suffix / name_hash / newest).stat().st_size
                except FileNotFoundError:
                    objects -= 1
    return objects, size


def _me(node: StorageNode, request: Request | None) -> tuple[str | None, int | None]:
    """This node's ``(ip, port)`` as the ring names it: the replicator's, else the
    address the request reached."""
    replicator = getattr(node, "replicator", None)
    if replicator is not None and getattr(replicator, "port", None):
        return replicator.ip, replicator.port
    if request is not None and request.scope.get("server"):
        host, port = request.scope["server"][:2]
        return host, port
    return None, None


def _is_primary(node: StorageNode, part: int, device: str, me: tuple[Any, Any]) -> bool:
    ip, port = me
    for dev in node.ring.get_part_nodes(part):
        if dev["device"] == device and dev["port"] == port and ip in (None, dev["ip"]):
            return True
    return False


def object_report(node: StorageNode, request: Request | None = None) -> dict[str, Any]:
    """The ``/recon/object`` answer (walks the node's devices: run it in a thread)."""
    me = _me(node, request)
    root = node.devices.root
    report: dict[str, Any] = {
        "devices": node.devices.names(),
        "partitions": 0,
        "objects": 0,
        "bytes": 0,
        "containers": 0,
        "quarantined": {kind: 0 for kind in KINDS},
        "handoffs_pending": 0,
        "async_pending": async_pending(node),
        "expiring": 0,
    }
    for device in report["devices"]:
        dev_path = root / device
        for kind in KINDS:
            report["quarantined"][kind] += quarantined_count(dev_path, kind)
            for part_name in _listdir(dev_path / kind):
                if not part_name.isdigit():
                    continue
                if kind == "objects":
                    report["partitions"] += 1
                    count, size = _object_counts(dev_path / kind / part_name)
                    report["objects"] += count
                    report["bytes"] += size
                elif kind == "containers":
                    report["containers"] += sum(
                        len(_listdir(dev_path / kind / part_name / s))
                        for s in _listdir(dev_path / kind / part_name)
                    )
                if not _is_primary(node, int(part_name), device, me):
                    report["handoffs_pending"] += 1
        report["expiring"] += pending_count(dev_path)
    cache = load_recon(root)
    report["replication"] = cache.get("object_replication")
    report["auditor"] = cache.get("object_auditor")
    report["expirer"] = cache.get("object_expirer")
    return report


def async_pending(node: StorageNode) -> int:
    """How many container/account updates wait in the node's ``async_pending`` dirs."""
    total = 0
    for device in node.devices.names():
        pending = node.devices.root / device / "async_pending"
        total += sum(len(_listdir(pending / s)) for s in _listdir(pending))
    return total


def disk_usage(node: StorageNode) -> list[dict[str, Any]]:
    """Swift's ``/recon/diskusage``: per device, its file system's size, used and free."""
    out = []
    for device in node.devices.names():
        usage = shutil.disk_usage(node.devices.root / device)
        out.append(
            {
                "device": device,
                "mounted": True,
                "size": usage.total,
                "used": usage.used,
                "avail": usage.free,
            }
        )
    return out


async def respond(node: StorageNode, request: Request) -> Response:
    """Answer ``GET /recon/<what>`` (see the module docstring); 404 for anything else."""
    if request.method not in ("GET", "HEAD"):
        return Response("method not allowed", status_code=405, media_type="text/plain")
    what = request.url.path.removeprefix("/recon/").strip("/")
    if what == "object":
        report = await run_in_threadpool(object_report, node, request)
        report["time"] = time.time()
        return JSONResponse(report)
    cache = load_recon(node.devices.root)
    simple = {
        "replication": lambda: cache.get("object_replication"),
        "auditor": lambda: cache.get("object_auditor"),
        "expirer": lambda: cache.get("object_expirer"),
        "async": lambda: {"async_pending": async_pending(node)},
        "diskusage": lambda: disk_usage(node),
        "quarantined": lambda: {
            kind: sum(quarantined_count(node.devices.root / d, kind) for d in node.devices.names())
            for kind in KINDS
        },
    }
    if what not in simple:
        return Response(f"no recon {what!r}", status_code=404, media_type="text/plain")
    return JSONResponse(await run_in_threadpool(simple[what]))
