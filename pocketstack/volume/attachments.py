"""Volume attachments (Block Storage API v3 reference, "Attachments (attachments)",
microversions 3.27+, ``os-complete`` 3.44+): what Nova's attach and boot-from-volume flows
call in-process as ``cloud.volume.attachments.*`` (docs/block-storage.md, "Nova's side"),
and what ``/attachments`` serves.

    create(ctx, volume_id, instance_uuid)   volume available -> reserved   (attachment reserved)
    update(ctx, attachment_id, connector)   -> attaching; the agent exports the volume
                                            (initialize_connection) -> connection_info
    complete(ctx, attachment_id)            -> in-use                      (attachment attached)
    delete(ctx, attachment_id)              the agent removes the export (terminate_connection);
                                            the volume goes available with its last attachment

The agent calls run outside any database transaction; a failed export leaves the attachment
and volume as they were and raises (the caller, Nova, deletes the attachment).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import utcnow
from pocketstack.volume import exceptions as exc
from pocketstack.volume import states, volumes
from pocketstack.volume.models import Volume, VolumeAttachment
from pocketstack.volume.rpcapi import VolumeAgentClient

if TYPE_CHECKING:
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)

ATTACHED = "attached"
DETACHED = "detached"
#: the statuses of an attachment whose export may exist on the agent
EXPORTED = (states.ATTACHING, ATTACHED)


@dataclass(frozen=True)
class AttachmentFilters:
    """``GET /attachments[/detail]`` filters."""

    volume_id: str | None = None
    instance_id: str | None = None
    status: str | None = None
    all_tenants: bool = False
    limit: int | None = None


def load(s: Session, ctx: RequestContext, attachment_id: str) -> tuple[VolumeAttachment, Volume]:
    """The attachment and its volume, if the caller may see the volume.

    Raises:
        VolumeAttachmentNotFound (404).
    """
    att = s.get(VolumeAttachment, str(attachment_id))
    if att is None:
        raise exc.VolumeAttachmentNotFound(attachment_id)
    try:
        volume = volumes.load(s, ctx, att.volume_id)
    except exc.VolumeNotFound:
        raise exc.VolumeAttachmentNotFound(attachment_id) from None
    return att, volume


def _same_instance_move(s: Session, volume: Volume, instance_uuid: str | None) -> bool:
    """Whether ``volume`` (``in-use``, ``reserved`` or ``attaching``) has attachments and all
    of them are ``instance_uuid``'s: the case of a server moving to another host."""
    if not instance_uuid or volume.status not in (
        states.IN_USE,
        states.RESERVED,
        states.ATTACHING,
    ):
        return False
    owners = set(
        s.scalars(
            sa.select(VolumeAttachment.instance_uuid).where(VolumeAttachment.volume_id == volume.id)
        )
    )
    return owners == {instance_uuid}


class Attachments:
    """``cloud.volume.attachments``."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.agents = VolumeAgentClient(cloud.bus)

    def get(self, ctx: RequestContext, attachment_id: str) -> VolumeAttachment:
        """One attachment. Raises VolumeAttachmentNotFound (404)."""
        with self.cloud.db.reader() as s:
            return load(s, ctx, attachment_id)[0]

    def list(self, ctx: RequestContext, filters: AttachmentFilters) -> Sequence[VolumeAttachment]:
        """The attachments of the caller's project's volumes (an admin's ``all_tenants``:
        all), newest first."""
        with self.cloud.db.reader() as s:
            query = sa.select(VolumeAttachment).join(
                Volume, Volume.id == VolumeAttachment.volume_id
            )
            if not (ctx.is_admin and filters.all_tenants):
                query = query.where(Volume.project_id == ctx.project_id)
            if filters.volume_id:
                query = query.where(VolumeAttachment.volume_id == filters.volume_id)
            if filters.instance_id:
                query = query.where(VolumeAttachment.instance_uuid == filters.instance_id)
            if filters.status:
                query = query.where(VolumeAttachment.attach_status == filters.status)
            query = query.order_by(VolumeAttachment.created_at.desc(), VolumeAttachment.id)
            if filters.limit is not None:
                query = query.limit(filters.limit)
            return list(s.scalars(query))

    def create(
        self,
        ctx: RequestContext,
        volume_id: str,
        instance_uuid: str | None,
        connector: dict[str, Any] | None = None,
        mode: str = "rw",
    ) -> VolumeAttachment:
        """Reserve ``volume_id`` for ``instance_uuid``: a ``reserved`` attachment, the
        volume ``reserved``. With ``connector`` the volume is exported at once (``update``),
        as Cinder does.

        A volume already attached to ``instance_uuid`` alone may get a second attachment
        for the same server (Cinder's override for Nova's moves: the new host's attachment
        made before the old one goes); its status stays.

        Raises:
            VolumeNotFound (404). InvalidVolume (400): the volume is not ``available``
            (no multiattach here) nor attached only to ``instance_uuid``. InvalidInput
            (400): ``mode`` not ``rw``/``ro``.
        """
        if mode not in ("rw", "ro"):
            raise exc.InvalidInput(f"Invalid attach mode {mode!r}: must be rw or ro.")
        with self.cloud.db.transaction() as s:
            volume = volumes.load(s, ctx, volume_id, lock=True)
            if volume.status == states.AVAILABLE:
                states.transition(volume, states.RESERVED)
            elif not _same_instance_move(s, volume, instance_uuid):
                raise exc.InvalidVolume(
                    f"Volume {volume.id} status must be available or downloading to reserve, "
                    f"but the current status is {volume.status}."
                )
            att = VolumeAttachment(
                volume_id=volume.id,
                instance_uuid=instance_uuid,
                attach_mode=mode,
                attach_status=states.RESERVED,
            )
            s.add(att)
            s.flush()
        if connector:
            return self.update(ctx, att.id, connector)
        return att

    def update(
        self, ctx: RequestContext, attachment_id: str, connector: dict[str, Any]
    ) -> VolumeAttachment:
        """Export the volume to ``connector``'s host: the agent's ``initialize_connection``
        returns ``connection_info`` (stored in the attachment, which goes ``attaching``, as
        its volume). The connector's ``mountpoint`` (the guest's device) is kept as the
        attachment's ``device``.

        Raises:
            VolumeAttachmentNotFound (404). InvalidAttachment (400): already detached or
            the volume has no backend. MessagingTimeout (503) / the agent's error: the
            export failed (nothing changed).
        """
        if not isinstance(connector, dict) or not connector:
            raise exc.InvalidInput("A connector is required.")
        with self.cloud.db.reader() as s:
            att, volume = load(s, ctx, attachment_id)
            host = states.agent_host(volume.host)
            if host is None or not states.can(att, states.ATTACHING):
                raise exc.InvalidAttachment(
                    f"attachment {att.id} is {att.attach_status} and cannot be updated."
                )
        info = self.agents.initialize_connection(ctx, host, volume.id, att.id, connector)
        info.setdefault("data", {}).setdefault("access_mode", att.attach_mode)
        with self.cloud.db.transaction() as s:
            att, volume = load(s, ctx, attachment_id)
            att.connection_info = info
            att.connector = dict(connector)
            att.attached_host = connector.get("host")
            # the guest's device (``/dev/vdb``), which Nova puts in the connector as Cinder's
            # attachment_update takes it: the volume's ``attachments[].device``
            mountpoint = connector.get("mountpoint")
            att.mountpoint = str(mountpoint)[:255] if mountpoint else att.mountpoint
            if att.attach_status == states.RESERVED:
                states.transition(att, states.ATTACHING)
            if volume.status == states.RESERVED:
                states.transition(volume, states.ATTACHING)
            s.flush()
            return att

    def complete(self, ctx: RequestContext, attachment_id: str) -> None:
        """The server uses the volume now: the attachment ``attached``, the volume
        ``in-use``.

        Raises:
            VolumeAttachmentNotFound (404). InvalidAttachment (400): never exported.
        """
        with self.cloud.db.transaction() as s:
            att, volume = load(s, ctx, attachment_id)
            if att.connection_info is None:
                raise exc.InvalidAttachment(
                    f"attachment {att.id} has no connection and cannot be completed."
                )
            states.transition(att, ATTACHED)
            att.attach_time = att.attach_time or utcnow()
            if volume.status != states.IN_USE:
                states.transition(volume, states.IN_USE)
            volume.attach_status = ATTACHED

    def delete(self, ctx: RequestContext, attachment_id: str) -> None:
        """Remove the attachment: the agent's ``terminate_connection`` when it was exported,
        then the row; the volume goes ``available`` (``detached``) with its last attachment.

        Raises:
            VolumeAttachmentNotFound (404). MessagingTimeout (503) / the agent's error: the
            export could not be removed (the attachment stays, to be deleted again).
        """
        with self.cloud.db.reader() as s:
            att, volume = load(s, ctx, attachment_id)
            host = states.agent_host(volume.host)
            exported = att.connection_info is not None
        if exported and host is not None:
            self.agents.terminate_connection(ctx, host, volume.id, att.id)
        with self.cloud.db.transaction() as s:
            att, volume = load(s, ctx, attachment_id)
            s.delete(att)
            s.flush()
            others = s.scalar(
                sa.select(sa.func.count())
                .select_from(VolumeAttachment)
                .where(VolumeAttachment.volume_id == volume.id)
            )
            if not others and volume.status in (
                states.RESERVED,
                states.ATTACHING,
                states.IN_USE,
                states.DETACHING,
            ):
                states.transition(volume, states.AVAILABLE)
                volume.attach_status = DETACHED
