"""Live migration's API (admin only): ``{"os-migrateLive": {...}}`` on
``/servers/{id}/action`` (API reference "Live-Migrate Server (os-migrateLive Action)"),
``DELETE /servers/{id}/migrations/{mid}`` ("Delete (Abort) Migration", 2.24+) and
``POST /servers/{id}/migrations/{mid}/action {"force_complete": null}`` ("Force Migration
Complete Action", 2.22+). The work is ``compute.live_migration``.

The body of ``os-migrateLive`` by microversion (Nova's):

- before 2.25: ``host`` (null: the scheduler picks), ``block_migration`` (boolean, or the
  strings of one) and ``disk_over_commit`` (ignored), all three required; a named host is
  used as given (forced);
- 2.25: ``block_migration`` may be ``"auto"``; ``disk_over_commit`` is gone (400);
- 2.30: ``force`` (boolean, default false: the scheduler checks the named host);
- 2.68: ``force`` is gone (400).
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import errors, policy
from pocketstack.common import schema_types as t
from pocketstack.common.http import ApiRequest, ApiResponse
from pocketstack.compute.api import microversion
from pocketstack.compute.live_migration import LiveMigrationAPI

_BOOL_LIKE = {"anyOf": [{"type": "boolean"}, t.enum("True", "False", "true", "false")]}

#: the value of ``os-migrateLive`` (the union of every microversion; the handler checks
#: which keys the request's version takes)
MIGRATE_LIVE = t.obj(
    {
        "host": t.nullable(t.string(255, 1)),
        "block_migration": {"anyOf": [_BOOL_LIKE, t.enum("auto")]},
        "disk_over_commit": _BOOL_LIKE,
        "force": _BOOL_LIKE,
    },
    required=["block_migration", "host"],
)

#: ``POST /servers/{id}/migrations/{mid}/action``
MIGRATION_ACTION = t.obj({"force_complete": {"type": "null"}}, required=["force_complete"])


def _bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _invalid(args: Any, why: str) -> errors.BadRequest:
    return errors.BadRequest(
        f"Invalid input for field/attribute os-migrateLive. Value: {args}. {why}"
    )


def live_migrate_server(req: ApiRequest, server_id: str, args: Any) -> ApiResponse:
    """``{"os-migrateLive": {"host", "block_migration", ...}}`` → 202 (admin); 409 unless
    ACTIVE or PAUSED with no task; 400 an unknown host or the server's own, or a key the
    microversion does not take."""
    policy.enforce(req.ctx, "compute:os-migrate-server:migrate_live")
    version = microversion.requested_version(req.headers)
    block = args["block_migration"]
    if version < (2, 25):
        if "disk_over_commit" not in args:
            raise _invalid(args, "'disk_over_commit' is a required property")
        if block == "auto":
            raise _invalid(args, "'auto' is not valid under microversion 2.25")
    elif "disk_over_commit" in args:
        raise _invalid(args, "Additional properties are not allowed ('disk_over_commit')")
    if "force" in args and not (2, 30) <= version < (2, 68):
        raise _invalid(args, "Additional properties are not allowed ('force' was unexpected)")
    host = args.get("host")
    force = _bool(args.get("force", False)) or (host is not None and version < (2, 30))
    block_migration = None if block == "auto" else _bool(block)
    LiveMigrationAPI(req.cloud).live_migrate(req.ctx, server_id, host, block_migration, force)
    return ApiResponse(status=202)


def _check_version(req: ApiRequest, minimum: tuple[int, int]) -> None:
    if microversion.requested_version(req.headers) < minimum:
        raise errors.NotFound("The resource could not be found.")


def abort_server_migration(req: ApiRequest) -> ApiResponse:
    """``DELETE /servers/{id}/migrations/{mid}`` (2.24+) → 202: abort a live migration
    (``LiveMigrationAPI.abort``)."""
    _check_version(req, (2, 24))
    policy.enforce(req.ctx, "compute:servers:migrations:delete")
    params = req.params
    LiveMigrationAPI(req.cloud).abort(req.ctx, params["server_id"], params["migration_id"])
    return ApiResponse(status=202)


def run_server_migration_action(req: ApiRequest) -> ApiResponse:
    """``POST /servers/{id}/migrations/{mid}/action {"force_complete": null}`` (2.22+) →
    202 (``LiveMigrationAPI.force_complete``)."""
    _check_version(req, (2, 22))
    policy.enforce(req.ctx, "compute:servers:migrations:force_complete")
    params = req.params
    LiveMigrationAPI(req.cloud).force_complete(req.ctx, params["server_id"], params["migration_id"])
    return ApiResponse(status=202)
