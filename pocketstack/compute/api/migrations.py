"""Migrations (API reference "Migrations (os-migrations)" and "Server migrations
(servers, migrations)"), admin only.

``GET /os-migrations``: every move of a server (resize, cold/live migration, evacuation),
newest first; filters ``host``, ``source_compute``, ``status``, ``instance_uuid``,
``migration_type``; 2.23 adds ``migration_type`` and, on an in-progress live migration,
``links``; 2.59 ``uuid``, ``limit``/``marker`` (a migration uuid) paging with
``migrations_links`` and ``changes-since``; 2.66 ``changes-before``; 2.80 ``user_id`` and
``project_id`` (fields and filters). ``GET /servers/{id}/migrations[/{mid}]`` (2.22/2.23+):
the server's live migrations in progress. ``openstack server migration list/show``.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import errors, policy
from pocketstack.common.http import ApiRequest
from pocketstack.compute.api import common
from pocketstack.compute.migrations import (
    LIVE_IN_PROGRESS,
    LIVE_MIGRATION,
    MigrationFilters,
    MigrationNotFound,
)
from pocketstack.compute.models import Migration


def _version(req: ApiRequest) -> tuple[int, int]:
    return getattr(req, "api_version", (2, 1))


def _time(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def migration_view(req: ApiRequest, m: Migration) -> dict[str, Any]:
    """One migration of ``GET /os-migrations`` in Nova's shape for the request's version."""
    version = _version(req)
    view: dict[str, Any] = {
        "id": m.id,
        "instance_uuid": m.instance_uuid,
        "source_compute": m.source_compute,
        "source_node": m.source_node,
        "dest_compute": m.dest_compute,
        "dest_node": m.dest_node,
        "dest_host": m.dest_host,
        "old_instance_type_id": m.old_instance_type_id,
        "new_instance_type_id": m.new_instance_type_id,
        "status": m.status,
        "created_at": _time(m.created_at),
        "updated_at": _time(m.updated_at),
    }
    if version >= (2, 23):
        view["migration_type"] = m.migration_type
        if m.migration_type == LIVE_MIGRATION and m.status in LIVE_IN_PROGRESS:
            view["links"] = common.links(req, f"servers/{m.instance_uuid}/migrations", str(m.id))
    if version >= (2, 59):
        view["uuid"] = m.uuid
    if version >= (2, 80):
        view["user_id"] = m.user_id
        view["project_id"] = m.project_id
    return view


def _filters(req: ApiRequest) -> MigrationFilters:
    version = _version(req)
    q = req.query
    f = MigrationFilters(
        host=q.get("host"),
        source_compute=q.get("source_compute"),
        status=q.get("status"),
        instance_uuid=q.get("instance_uuid"),
        migration_type=q.get("migration_type"),
    )
    if version >= (2, 59) and q.get("changes-since"):
        f.changes_since = common.parse_time(q.get("changes-since"), "changes-since")
    if version >= (2, 66) and q.get("changes-before"):
        f.changes_before = common.parse_time(q.get("changes-before"), "changes-before")
        if f.changes_since is not None and f.changes_before < f.changes_since:
            raise errors.BadRequest(
                "The value of changes-since must be less than or equal to changes-before."
            )
    if version >= (2, 80):
        f.user_id = q.get("user_id")
        f.project_id = q.get("project_id")
    return f


def list_migrations(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-migrations`` → ``{"migrations": [...]}`` (+ ``migrations_links`` from 2.59
    when a page is full). 400 for an unknown ``marker`` or a malformed time or limit."""
    policy.enforce(req.ctx, "compute:os-migrations:index")
    filters = _filters(req)
    limit: int | None = None
    marker: str | None = None
    if _version(req) >= (2, 59):
        limit, marker = common.paging(req)
    try:
        rows = req.cloud.compute.migrations.list(filters, limit=limit, marker=marker)
    except MigrationNotFound as exc:
        raise errors.BadRequest(str(exc)) from None
    body: dict[str, Any] = {"migrations": [migration_view(req, m) for m in rows]}
    if limit is not None:
        links = common.next_links(req, "os-migrations", rows, limit, lambda m: m.uuid)
        if links:
            body["migrations_links"] = links
    return body


def server_migration_view(req: ApiRequest, m: Migration) -> dict[str, Any]:
    """One live migration of ``GET /servers/{id}/migrations`` (Nova's shape)."""
    version = _version(req)
    view: dict[str, Any] = {
        "id": m.id,
        "server_uuid": m.instance_uuid,
        "source_compute": m.source_compute,
        "source_node": m.source_node,
        "dest_compute": m.dest_compute,
        "dest_node": m.dest_node,
        "dest_host": m.dest_host,
        "status": m.status,
        "memory_total_bytes": m.memory_total,
        "memory_processed_bytes": m.memory_processed,
        "memory_remaining_bytes": m.memory_remaining,
        "disk_total_bytes": m.disk_total,
        "disk_processed_bytes": m.disk_processed,
        "disk_remaining_bytes": m.disk_remaining,
        "created_at": _time(m.created_at),
        "updated_at": _time(m.updated_at),
    }
    if version >= (2, 59):
        view["uuid"] = m.uuid
    if version >= (2, 80):
        view["user_id"] = m.user_id
        view["project_id"] = m.project_id
    return view


def list_server_migrations(req: ApiRequest) -> dict[str, Any]:
    """``GET /servers/{server_id}/migrations`` (2.23+) → ``{"migrations": [...]}``: the
    server's in-progress live migrations; 404 unknown server."""
    policy.enforce(req.ctx, "compute:os-migrations:index")
    if _version(req) < (2, 23):
        raise errors.NotFound("The resource could not be found.")
    server = req.cloud.compute.servers.get(req.ctx, req.params["server_id"])
    rows = req.cloud.compute.migrations.list_for_server(server.uuid)
    return {"migrations": [server_migration_view(req, m) for m in rows]}


def get_server_migration(req: ApiRequest) -> dict[str, Any]:
    """``GET /servers/{server_id}/migrations/{migration_id}`` (2.23+) → ``{"migration"}``;
    404 unknown server or migration, or one that is not an in-progress live migration."""
    policy.enforce(req.ctx, "compute:os-migrations:index")
    if _version(req) < (2, 23):
        raise errors.NotFound("The resource could not be found.")
    server = req.cloud.compute.servers.get(req.ctx, req.params["server_id"])
    row = req.cloud.compute.migrations.get_for_server(server.uuid, req.params["migration_id"])
    return {"migration": server_migration_view(req, row)}
