"""Volume snapshots (Block Storage API v3 reference, "Volume snapshots (snapshots)"):
create (``force`` for an in-use volume; from 3.66 no ``force`` needed), list, show,
update, delete, metadata, and the admin's reset status / force delete.

A snapshot lives on its volume's backend: ``create_snapshot``/``delete_snapshot`` are cast
to that host's agent, whose ``snapshot_created``/``snapshot_deleted`` casts finish them
(``agent_reports``). Quota: one ``snapshots`` and the volume's size in ``gigabytes``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.common.paging import DESC, SortSpec, paginate
from pocketstack.volume import exceptions as exc
from pocketstack.volume import quotas, states, volumes
from pocketstack.volume.models import Snapshot
from pocketstack.volume.rpcapi import VolumeAgentClient

if TYPE_CHECKING:
    from pocketstack.service import Cloud

SORT = SortSpec(
    columns={
        "created_at": Snapshot.created_at,
        "updated_at": Snapshot.updated_at,
        "id": Snapshot.id,
        "name": Snapshot.name,
        "size": Snapshot.size,
        "status": Snapshot.status,
    },
    default=[("created_at", DESC)],
    tie_breaker=Snapshot.id,
    default_dir=DESC,
    invalid=lambda message: exc.InvalidInput(message),
)


@dataclass(frozen=True)
class SnapshotFilters:
    """``GET /snapshots[/detail]`` filters and paging."""

    name: str | None = None
    status: str | None = None
    volume_id: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    all_tenants: bool = False
    project_id: str | None = None
    limit: int | None = None
    marker: str | None = None
    sort_keys: Sequence[str] = ()
    sort_dirs: Sequence[str] = ()


def load(s: Session, ctx: RequestContext, snapshot_id: str) -> Snapshot:
    """The snapshot if the caller may see it, not deleted. Raises SnapshotNotFound (404)."""
    snap = s.scalar(
        sa.select(Snapshot).where(Snapshot.id == str(snapshot_id), Snapshot.deleted.is_(False))
    )
    if snap is None or not (ctx.is_admin or ctx.owns(snap.project_id)):
        raise exc.SnapshotNotFound(snapshot_id)
    return snap


def agent_dict(snap: Snapshot) -> dict[str, Any]:
    """The ``snapshot`` argument of the agent's ``create_snapshot``."""
    return {"id": snap.id, "volume_id": snap.volume_id, "size": snap.size, "name": snap.name}


class Snapshots:
    """``cloud.volume.snapshots``."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.agents = VolumeAgentClient(cloud.bus)

    def get(self, ctx: RequestContext, snapshot_id: str) -> Snapshot:
        """One snapshot. Raises SnapshotNotFound (404)."""
        with self.cloud.db.reader() as s:
            return load(s, ctx, snapshot_id)

    def list(self, ctx: RequestContext, f: SnapshotFilters) -> list[Snapshot]:
        """The caller's project's snapshots (an admin's ``all_tenants``: all), filtered,
        sorted and paged in SQL."""
        from pocketstack.common.db import json_has_item

        def filtered(s: Session) -> sa.Select[Any]:
            query = sa.select(Snapshot).where(Snapshot.deleted.is_(False))
            if not (ctx.is_admin and f.all_tenants):
                query = query.where(Snapshot.project_id == ctx.project_id)
            elif f.project_id:
                query = query.where(Snapshot.project_id == f.project_id)
            for column, value in (
                (Snapshot.name, f.name),
                (Snapshot.status, f.status),
                (Snapshot.volume_id, f.volume_id),
            ):
                if value is not None:
                    query = query.where(column == value)
            for key, value in f.metadata.items():
                query = query.where(json_has_item(s, Snapshot.metadata_, key, str(value)))
            return query

        with self.cloud.db.reader() as s:
            order = SORT.order(list(f.sort_keys) or None, list(f.sort_dirs) or None)
            query = paginate(
                s,
                filtered(s),
                order,
                limit=f.limit,
                marker=f.marker,
                marker_row=lambda s2, m: s2.scalar(filtered(s2).where(Snapshot.id == str(m))),
                marker_missing=lambda m: exc.InvalidInput(f"marker [{m}] not found"),
            )
            return list(s.scalars(query))

    def create(
        self,
        ctx: RequestContext,
        volume_id: str,
        name: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        force: bool = False,
    ) -> Snapshot:
        """Record a snapshot ``creating`` and cast ``create_snapshot`` to the volume's agent.

        Raises:
            VolumeNotFound (404). InvalidVolume (400): the volume is not ``available``
            (``in-use`` needs ``force``). Quota 413s.
        """
        with self.cloud.db.transaction() as s:
            volume = volumes.load(s, ctx, volume_id, lock=True)
            ok = volume.status == states.AVAILABLE or (volume.status == states.IN_USE and force)
            if not ok:
                raise exc.InvalidVolume(
                    f"Volume {volume.id} status must be available"
                    f"{' or in-use' if force else ''}, but current status is: {volume.status}."
                )
            host = states.agent_host(volume.host)
            if host is None:
                raise exc.InvalidVolume(f"Volume {volume.id} has no backend.")
            quotas.check(s, self.cloud.conf, volume.project_id, snapshots=1, gigabytes=volume.size)
            snap = Snapshot(
                volume_id=volume.id,
                project_id=volume.project_id,
                user_id=ctx.user_id or "",
                name=name,
                description=description,
                size=volume.size,
                metadata_=dict(metadata or {}),
            )
            s.add(snap)
            s.flush()
        self.agents.cast(ctx, host, "create_snapshot", snapshot=agent_dict(snap))
        return snap

    def update(self, ctx: RequestContext, snapshot_id: str, changes: Mapping[str, Any]) -> Snapshot:
        """Change ``name``/``description``. Raises SnapshotNotFound (404)."""
        with self.cloud.db.transaction() as s:
            snap = load(s, ctx, snapshot_id)
            for key in ("name", "description"):
                if key in changes:
                    setattr(snap, key, changes[key])
            s.flush()
            return snap

    def delete(self, ctx: RequestContext, snapshot_id: str, force: bool = False) -> None:
        """``deleting``, then the agent's ``delete_snapshot``; ``force`` (admin) takes any
        status.

        Raises:
            SnapshotNotFound (404). InvalidSnapshot (400): not available or error, or
            volumes were created from it and still exist (Cinder: has dependent volumes...
            here the copies are independent, so this is allowed).
        """
        with self.cloud.db.transaction() as s:
            snap = load(s, ctx, snapshot_id)
            if force and not states.can(snap, states.DELETING):
                states.reset(snap, states.ERROR)
            states.require(snap, states.DELETING, exc.InvalidSnapshot, "Snapshot")
            states.transition(snap, states.DELETING)
            volume = volumes.load(s, ctx.elevated(), snap.volume_id)
            host = states.agent_host(volume.host)
            if host is None:
                states.transition(snap, states.DELETED)
        if host is not None:
            self.agents.cast(
                ctx, host, "delete_snapshot", snapshot_id=snap.id, volume_id=snap.volume_id
            )

    def reset_status(self, ctx: RequestContext, snapshot_id: str, status: str) -> None:
        """An admin's ``os-reset_status``. Raises SnapshotNotFound (404), BadRequest (400)."""
        with self.cloud.db.transaction() as s:
            states.reset(load(s, ctx, snapshot_id), status)

    # -- metadata ----------------------------------------------------------------------------
    def set_metadata(
        self, ctx: RequestContext, snapshot_id: str, metadata: Mapping[str, str], replace: bool
    ) -> dict[str, str]:
        """Merge (or replace) the snapshot's metadata; returns the result."""
        with self.cloud.db.transaction() as s:
            snap = load(s, ctx, snapshot_id)
            base = {} if replace else dict(snap.metadata_ or {})
            snap.metadata_ = {**base, **{str(k): str(v) for k, v in metadata.items()}}
            return dict(snap.metadata_)

    def delete_metadata(self, ctx: RequestContext, snapshot_id: str, key: str) -> None:
        """Remove one key. Raises SnapshotNotFound, SnapshotMetadataNotFound (404)."""
        with self.cloud.db.transaction() as s:
            snap = load(s, ctx, snapshot_id)
            meta = dict(snap.metadata_ or {})
            if key not in meta:
                raise exc.SnapshotMetadataNotFound(snapshot_id, key)
            del meta[key]
            snap.metadata_ = meta
