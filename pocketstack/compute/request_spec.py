"""The request spec: what the API learned about a boot request, sent with it to the conductor.

As Nova's ``RequestSpec`` object travels from nova-api to nova-conductor and the scheduler,
the API's checks are not repeated downstream: the image is looked up once, by the API
(``servers.Servers.create``), and what the build needs of it travels here; an admin's forced
host (``availability_zone="az:host"``) travels here too, never through a server column.
It is plain JSON (a bus payload)::

    {"image": ImageMeta, "force_host": str | None, "volume_backed": bool (optional)}

``volume_backed``: the server boots from a volume (its block device mappings are rows of
``block_device_mappings``, the build's block-device step creates and attaches them); its
flavor's root disk is then neither checked against the image nor claimed on the host.

``ImageMeta`` (Nova's ``ImageMeta``, in short)::

    {"id", "name", "status", "disk_format", "size" (bytes), "virtual_size" (bytes),
     "min_disk" (GiB), "min_ram" (MiB), "properties": {extra properties}}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from pocketstack.compute.exceptions import FlavorDiskTooSmall

if TYPE_CHECKING:
    from pocketstack.image.images import ImageInfo

GIB = 1024**3


class ImageMeta(TypedDict):
    """What a build needs of its image (see the module's docstring)."""

    id: str
    name: str | None
    status: str | None
    disk_format: str | None
    size: int | None
    virtual_size: int | None
    min_disk: int
    min_ram: int
    properties: dict[str, Any]


class RequestSpec(TypedDict):
    """The request spec of a boot request (see the module's docstring)."""

    image: ImageMeta
    force_host: str | None
    volume_backed: NotRequired[bool]
    scheduler_hints: NotRequired[dict[str, list[str]]]


def image_meta(image: ImageInfo) -> ImageMeta:
    """The ``ImageMeta`` of an image as the image service gives it to other services
    (``cloud.image.get_image_info``)."""
    return {
        "id": image.id,
        "name": image.name,
        "status": image.status,
        "disk_format": image.disk_format,
        "size": image.size,
        "virtual_size": image.virtual_size,
        "min_disk": int(image.min_disk or 0),
        "min_ram": int(image.min_ram or 0),
        "properties": dict(image.properties),
    }


def check_root_disk(root_gb: int, image: ImageMeta) -> None:
    """Refuse a root disk smaller than the image needs: its ``min_disk``, or its (virtual)
    size rounded up to GiB. A flavor without a root disk (``0``) takes the image's size.

    Raises:
        FlavorDiskTooSmall: 400, as Nova's.
    """
    if not root_gb:
        return
    size = int(image.get("virtual_size") or image.get("size") or 0)
    needed = max(int(image.get("min_disk") or 0), -(-size // GIB))
    if needed > root_gb:
        raise FlavorDiskTooSmall()
