"""Volumes (Block Storage API v3 reference, "Volumes (volumes)"): create, list, show,
update, delete and the metadata sub-resources; the actions are ``volume_actions``.

A volume is recorded ``creating`` with the caller's quota checked in the same transaction,
placed on a backend (the scheduler, or the source's backend for a snapshot or volume
source, as Cinder's), and its creation cast to the volume agent of that host
(``create_volume``); the agent's ``volume_created`` cast (``agent_reports``) moves it to
``available`` or ``error``. Every status change goes through ``states.transition``.

Returns ``VolumeRecord``s: the row with its type's name and live attachments, what Cinder's
volume view shows.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.db import json_has_item
from pocketstack.common.paging import DESC, SortSpec, paginate
from pocketstack.volume import exceptions as exc
from pocketstack.volume import quotas, states
from pocketstack.volume.models import Snapshot, Volume, VolumeAttachment, VolumeType
from pocketstack.volume.rpcapi import VolumeAgentClient

if TYPE_CHECKING:
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)
GiB = 1024**3

#: Cinder's reason for refusing to delete an attached volume
ATTACHED_DELETE = (
    "Volume status must be available or error or error_restoring or error_extending or "
    "error_managing and must not be migrating, attached, belong to a group, have snapshots, "
    "awaiting a transfer, or be disassociated from snapshots after volume transfer."
)
#: attachment statuses shown in a volume's ``attachments`` (Cinder shows attached ones)
SHOWN_ATTACHMENTS = ("attached",)

SORT = SortSpec(
    columns={
        "created_at": Volume.created_at,
        "updated_at": Volume.updated_at,
        "id": Volume.id,
        "name": Volume.name,
        "size": Volume.size,
        "status": Volume.status,
        "availability_zone": Volume.availability_zone,
        "bootable": Volume.bootable,
    },
    default=[("created_at", DESC)],
    tie_breaker=Volume.id,
    default_dir=DESC,
    invalid=lambda message: exc.InvalidInput(message),
)


@dataclass
class VolumeRecord:
    """A volume as the API shows it: the row, its type's name, its attachments."""

    volume: Volume
    type_name: str | None = None
    attachments: list[VolumeAttachment] = field(default_factory=list)


@dataclass(frozen=True)
class VolumeCreate:
    """What ``POST /volumes`` asks (Cinder's ``volume`` body, parsed)."""

    size: int | None = None
    name: str | None = None
    description: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    volume_type: str | None = None
    availability_zone: str | None = None
    snapshot_id: str | None = None
    source_volid: str | None = None
    image_id: str | None = None


@dataclass(frozen=True)
class VolumeFilters:
    """``GET /volumes[/detail]`` filters and paging (None: not filtered)."""

    name: str | None = None
    name_like: str | None = None
    status: str | None = None
    bootable: bool | None = None
    availability_zone: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    all_tenants: bool = False
    project_id: str | None = None
    limit: int | None = None
    marker: str | None = None
    sort_keys: Sequence[str] = ()
    sort_dirs: Sequence[str] = ()
    #: 3.60's time filters: ``(column, op, when)``, column ``created_at``/``updated_at``,
    #: op one of ``TIME_OPS``
    times: Sequence[tuple[str, str, dt.datetime]] = ()


#: 3.60's comparison operators of the ``created_at``/``updated_at`` filters
TIME_OPS = {
    "gt": lambda c, v: c > v,
    "gte": lambda c, v: c >= v,
    "lt": lambda c, v: c < v,
    "lte": lambda c, v: c <= v,
    "eq": lambda c, v: c == v,
    "neq": lambda c, v: c != v,
}


@dataclass(frozen=True)
class VolumeSummary:
    """``GET /volumes/summary`` (3.12; ``metadata`` 3.36): how many, how many GiB, and every
    metadata value seen per key."""

    total_count: int
    total_size: int
    metadata: dict[str, list[str]]


def load(s: Session, ctx: RequestContext, volume_id: str, *, lock: bool = False) -> Volume:
    """The volume if the caller may see it (its project's, or an admin), not deleted.

    Raises:
        VolumeNotFound (404).
    """
    query = sa.select(Volume).where(Volume.id == str(volume_id), Volume.deleted.is_(False))
    if lock:
        query = query.with_for_update()
    volume = s.scalars(query).one_or_none()
    if volume is None or not (ctx.is_admin or ctx.owns(volume.project_id)):
        raise exc.VolumeNotFound(volume_id)
    return volume


def records(s: Session, volumes: Sequence[Volume]) -> list[VolumeRecord]:
    """``VolumeRecord``s of ``volumes``, with two queries (types, attachments)."""
    type_ids = {v.volume_type_id for v in volumes if v.volume_type_id}
    names: dict[str, str] = {
        row.id: row.name
        for row in s.execute(
            sa.select(VolumeType.id, VolumeType.name).where(VolumeType.id.in_(type_ids))
        )
    }
    attached: dict[str, list[VolumeAttachment]] = {}
    ids = [v.id for v in volumes]
    rows = s.scalars(
        sa.select(VolumeAttachment)
        .where(VolumeAttachment.volume_id.in_(ids))
        .order_by(VolumeAttachment.created_at)
    )
    for att in rows:
        attached.setdefault(att.volume_id, []).append(att)
    return [
        VolumeRecord(v, names.get(v.volume_type_id or ""), attached.get(v.id, [])) for v in volumes
    ]


def record(s: Session, volume: Volume) -> VolumeRecord:
    """``records`` of one volume."""
    return records(s, [volume])[0]


def agent_dict(volume: Volume) -> dict[str, Any]:
    """The ``volume`` argument of the agent's ``create_volume`` (docs/block-storage.md)."""
    return {
        "id": volume.id,
        "size": volume.size,
        "name": volume.name,
        "project_id": volume.project_id,
        "volume_type_id": volume.volume_type_id,
        "availability_zone": volume.availability_zone,
        "host": volume.host,
    }


class Volumes:
    """``cloud.volume.volumes``."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.agents = VolumeAgentClient(cloud.bus)

    # -- read --------------------------------------------------------------------------------
    def get(self, ctx: RequestContext, volume_id: str) -> VolumeRecord:
        """One volume. Raises VolumeNotFound (404)."""
        with self.cloud.db.reader() as s:
            return record(s, load(s, ctx, volume_id))

    def list(self, ctx: RequestContext, filters: VolumeFilters) -> list[VolumeRecord]:
        """The caller's project's volumes (an admin's ``all_tenants``: every project's, or
        ``project_id``'s), filtered, sorted and paged in SQL.

        Raises:
            InvalidInput (400): an unknown sort key or direction, a marker not listed.
        """
        with self.cloud.db.reader() as s:
            query = self._filtered(s, ctx, filters)
            order = SORT.order(list(filters.sort_keys) or None, list(filters.sort_dirs) or None)
            query = paginate(
                s,
                query,
                order,
                limit=filters.limit,
                marker=filters.marker,
                marker_row=lambda s2, m: s2.scalar(
                    self._filtered(s2, ctx, filters).where(Volume.id == str(m))
                ),
                marker_missing=lambda m: exc.InvalidInput(f"marker [{m}] not found"),
            )
            return records(s, list(s.scalars(query)))

    def count(self, ctx: RequestContext, filters: VolumeFilters) -> int:
        """How many volumes ``list`` would give without paging (``with_count``, 3.45)."""
        with self.cloud.db.reader() as s:
            query = self._filtered(s, ctx, filters).subquery()
            return int(s.scalar(sa.select(sa.func.count()).select_from(query)) or 0)

    def _filtered(self, s: Session, ctx: RequestContext, f: VolumeFilters) -> sa.Select[Any]:
        query = sa.select(Volume).where(Volume.deleted.is_(False))
        if not (ctx.is_admin and f.all_tenants):
            query = query.where(Volume.project_id == ctx.project_id)
        elif f.project_id:
            query = query.where(Volume.project_id == f.project_id)
        if f.name is not None:
            query = query.where(Volume.name == f.name)
        if f.name_like is not None:
            query = query.where(Volume.name.contains(f.name_like, autoescape=True))
        if f.status is not None:
            query = query.where(Volume.status == f.status)
        if f.bootable is not None:
            query = query.where(Volume.bootable.is_(f.bootable))
        if f.availability_zone is not None:
            query = query.where(Volume.availability_zone == f.availability_zone)
        for key, value in f.metadata.items():
            query = query.where(json_has_item(s, Volume.metadata_, key, str(value)))
        for column, op, when in f.times:
            query = query.where(TIME_OPS[op](getattr(Volume, column), when))
        return query

    def summary(self, ctx: RequestContext, filters: VolumeFilters) -> VolumeSummary:
        """The count, total size and metadata of the volumes ``list`` would give."""
        with self.cloud.db.reader() as s:
            query = self._filtered(s, ctx, filters).subquery()
            count, size = s.execute(
                sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(query.c.size), 0))
            ).one()
            meta: dict[str, list[str]] = {}
            for (data,) in s.execute(sa.select(query.c.metadata)):
                for key, value in (data or {}).items():
                    if value not in meta.setdefault(key, []):
                        meta[key].append(value)
            return VolumeSummary(int(count), int(size), meta)

    # -- create ------------------------------------------------------------------------------
    def create(self, ctx: RequestContext, req: VolumeCreate) -> VolumeRecord:
        """Record a volume ``creating``, place it and cast its creation to its agent.

        Raises:
            InvalidInput (400): no size, a size below the source's, an unknown zone.
            VolumeTypeNotFoundByName (404), SnapshotNotFound (404), VolumeNotFound (404),
            ImageNotFound (404): the type or source is not visible.
            InvalidSnapshot / InvalidVolume (400): the source is not usable now.
            VolumeSizeExceedsAvailableQuota, VolumeLimitExceeded, VolumeSizeExceedsLimit
            (413).
        A backend that cannot be found leaves the volume ``error`` (returned, not raised),
        as Cinder's scheduler does.
        """
        conf = self.cloud.conf
        with self.cloud.db.reader() as s:
            vtype = self.cloud.volume.types.resolve(s, ctx, req.volume_type)
            size, zone, host, source, image_meta = self._source(s, ctx, req)
        zone = req.availability_zone or zone or conf.storage_availability_zone
        self.cloud.volume.services.check_zone(zone)
        volume, result, fault = self._record(ctx, req, size, zone, host, vtype, image_meta)
        if fault is None:
            self._cast_create(ctx, volume, source)
        return result

    def _record(
        self,
        ctx: RequestContext,
        req: VolumeCreate,
        size: int,
        zone: str,
        host: str | None,
        vtype: VolumeType,
        image_meta: dict[str, Any],
    ) -> tuple[Volume, VolumeRecord, str | None]:
        """Check the quota, record the volume ``creating`` and place it (on ``host``, the
        source's backend, or the scheduler's pick); ``(volume, record, fault)``, the fault
        set when no backend could take it (the volume is then ``error``)."""
        conf = self.cloud.conf
        fault = None
        with self.cloud.db.transaction() as s:
            quotas.check(s, conf, ctx.project_id or "", volumes=1, gigabytes=size, volume_size=size)
            volume = Volume(
                project_id=ctx.project_id or "",
                user_id=ctx.user_id or "",
                name=req.name,
                description=req.description,
                size=size,
                availability_zone=zone,
                volume_type_id=vtype.id,
                snapshot_id=req.snapshot_id,
                source_volid=req.source_volid,
                image_id=req.image_id,
                bootable=bool(image_meta),
                metadata_=dict(req.metadata),
                image_metadata=image_meta,
            )
            s.add(volume)
            s.flush()
            if host is None:
                try:
                    host = self.cloud.volume.scheduler.select(s, size, zone, vtype.extra_specs)
                except exc.NoValidBackend as err:
                    fault = err.message
            volume.host = host
            if fault:
                states.transition(volume, states.ERROR)
                volume.fault = fault
            s.flush()
            return volume, record(s, volume), fault

    def _source(
        self, s: Session, ctx: RequestContext, req: VolumeCreate
    ) -> tuple[int, str | None, str | None, dict[str, Any], dict[str, Any]]:
        """``(size, zone, host, source, image_metadata)`` of a create: the size asked or the
        source's, the source's zone and backend, the agent's ``source`` argument."""
        size = req.size
        if req.snapshot_id:
            snap = s.scalar(
                sa.select(Snapshot).where(
                    Snapshot.id == req.snapshot_id, Snapshot.deleted.is_(False)
                )
            )
            if snap is None or not (ctx.is_admin or ctx.owns(snap.project_id)):
                raise exc.SnapshotNotFound(req.snapshot_id)
            if snap.status != states.AVAILABLE:
                raise exc.InvalidSnapshot(
                    "Originating snapshot status must be one of 'available' values"
                )
            parent = load(s, ctx, snap.volume_id)
            size = self._at_least(size, snap.size, "snapshot")
            source = {"type": "snapshot", "snapshot_id": snap.id, "volume_id": snap.volume_id}
            return size, parent.availability_zone, parent.host, source, dict(parent.image_metadata)
        if req.source_volid:
            parent = load(s, ctx, req.source_volid)
            if parent.status not in (states.AVAILABLE, states.IN_USE):
                raise exc.InvalidVolume(
                    f"Unable to clone volumes that are in {parent.status} status."
                )
            size = self._at_least(size, parent.size, "source volume")
            source = {"type": "volume", "volume_id": parent.id}
            return size, parent.availability_zone, parent.host, source, dict(parent.image_metadata)
        if req.image_id:
            return self._image_source(ctx, req.image_id, size)
        if size is None:
            raise exc.InvalidInput("Size must be specified.")
        return size, None, None, {"type": "blank"}, {}

    @staticmethod
    def _at_least(size: int | None, minimum: int, what: str) -> int:
        if size is None:
            return minimum
        if size < minimum:
            raise exc.InvalidInput(
                f"Volume size '{size}'GB cannot be smaller than the {what} size {minimum}GB. "
                "They must be >= original size."
            )
        return size

    def _image_source(
        self, ctx: RequestContext, image_id: str, size: int | None
    ) -> tuple[int, None, None, dict[str, Any], dict[str, Any]]:
        info = self.cloud.image.get_image_info(ctx, image_id)
        if info.status != "active":
            raise exc.InvalidInput(f"Image {image_id} is not active.")
        needed = max(math.ceil((info.virtual_size or info.size or 0) / GiB), info.min_disk or 0, 1)
        if size is None:
            size = needed
        if size < needed:
            raise exc.InvalidInput(
                f"Volume size {size}GB cannot be smaller than the image minDisk size {needed}GB."
            )
        url = f"{self.cloud.conf.public_url.rstrip('/')}/image/v2/images/{image_id}/file"
        source = {
            "type": "image",
            "image_id": image_id,
            "url": url,
            "disk_format": info.disk_format,
        }
        meta = {
            "image_id": info.id,
            "image_name": info.name or "",
            "checksum": info.checksum or "",
            "container_format": info.container_format or "",
            "disk_format": info.disk_format or "",
            "min_disk": str(info.min_disk or 0),
            "min_ram": str(info.min_ram or 0),
            "size": str(info.size or 0),
            **{k: str(v) for k, v in (info.properties or {}).items()},
        }
        return size, None, None, source, meta

    def _cast_create(self, ctx: RequestContext, volume: Volume, source: dict[str, Any]) -> None:
        """Cast ``create_volume`` to the volume's agent; a bus failure leaves it ``error``."""
        host = states.agent_host(volume.host)
        try:
            self.agents.cast(
                ctx, host or "", "create_volume", volume=agent_dict(volume), source=source
            )
        except errors.PocketError as err:
            LOG.warning("create_volume %s to %s: %s", volume.id, host, err)
            self.cloud.volume.agent_reports.volume_created(
                ctx, volume_id=volume.id, status=states.ERROR, fault=str(err)
            )

    # -- update and delete -------------------------------------------------------------------
    def update(
        self,
        ctx: RequestContext,
        volume_id: str,
        name: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
        *,
        set_name: bool = False,
        set_description: bool = False,
    ) -> VolumeRecord:
        """Change the name, description (when ``set_*``) and metadata (replaced when given).

        Raises:
            VolumeNotFound (404).
        """
        with self.cloud.db.transaction() as s:
            volume = load(s, ctx, volume_id, lock=True)
            if set_name:
                volume.name = name
            if set_description:
                volume.description = description
            if metadata is not None:
                volume.metadata_ = dict(metadata)
            s.flush()
            return record(s, volume)

    def delete(
        self, ctx: RequestContext, volume_id: str, cascade: bool = False, force: bool = False
    ) -> None:
        """Delete a volume: ``deleting``, then the agent's ``delete_volume`` (a volume that
        never reached a backend is deleted at once). ``cascade`` deletes its snapshots too;
        ``force`` (an admin's ``os-force_delete``) takes any status but attached.

        Raises:
            VolumeNotFound (404). InvalidVolume (400): attached, in a status that may not be
            deleted, or with snapshots (without ``cascade``).
        """
        with self.cloud.db.transaction() as s:
            volume = load(s, ctx, volume_id, lock=True)
            live = s.scalar(
                sa.select(sa.func.count())
                .select_from(VolumeAttachment)
                .where(VolumeAttachment.volume_id == volume.id)
            )
            if live or volume.attach_status == "attached":
                raise exc.InvalidVolume(ATTACHED_DELETE)
            snaps = list(
                s.scalars(
                    sa.select(Snapshot).where(
                        Snapshot.volume_id == volume.id, Snapshot.deleted.is_(False)
                    )
                )
            )
            if snaps and not cascade:
                raise exc.InvalidVolume(f"Volume {volume.id} still has dependent snapshots.")
            if force and not states.can(volume, states.DELETING):
                states.reset(volume, states.ERROR)
            states.require(volume, states.DELETING, exc.InvalidVolume, "Volume")
            for snap in snaps:
                if not states.can(snap, states.DELETING):
                    raise exc.InvalidVolume(f"Snapshot {snap.id} is {snap.status}.")
                states.transition(snap, states.DELETING)
            states.transition(volume, states.DELETING)
            host = states.agent_host(volume.host)
            if host is None:
                states.transition(volume, states.DELETED)
            snap_ids = [x.id for x in snaps]
        if host is None:
            return
        for snap_id in snap_ids:
            self.agents.cast(ctx, host, "delete_snapshot", snapshot_id=snap_id, volume_id=volume_id)
        self.agents.cast(ctx, host, "delete_volume", volume_id=volume_id)

    # -- metadata ----------------------------------------------------------------------------
    def get_metadata(self, ctx: RequestContext, volume_id: str) -> dict[str, str]:
        """The volume's metadata. Raises VolumeNotFound (404)."""
        with self.cloud.db.reader() as s:
            return dict(load(s, ctx, volume_id).metadata_ or {})

    def set_metadata(
        self, ctx: RequestContext, volume_id: str, metadata: Mapping[str, str], replace: bool
    ) -> dict[str, str]:
        """Merge ``metadata`` into the volume's (``POST .../metadata``, ``PUT .../metadata/
        {key}``) or replace it (``PUT .../metadata``); returns the result.

        Raises:
            VolumeNotFound (404).
        """
        with self.cloud.db.transaction() as s:
            volume = load(s, ctx, volume_id, lock=True)
            base = {} if replace else dict(volume.metadata_ or {})
            volume.metadata_ = {**base, **{str(k): str(v) for k, v in metadata.items()}}
            return dict(volume.metadata_)

    def delete_metadata(self, ctx: RequestContext, volume_id: str, key: str) -> None:
        """Remove one key. Raises VolumeNotFound, VolumeMetadataNotFound (404)."""
        with self.cloud.db.transaction() as s:
            volume = load(s, ctx, volume_id, lock=True)
            meta = dict(volume.metadata_ or {})
            if key not in meta:
                raise exc.VolumeMetadataNotFound(volume_id, key)
            del meta[key]
            volume.metadata_ = meta
