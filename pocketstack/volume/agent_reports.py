"""What the volume agents report and ask, answered by the controller (topic
``volume_server``, ``rpcapi.SERVER_MESSAGES``; docs/block-storage.md, "Bus" and "Result
casts and host state, field by field").

A volume agent holds no database credentials (ARCHITECTURE.md); every controller serves
``VolumeAgentReports``:

- ``report_state`` (cast): the heartbeat and capabilities of one storage host's backend:
  its ``cinder-volume`` row.
- ``get_host_state`` (call): what the controller says the host holds (volumes, snapshots,
  backups, live attachments with their states), which the agent converges to.
- the result casts (``volume_created``, ``volume_deleted``, ``volume_extended``,
  ``snapshot_created``, ``snapshot_deleted``, ``volume_uploaded``, ``backup_finished``):
  the outcome of one operation, written through ``states.transition``. A result the table
  does not allow (a stale or repeated cast) is logged and dropped.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.volume import states
from pocketstack.volume.models import Backup, Snapshot, Volume, VolumeAttachment
from pocketstack.volume.services import VOLUME

if TYPE_CHECKING:
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)


class VolumeAgentReports:
    """The controller's handlers of the volume agents' messages (see the module docstring)."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.db = cloud.db

    def report_state(self, ctx: RequestContext, service: dict[str, Any]) -> None:
        """Record a heartbeat: the host's ``cinder-volume`` row with its zone, backend
        (``<host>@<backend>``) and capabilities.

        Raises:
            BadRequest (400): no ``host``.
        """
        host = str(service.get("host") or "")
        if not host:
            raise errors.BadRequest("report_state: no host.")
        zone = str(service.get("availability_zone") or self.cloud.conf.storage_availability_zone)
        backend = str(service.get("backend") or f"{host}@file")
        caps = dict(service.get("capabilities") or {})
        self.cloud.volume.services.heartbeat(host, VOLUME, zone, backend, caps)

    def get_host_state(self, ctx: RequestContext, host: str) -> dict[str, Any]:
        """Every volume (not deleted) whose Cinder host is on ``host``, their snapshots, the
        backups made on ``host`` and the live attachments (``attaching``/``attached``)."""
        with self.db.reader() as s:
            on_host = sa.or_(Volume.host.like(f"{host}@%"), Volume.host == host)
            vols = list(s.scalars(sa.select(Volume).where(on_host, Volume.deleted.is_(False))))
            ids = [v.id for v in vols]
            snaps = s.scalars(
                sa.select(Snapshot).where(Snapshot.volume_id.in_(ids), Snapshot.deleted.is_(False))
            )
            backups = s.scalars(
                sa.select(Backup).where(
                    sa.or_(Backup.host == host, Backup.volume_id.in_(ids)),
                    Backup.deleted.is_(False),
                )
            )
            atts = s.scalars(
                sa.select(VolumeAttachment).where(
                    VolumeAttachment.volume_id.in_(ids),
                    VolumeAttachment.attach_status.in_((states.ATTACHING, "attached")),
                )
            )
            return {
                "volumes": [
                    {
                        "id": v.id,
                        "size": v.size,
                        "status": v.status,
                        "previous_status": v.previous_status,
                    }
                    for v in vols
                ],
                "snapshots": [
                    {"id": x.id, "volume_id": x.volume_id, "status": x.status} for x in snaps
                ],
                "backups": [
                    {"id": b.id, "volume_id": b.volume_id, "status": b.status} for b in backups
                ],
                "attachments": [
                    {
                        "id": a.id,
                        "volume_id": a.volume_id,
                        "attach_status": a.attach_status,
                        "connection_info": a.connection_info,
                    }
                    for a in atts
                ],
            }

    # -- result casts ------------------------------------------------------------------------
    def _write(
        self, model: Any, row_id: str, status: str, fault: str | None, **values: Any
    ) -> bool:
        """Move the row to ``status`` (and set ``values``); False when it is gone or the
        table refuses (logged)."""
        with self.db.transaction() as s:
            row = s.get(model, str(row_id))
            if row is None or row.deleted:
                LOG.info("%s %s: result %s for a row that is gone", model.__name__, row_id, status)
                return False
            try:
                states.transition(row, status)
            except errors.InvalidState as err:
                LOG.warning("dropped a stale agent result: %s", err)
                return False
            for key, value in values.items():
                setattr(row, key, value)
            if fault and hasattr(row, "fault"):
                row.fault = fault
            if fault:
                LOG.warning("%s %s went %s: %s", model.__name__, row_id, status, fault)
            return True

    def volume_created(
        self,
        ctx: RequestContext,
        volume_id: str,
        status: str,
        fault: str | None = None,
        size: int | None = None,
        bootable: bool | None = None,
        provider_location: str | None = None,
        **_: Any,
    ) -> None:
        """``creating`` -> ``available`` (its ``provider_location``, ``bootable`` when the
        agent says so) or ``error`` with the fault."""
        values: dict[str, Any] = {}
        if status == states.AVAILABLE:
            if provider_location:
                values["provider_location"] = provider_location
            if bootable:
                values["bootable"] = True
        self._write(Volume, volume_id, status, fault, **values)

    def volume_deleted(
        self, ctx: RequestContext, volume_id: str, status: str, fault: str | None = None, **_: Any
    ) -> None:
        """``deleting`` -> ``deleted`` (soft-deleted) or ``error_deleting``."""
        self._write(Volume, volume_id, status, fault)

    def volume_extended(
        self,
        ctx: RequestContext,
        volume_id: str,
        status: str,
        new_size: int | None = None,
        fault: str | None = None,
        **_: Any,
    ) -> None:
        """``extending`` -> its previous status (``available``/``in-use``) with
        ``new_size``, or ``error_extending`` (size: what the agent says the file has). An
        attached volume's server is told (Nova's ``volume-extended`` external event)."""
        with self.db.reader() as s:
            volume = s.get(Volume, str(volume_id))
            if volume is None:
                return
            back = volume.previous_status or states.AVAILABLE
        values: dict[str, Any] = {"previous_status": None, "previous_size": None}
        if new_size is not None:
            values["size"] = int(new_size)
        target = back if status == states.AVAILABLE else states.ERROR_EXTENDING
        if self._write(Volume, volume_id, target, fault, **values) and target == states.IN_USE:
            self._notify_extended(ctx, volume_id)

    def _notify_extended(self, ctx: RequestContext, volume_id: str) -> None:
        """Tell Compute the attached servers' disk grew (best effort, logged)."""
        with self.db.reader() as s:
            servers = s.scalars(
                sa.select(VolumeAttachment.instance_uuid).where(
                    VolumeAttachment.volume_id == volume_id,
                    VolumeAttachment.attach_status == "attached",
                )
            ).all()
        if not servers:
            return
        from pocketstack.compute.external_events import ServerExternalEvent

        events = [ServerExternalEvent("volume-extended", u, tag=volume_id) for u in servers if u]
        try:
            self.cloud.compute.server_external_events.create(RequestContext.system(), events)
        except Exception:  # Compute's trouble must not undo the extend; logged
            LOG.exception("volume-extended events for %s failed", volume_id)

    def snapshot_created(
        self,
        ctx: RequestContext,
        snapshot_id: str,
        status: str,
        fault: str | None = None,
        **_: Any,
    ) -> None:
        """``creating`` -> ``available`` (progress 100%) or ``error``."""
        values = {"progress": "100%"} if status == states.AVAILABLE else {}
        self._write(Snapshot, snapshot_id, status, fault, **values)

    def snapshot_deleted(
        self,
        ctx: RequestContext,
        snapshot_id: str,
        status: str,
        fault: str | None = None,
        **_: Any,
    ) -> None:
        """``deleting`` -> ``deleted`` or ``error_deleting``."""
        self._write(Snapshot, snapshot_id, status, fault)

    def volume_uploaded(
        self,
        ctx: RequestContext,
        volume_id: str,
        status: str,
        image_id: str | None = None,
        fault: str | None = None,
        **_: Any,
    ) -> None:
        """``uploading`` -> its previous status, whatever the outcome (Cinder's); on failure
        the queued image is deleted."""
        with self.db.reader() as s:
            volume = s.get(Volume, str(volume_id))
            if volume is None:
                return
            back = volume.previous_status or states.AVAILABLE
        self._write(Volume, volume_id, back, None, previous_status=None)
        if status != states.AVAILABLE and image_id:
            LOG.warning("upload of volume %s to image %s failed: %s", volume_id, image_id, fault)
            try:
                self.cloud.image.images.delete(RequestContext.system(), image_id)
            except errors.PocketError as err:
                LOG.info("image %s of a failed upload: %s", image_id, err)

    def backup_finished(self, ctx: RequestContext, **args: Any) -> None:
        """The backups family's result (``cloud.volume.backups.finished``, when the
        backups family is installed; else logged)."""
        backups = getattr(self.cloud.volume, "backups", None)
        if backups is None:
            LOG.warning("backup_finished without a backups family: %s", args)
            return
        backups.finished(ctx, **args)
