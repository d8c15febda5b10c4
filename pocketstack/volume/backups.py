"""Backups (Block Storage API v3 reference, "Backups (backups)"): create (full or
incremental), list, show, delete, restore, and the admin's ``os-reset_status``.

A backup is recorded ``creating`` with the project's ``backups``/``backup_gigabytes`` quota
checked in the same transaction, its volume moved to ``backing-up`` (from ``available``, or
``in-use`` with ``force``; ``previous_status`` remembers which), and ``create_backup`` cast to
the volume's agent, whose ``BackupService`` writes the chunks (``volume/backup/``). The
agent's ``backup_finished`` cast comes back to ``finished`` (through ``agent_reports``),
which records the outcome through the transition table. As Cinder's:

- an incremental backup's parent is the volume's latest ``available`` backup (400 when there
  is none); the parent then ``has_dependent_backups``, and cannot be deleted (400) while it
  has them;
- restore goes to an existing volume (``available``, at least the backup's size: it goes
  ``restoring-backup``) or to a new volume of the backup's size made for it (the request
  waits, as Cinder's API does, until that volume has left ``creating``); the backup is
  ``restoring`` meanwhile;
- the backup's ``size`` is its volume's size in GiB.

Backups live in the backup store of the storage host that made them (``host``); the file
store is that host's ``<state-dir>/backups``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.db import utcnow
from pocketstack.common.paging import DESC, SortSpec, paginate
from pocketstack.volume import exceptions as exc
from pocketstack.volume import quotas, states
from pocketstack.volume.exceptions import BackupNotFound, InvalidBackup
from pocketstack.volume.models import Backup, Volume
from pocketstack.volume.rpcapi import VolumeAgentClient
from pocketstack.volume.volumes import VolumeCreate, load

if TYPE_CHECKING:
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)

#: how long a restore to a new volume waits for that volume to leave ``creating`` (seconds)
NEW_VOLUME_TIMEOUT = 120.0

SORT = SortSpec(
    columns={
        "created_at": Backup.created_at,
        "updated_at": Backup.updated_at,
        "id": Backup.id,
        "name": Backup.name,
        "size": Backup.size,
        "status": Backup.status,
        "volume_id": Backup.volume_id,
        "data_timestamp": Backup.data_timestamp,
    },
    default=[("created_at", DESC)],
    tie_breaker=Backup.id,
    default_dir=DESC,
    invalid=lambda message: exc.InvalidInput(message),
)


@dataclass(frozen=True)
class BackupCreate:
    """What ``POST /backups`` asks (Cinder's ``backup`` body, parsed)."""

    volume_id: str
    name: str | None = None
    description: str | None = None
    container: str | None = None
    incremental: bool = False
    force: bool = False
    snapshot_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BackupFilters:
    """``GET /backups[/detail]`` filters and paging (None: not filtered)."""

    name: str | None = None
    status: str | None = None
    volume_id: str | None = None
    all_tenants: bool = False
    project_id: str | None = None
    limit: int | None = None
    marker: str | None = None
    sort_keys: Sequence[str] = ()
    sort_dirs: Sequence[str] = ()


@dataclass(frozen=True)
class Restore:
    """What ``POST /backups/{id}/restore`` did: ``{"backup_id", "volume_id",
    "volume_name"}`` in Cinder's answer."""

    backup_id: str
    volume_id: str
    volume_name: str | None


def load_backup(s: Session, ctx: RequestContext, backup_id: str, *, lock: bool = False) -> Backup:
    """The backup if the caller may see it (its project's, or an admin), not deleted.

    Raises:
        BackupNotFound (404).
    """
    query = sa.select(Backup).where(Backup.id == str(backup_id), Backup.deleted.is_(False))
    if lock:
        query = query.with_for_update()
    backup = s.scalars(query).one_or_none()
    if backup is None or not (ctx.is_admin or ctx.owns(backup.project_id)):
        raise BackupNotFound(backup_id)
    return backup


def agent_dict(backup: Backup) -> dict[str, Any]:
    """The ``backup`` argument of the agent's backup messages (``BackupService``'s)."""
    return {
        "id": backup.id,
        "volume_id": backup.volume_id,
        "project_id": backup.project_id,
        "container": backup.container,
        "created_at": backup.created_at.isoformat() if backup.created_at else None,
        "service_metadata": dict(backup.service_metadata or {}),
        "parent_id": backup.parent_id,
        "is_incremental": backup.is_incremental,
        "size": backup.size,
    }


class Backups:
    """``cloud.volume.backups``."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.agents = VolumeAgentClient(cloud.bus)

    # -- read ---------------------------------------------------------------------------------
    def get(self, ctx: RequestContext, backup_id: str) -> Backup:
        """One backup. Raises BackupNotFound (404)."""
        with self.cloud.db.reader() as s:
            return load_backup(s, ctx, backup_id)

    def list(self, ctx: RequestContext, filters: BackupFilters) -> list[Backup]:
        """The caller's project's backups (an admin's ``all_tenants``: every project's, or
        ``project_id``'s), filtered, sorted and paged in SQL.

        Raises:
            InvalidInput (400): an unknown sort key or direction, a marker not listed.
        """
        with self.cloud.db.reader() as s:
            query = self._filtered(ctx, filters)
            order = SORT.order(list(filters.sort_keys) or None, list(filters.sort_dirs) or None)
            query = paginate(
                s,
                query,
                order,
                limit=filters.limit,
                marker=filters.marker,
                marker_row=lambda s2, m: s2.scalar(
                    self._filtered(ctx, filters).where(Backup.id == str(m))
                ),
                marker_missing=lambda m: exc.InvalidInput(f"marker [{m}] not found"),
            )
            return list(s.scalars(query))

    def _filtered(self, ctx: RequestContext, f: BackupFilters) -> sa.Select[Any]:
        query = sa.select(Backup).where(Backup.deleted.is_(False))
        if not (ctx.is_admin and f.all_tenants):
            query = query.where(Backup.project_id == ctx.project_id)
        elif f.project_id:
            query = query.where(Backup.project_id == f.project_id)
        if f.name is not None:
            query = query.where(Backup.name == f.name)
        if f.status is not None:
            query = query.where(Backup.status == f.status)
        if f.volume_id is not None:
            query = query.where(Backup.volume_id == f.volume_id)
        return query

    def update(self, ctx: RequestContext, backup_id: str, changes: dict[str, Any]) -> Backup:
        """Change ``name``, ``description``, ``metadata`` (those ``changes`` holds).

        Raises:
            BackupNotFound (404).
        """
        with self.cloud.db.transaction() as s:
            backup = load_backup(s, ctx, backup_id, lock=True)
            if "name" in changes:
                backup.name = changes["name"]
            if "description" in changes:
                backup.description = changes["description"]
            if "metadata" in changes:
                backup.metadata_ = dict(changes["metadata"] or {})
            s.flush()
            return backup

    # -- create -------------------------------------------------------------------------------
    def create(self, ctx: RequestContext, req: BackupCreate) -> Backup:
        """Record a backup ``creating``, move its volume to ``backing-up`` and cast
        ``create_backup`` to the volume's agent.

        Raises:
            VolumeNotFound (404). InvalidVolume (400): the volume's status forbids it
            (``in-use`` without ``force``). InvalidBackup (400): ``incremental`` without an
            available backup of the volume, or ``snapshot_id`` (not supported).
            VolumeLimitExceeded / VolumeSizeExceedsAvailableQuota (413): the ``backups`` /
            ``backup_gigabytes`` quota.
        """
        if req.snapshot_id:
            raise InvalidBackup("Backups of snapshots are not supported by this cloud.")
        conf = self.cloud.conf
        with self.cloud.db.transaction() as s:
            volume = load(s, ctx, req.volume_id, lock=True)
            self._check_volume(volume, req.force)
            parent = self._parent(s, volume) if req.incremental else None
            quotas.check(s, conf, ctx.project_id or "", backups=1, backup_gigabytes=volume.size)
            backup = Backup(
                volume_id=volume.id,
                project_id=ctx.project_id or "",
                user_id=ctx.user_id or "",
                name=req.name,
                description=req.description,
                size=volume.size,
                container=req.container or _default_container(conf),
                is_incremental=parent is not None,
                parent_id=parent.id if parent else None,
                availability_zone=volume.availability_zone,
                host=states.agent_host(volume.host),
                data_timestamp=utcnow(),
                metadata_=dict(req.metadata),
            )
            s.add(backup)
            if parent is not None:
                parent.has_dependent_backups = True
            volume.previous_status = volume.status
            states.transition(volume, states.BACKING_UP)
            s.flush()
            parent_ref = agent_dict(parent) if parent is not None else None
            args = {"backup": agent_dict(backup), "volume_id": volume.id, "parent": parent_ref}
        self._cast(ctx, backup, "create_backup", "create", args)
        return backup

    @staticmethod
    def _check_volume(volume: Volume, force: bool) -> None:
        if volume.status == states.IN_USE and not force:
            raise exc.InvalidVolume("Backing up an in-use volume must use the force flag.")
        if volume.status not in (states.AVAILABLE, states.IN_USE):
            raise exc.InvalidVolume(
                "Volume to be backed up must be available or in-use, but the current status "
                f'is "{volume.status}".'
            )

    @staticmethod
    def _parent(s: Session, volume: Volume) -> Backup:
        """The latest available backup of ``volume`` (by data time): an incremental's parent.

        Raises:
            InvalidBackup (400): none.
        """
        parent = s.scalars(
            sa.select(Backup)
            .where(
                Backup.volume_id == volume.id,
                Backup.deleted.is_(False),
                Backup.status == states.AVAILABLE,
            )
            .order_by(Backup.data_timestamp.desc(), Backup.created_at.desc())
            .limit(1)
        ).one_or_none()
        if parent is None:
            raise InvalidBackup("No backups available to do an incremental backup.")
        return parent

    # -- delete -------------------------------------------------------------------------------
    def delete(self, ctx: RequestContext, backup_id: str, force: bool = False) -> None:
        """Delete a backup: ``deleting`` and the agent's ``delete_backup`` (a backup that
        never reached a host goes at once). ``force`` (``os-force_delete``) takes any status.

        Raises:
            BackupNotFound (404). InvalidBackup (400): not ``available``/``error`` (without
            ``force``), or incremental backups depend on it.
        """
        with self.cloud.db.transaction() as s:
            backup = load_backup(s, ctx, backup_id, lock=True)
            if not force and not states.can(backup, states.DELETING):
                raise InvalidBackup(
                    f"Backup status must be available or error, currently {backup.status}."
                )
            if backup.has_dependent_backups:
                raise InvalidBackup("Incremental backups exist for this backup.")
            if force:
                backup.status = states.DELETING
            else:
                states.transition(backup, states.DELETING)
            if not backup.host:  # never reached a storage host: nothing was written
                self._gone(s, backup)
                return
            args = {"backup": agent_dict(backup), "volume_id": backup.volume_id, "parent": None}
        self._cast(ctx, backup, "delete_backup", "delete", args)

    def _gone(self, s: Session, backup: Backup) -> None:
        """Mark ``backup`` deleted and let its parent go when it was the last dependent."""
        states.transition(backup, states.DELETED)
        if backup.parent_id:
            s.flush()
            self._refresh_dependents(s, backup.parent_id)

    @staticmethod
    def _refresh_dependents(s: Session, parent_id: str) -> None:
        parent = s.get(Backup, parent_id)
        if parent is None:
            return
        left = s.scalar(
            sa.select(sa.func.count()).where(
                Backup.parent_id == parent_id, Backup.deleted.is_(False)
            )
        )
        parent.has_dependent_backups = bool(left)

    # -- restore ------------------------------------------------------------------------------
    def restore(
        self,
        ctx: RequestContext,
        backup_id: str,
        volume_id: str | None = None,
        name: str | None = None,
    ) -> Restore:
        """Restore ``backup_id`` to the volume ``volume_id``, or (None) to a new volume of the
        backup's size named ``name``; returns what Cinder's answer shows.

        Raises:
            BackupNotFound / VolumeNotFound (404). InvalidBackup (400): the backup is not
            ``available``. InvalidVolume (400): the volume is not ``available`` or too
            small; the new volume did not become available. The new volume's quota errors
            (413).
        """
        with self.cloud.db.reader() as s:
            backup = load_backup(s, ctx, backup_id)
            self._check_restorable(backup)
        if volume_id is None:
            volume_id = self._new_volume(ctx, backup, name)
        with self.cloud.db.transaction() as s:
            backup = load_backup(s, ctx, backup_id, lock=True)
            self._check_restorable(backup)
            volume = load(s, ctx, volume_id, lock=True)
            if volume.size < backup.size:
                raise exc.InvalidVolume(
                    f"volume size {volume.size} is too small to restore backup of size "
                    f"{backup.size}."
                )
            states.require(volume, states.RESTORING_BACKUP, exc.InvalidVolume, "Volume")
            states.transition(volume, states.RESTORING_BACKUP)
            states.transition(backup, states.RESTORING)
            # Cinder's restore_volume_id: an agent that restarts mid-restore reports the
            # backup's own volume, the target is found here
            backup.service_metadata = {**backup.service_metadata, "restore_volume_id": volume.id}
            host = states.agent_host(volume.host)
            args = {"backup": agent_dict(backup), "volume_id": volume.id, "parent": None}
            done = Restore(backup.id, volume.id, volume.name)
        self._cast(ctx, backup, "restore_backup", "restore", args, host=host)
        return done

    @staticmethod
    def _check_restorable(backup: Backup) -> None:
        if backup.status != states.AVAILABLE:
            raise InvalidBackup(f"Backup status must be available, currently {backup.status}.")

    def _new_volume(self, ctx: RequestContext, backup: Backup, name: str | None) -> str:
        """Create the volume a restore without ``volume_id`` goes to and wait (up to
        ``NEW_VOLUME_TIMEOUT``) until it is available, as Cinder's backup API does."""
        if name is None:
            name = f"restore_backup_{backup.id}"
        description = f"auto-created_from_restore_from_backup {backup.id}"
        created = self.cloud.volume.volumes.create(
            ctx, VolumeCreate(size=backup.size, name=name, description=description)
        )
        volume_id = created.volume.id
        deadline = time.monotonic() + NEW_VOLUME_TIMEOUT
        status = created.volume.status
        while status == states.CREATING and time.monotonic() < deadline:
            time.sleep(0.05)
            status = self.cloud.volume.volumes.get(ctx, volume_id).volume.status
        if status != states.AVAILABLE:
            raise exc.InvalidVolume(
                f"The volume {volume_id} made for the restore is {status}, not available."
            )
        return volume_id

    # -- admin --------------------------------------------------------------------------------
    def reset_status(self, ctx: RequestContext, backup_id: str, status: str) -> None:
        """An admin's ``os-reset_status``: ``available`` or ``error`` only (Cinder's).

        Raises:
            BackupNotFound (404). InvalidBackup (400): another status.
        """
        if status not in (states.AVAILABLE, states.ERROR):
            raise InvalidBackup(f"Invalid status: {status}. Must be available or error.")
        with self.cloud.db.transaction() as s:
            backup = load_backup(s, ctx, backup_id, lock=True)
            states.reset(backup, status)

    # -- the agent's answer ---------------------------------------------------------------------
    def finished(
        self,
        ctx: RequestContext,
        backup_id: str,
        volume_id: str,
        operation: str,
        status: str,
        result: dict[str, Any] | None = None,
        fault: str | None = None,
        **_extra: Any,
    ) -> None:
        """Record the agent's ``backup_finished`` (docs/block-storage.md, "Result casts"):
        ``operation`` ``create``/``restore``/``delete``; ``status`` ``available``/``deleted``
        on success, ``error`` on failure (``fault`` says why). A result about a backup that
        is gone, or a stale one the transition table refuses, is logged and dropped."""
        with self.cloud.db.transaction() as s:
            backup = s.get(Backup, backup_id)
            if backup is None:
                LOG.info("backup_finished for unknown backup %s", backup_id)
                return
            try:
                handler = {
                    "create": self._created,
                    "restore": self._restored,
                    "delete": self._deleted,
                }[operation]
                handler(s, backup, volume_id, status == states.ERROR, result or {}, fault)
            except (errors.InvalidState, KeyError) as err:
                LOG.warning("backup_finished %s %s dropped: %s", operation, backup_id, err)

    def _created(
        self,
        s: Session,
        backup: Backup,
        volume_id: str,
        failed: bool,
        result: dict[str, Any],
        fault: str | None,
    ) -> None:
        volume = s.get(Volume, volume_id)
        if volume is not None and volume.status == states.BACKING_UP:
            states.transition(volume, volume.previous_status or states.AVAILABLE)
            volume.previous_status = None
        if failed:
            states.transition(backup, states.ERROR)
            backup.fail_reason = fault or "backup failed"
            return
        states.transition(backup, states.AVAILABLE)
        backup.object_count = int(result.get("object_count", 0))
        backup.size = int(result.get("size", backup.size))
        backup.container = result.get("container") or backup.container
        backup.service_metadata = dict(result.get("service_metadata") or {})
        backup.fail_reason = None

    def _restored(
        self,
        s: Session,
        backup: Backup,
        volume_id: str,
        failed: bool,
        result: dict[str, Any],
        fault: str | None,
    ) -> None:
        if backup.status == states.RESTORING:
            states.transition(backup, states.AVAILABLE)
        meta = dict(backup.service_metadata or {})
        volume = s.get(Volume, meta.pop("restore_volume_id", None) or volume_id)
        backup.service_metadata = meta
        if failed:
            # Cinder's: the backup stays usable, the volume shows the failure
            backup.fail_reason = fault or "restore failed"
            if volume is not None and volume.status == states.RESTORING_BACKUP:
                states.transition(volume, states.ERROR_RESTORING)
                volume.fault = fault
            return
        if volume is not None and volume.status == states.RESTORING_BACKUP:
            states.transition(volume, states.AVAILABLE)

    def _deleted(
        self,
        s: Session,
        backup: Backup,
        volume_id: str,
        failed: bool,
        result: dict[str, Any],
        fault: str | None,
    ) -> None:
        if failed:
            states.transition(backup, states.ERROR)
            backup.fail_reason = fault or "delete failed"
            return
        self._gone(s, backup)

    # -- bus --------------------------------------------------------------------------------------
    def _cast(
        self,
        ctx: RequestContext,
        backup: Backup,
        message: str,
        operation: str,
        args: dict[str, Any],
        host: str | None = None,
    ) -> None:
        """Cast ``message`` to the agent of ``host`` (default: the backup's); a bus failure
        is recorded as that operation's failure."""
        target = host or backup.host or ""
        try:
            self.agents.cast(ctx, target, message, **args)
        except errors.PocketError as err:
            LOG.warning("%s %s to %s: %s", message, backup.id, target, err)
            self.finished(ctx, backup.id, args["volume_id"], operation, states.ERROR, {}, str(err))


def _default_container(conf: Any) -> str:
    """The container of a backup created without one (``backup_container``)."""
    return str(getattr(conf, "backup_container", None) or "volumebackups")
