"""The container and account servers of a storage node (Swift's
``swift.container.server`` and ``swift.account.server``): the tables in
docs/object-storage.md. Databases are ``db.ContainerBroker``/``db.AccountBroker``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from pocketstack.objectstore.db import AccountBroker, Broker, ContainerBroker, live_metadata
from pocketstack.objectstore.diskfile import hash_dir
from pocketstack.objectstore.protocol import NodeError, Target, require_timestamp
from pocketstack.objectstore.updates import account_update
from pocketstack.objectstore.utils import ACCOUNT_LISTING_LIMIT, Timestamp

if TYPE_CHECKING:
    from pocketstack.objectstore.node import StorageNode

#: Headers stored as metadata, by server: prefixes and exact names.
META_PREFIXES = {
    "container": ("x-container-meta-", "x-container-sysmeta-"),
    "account": ("x-account-meta-", "x-account-sysmeta-"),
}
META_NAMES = {
    "container": frozenset(
        {
            "x-container-read",
            "x-container-write",
            "x-versions-location",
            "x-history-location",
            "x-container-sync-key",
            "x-container-sync-to",
        }
    ),
    "account": frozenset({"x-account-access-control"}),
}
TRUE = frozenset({"true", "1", "yes", "on", "t", "y"})


def _broker(node: StorageNode, target: Target) -> Broker:
    name_hash = node.hash_path(target)
    device = node.devices.path(target.device)
    kind = "accounts" if target.server == "account" else "containers"
    path = hash_dir(device, kind, target.partition, name_hash) / f"{name_hash}.db"
    return AccountBroker(path) if target.server == "account" else ContainerBroker(path)


def _metadata_updates(request: Request, server: str, ts: Timestamp) -> dict[str, tuple]:
    prefixes, names = META_PREFIXES[server], META_NAMES[server]
    return {
        k: (v, ts.internal)
        for k, v in request.headers.items()
        if k.startswith(prefixes) or k in names
    }


def _info_or_404(broker: Broker) -> dict[str, Any]:
    if not broker.exists():
        raise NodeError(404, "not found")
    info = broker.get_info()
    if broker.is_deleted(info):
        raise NodeError(404, "deleted", {"X-Backend-Timestamp": info["delete_timestamp"]})
    return info


def _stat_headers(server: str, info: dict[str, Any]) -> dict[str, str]:
    prefix = "X-Container-" if server == "container" else "X-Account-"
    headers = {
        f"{prefix}Object-Count": str(info["object_count"]),
        f"{prefix}Bytes-Used": str(info["bytes_used"]),
        "X-Timestamp": info["created_at"],
        "X-PUT-Timestamp": info["put_timestamp"],
        "X-Backend-Put-Timestamp": info["put_timestamp"],
        "X-Backend-Delete-Timestamp": info["delete_timestamp"],
        "X-Backend-Status-Changed-At": info["status_changed_at"],
        "X-Backend-Timestamp": info["created_at"],
    }
    if server == "container":
        headers["X-Backend-Storage-Policy-Index"] = str(info["storage_policy_index"])
    else:
        headers["X-Account-Container-Count"] = str(info["container_count"])
    headers.update(live_metadata(info["metadata"]))
    return headers


async def put_db(node: StorageNode, request: Request, target: Target) -> Response:
    """Create (201) or re-PUT (202) an account or container, merge its metadata; a
    container then updates its account (404 when the account is missing)."""
    timestamp = require_timestamp(request)
    broker = _broker(node, target)
    tmp_dir = node.devices.tmp_dir(target.device)
    info = await run_in_threadpool(_put_db, broker, target, tmp_dir, timestamp)
    await run_in_threadpool(
        broker.update_metadata, _metadata_updates(request, target.server, timestamp)
    )
    if target.server == "container":
        if await account_update(node, request, target, info) == 404:
            raise NodeError(404, "account not found")
    return Response(status_code=201 if info["created"] else 202)


def _put_db(broker: Broker, target: Target, tmp_dir: Any, timestamp: Timestamp) -> dict:
    created = False
    was_deleted = broker.is_deleted()
    if not broker.exists():
        if isinstance(broker, ContainerBroker):
            assert target.container is not None
            created = broker.initialize(tmp_dir, target.account, target.container, timestamp)
        else:
            assert isinstance(broker, AccountBroker)
            created = broker.initialize(tmp_dir, target.account, timestamp)
    if not created:
        broker.update_put_timestamp(timestamp)
    info = broker.get_info()
    info["created"] = created or (was_deleted and not broker.is_deleted(info))
    return info


async def head_db(node: StorageNode, request: Request, target: Target) -> Response:
    """Counts, timestamps and metadata: 204; 404 missing or deleted."""
    broker = _broker(node, target)
    info = await run_in_threadpool(_info_or_404, broker)
    return Response(status_code=204, headers=_stat_headers(target.server, info))


def _listing_query(request: Request) -> tuple[int, dict[str, Any]]:
    params = request.query_params
    raw_limit = params.get("limit", str(ACCOUNT_LISTING_LIMIT))
    if not raw_limit.isdigit():
        raise NodeError(412, "limit must be an integer")
    limit = int(raw_limit)
    if limit > ACCOUNT_LISTING_LIMIT:
        raise NodeError(412, f"maximum limit is {ACCOUNT_LISTING_LIMIT}")
    delimiter = params.get("delimiter", "")
    if len(delimiter) > 1:
        raise NodeError(412, "bad delimiter")
    query: dict[str, Any] = {
        "prefix": params.get("prefix", ""),
        "delimiter": delimiter,
        "marker": params.get("marker", ""),
        "end_marker": params.get("end_marker", ""),
        "reverse": params.get("reverse", "").lower() in TRUE,
    }
    for key in ("prefix", "marker", "end_marker"):
        if "\x00" in query[key]:
            raise NodeError(400, f"bad {key}")
    return limit, query


async def get_db(node: StorageNode, request: Request, target: Target) -> Response:
    """A JSON listing (Swift's format=json) with the HEAD headers; 404 missing or
    deleted."""
    limit, query = _listing_query(request)
    broker = _broker(node, target)

    def listing() -> tuple[dict, list]:
        info = _info_or_404(broker)
        if isinstance(broker, ContainerBroker):
            return info, broker.list_objects(limit, **query)
        assert isinstance(broker, AccountBroker)
        return info, broker.list_containers(limit, **query)

    info, rows = await run_in_threadpool(listing)
    headers = _stat_headers(target.server, info)
    body = json.dumps(rows).encode()
    return Response(body, status_code=200, headers=headers, media_type="application/json")


async def post_db(node: StorageNode, request: Request, target: Target) -> Response:
    """Merge metadata (an empty value removes a key): 204; 404."""
    timestamp = require_timestamp(request)
    broker = _broker(node, target)
    await run_in_threadpool(_info_or_404, broker)
    await run_in_threadpool(
        broker.update_metadata, _metadata_updates(request, target.server, timestamp)
    )
    return Response(status_code=204)


async def delete_db(node: StorageNode, request: Request, target: Target) -> Response:
    """Mark deleted: 204; 404 missing; 409 a container that still holds objects. A
    container then updates its account."""
    timestamp = require_timestamp(request)
    broker = _broker(node, target)

    def delete() -> dict[str, Any]:
        info = _info_or_404(broker)
        if target.server == "container" and info["object_count"]:
            raise NodeError(409, "container not empty")
        broker.mark_deleted(timestamp)
        return broker.get_info()

    info = await run_in_threadpool(delete)
    if target.server == "container":
        await account_update(node, request, target, info)
    return Response(status_code=204)


def _row(request: Request, target: Target, timestamp: Timestamp) -> dict[str, Any]:
    """The ``merge_row`` dict of an object row (container server) or a container row
    (account server) from the update's headers.

    Raises:
        ValueError: a header that does not parse.
    """
    headers = request.headers
    if target.server == "account":
        return {
            "name": target.container,
            "put_timestamp": Timestamp(headers.get("x-put-timestamp", "0")).internal,
            "delete_timestamp": Timestamp(headers.get("x-delete-timestamp", "0")).internal,
            "object_count": int(headers.get("x-object-count", "0")),
            "bytes_used": int(headers.get("x-bytes-used", "0")),
        }
    deleted = request.method == "DELETE"
    return {
        "name": target.obj,
        "created_at": timestamp.internal,
        "size": 0 if deleted else int(headers.get("x-size", "0")),
        "content_type": "" if deleted else headers.get("x-content-type", ""),
        "etag": "" if deleted else headers.get("x-etag", ""),
        "deleted": int(deleted),
    }


async def put_row(node: StorageNode, request: Request, target: Target) -> Response:
    """An object row (container server) or a container row (account server), merged by
    timestamp, concurrent ones in one transaction (``db.RowBatcher``): 201 (PUT) / 204
    (DELETE); 404 when the database is missing or deleted."""
    timestamp = require_timestamp(request)
    broker = _broker(node, target)
    try:
        row = _row(request, target, timestamp)
    except ValueError as exc:
        raise NodeError(400, f"bad row headers: {exc}") from None

    def refuse_deleted(info: dict[str, Any]) -> None:
        if broker.is_deleted(info):
            raise NodeError(404, "deleted", {"X-Backend-Timestamp": info["delete_timestamp"]})

    def merge() -> None:
        try:  # the deleted check runs in the batch's own transaction
            node.row_batcher.merge(broker, row, refuse_deleted)
        except FileNotFoundError:
            raise NodeError(404, "not found") from None
        if isinstance(broker, ContainerBroker):
            node.updater.mark_dirty(target.device, broker.path)

    await run_in_threadpool(merge)
    return Response(status_code=204 if request.method == "DELETE" else 201)


HANDLERS = {
    **{
        (server, verb): handler
        for server in ("account", "container")
        for verb, handler in (
            ("PUT", put_db),
            ("HEAD", head_db),
            ("GET", get_db),
            ("POST", post_db),
            ("DELETE", delete_db),
        )
    },
    ("row", "PUT"): put_row,
    ("row", "DELETE"): put_row,
}
