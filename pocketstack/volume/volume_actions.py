"""Volume actions (Block Storage API v3 reference, "Volume actions (volumes, action)"):
``os-extend``, ``os-set_bootable``, ``os-set_image_metadata``/``os-unset_image_metadata``,
``os-volume_upload_image``, and the admin's ``os-reset_status``.

Extend: ``available`` (or ``in-use`` from microversion 3.42) -> ``extending``, quota for the
added GiB, cast ``extend_volume``; the agent's ``volume_extended`` puts the previous status
back. Upload: the image is created ``queued`` in the Image service as the caller, the volume
goes ``uploading`` and the agent gets ``copy_volume_to_image`` with the image's upload URL
(it PUTs the data with the service credential); ``volume_uploaded`` ends it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pocketstack.common.auth import RequestContext
from pocketstack.volume import exceptions as exc
from pocketstack.volume import quotas, states, volumes
from pocketstack.volume.rpcapi import VolumeAgentClient
from pocketstack.volume.volumes import VolumeRecord

if TYPE_CHECKING:
    from pocketstack.service import Cloud

#: the disk formats an upload may ask (Cinder's ``glance`` choices)
UPLOAD_FORMATS = ("raw", "qcow2", "vmdk", "vdi", "vhd", "vhdx")


@dataclass(frozen=True)
class ImageUpload:
    """What ``os-volume_upload_image`` asks."""

    image_name: str
    disk_format: str = "raw"
    container_format: str = "bare"
    force: bool = False
    visibility: str = "private"
    protected: bool = False


class VolumeActions:
    """``cloud.volume.volume_actions``."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.agents = VolumeAgentClient(cloud.bus)

    def extend(
        self, ctx: RequestContext, volume_id: str, new_size: int, attached_ok: bool = False
    ) -> None:
        """Grow the volume to ``new_size`` GiB.

        Args:
            attached_ok: microversion >= 3.42 (an ``in-use`` volume may be extended).

        Raises:
            VolumeNotFound (404). InvalidInput (400): ``new_size`` not above the size.
            InvalidVolume (400): not ``available`` (or ``in-use`` with ``attached_ok``).
            Quota 413s for the added GiB.
        """
        with self.cloud.db.transaction() as s:
            volume = volumes.load(s, ctx, volume_id, lock=True)
            allowed = (states.AVAILABLE, states.IN_USE) if attached_ok else (states.AVAILABLE,)
            if volume.status not in allowed:
                raise exc.InvalidVolume(
                    f"Volume status must be '{' or '.join(allowed)}' to extend, currently "
                    f"{volume.status}."
                )
            if new_size <= volume.size:
                raise exc.InvalidInput(
                    f"New size for extend must be greater than current size. (current: "
                    f"{volume.size}, extended: {new_size})."
                )
            quotas.check(
                s,
                self.cloud.conf,
                volume.project_id,
                gigabytes=new_size - volume.size,
                volume_size=new_size,
            )
            previous = volume.status
            states.transition(volume, states.EXTENDING)
            volume.previous_status, volume.previous_size = previous, volume.size
            host = states.agent_host(volume.host) or ""
        self.agents.cast(ctx, host, "extend_volume", volume_id=volume_id, new_size=new_size)

    def set_bootable(self, ctx: RequestContext, volume_id: str, bootable: bool) -> None:
        """Set the ``bootable`` flag. Raises VolumeNotFound (404)."""
        with self.cloud.db.transaction() as s:
            volumes.load(s, ctx, volume_id, lock=True).bootable = bootable

    def update_readonly_flag(self, ctx: RequestContext, volume_id: str, readonly: bool) -> None:
        """``os-update_readonly_flag``: the volume's ``readonly`` key, ``"True"``/``"False"``,
        kept in its metadata, where Cinder's volume view shows it.

        Raises:
            VolumeNotFound (404). InvalidVolume (400): the volume is not ``available``.
        """
        with self.cloud.db.transaction() as s:
            volume = volumes.load(s, ctx, volume_id, lock=True)
            if volume.status != "available":
                raise exc.InvalidVolume(
                    f"Volume status must be available to update readonly flag, currently "
                    f"{volume.status}."
                )
            volume.metadata_ = {**(volume.metadata_ or {}), "readonly": str(readonly)}

    def set_image_metadata(
        self, ctx: RequestContext, volume_id: str, metadata: Mapping[str, str]
    ) -> dict[str, str]:
        """Merge ``metadata`` into ``volume_image_metadata``; returns the whole.

        Raises:
            VolumeNotFound (404).
        """
        with self.cloud.db.transaction() as s:
            volume = volumes.load(s, ctx, volume_id, lock=True)
            merged = {
                **(volume.image_metadata or {}),
                **{str(k): str(v) for k, v in metadata.items()},
            }
            volume.image_metadata = merged
            return dict(merged)

    def unset_image_metadata(self, ctx: RequestContext, volume_id: str, key: str) -> None:
        """Remove one key of ``volume_image_metadata``.

        Raises:
            VolumeNotFound (404). InvalidInput... Cinder's 404 ``GlanceMetadataNotFound``:
            "Glance metadata for volume <id> cannot be found." here ``VolumeMetadataNotFound``.
        """
        with self.cloud.db.transaction() as s:
            volume = volumes.load(s, ctx, volume_id, lock=True)
            meta = dict(volume.image_metadata or {})
            if key not in meta:
                raise exc.VolumeMetadataNotFound(volume_id, key)
            del meta[key]
            volume.image_metadata = meta

    def reset_status(
        self,
        ctx: RequestContext,
        volume_id: str,
        status: str | None,
        attach_status: str | None = None,
        migration_status: str | None = None,
    ) -> None:
        """An admin's ``os-reset_status``: set the status (any the table knows),
        ``attach_status`` (``attached``/``detached``) and ``migration_status``.

        Raises:
            VolumeNotFound (404). BadRequest (400): an unknown status.
        """
        if attach_status is not None and attach_status not in ("attached", "detached"):
            raise exc.InvalidInput(f"Invalid attach_status {attach_status}.")
        with self.cloud.db.transaction() as s:
            volume = volumes.load(s, ctx, volume_id, lock=True)
            if status is not None:
                states.reset(volume, status)
            if attach_status is not None:
                volume.attach_status = attach_status
            if migration_status is not None:
                volume.migration_status = migration_status or None

    def upload_to_image(
        self, ctx: RequestContext, volume_id: str, req: ImageUpload
    ) -> tuple[VolumeRecord, Any]:
        """Upload the volume's data to a new image; returns the volume and the image (queued).

        Raises:
            VolumeNotFound (404). InvalidVolume (400): not ``available`` (``in-use`` needs
            ``force``). InvalidInput (400): a disk format not in ``UPLOAD_FORMATS``.
        """
        if req.disk_format not in UPLOAD_FORMATS:
            raise exc.InvalidInput(f"Invalid disk-format '{req.disk_format}' is specified.")
        with self.cloud.db.reader() as s:
            volume = volumes.load(s, ctx, volume_id)
            self._check_upload(volume.status, req.force)
        core = {
            "name": req.image_name,
            "disk_format": req.disk_format,
            "container_format": req.container_format,
            "visibility": req.visibility,
            "protected": req.protected,
            "min_disk": volume.size,
        }
        image = self.cloud.image.images.create(ctx, core, {})
        with self.cloud.db.transaction() as s:
            volume = volumes.load(s, ctx, volume_id, lock=True)
            self._check_upload(volume.status, req.force)
            previous = volume.status
            states.transition(volume, states.UPLOADING)
            volume.previous_status = previous
            host = states.agent_host(volume.host) or ""
            rec = volumes.record(s, volume)
        url = f"{self.cloud.conf.public_url.rstrip('/')}/image/v2/images/{image.id}/file"
        self.agents.cast(
            ctx,
            host,
            "copy_volume_to_image",
            volume_id=volume_id,
            image={"id": image.id, "disk_format": req.disk_format, "url": url},
        )
        return rec, image

    @staticmethod
    def _check_upload(status: str, force: bool) -> None:
        if status == states.AVAILABLE or (status == states.IN_USE and force):
            return
        raise exc.InvalidVolume(
            f"Volume status must be available{' or in-use' if force else ''} to upload an "
            f"image, currently {status}."
        )
