"""A moved server's volumes follow it to the destination host (Nova's attachment handling
in ``prep_resize``/``finish_resize``/``confirm_resize``/``revert_resize``,
``pre_live_migration``/``post_live_migration`` and the evacuating ``rebuild_instance``,
over Cinder's attachments API 3.27+/3.44; docs/server-actions.md "Volumes of a moved
server").

For every volume mapping of the server (an attached volume or its boot volume)::

    prepare(dest)   a new attachment of the volume for the same server (Cinder allows a
                    second one for the server it is attached to), updated with the
                    destination host's connector: the export for that host and its
                    ``connection_info``; the old attachment stays (the guest still runs
                    on the source)
    switch          the new attachments completed (``os-complete``), the mapping rows
                    (``block_device_mapping``) point at them with their connection_info
    drop_old        the old attachments deleted (the source's exports gone): after a
                    confirm, a live migration's end, an evacuation
    abort           the new attachments deleted and the rows pointing at the old ones
                    again (with their connection_info): a revert, a failed move
    settle_on(host) an interrupted move settled (``live_migration_recovery``): the
                    rows on the server's attachments on ``host``, the others deleted

A ``MovedVolume`` (kept in the server's stored spec while a resize waits for its confirm)::

    {"bdm_id": int, "volume_id": str, "device_name": str, "boot_index": int | None,
     "old_attachment_id": str, "old_connection_info": dict,
     "attachment_id": str | None, "connection_info": dict | None}

The QEMU guest opens its volumes itself (libiscsi, NBD: ``drivers/qemu_volumes``), so the
destination's "connect" is its QEMU starting with the new ``connection_info`` and the
source's "disconnect" its QEMU ending; the driver needs nothing more.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.db import utcnow
from pocketstack.compute import block_device
from pocketstack.compute.models import BlockDeviceMapping
from pocketstack.compute.rpcapi import ComputeAgentClient
from pocketstack.compute.volume_client import VolumeClient
from pocketstack.compute.volumes import live_bdms

if TYPE_CHECKING:
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)

MovedVolume = dict[str, Any]


class VolumeMoves:
    """The volume half of a move (see the module's docstring); ``cloud`` the ``Cloud``.

    Every call uses the context elevated (a move is the cloud's own work on the user's
    volumes, as Nova's service token). Errors are the volume API's and the agent's."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.db = cloud.db
        self.client = VolumeClient(cloud)
        self.agents = ComputeAgentClient(cloud.bus)

    def prepare(self, ctx: RequestContext, instance_uuid: str, dest: str) -> list[MovedVolume]:
        """New attachments of the server's volumes exported to ``dest`` (the old ones
        kept); [] when it has none. A failure deletes what this made and raises."""
        bdms = [b for b in live_bdms(self.db, instance_uuid) if b.volume_id and b.attachment_id]
        if not bdms:
            return []
        admin = ctx.elevated()
        connector = self.agents.get_volume_connector(admin, dest)
        moved: list[MovedVolume] = []
        try:
            for bdm in bdms:
                entry: MovedVolume = {
                    "bdm_id": bdm.id,
                    "volume_id": bdm.volume_id,
                    "device_name": bdm.device_name,
                    "boot_index": bdm.boot_index,
                    "old_attachment_id": bdm.attachment_id,
                    "old_connection_info": dict(bdm.connection_info or {}),
                    "attachment_id": None,
                    "connection_info": None,
                }
                moved.append(entry)
                entry["attachment_id"] = self.client.attachment_create(
                    admin, str(bdm.volume_id), instance_uuid
                )
                entry["connection_info"] = self.client.attachment_update(
                    admin, entry["attachment_id"], connector, bdm.device_name
                )
        except BaseException:
            self._delete(admin, [m["attachment_id"] for m in moved])
            raise
        return moved

    def block_devices(self, instance_uuid: str, moved: list[MovedVolume]) -> list[dict[str, Any]]:
        """The ``InstanceSpec``'s ``block_devices`` on the destination: the server's
        volumes with the new attachments' ``connection_info``."""
        new = {m["bdm_id"]: m for m in moved}
        rows = live_bdms(self.db, instance_uuid)
        for row in rows:
            if row.id in new:
                row.attachment_id = new[row.id]["attachment_id"]
                row.connection_info = new[row.id]["connection_info"]
        return block_device.block_devices_for_spec(rows)

    def switch(self, ctx: RequestContext, instance_uuid: str, moved: list[MovedVolume]) -> None:
        """The guest runs on the destination: the new attachments completed, the mapping
        rows pointing at them. Idempotent."""
        admin = ctx.elevated()
        for m in moved:
            self.client.attachment_complete(admin, m["attachment_id"])
            self._update_bdm(m["bdm_id"], m["attachment_id"], m["connection_info"])
        self.cloud.compute.volumes.refresh_spec(instance_uuid)

    def drop_old(self, ctx: RequestContext, moved: list[MovedVolume]) -> None:
        """The source no longer uses the volumes: the old attachments deleted (what is
        gone already counts as done; a failure is logged, the attachment stays)."""
        self._delete(ctx.elevated(), [m["old_attachment_id"] for m in moved])

    def abort(self, ctx: RequestContext, instance_uuid: str, moved: list[MovedVolume]) -> None:
        """The move is undone: the new attachments deleted, the rows on the old ones."""
        self._delete(ctx.elevated(), [m["attachment_id"] for m in moved])
        for m in moved:
            self._update_bdm(m["bdm_id"], m["old_attachment_id"], m["old_connection_info"])
        if moved:
            self.cloud.compute.volumes.refresh_spec(instance_uuid)

    def settle_on(self, ctx: RequestContext, instance_uuid: str, host: str) -> None:
        """After an interrupted move (the list of moved volumes lost with the process that
        ran it), from what the volume API has: each mapping points at the server's
        attachment on ``host`` (completed), its other attachments deleted. A volume with
        no attachment on ``host`` is left as it is (logged). Idempotent."""
        admin = ctx.elevated()
        changed = False
        for bdm in live_bdms(self.db, instance_uuid):
            if not bdm.volume_id or not bdm.attachment_id:
                continue
            found = self.client.attachments_of(admin, bdm.volume_id, instance_uuid)
            on_host = [a for a in found if a["host"] == host]
            keep = next((a for a in on_host if a["id"] == bdm.attachment_id), None)
            keep = keep or (on_host[0] if on_host else None)
            if keep is None:
                LOG.warning("%s of %s: no attachment on %s", bdm.volume_id, instance_uuid, host)
                continue
            if keep["id"] != bdm.attachment_id:
                self.client.attachment_complete(admin, keep["id"])
                self._update_bdm(bdm.id, keep["id"], keep["connection_info"])
                changed = True
            self._delete(admin, [a["id"] for a in found if a["id"] != keep["id"]])
        if changed:
            self.cloud.compute.volumes.refresh_spec(instance_uuid)

    # ------------------------------------------------------------------ helpers

    def _delete(self, admin: RequestContext, attachment_ids: list[str | None]) -> None:
        for aid in attachment_ids:
            if not aid:
                continue
            try:
                self.client.attachment_delete(admin, aid)
            except errors.NotFound:
                LOG.info("attachment %s: already gone", aid)
            except Exception:  # kept; the volume's attachments show it to the admin
                LOG.exception("deleting attachment %s failed", aid)

    def _update_bdm(self, bdm_id: int, attachment_id: str, info: dict[str, Any] | None) -> None:
        with self.db.transaction() as s:
            s.execute(
                sa.update(BlockDeviceMapping)
                .where(BlockDeviceMapping.id == bdm_id)
                .values(attachment_id=attachment_id, connection_info=info, updated_at=utcnow())
            )
