"""Server volumes: attach, detach, list (API reference "Servers with volume attachments
(servers, os-volume_attachments)"), and the block devices of a build and of a delete.

``cloud.compute.volumes`` (``Volumes``) runs Nova's new-style attach flow in the controller,
with the volume API as its Cinder (``volume_client``; docs/block-storage.md "Nova's side").
Each is a ``tasks.Workflow`` whose steps are events of the server's action (``attach_volume``
/ ``detach_volume``), undone in reverse order when a later step fails::

    attach:  compute__reserve_volume        attachment created (volume reserved)
             compute__initialize_connection the host's connector (agent call), the export
                                            (connection_info), the BDM row written
             compute_attach_volume          the agent hot-plugs the disk (call)
             compute__complete_attachment   volume in-use; the server's spec updated
    detach:  compute_detach_volume          the agent unplugs the disk (call)
             compute__delete_attachment     attachment deleted, BDM row deleted, spec updated

The build (the conductor's ``compute__prepare_block_device``, ``prepare_for_build``)
creates the volumes a mapping asks for, waits until they are ``available`` (deadline
``VOLUME_CREATE_TIMEOUT`` s), attaches every volume to the chosen host and returns the
``block_devices`` of the agent's ``InstanceSpec``; ``release_for_build`` undoes it (the
attachments deleted, the volumes it created deleted). A delete's ``compute__detach_volumes``
(``detach_all``) deletes the attachments and the ``delete_on_termination`` volumes.
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.db import Database, utcnow
from pocketstack.compute import actions, block_device, states, tasks
from pocketstack.compute.exceptions import (
    InstanceNotReady,
    InvalidVolume,
    VolumeBDMNotFound,
    VolumeNotCreated,
)
from pocketstack.compute.models import BlockDeviceMapping, Instance
from pocketstack.compute.request_spec import GIB, ImageMeta
from pocketstack.compute.rpcapi import ComputeAgentClient
from pocketstack.compute.server_actions import check_lock
from pocketstack.compute.volume_client import VolumeClient

if TYPE_CHECKING:
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)

EV_RESERVE_VOLUME = "compute__reserve_volume"
EV_INITIALIZE_CONNECTION = "compute__initialize_connection"
EV_ATTACH_VOLUME = "compute_attach_volume"
EV_COMPLETE_ATTACHMENT = "compute__complete_attachment"
EV_DETACH_VOLUME = "compute_detach_volume"
EV_DELETE_ATTACHMENT = "compute__delete_attachment"

#: seconds a build waits for the volumes it created to become ``available``
VOLUME_CREATE_TIMEOUT = 600.0
#: seconds between two reads of a volume's status while waiting
VOLUME_POLL_INTERVAL = 0.2


@dataclasses.dataclass(kw_only=True)
class AttachTask(tasks.Task):
    """One attach or detach: the server's ``host``, the ``volume_id``, the ``device``, and
    what the steps learned (``attachment_id``, ``connection_info``, ``bdm_id``)."""

    host: str
    volume_id: str
    device: str | None = None
    attachment_id: str | None = None
    connection_info: dict[str, Any] | None = None
    bdm_id: int | None = None
    delete_on_termination: bool = False
    tag: str | None = None


def live_bdms(db: Database, instance_uuid: str) -> list[BlockDeviceMapping]:
    """The server's mappings that are not deleted, boot disk first (detached rows)."""
    with db.reader() as s:
        return list(
            s.scalars(
                sa.select(BlockDeviceMapping)
                .where(
                    BlockDeviceMapping.instance_uuid == instance_uuid,
                    BlockDeviceMapping.deleted.is_(False),
                )
                .order_by(BlockDeviceMapping.id)
            )
        )


def _soft_delete(db: Database, bdm_id: int) -> None:
    with db.transaction() as s:
        row = s.get(BlockDeviceMapping, bdm_id)
        if row is not None and not row.deleted:
            row.deleted, row.deleted_at = True, utcnow()


def _ignore_gone(
    call: Callable[[RequestContext, str], object], ctx: RequestContext, id_: str
) -> None:
    """Run a cleanup call on ``id_``; what is gone already (404) counts as done."""
    try:
        call(ctx, id_)
    except errors.NotFound:
        LOG.info("%s: already gone", id_)


class Volumes:
    """``cloud.compute.volumes``: a server's volumes (see the module's docstring)."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.db: Database = cloud.db
        self.client = VolumeClient(cloud)
        self.agents = ComputeAgentClient(cloud.bus)
        self._lock = threading.Lock()  # one device choice at a time in this controller
        self.attach_flow: tasks.Workflow[AttachTask] = tasks.Workflow(
            "attach_volume",
            [
                tasks.Step(EV_RESERVE_VOLUME, self._reserve, rollback=self._unreserve),
                tasks.Step(EV_INITIALIZE_CONNECTION, self._connect, rollback=self._forget),
                tasks.Step(EV_ATTACH_VOLUME, self._plug, rollback=self._unplug),
                tasks.Step(EV_COMPLETE_ATTACHMENT, self._complete),
            ],
        )
        self.detach_flow: tasks.Workflow[AttachTask] = tasks.Workflow(
            "detach_volume",
            [
                tasks.Step(EV_DETACH_VOLUME, self._unplug),
                tasks.Step(EV_DELETE_ATTACHMENT, self._delete_attachment),
            ],
        )

    # ------------------------------------------------------------------ reads

    def list(self, ctx: RequestContext, server_id: str) -> builtins.list[BlockDeviceMapping]:
        """The volumes attached to a visible server (``GET .../os-volume_attachments``).

        Raises:
            ServerNotFound.
        """
        self.cloud.compute.servers.get(ctx, server_id)
        return [b for b in live_bdms(self.db, server_id) if b.volume_id]

    def get(self, ctx: RequestContext, server_id: str, volume_id: str) -> BlockDeviceMapping:
        """One attached volume of a visible server.

        Raises:
            ServerNotFound; VolumeBDMNotFound (404): the volume is not attached to it.
        """
        for bdm in self.list(ctx, server_id):
            if bdm.volume_id == volume_id:
                return bdm
        raise VolumeBDMNotFound.for_volume(volume_id)

    def attached(self, uuids: builtins.list[str]) -> dict[str, builtins.list[BlockDeviceMapping]]:
        """The attached volumes of each server of ``uuids`` (for the server views)."""
        found: dict[str, builtins.list[BlockDeviceMapping]] = {}
        if not uuids:
            return found
        with self.db.reader() as s:
            rows = s.scalars(
                sa.select(BlockDeviceMapping)
                .where(
                    BlockDeviceMapping.instance_uuid.in_(uuids),
                    BlockDeviceMapping.deleted.is_(False),
                    BlockDeviceMapping.volume_id.is_not(None),
                )
                .order_by(BlockDeviceMapping.id)
            )
            for row in rows:
                found.setdefault(row.instance_uuid, []).append(row)
        return found

    # ------------------------------------------------------------------ attach, detach

    def attach(
        self,
        ctx: RequestContext,
        server_id: str,
        volume_id: str,
        device: str | None = None,
        tag: str | None = None,
    ) -> BlockDeviceMapping:
        """Attach a volume to a server (``POST .../os-volume_attachments``); returns the
        mapping with its device name once the guest has the disk; ``tag``: its device tag
        (2.49, kept on the mapping).

        Raises:
            ServerNotFound; VolumeNotFound (404, another project's volume too);
            InvalidVolume (400: not ``available``, another availability zone, attached
            already); BadRequest (a device name invalid or in use); InstanceInvalidState /
            InstanceNotReady (409); the agent's and volume API's errors (each step undone).
        """
        server = self._server_for(ctx, server_id, "attach_volume")
        volume = self.client.get(ctx, volume_id)
        if volume["status"] != "available":
            raise InvalidVolume.because(
                f"volume {volume_id} status must be 'available', not '{volume['status']}'"
            )
        if volume["availability_zone"] and volume["availability_zone"] != (
            server.availability_zone or volume["availability_zone"]
        ):
            raise InvalidVolume.because("Instance and volume not in same availability_zone")
        used = {b.device_name for b in live_bdms(self.db, server_id) if b.device_name}
        task = AttachTask(
            db=self.db,
            ctx=ctx,
            instance_uuid=server_id,
            host=str(server.host),
            volume_id=volume_id,
            device=block_device.next_device_name(used, device),
            tag=tag,
        )
        self._run(ctx, server_id, "attach_volume", self.attach_flow, task)
        with self.db.reader() as s:
            row = s.get(BlockDeviceMapping, task.bdm_id)
        assert row is not None
        return row

    def detach(self, ctx: RequestContext, server_id: str, volume_id: str) -> None:
        """Detach a volume (``DELETE .../os-volume_attachments/{volume_id}``): the guest
        loses the disk, the attachment goes (volume ``available``).

        Raises:
            ServerNotFound; VolumeBDMNotFound (404: not attached to this server);
            InstanceInvalidState/InstanceNotReady (409); BadRequest (the boot volume);
            the agent's errors (the volume stays attached).
        """
        server = self._server_for(ctx, server_id, "detach_volume")
        bdm = self.get(ctx, server_id, volume_id)
        if bdm.boot_index == 0:
            raise errors.BadRequest("Can't detach root device volume")
        task = AttachTask(
            db=self.db,
            ctx=ctx,
            instance_uuid=server_id,
            host=str(server.host),
            volume_id=volume_id,
            device=bdm.device_name,
            attachment_id=bdm.attachment_id,
            bdm_id=bdm.id,
        )
        self._run(ctx, server_id, "detach_volume", self.detach_flow, task)

    def _server_for(self, ctx: RequestContext, server_id: str, action: str) -> Instance:
        server = self.cloud.compute.servers.get(ctx, server_id)
        check_lock(ctx, server)  # Nova's check_instance_lock
        states.check_action(server, action)
        if not server.host:
            raise InstanceNotReady(f"Instance {server_id} is not ready (it has no host).")
        return server

    def _run(
        self,
        ctx: RequestContext,
        server_id: str,
        action: str,
        flow: tasks.Workflow[AttachTask],
        task: AttachTask,
    ) -> None:
        """Run ``flow`` as the server's instance action ``action`` (finished, ``Error``
        when a step failed)."""
        actions.start_action(self.db, ctx, server_id, action)
        try:
            flow.run(task)
        except BaseException:
            actions.finish_action(self.db, ctx, server_id, error=True)
            raise
        actions.finish_action(self.db, ctx, server_id)

    # -- the steps
    def _reserve(self, task: AttachTask) -> None:
        task.attachment_id = self.client.attachment_create(
            task.ctx, task.volume_id, task.instance_uuid
        )

    def _unreserve(self, task: AttachTask) -> None:
        if task.attachment_id:
            aid = task.attachment_id
            _ignore_gone(self.client.attachment_delete, task.ctx, aid)

    def _connect(self, task: AttachTask) -> None:
        connector = self.agents.get_volume_connector(task.ctx, task.host)
        task.connection_info = self.client.attachment_update(
            task.ctx, str(task.attachment_id), connector, task.device
        )
        with self._lock, self.db.transaction() as s:
            used = s.scalars(
                sa.select(BlockDeviceMapping.device_name).where(
                    BlockDeviceMapping.instance_uuid == task.instance_uuid,
                    BlockDeviceMapping.deleted.is_(False),
                )
            )
            if task.device in set(used):  # a concurrent attach took it meanwhile
                raise errors.BadRequest(f"The supplied device path ({task.device}) is in use.")
            row = BlockDeviceMapping(
                instance_uuid=task.instance_uuid,
                source_type="volume",
                destination_type="volume",
                device_name=task.device,
                volume_id=task.volume_id,
                attachment_id=task.attachment_id,
                connection_info=task.connection_info,
                delete_on_termination=task.delete_on_termination,
                disk_bus="virtio",
                tag=task.tag,
            )
            s.add(row)
            s.flush()
            task.bdm_id = row.id

    def _forget(self, task: AttachTask) -> None:
        if task.bdm_id is not None:
            _soft_delete(self.db, task.bdm_id)

    def _plug(self, task: AttachTask) -> None:
        with self.db.reader() as s:
            row = s.get(BlockDeviceMapping, task.bdm_id)
        assert row is not None
        self.agents.attach_volume(
            task.ctx, task.host, task.instance_uuid, block_device.spec_entry(row)
        )

    def _unplug(self, task: AttachTask) -> None:
        self.agents.detach_volume(task.ctx, task.host, task.instance_uuid, task.volume_id)

    def _complete(self, task: AttachTask) -> None:
        self.client.attachment_complete(task.ctx, str(task.attachment_id))
        self.refresh_spec(task.instance_uuid)

    def _delete_attachment(self, task: AttachTask) -> None:
        if task.attachment_id:
            aid = task.attachment_id
            _ignore_gone(self.client.attachment_delete, task.ctx, aid)
        if task.bdm_id is not None:
            _soft_delete(self.db, task.bdm_id)
        self.refresh_spec(task.instance_uuid)

    def refresh_spec(self, instance_uuid: str) -> None:
        """Write the server's current volumes into its stored ``InstanceSpec``
        (``block_devices``), which power-on and hard reboot start the guest from."""
        devices = block_device.block_devices_for_spec(live_bdms(self.db, instance_uuid))
        with self.db.transaction() as s:
            inst = s.get(Instance, instance_uuid)
            if inst is not None and inst.spec is not None:
                inst.spec = {**inst.spec, "block_devices": devices}

    # ------------------------------------------------------------------ build and delete

    def check_request(
        self,
        ctx: RequestContext,
        bdms: builtins.list[block_device.BlockDeviceRequest],
        image: ImageMeta,
        zone: str | None,
        count: int,
    ) -> None:
        """Check a boot request's volume mappings before anything is written (Nova's
        ``_validate_bdm``); fills in the size of a volume made from the image.

        Raises:
            errors.BadRequest: an existing volume for several servers, one that cannot be
                read, a blank volume without a size (a snapshot's is the snapshot's size), a
                volume smaller than
                its image; InvalidVolume (400): an existing volume not ``available`` or in
                another availability zone than the one asked for.
        """
        for bdm in bdms:
            if bdm["destination_type"] != "volume":
                continue
            source = bdm["source_type"]
            if source == "volume":
                self._check_existing(ctx, str(bdm["uuid"]), zone, count)
            elif source == "image":
                bdm["volume_size"] = _image_volume_size(bdm, image)
            elif source == "blank" and bdm["volume_size"] is None:
                raise block_device.invalid("a blank volume needs its volume_size.")

    def _check_existing(
        self, ctx: RequestContext, volume_id: str, zone: str | None, count: int
    ) -> None:
        if count > 1:
            raise errors.BadRequest("Cannot attach one or more volumes to multiple instances")
        try:
            volume = self.client.get(ctx, volume_id)
        except errors.NotFound:
            raise block_device.invalid(f"failed to get volume {volume_id}.") from None
        if volume["status"] != "available":
            raise InvalidVolume.because(
                f"volume {volume_id} status must be 'available', not '{volume['status']}'"
            )
        if zone and volume["availability_zone"] and volume["availability_zone"] != zone:
            raise InvalidVolume.because(
                f"Server and volumes are not in the same availability zone. Server is in: "
                f"{zone}. Volumes are in: {volume['availability_zone']}"
            )

    def record_requested(
        self, session: Any, instance_uuid: str, bdms: builtins.list[block_device.BlockDeviceRequest]
    ) -> None:
        """Write a boot request's volume mappings for a new server (in the caller's
        transaction); the build creates and attaches them (``prepare_for_build``)."""
        for req in bdms:
            if req["destination_type"] != "volume":
                continue
            source = req["source_type"]
            session.add(
                BlockDeviceMapping(
                    instance_uuid=instance_uuid,
                    source_type=source,
                    destination_type="volume",
                    boot_index=req["boot_index"],
                    device_name=req["device_name"],
                    volume_id=req["uuid"] if source == "volume" else None,
                    snapshot_id=req["uuid"] if source == "snapshot" else None,
                    image_id=req["uuid"] if source == "image" else None,
                    volume_size=req["volume_size"],
                    guest_format=req["guest_format"],
                    disk_bus=req["disk_bus"] or "virtio",
                    delete_on_termination=req["delete_on_termination"],
                    tag=req["tag"],
                )
            )

    def prepare_for_build(
        self, ctx: RequestContext, inst: Instance, zone: str | None, host: str
    ) -> builtins.list[dict[str, Any]]:
        """Create the volumes the server's mappings ask for, wait until they are available,
        attach every volume to ``host``; the ``InstanceSpec``'s ``block_devices``.

        A failure undoes what this did (``release_for_build``) and raises.

        Raises:
            VolumeNotCreated (a volume failed or was not ready in time); the volume API's
            and the agent's errors.
        """
        bdms = [b for b in live_bdms(self.db, inst.uuid) if b.destination_type == "volume"]
        if not bdms:
            return []
        try:
            for bdm in bdms:
                if bdm.volume_id is None:
                    self._create_volume(ctx, inst, bdm, zone)
            self._wait_available(ctx, [b for b in bdms if b.source_type != "volume"])
            connector = self.agents.get_volume_connector(ctx, host)
            used: set[str] = set()
            for bdm in sorted(bdms, key=lambda b: (b.boot_index != 0, b.id)):
                self._attach_for_build(ctx, inst.uuid, bdm, connector, used)
        except BaseException:
            self.release_for_build(ctx, inst.uuid)
            raise
        return block_device.block_devices_for_spec(live_bdms(self.db, inst.uuid))

    def _create_volume(
        self, ctx: RequestContext, inst: Instance, bdm: BlockDeviceMapping, zone: str | None
    ) -> None:
        volume = self.client.create(
            ctx,
            bdm.volume_size,
            f"{inst.name}-{bdm.source_type}-{bdm.id}",
            image_id=bdm.image_id,
            snapshot_id=bdm.snapshot_id,
            availability_zone=zone,
        )
        self._update_bdm(bdm.id, volume_id=volume["id"])
        bdm.volume_id = volume["id"]

    def _wait_available(self, ctx: RequestContext, bdms: builtins.list[BlockDeviceMapping]) -> None:
        """Wait for the volumes the build created (Nova's ``_await_block_device_map_created``).

        Raises:
            VolumeNotCreated: one went ``error`` or was not ready in time.
        """
        deadline = time.monotonic() + VOLUME_CREATE_TIMEOUT
        waiting = {str(b.volume_id) for b in bdms}
        while waiting:
            for volume_id in sorted(waiting):
                status = self.client.get(ctx, volume_id)["status"]
                if status == "available":
                    waiting.discard(volume_id)
                elif status.startswith("error"):
                    raise VolumeNotCreated(f"Volume {volume_id} could not be created: {status}")
            if waiting and time.monotonic() >= deadline:
                raise VolumeNotCreated(
                    f"Volume(s) {', '.join(sorted(waiting))} did not finish being created even "
                    f"after we waited {VOLUME_CREATE_TIMEOUT:.0f} seconds."
                )
            if waiting:
                time.sleep(VOLUME_POLL_INTERVAL)

    def _attach_for_build(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        bdm: BlockDeviceMapping,
        connector: dict[str, Any],
        used: set[str],
    ) -> None:
        volume_id = str(bdm.volume_id)
        if bdm.boot_index == 0:
            device = block_device.ROOT_DEVICE
        else:
            device = block_device.next_device_name(used, bdm.device_name)
        used.add(device)
        attachment_id = self.client.attachment_create(ctx, volume_id, instance_uuid)
        self._update_bdm(bdm.id, attachment_id=attachment_id, device_name=device)
        info = self.client.attachment_update(ctx, attachment_id, connector, device)
        self.client.attachment_complete(ctx, attachment_id)
        self._update_bdm(bdm.id, connection_info=info)

    def _update_bdm(self, bdm_id: int, **values: Any) -> None:
        with self.db.transaction() as s:
            s.execute(
                sa.update(BlockDeviceMapping)
                .where(BlockDeviceMapping.id == bdm_id)
                .values(**values, updated_at=utcnow())
            )

    def release_for_build(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Undo a build's block devices (idempotent): every attachment deleted, every
        volume the build created deleted (those given by the user are left, ``available``);
        the rows keep their request so the step can run again."""
        elevated = ctx.elevated()
        for bdm in live_bdms(self.db, instance_uuid):
            if bdm.attachment_id:
                aid = bdm.attachment_id
                _ignore_gone(self.client.attachment_delete, elevated, aid)
                self._update_bdm(bdm.id, attachment_id=None, connection_info=None)
            if bdm.volume_id and bdm.source_type != "volume":
                vid = bdm.volume_id
                _ignore_gone(self.client.delete, elevated, vid)
                self._update_bdm(bdm.id, volume_id=None)

    def detach_all(self, ctx: RequestContext, instance_uuid: str) -> None:
        """A deleted server's volumes (its guest is gone): attachments deleted, the
        ``delete_on_termination`` volumes deleted, the mappings deleted; with a resize
        or migration waiting for its confirm, the other host's attachments too
        (``volume_moves``). Idempotent."""
        elevated = ctx.elevated()
        inst = actions.load_instance(self.db, instance_uuid)
        moving = ((inst.spec or {}).get("resize") or {}) if inst is not None else {}
        for moved in moving.get("volumes") or []:
            for aid in (moved.get("attachment_id"), moved.get("old_attachment_id")):
                if aid:
                    _ignore_gone(self.client.attachment_delete, elevated, aid)
        for bdm in live_bdms(self.db, instance_uuid):
            if bdm.attachment_id:
                aid = bdm.attachment_id
                _ignore_gone(self.client.attachment_delete, elevated, aid)
            if bdm.volume_id and bdm.delete_on_termination:
                vid = bdm.volume_id
                _ignore_gone(self.client.delete, elevated, vid)
            _soft_delete(self.db, bdm.id)

    def extend(self, instance_uuid: str, volume_id: str) -> bool:
        """The external event ``volume-extended``: tell the server's agent to resize the
        guest's disk to the volume's new size (a cast); whether the volume is attached."""
        inst = actions.load_instance(self.db, instance_uuid)
        bdm = next((b for b in live_bdms(self.db, instance_uuid) if b.volume_id == volume_id), None)
        if inst is None or inst.deleted or not inst.host or bdm is None:
            return False
        ctx = RequestContext.system()
        size = self.client.get(ctx, volume_id)["size"]
        self.agents.extend_volume(ctx, inst.host, instance_uuid, volume_id, size * 1024**3)
        return True


def _image_volume_size(bdm: block_device.BlockDeviceRequest, image: ImageMeta) -> int:
    """The size (GiB) of a volume made from ``image``: the one asked for, else what the
    image needs (its ``min_disk``, its virtual size rounded up, at least 1).

    Raises:
        errors.BadRequest: the size asked for is smaller than the image (Nova's message).
    """
    size = int(image.get("virtual_size") or image.get("size") or 0)
    needed = max(int(image.get("min_disk") or 0), -(-size // GIB), 1)
    asked = bdm["volume_size"]
    if asked is None:
        return needed
    if asked < needed:
        raise errors.BadRequest(
            "Volume is smaller than the minimum size specified in image metadata. Volume "
            f"size is {asked * GIB} bytes, minimum size is {needed * GIB} bytes."
        )
    return asked
