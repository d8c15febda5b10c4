"""The replicator of a storage node: makes every replica of the partitions and databases
on this node's devices agree with the ring (Swift's object replicator and database
replicators, push only).

For each partition directory on a local device:

- compare suffix hashes (``diskfile.suffix_hashes``) with each other primary of the
  partition (``REPLICATE``), ask for the file lists of the suffixes that differ, and push
  what is newer here with ordinary PUT/DELETE/POST carrying the original ``X-Timestamp``
  (newer wins on the other side, so pushing is safe in any order and from any replica);
- a partition this device is not a primary of (a handoff, or the ring moved it) is pushed to
  every primary and removed here once they all have it.

For each container or account database on a local device: ``sync`` with each other primary
(creates it there if missing, merges timestamps and metadata), then send the rows the other
side has not merged yet (``rows_since`` its sync point for this database), 1000 at a time;
a handoff database is removed once every primary has it.

A wiped or replaced node is refilled by the other nodes' replicators; a node that was down
catches up the same way.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pocketstack.objectstore.daemon import NodeDaemon
from pocketstack.objectstore.db import AccountBroker, Broker, ContainerBroker
from pocketstack.objectstore.diskfile import (
    RECLAIM_AGE,
    DiskFile,
    suffix_files,
    suffix_hashes,
)
from pocketstack.objectstore.recon_cache import dump_recon
from pocketstack.objectstore.utils import Timestamp, node_path

if TYPE_CHECKING:
    from pocketstack.objectstore.node import StorageNode

LOG = logging.getLogger(__name__)
ROW_BATCH = 1000
#: Stored object metadata that is not sent back as a request header.
NOT_HEADERS = frozenset({"name", "x-timestamp", "content-length", "etag"})


@dataclass
class ReplicationStats:
    """What one pass did."""

    partitions: int = 0
    objects_pushed: int = 0
    databases: int = 0
    rows_pushed: int = 0
    handoffs_removed: int = 0
    failures: int = 0


class ReplicationFailed(Exception):
    """A push that did not complete (the partition is tried again at the next pass)."""


def _request(
    node: dict,
    method: str,
    path: str,
    headers: dict[str, str],
    body: Any = None,
    timeout: float = 30.0,
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(node["ip"], node["port"], timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    except (OSError, http.client.HTTPException) as exc:
        raise ReplicationFailed(f"{method} {node['ip']}:{node['port']}{path}: {exc}") from exc
    finally:
        conn.close()


def _replicate_json(node: dict, path: str, message: Any = None) -> Any:
    body = None if message is None else json.dumps(message).encode()
    headers = {"Content-Type": "application/json"} if body is not None else {}
    status, data = _request(node, "REPLICATE", path, headers, body)
    if status != 200:
        raise ReplicationFailed(f"REPLICATE {path}: {status} {data[:200]!r}")
    return json.loads(data)


class Replicator(NodeDaemon):
    """Replication passes over one node's devices.

    Args:
        node: the storage node (its devices and ring).
        ip, port: the node's address as the ring names it (to tell its devices).
        interval: seconds between passes of the thread (``start``); 0: only ``run_once``.
    """

    name = "object-replicator"

    def __init__(self, node: StorageNode, ip: str, port: int, interval: float = 30.0):
        super().__init__(node, interval)
        self.ip = ip
        self.port = port
        self.last = ReplicationStats()

    def _is_me(self, dev: dict, device: str) -> bool:
        return (dev["ip"], dev["port"], dev["device"]) == (self.ip, self.port, device)

    def run_once(self) -> ReplicationStats:
        """One pass over every local device: objects, then containers and accounts. A pass
        that ran to its end goes to the node's recon cache (``object-status``)."""
        stats = ReplicationStats()
        started = time.time()
        for device in self.node.devices.names():
            dev_path = self.node.devices.root / device
            for part_dir in sorted((dev_path / "objects").glob("[0-9]*")):
                if self.stopping:
                    return stats
                self._replicate_partition(device, int(part_dir.name), part_dir, stats)
            for kind in ("containers", "accounts"):
                for db_file in sorted((dev_path / kind).glob("[0-9]*/*/*/*.db")):
                    if self.stopping:
                        return stats
                    self._replicate_db(device, kind, db_file, stats)
        summary = {**asdict(stats), "started": started, "finished": time.time()}
        dump_recon(self.node.devices.root, "object_replication", summary)
        self.last = stats
        return stats

    # -- objects -------------------------------------------------------------------------

    def _replicate_partition(
        self, device: str, part: int, part_dir: Path, stats: ReplicationStats
    ) -> None:
        stats.partitions += 1
        primaries = self.node.ring.get_part_nodes(part)
        mine = any(self._is_me(n, device) for n in primaries)
        synced = 0
        others = [n for n in primaries if not self._is_me(n, device)]
        before = suffix_hashes(part_dir) if not mine else {}
        for remote in others:
            try:
                stats.objects_pushed += self._sync_partition(device, part, part_dir, remote)
                synced += 1
            except ReplicationFailed as exc:
                stats.failures += 1
                LOG.info("replicating partition %d to %s: %s", part, remote["device"], exc)
        # a handoff goes once every primary has it, unless a write landed meanwhile (then
        # the next pass pushes that too)
        if not mine and others and synced == len(others) and suffix_hashes(part_dir) == before:
            shutil.rmtree(part_dir, ignore_errors=True)
            stats.handoffs_removed += 1

    def _sync_partition(self, device: str, part: int, part_dir: Path, remote: dict) -> int:
        local = suffix_hashes(part_dir)
        path = f"/object/{remote['device']}/{part}"
        theirs = _replicate_json(remote, path)["hashes"]
        differ = sorted(s for s, h in local.items() if h != theirs.get(s) and h)
        if not differ:
            return 0
        answer = _replicate_json(remote, f"{path}?suffixes={','.join(differ)}")
        remote_files = answer.get("files", {})
        mine = suffix_files(part_dir, differ)
        pushed = 0
        for suffix in differ:
            for name_hash, files in mine.get(suffix, {}).items():
                theirs_files = remote_files.get(suffix, {}).get(name_hash, [])
                if set(files) - set(theirs_files):
                    pushed += self._push_object(device, part, name_hash, theirs_files, remote)
        return pushed

    def _push_object(
        self, device: str, part: int, name_hash: str, theirs: list[str], remote: dict
    ) -> int:
        """Send what is newer here of one object: its data or tombstone, then its POST
        metadata. Returns 1 when something was sent."""
        df = DiskFile(self.node.devices.root / device, part, name_hash)
        state = df.state()
        if state.timestamp is None:
            return 0
        their_top, their_meta = _newest(theirs)
        sent = 0
        if their_top is None or state.timestamp > their_top:
            ext = ".ts" if state.deleted else ".json"
            meta = json.loads((df.dir / (state.timestamp.internal + ext)).read_bytes())
            self._send(remote, part, meta, state.timestamp, state.data_file)
            sent = 1
        if state.meta_timestamp is not None and (
            their_meta is None or state.meta_timestamp > their_meta
        ):
            post = json.loads((df.dir / (state.meta_timestamp.internal + ".meta")).read_bytes())
            name = json.loads((df.dir / (state.timestamp.internal + ".json")).read_bytes())
            self._post(remote, part, name["name"], post, state.meta_timestamp)
            sent = 1
        return sent

    def _send(
        self, remote: dict, part: int, meta: dict, ts: Timestamp, data_file: Path | None
    ) -> None:
        account, container, obj = meta["name"][1:].split("/", 2)
        path = node_path("object", remote["device"], part, account, container, obj)
        headers = {"X-Timestamp": ts.internal, "X-Backend-Replication": "true"}
        if data_file is None:
            status, body = _request(remote, "DELETE", path, headers)
        else:
            headers.update({k: v for k, v in meta.items() if k not in NOT_HEADERS})
            headers["ETag"] = meta["etag"]
            headers["Content-Length"] = meta["content-length"]
            with open(data_file, "rb") as fh:
                status, body = _request(remote, "PUT", path, headers, fh)
        if status not in (201, 204, 404, 409):  # 409: the other side has newer already
            raise ReplicationFailed(f"{path}: {status} {body[:200]!r}")

    def _post(self, remote: dict, part: int, name: str, meta: dict, ts: Timestamp) -> None:
        account, container, obj = name[1:].split("/", 2)
        path = node_path("object", remote["device"], part, account, container, obj)
        headers = {k: v for k, v in meta.items() if k != "x-timestamp"}
        headers.update({"X-Timestamp": ts.internal, "X-Backend-Replication": "true"})
        status, body = _request(remote, "POST", path, headers)
        if status not in (202, 404, 409):
            raise ReplicationFailed(f"POST {path}: {status} {body[:200]!r}")

    # -- databases -----------------------------------------------------------------------

    def _replicate_db(self, device: str, kind: str, db_file: Path, stats: ReplicationStats) -> None:
        broker: Broker = AccountBroker(db_file) if kind == "accounts" else ContainerBroker(db_file)
        try:
            info = broker.get_info()
        except Exception as exc:  # a damaged database: the auditor's business
            LOG.warning("skipping unreadable database %s: %s", db_file, exc)
            return
        stats.databases += 1
        part = int(db_file.parents[2].name)
        primaries = self.node.ring.get_part_nodes(part)
        others = [n for n in primaries if not self._is_me(n, device)]
        synced = 0
        for remote in others:
            try:
                stats.rows_pushed += self._sync_db(broker, info, kind, part, remote)
                synced += 1
            except ReplicationFailed as exc:
                stats.failures += 1
                LOG.info("replicating %s to %s: %s", db_file.name, remote["device"], exc)
        mine = any(self._is_me(n, device) for n in primaries)
        if not mine and others and synced == len(others):
            shutil.rmtree(db_file.parent, ignore_errors=True)
            stats.handoffs_removed += 1
        elif synced == len(others):
            broker.reclaim(Timestamp(time.time() - RECLAIM_AGE))

    def _sync_db(self, broker: Broker, info: dict, kind: str, part: int, remote: dict) -> int:
        server = "account" if kind == "accounts" else "container"
        container = info.get("container") if server == "container" else None
        path = node_path(server, remote["device"], part, info["account"], container)
        shared = {
            k: info[k]
            for k in ("account", "container", "put_timestamp", "delete_timestamp", "metadata")
            if k in info
        }
        answer = _replicate_json(remote, path, {"op": "sync", "id": info["id"], "info": shared})
        point = int(answer["point"])
        sent = 0
        while True:
            rows = broker.rows_since(point, ROW_BATCH)
            if not rows:
                return sent
            point = rows[-1].pop("ROWID")
            for row in rows:
                row.pop("ROWID", None)
            message = {"op": "merge", "id": info["id"], "rows": rows, "point": point}
            _replicate_json(remote, path, message)
            sent += len(rows)


def _newest(files: list[str]) -> tuple[Timestamp | None, Timestamp | None]:
    """The newest ``.data``/``.ts`` and ``.meta`` timestamps among file names."""
    top: Timestamp | None = None
    meta: Timestamp | None = None
    for name in files:
        stem, _, ext = name.rpartition(".")
        with contextlib.suppress(ValueError):
            ts = Timestamp(stem)
            if ext in ("data", "ts") and (top is None or ts > top):
                top = ts
            elif ext == "meta" and (meta is None or ts > meta):
                meta = ts
    return top, meta
