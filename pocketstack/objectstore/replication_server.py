"""The ``REPLICATE`` verb of a storage node: what the replicators of other nodes ask
(Swift's ``REPLICATE`` of the object server and the database replicator's RPC).

    REPLICATE /object/<device>/<partition>[?suffixes=abc,def]
        -> {"hashes": {suffix: md5}, "files": {suffix: {hash: [file names]}}}
    REPLICATE /container/<device>/<partition>/<account>/<container>   (JSON body)
    REPLICATE /account/<device>/<partition>/<account>                 (JSON body)
        {"op": "sync", "id": <sender db id>, "info": {...}}
            -> {"id": <this db's id>, "point": <ROWID merged from the sender so far, -1>}
            (creates the database if missing; merges put/delete timestamps and metadata)
        {"op": "merge", "id": <sender db id>, "rows": [...], "point": <last ROWID sent>}
            -> {"changed": <rows that changed something>}

Objects themselves are pushed with ordinary PUT/DELETE/POST carrying the original
``X-Timestamp`` and ``X-Backend-Replication: true`` (no container update: listings replicate
as databases).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pocketstack.objectstore.db import AccountBroker, Broker, ContainerBroker
from pocketstack.objectstore.diskfile import partition_dir, suffix_files, suffix_hashes
from pocketstack.objectstore.protocol import NodeError, Target, parse_path
from pocketstack.objectstore.utils import Timestamp

if TYPE_CHECKING:
    from pocketstack.objectstore.node import StorageNode


async def replicate(node: StorageNode, request: Request) -> Response:
    """Answer one REPLICATE request (see the module docstring).

    Raises:
        NodeError: 400 bad path or body, 404 unknown database for a merge.
    """
    raw = request.scope.get("raw_path") or request.url.path.encode()
    parts = raw.decode("ascii", "replace").split("/")
    if len(parts) == 4 and parts[1] == "object":
        _, _, device, part_text = parts
        if not part_text.isdigit():
            raise NodeError(400, "bad partition")
        suffixes = request.query_params.get("suffixes")
        wanted = suffixes.split(",") if suffixes else None
        part_dir = partition_dir(node.devices.path(device), int(part_text))
        body = await run_in_threadpool(_object_answer, part_dir, wanted)
        return JSONResponse(body)
    target = parse_path(raw)
    if target.server == "object" or target.obj or (target.server == "account" and target.container):
        raise NodeError(400, "REPLICATE names a partition or a database")
    try:
        message = json.loads(await request.body())
    except ValueError:
        raise NodeError(400, "body is not JSON") from None
    from pocketstack.objectstore.db_server import _broker

    broker = _broker(node, target)
    tmp_dir = node.devices.tmp_dir(target.device)
    answer = await run_in_threadpool(_db_answer, broker, target, tmp_dir, message)
    if isinstance(broker, ContainerBroker) and message.get("op") == "merge":
        node.updater.mark_dirty(target.device, broker.path)
    return JSONResponse(answer)


def _object_answer(part_dir: Path, wanted: list[str] | None) -> dict[str, Any]:
    answer: dict[str, Any] = {"hashes": suffix_hashes(part_dir)}
    if wanted is not None:
        answer["files"] = suffix_files(part_dir, wanted)
    return answer


def _db_answer(broker: Broker, target: Target, tmp_dir: Path, message: Any) -> dict[str, Any]:
    if not isinstance(message, dict) or not isinstance(message.get("id"), str):
        raise NodeError(400, "bad REPLICATE message")
    if message.get("op") == "sync":
        info = message.get("info") or {}
        _ensure_db(broker, target, tmp_dir, info)
        merge_info(broker, info)
        return {"id": broker.get_info()["id"], "point": broker.sync_point(message["id"])}
    if message.get("op") == "merge":
        if not broker.exists():
            raise NodeError(404, "no such database")
        rows = message.get("rows")
        if not isinstance(rows, list):
            raise NodeError(400, "rows must be a list")
        try:
            changed = broker.merge_rows(rows, message["id"], int(message["point"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise NodeError(400, f"bad rows: {exc}") from None
        return {"changed": changed}
    raise NodeError(400, "unknown REPLICATE op")


def _ensure_db(broker: Broker, target: Target, tmp_dir: Path, info: dict[str, Any]) -> None:
    if broker.exists():
        return
    try:
        put_ts = Timestamp(info.get("put_timestamp", "0"))
    except ValueError:
        raise NodeError(400, "bad put_timestamp") from None
    if isinstance(broker, ContainerBroker):
        assert target.container is not None
        broker.initialize(tmp_dir, target.account, target.container, put_ts)
    else:
        assert isinstance(broker, AccountBroker)
        broker.initialize(tmp_dir, target.account, put_ts)


def merge_info(broker: Broker, info: dict[str, Any]) -> None:
    """Take the newer put and delete timestamps and, per key, the newer metadata."""
    try:
        broker.update_put_timestamp(Timestamp(info.get("put_timestamp", "0")))
        broker.mark_deleted(Timestamp(info.get("delete_timestamp", "0")))
        metadata = info.get("metadata") or {}
        broker.update_metadata({k: (v[0], v[1]) for k, v in metadata.items()})
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        raise NodeError(400, f"bad info: {exc}") from None
