"""Updates between servers: object server -> container listing, container server ->
account listing, and the node's updater that retries what failed (Swift's
``ObjectController.container_update``, ``async_pending`` files and the object/container
updaters).

- An object PUT/DELETE sends the row to each container replica named by the request's
  ``X-Container-Host/-Device/-Partition`` (comma lists). One that fails within the node's
  ``update_timeout`` is written to ``<device>/async_pending/<suffix>/<hash>-<timestamp>``.
- A container PUT/DELETE sends its row to the account replicas of ``X-Account-*`` likewise.
- Object rows change a container's counts; the container is marked dirty and the updater
  sends its counts to every account replica of the ring (a few hundred ms later, one
  update for many writes).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from pocketstack.objectstore.daemon import NodeDaemon
from pocketstack.objectstore.db import ContainerBroker
from pocketstack.objectstore.diskfile import RECLAIM_AGE
from pocketstack.objectstore.utils import Timestamp, node_path, write_atomic

if TYPE_CHECKING:
    from pocketstack.objectstore.node import StorageNode, Target

LOG = logging.getLogger(__name__)
#: Seconds after which a temp file is a dead writer's (no upload takes that long to stall).
TMP_RECLAIM_AGE = 3600.0


def send(host: str, method: str, path: str, headers: dict[str, str], timeout: float) -> int:
    """One bodiless request to ``host`` (``ip:port``); its status.

    Raises:
        OSError: connection failure or timeout.
    """
    conn = http.client.HTTPConnection(host, timeout=timeout)
    try:
        conn.request(method, path, headers={**headers, "Content-Length": "0"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except http.client.HTTPException as exc:
        raise OSError(str(exc)) from exc
    finally:
        conn.close()


def _targets(request: Request, kind: str) -> list[tuple[str, str, int]]:
    """``(host, device, partition)`` triples of ``X-<kind>-Host/-Device/-Partition``."""
    hosts = request.headers.get(f"x-{kind}-host")
    if not hosts:
        return []
    devices = request.headers.get(f"x-{kind}-device", "").split(",")
    parts = request.headers.get(f"x-{kind}-partition", "").split(",")
    out = []
    for i, host in enumerate(hosts.split(",")):
        try:
            out.append((host.strip(), devices[i].strip(), int(parts[i])))
        except (IndexError, ValueError):
            LOG.warning("ignoring malformed X-%s-* headers", kind)
            return []
    return out


def write_async_pending(node: StorageNode, target: Target, update: dict[str, Any]) -> None:
    """Leave an update for the updater: ``<device>/async_pending/<suffix>/<hash>-<ts>``."""
    name_hash = node.hash_path(target)
    path = (
        node.devices.path(target.device)
        / "async_pending"
        / name_hash[-3:]
        / f"{name_hash}-{update['headers']['X-Timestamp']}"
    )
    write_atomic(path, json.dumps(update).encode())


async def container_update(
    node: StorageNode,
    request: Request,
    target: Target,
    method: str,
    timestamp: Timestamp,
    extra: dict[str, str],
) -> None:
    """Send an object's row to its container replicas; a failure becomes async_pending.
    A replicator's push (``X-Backend-Replication: true``) sends none: listings replicate
    as databases."""
    if request.headers.get("x-backend-replication", "").lower() == "true":
        return
    headers = {"X-Timestamp": timestamp.internal, **{k.title(): v for k, v in extra.items()}}
    for host, device, part in _targets(request, "container"):
        path = node_path("container", device, part, target.account, target.container, target.obj)
        update = {"method": method, "host": host, "path": path, "headers": headers}
        await _send_or_queue(node, target, update)


async def account_update(
    node: StorageNode, request: Request, target: Target, info: dict[str, Any]
) -> int | None:
    """Send a container's row to its account replicas (X-Account-* headers); returns 404
    when an account replica says the account does not exist, else None."""
    headers = _account_row_headers(info)
    missing = None
    for host, device, part in _targets(request, "account"):
        path = node_path("account", device, part, target.account, target.container)
        update = {"method": "PUT", "host": host, "path": path, "headers": headers}
        status = await _send_or_queue(node, target, update)
        if status == 404:
            missing = 404
    return missing


def _account_row_headers(info: dict[str, Any]) -> dict[str, str]:
    return {
        "X-Put-Timestamp": info["put_timestamp"],
        "X-Delete-Timestamp": info["delete_timestamp"],
        "X-Object-Count": str(info["object_count"]),
        "X-Bytes-Used": str(info["bytes_used"]),
        "X-Timestamp": Timestamp.now().internal,
    }


async def _send_or_queue(node: StorageNode, target: Target, update: dict[str, Any]) -> int | None:
    try:
        status = await run_in_threadpool(
            send,
            update["host"],
            update["method"],
            update["path"],
            update["headers"],
            node.update_timeout,
        )
    except OSError as exc:
        status = None
        LOG.info("update %s %s failed: %s", update["host"], update["path"], exc)
    if status is None or status >= 500 or (status == 404 and target.server == "object"):
        await run_in_threadpool(write_async_pending, node, target, update)
    return status


def reclaim_tmp(tmp: Path, age: float) -> int:
    """Remove files in a device's ``tmp/`` not modified for ``age`` seconds (what writers
    killed before their rename left); returns how many."""
    if not tmp.is_dir():
        return 0
    limit = time.time() - age
    removed = 0
    for entry in os.scandir(tmp):
        with contextlib.suppress(FileNotFoundError):
            if entry.is_file() and entry.stat().st_mtime < limit:
                os.unlink(entry.path)
                removed += 1
    return removed


class Updater(NodeDaemon):
    """The node's background pass: container counts to accounts, async_pending retries.

    Args:
        node: the node whose devices it walks.
        interval: seconds between passes (0: never runs by itself; :meth:`run_once`).
    """

    name = "object-updater"

    def __init__(self, node: StorageNode, interval: float):
        super().__init__(node, interval)
        self.dirty: set[tuple[str, str]] = set()  # (device, db path)
        self._lock = threading.Lock()

    def mark_dirty(self, device: str, db_path: Path) -> None:
        """A container's counts changed: send them at the next pass."""
        with self._lock:
            self.dirty.add((device, str(db_path)))

    def run_once(self) -> None:
        """One pass: the row batcher's kept database connections closed (their WALs
        checkpointed), dirty containers' counts, then the async_pending files."""
        self.node.row_batcher.close()
        with self._lock:
            dirty, self.dirty = self.dirty, set()
        for device, db_path in dirty:
            if not self._report_container(Path(db_path)):
                self.mark_dirty(device, Path(db_path))
        for device in self.node.devices.names():
            self._retry_pending(self.node.devices.root / device / "async_pending")
            reclaim_tmp(self.node.devices.root / device / "tmp", TMP_RECLAIM_AGE)

    def _report_container(self, db_path: Path) -> bool:
        broker = ContainerBroker(db_path)
        if not broker.exists():
            return True
        info = broker.get_info()
        reported = (
            info["reported_put_timestamp"],
            info["reported_delete_timestamp"],
            info["reported_object_count"],
            info["reported_bytes_used"],
        )
        current = (
            info["put_timestamp"],
            info["delete_timestamp"],
            info["object_count"],
            info["bytes_used"],
        )
        if reported == current:
            return True
        part, nodes = self.node.ring.get_nodes(info["account"])
        headers = _account_row_headers(info)
        path_of = lambda n: node_path(  # noqa: E731
            "account", n["device"], part, info["account"], info["container"]
        )
        ok = 0
        for n in nodes:
            with contextlib.suppress(OSError):
                status = send(
                    f"{n['ip']}:{n['port']}", "PUT", path_of(n), headers, self.node.update_timeout
                )
                ok += status < 300
        if ok * 2 > len(nodes):
            broker.set_reported(*current)
            return True
        return False

    def _retry_pending(self, root: Path) -> None:
        if not root.is_dir():
            return
        for path in sorted(root.glob("*/*")):
            if path.name.startswith("."):
                continue
            try:
                if path.stat().st_mtime < time.time() - RECLAIM_AGE:  # target gone for good
                    LOG.warning("giving up on update %s after %d s", path.name, RECLAIM_AGE)
                    path.unlink()
                    continue
                update = json.loads(path.read_bytes())
                status = send(
                    update["host"],
                    update["method"],
                    update["path"],
                    update["headers"],
                    self.node.update_timeout,
                )
            except (OSError, ValueError, KeyError):
                continue
            if status < 300 or status == 409 or (400 <= status < 500 and status != 404):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
