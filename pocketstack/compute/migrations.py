"""Migration records (Nova ``objects.Migration``): one row per move of a server between
hosts, read by ``GET /os-migrations`` and ``GET /servers/{id}/migrations``.

Interface for the workflows that move servers (resize and cold migration in
``compute.resize``, live migration, evacuation):

- ``create(s, instance, migration_type=..., source_compute=..., ...) -> Migration`` in the
  caller's transaction (``cloud.db.transaction()``); the row's ``uuid`` is the consumer of
  the destination's claim while the move runs (``scheduler.claims``), its ``id`` the API id.
  ``migration_type``: ``MIGRATION``/``RESIZE``/``LIVE_MIGRATION``/``EVACUATION``.
- ``get(s, migration_id)`` by integer id or uuid (``MigrationNotFound``, 404);
  ``for_instance(s, instance_uuid, statuses=..., migration_type=...)`` newest first;
  ``in_progress(s, instance_uuid)`` the move not yet ended (``IN_PROGRESS`` statuses), or None.
- ``update_status(s, migration_id, status, expected=None, **fields)``: set the status (and
  other columns, e.g. ``dest_compute``, ``memory_processed``); with ``expected`` (a status
  or tuple of them) the change is conditional and raises ``MigrationStateConflict`` (409)
  when the row is in another status (two concurrent confirms, a confirm racing a revert).
- ``Migrations`` (``cloud.compute.migrations``): the API's queries, ``list`` with Nova's
  filters and paging, ``list_for_server``/``get_for_server`` (in-progress live migrations).

Statuses (Nova's): a resize/cold migration goes ``pre-migrating`` -> ``migrating`` ->
``post-migrating`` -> ``finished`` (server VERIFY_RESIZE) -> ``confirming`` -> ``confirmed``
or ``reverting`` -> ``reverted``, or ``error``; a live migration ``queued`` -> ``preparing``
-> ``running`` -> ``post-migrating`` -> ``completed``, or ``error``/``failed``/``cancelled``;
an evacuation ``accepted`` -> ``pre-migrating`` -> ``done`` or ``failed``.
"""

from __future__ import annotations

import builtins
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common import errors
from pocketstack.common.db import utcnow
from pocketstack.compute.models import Instance, Migration

if TYPE_CHECKING:
    from pocketstack.service import Cloud

MIGRATION = "migration"
RESIZE = "resize"
LIVE_MIGRATION = "live-migration"
EVACUATION = "evacuation"
TYPES = (MIGRATION, RESIZE, LIVE_MIGRATION, EVACUATION)

#: statuses of a move that has not ended (Nova's ``MigrationList.get_in_progress...``)
IN_PROGRESS = (
    "queued",
    "preparing",
    "running",
    "pre-migrating",
    "migrating",
    "post-migrating",
    "finished",
    "confirming",
    "reverting",
    "accepted",
)
#: the statuses ``GET /servers/{id}/migrations`` shows (Nova's live-migration "in progress")
LIVE_IN_PROGRESS = ("queued", "preparing", "running", "post-migrating")


class MigrationNotFound(errors.NotFound):
    """404: no such migration."""


class MigrationStateConflict(errors.Conflict):
    """409: the migration is not in the status the change expects."""


def create(
    s: Session,
    instance: Instance,
    *,
    migration_type: str,
    source_compute: str | None,
    source_node: str | None = None,
    dest_compute: str | None = None,
    dest_node: str | None = None,
    dest_host: str | None = None,
    old_flavor: dict[str, Any] | None = None,
    new_flavor: dict[str, Any] | None = None,
    status: str = "pre-migrating",
    project_id: str | None = None,
    user_id: str | None = None,
) -> Migration:
    """Add a migration row for ``instance`` and flush it (so ``id`` is set).

    ``old_flavor``/``new_flavor`` are flavor snapshots as ``Instance.flavor`` (their ``id``
    key, the ``flavors.id`` integer when present, fills ``old/new_instance_type_id``); both
    default to the instance's current flavor. ``project_id``/``user_id`` are those of the
    requester (Nova 2.80), defaulting to the instance's.

    Raises:
        ValueError: an unknown ``migration_type``.
    """
    if migration_type not in TYPES:
        raise ValueError(f"unknown migration_type {migration_type!r}")
    old = dict(old_flavor if old_flavor is not None else instance.flavor or {})
    new = dict(new_flavor if new_flavor is not None else old)
    row = Migration(
        instance_uuid=instance.uuid,
        migration_type=migration_type,
        source_compute=source_compute,
        source_node=source_node or source_compute,
        dest_compute=dest_compute,
        dest_node=dest_node or dest_compute,
        dest_host=dest_host,
        old_flavor=old,
        new_flavor=new,
        old_instance_type_id=_flavor_db_id(old),
        new_instance_type_id=_flavor_db_id(new),
        status=status,
        hidden=False,
        project_id=project_id or instance.project_id,
        user_id=user_id or instance.user_id,
    )
    s.add(row)
    s.flush()
    return row


def _flavor_db_id(flavor: dict[str, Any]) -> int | None:
    value = flavor.get("db_id", flavor.get("id"))
    return value if isinstance(value, int) else None


def get(s: Session, migration_id: int | str) -> Migration:
    """The migration by integer id (or its string) or uuid. Raises MigrationNotFound."""
    if isinstance(migration_id, int) or str(migration_id).isdigit():
        row = s.get(Migration, int(migration_id))
    else:
        row = s.scalar(sa.select(Migration).where(Migration.uuid == migration_id))
    if row is None:
        raise MigrationNotFound(f"Migration {migration_id} could not be found.")
    return row


def for_instance(
    s: Session,
    instance_uuid: str,
    *,
    statuses: tuple[str, ...] | None = None,
    migration_type: str | None = None,
) -> list[Migration]:
    """The instance's migrations, newest first, optionally only in ``statuses`` / of one
    ``migration_type``."""
    q = sa.select(Migration).where(Migration.instance_uuid == instance_uuid)
    if statuses is not None:
        q = q.where(Migration.status.in_(statuses))
    if migration_type is not None:
        q = q.where(Migration.migration_type == migration_type)
    return list(s.scalars(q.order_by(Migration.created_at.desc(), Migration.id.desc())))


def in_progress(s: Session, instance_uuid: str) -> Migration | None:
    """The instance's move that has not ended (status in ``IN_PROGRESS``), newest, or None."""
    found = for_instance(s, instance_uuid, statuses=IN_PROGRESS)
    return found[0] if found else None


def update_status(
    s: Session,
    migration_id: int | str,
    status: str,
    *,
    expected: str | tuple[str, ...] | None = None,
    **fields: Any,
) -> Migration:
    """Set ``status`` (and any other ``fields``) of a migration; returns the row.

    Raises:
        MigrationNotFound: no such migration.
        MigrationStateConflict: ``expected`` given and the status is not one of them.
    """
    row = get(s, migration_id)
    allowed = (expected,) if isinstance(expected, str) else expected
    if allowed is not None:
        changed = s.execute(
            sa.update(Migration)
            .where(Migration.id == row.id, Migration.status.in_(allowed))
            .values(status=status, updated_at=utcnow(), **fields)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            raise MigrationStateConflict(
                f"Migration {row.id} is in status {row.status}, not {', '.join(allowed)}."
            )
        s.refresh(row)
        return row
    row.status = status
    for key, value in fields.items():
        setattr(row, key, value)
    row.updated_at = utcnow()
    s.flush()
    return row


@dataclass
class MigrationFilters:
    """The filters of ``GET /os-migrations`` (Nova's ``migrations`` index query)."""

    host: str | None = None
    source_compute: str | None = None
    status: str | None = None
    instance_uuid: str | None = None
    migration_type: str | None = None
    changes_since: dt.datetime | None = None
    changes_before: dt.datetime | None = None
    user_id: str | None = None
    project_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Migrations:
    """``cloud.compute.migrations``: the API's reads of migration rows."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def list(
        self,
        filters: MigrationFilters,
        *,
        limit: int | None = None,
        marker: str | None = None,
    ) -> builtins.list[Migration]:
        """Migrations not ``hidden``, newest first (``created_at``, ``id`` descending, Nova's
        order), filtered; ``marker`` is a migration uuid (2.59), the page starts after it.

        Raises:
            MigrationNotFound: a ``marker`` naming no migration (Nova answers 400, the API
            module maps it).
        """
        q = sa.select(Migration).where(Migration.hidden.is_(False))
        q = _apply_filters(q, filters)
        q = q.order_by(Migration.created_at.desc(), Migration.id.desc())
        with self.cloud.db.reader() as s:
            if marker is not None:
                mark = s.scalar(sa.select(Migration).where(Migration.uuid == marker))
                if mark is None:
                    raise MigrationNotFound(f"Marker {marker} could not be found.")
                q = q.where(
                    sa.or_(
                        Migration.created_at < mark.created_at,
                        sa.and_(Migration.created_at == mark.created_at, Migration.id < mark.id),
                    )
                )
            if limit is not None:
                q = q.limit(limit)
            rows = builtins.list(s.scalars(q))
            s.expunge_all()
        return rows

    def list_for_server(self, instance_uuid: str) -> builtins.list[Migration]:
        """The server's live migrations in progress (``LIVE_IN_PROGRESS``), oldest first."""
        with self.cloud.db.reader() as s:
            rows = for_instance(
                s, instance_uuid, statuses=LIVE_IN_PROGRESS, migration_type=LIVE_MIGRATION
            )
            s.expunge_all()
        return builtins.list(reversed(rows))

    def get_for_server(self, instance_uuid: str, migration_id: str) -> Migration:
        """One in-progress live migration of the server (Nova's messages).

        Raises:
            MigrationNotFound: unknown id, another server's, not a live migration, or ended.
        """
        with self.cloud.db.reader() as s:
            row = get(s, migration_id) if str(migration_id).isdigit() else None
            if row is None or row.instance_uuid != instance_uuid:
                raise MigrationNotFound(
                    f"Migration {migration_id} for instance {instance_uuid} could not be found."
                )
            if row.migration_type != LIVE_MIGRATION:
                raise MigrationNotFound(
                    f"Migration {migration_id} for server {instance_uuid} is not live-migration."
                )
            if row.status not in LIVE_IN_PROGRESS:
                raise MigrationNotFound(
                    f"Live migration {migration_id} for server {instance_uuid} is not in progress."
                )
            s.expunge(row)
        return row


def _apply_filters(q: Any, f: MigrationFilters) -> Any:
    if f.host:
        q = q.where(sa.or_(Migration.source_compute == f.host, Migration.dest_compute == f.host))
    if f.source_compute:
        q = q.where(Migration.source_compute == f.source_compute)
    if f.status:
        q = q.where(Migration.status == f.status)
    if f.instance_uuid:
        q = q.where(Migration.instance_uuid == f.instance_uuid)
    if f.migration_type:
        q = q.where(Migration.migration_type == f.migration_type)
    if f.changes_since is not None:
        q = q.where(Migration.updated_at >= f.changes_since)
    if f.changes_before is not None:
        q = q.where(Migration.updated_at <= f.changes_before)
    if f.user_id:
        q = q.where(Migration.user_id == f.user_id)
    if f.project_id:
        q = q.where(Migration.project_id == f.project_id)
    return q
