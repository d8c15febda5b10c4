"""Compute's client of the Block Storage service (Nova's ``nova/volume/cinder.py`` ``API``).

Every call Compute makes to volumes goes through ``VolumeClient``, over ``cloud.volume``
(the volume manager, in the controller's process: docs/block-storage.md "Nova's side"), so
Compute never reads the volume tables and the volume manager's return types (rows or dicts)
are read in one place (``_get``). Volumes come back as plain ``VolumeInfo`` dicts.

Attachments follow Cinder's attachment API (3.27+), as Nova's new-style attach flow:
``attachment_create`` (volume ``reserved``), ``attachment_update`` with the host's connector
(volume ``attaching``; returns ``connection_info``), ``attachment_complete`` (``in-use``),
``attachment_delete`` (the export goes; ``available`` when it was the last).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from pocketstack.common.auth import RequestContext

if TYPE_CHECKING:
    from pocketstack.service import Cloud


class VolumeInfo(TypedDict):
    """What Compute needs of a volume: ``id``, ``status`` (Cinder's), ``size`` (GiB),
    ``project_id``, ``availability_zone``, ``bootable``, ``attach_status``."""

    id: str
    status: str
    size: int
    project_id: str | None
    availability_zone: str | None
    bootable: bool
    attach_status: str | None


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """A field of what the volume manager returned: a row/object or a dict."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _volume_info(vol: Any) -> VolumeInfo:
    """A volume as Compute sees it, from the manager's ``VolumeRecord`` (``.volume``: the
    row) or a row or dict."""
    vol = getattr(vol, "volume", vol)
    return {
        "id": str(_get(vol, "id")),
        "status": str(_get(vol, "status")),
        "size": int(_get(vol, "size") or 0),
        "project_id": _get(vol, "project_id"),
        "availability_zone": _get(vol, "availability_zone"),
        "bootable": bool(_get(vol, "bootable", False)),
        "attach_status": _get(vol, "attach_status"),
    }


class VolumeClient:
    """Compute's calls to ``cloud.volume`` (see the module's docstring).

    Args:
        cloud: the ``Cloud``; ``cloud.volume`` is built on first use.

    Every method raises what the volume manager raises (``VolumeNotFound`` 404 for an
    unknown volume or another project's, ``InvalidVolume`` 400 for a volume in the wrong
    status, ``VolumeAttachmentNotFound``...), unchanged.
    """

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    @property
    def _api(self) -> Any:
        return self.cloud.volume

    def get(self, ctx: RequestContext, volume_id: str) -> VolumeInfo:
        """The volume as the caller may see it (another project's: ``VolumeNotFound``)."""
        return _volume_info(self._api.volumes.get(ctx, volume_id))

    def create(
        self,
        ctx: RequestContext,
        size: int | None,
        name: str,
        *,
        image_id: str | None = None,
        snapshot_id: str | None = None,
        availability_zone: str | None = None,
    ) -> VolumeInfo:
        """Create a volume of ``size`` GiB (blank, from an image or from a snapshot; None:
        the snapshot's size) in the caller's project; it is ``creating`` until the storage
        host reports."""
        from pocketstack.volume.volumes import VolumeCreate

        request = VolumeCreate(
            size=size,
            name=name,
            image_id=image_id or None,
            snapshot_id=snapshot_id or None,
            availability_zone=availability_zone or None,
        )
        return _volume_info(self._api.volumes.create(ctx, request))

    def delete(self, ctx: RequestContext, volume_id: str) -> None:
        """Delete a volume (asynchronous on the storage host)."""
        self._api.volumes.delete(ctx, volume_id)

    def attachment_create(self, ctx: RequestContext, volume_id: str, instance_uuid: str) -> str:
        """Reserve the volume for the server (volume ``reserved``); the attachment's id."""
        return str(_get(self._api.attachments.create(ctx, volume_id, instance_uuid), "id"))

    def attachment_update(
        self,
        ctx: RequestContext,
        attachment_id: str,
        connector: dict[str, Any],
        mountpoint: str | None = None,
    ) -> dict[str, Any]:
        """Export the volume to the host of ``connector`` (volume ``attaching``): the
        ``connection_info`` (``{"driver_volume_type", "data"}``). ``mountpoint``, the
        guest's device (``/dev/vdb``), goes in the connector as Nova sends it, so the
        volume's attachment shows it as its ``device``."""
        if mountpoint:
            connector = {**connector, "mountpoint": mountpoint}
        att = self._api.attachments.update(ctx, attachment_id, connector)
        return dict(_get(att, "connection_info") or {})

    def attachment_complete(self, ctx: RequestContext, attachment_id: str) -> None:
        """The guest has the disk: volume ``in-use``."""
        self._api.attachments.complete(ctx, attachment_id)

    def attachment_delete(self, ctx: RequestContext, attachment_id: str) -> None:
        """Remove the attachment and its export (volume ``available`` if it was the last)."""
        self._api.attachments.delete(ctx, attachment_id)

    def attachments_of(
        self, ctx: RequestContext, volume_id: str, instance_uuid: str
    ) -> list[dict[str, Any]]:
        """The volume's attachments for the server: ``[{"id", "host", "status",
        "connection_info"}]`` (``host`` the connector's, None before an update)."""
        from pocketstack.volume.attachments import AttachmentFilters

        filters = AttachmentFilters(
            volume_id=volume_id, instance_id=instance_uuid, all_tenants=ctx.is_admin
        )
        return [
            {
                "id": str(_get(att, "id")),
                "host": _get(att, "attached_host"),
                "status": _get(att, "attach_status"),
                "connection_info": dict(_get(att, "connection_info") or {}),
            }
            for att in self._api.attachments.list(ctx, filters)
        ]
