"""The request spec: what the API learned about a boot request, sent with it to the conductor.

As Nova's ``RequestSpec`` object travels from nova-api to nova-conductor and the scheduler,
the API's checks are not repeated downstream: the image is looked up once, by the API
(``ServerManager.create``), and what the build needs of it travels here; an admin's forced
host (``availability_zone="az:host"``) travels here too, never through a server column.
It is plain JSON (a bus payload)::

    {"image": ImageMeta, "force_host": str | None}

``ImageMeta`` (Nova's ``ImageMeta``, in short)::

    {"id", "name", "status", "disk_format", "size" (bytes), "virtual_size" (bytes),
     "min_disk" (GiB), "min_ram" (MiB), "properties": {extra properties}}
"""

from __future__ import annotations

from typing import Any, TypedDict

from pocketstack.compute.exceptions import FlavorDiskTooSmall

GIB = 1024**3

#: Glance's standard image fields; every other key of an image is an extra property
IMAGE_FIELDS = frozenset(
    {
        "id",
        "name",
        "status",
        "disk_format",
        "container_format",
        "size",
        "virtual_size",
        "min_disk",
        "min_ram",
        "visibility",
        "owner",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "protected",
        "tags",
        "created_at",
        "updated_at",
        "file",
        "self",
        "schema",
        "direct_url",
        "locations",
        "os_hidden",
        "stores",
    }
)


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


def image_properties(image: dict[str, Any]) -> dict[str, Any]:
    """The extra properties of a Glance image view (every key but the standard fields)."""
    return {k: v for k, v in image.items() if k not in IMAGE_FIELDS}


def image_meta(image: dict[str, Any]) -> ImageMeta:
    """The ``ImageMeta`` of an image as ``cloud.image.get_image`` returns it."""
    return {
        "id": image["id"],
        "name": image.get("name"),
        "status": image.get("status"),
        "disk_format": image.get("disk_format"),
        "size": image.get("size"),
        "virtual_size": image.get("virtual_size"),
        "min_disk": int(image.get("min_disk") or 0),
        "min_ram": int(image.get("min_ram") or 0),
        "properties": image_properties(image),
    }


def new(image: dict[str, Any], force_host: str | None = None) -> RequestSpec:
    """The request spec of a boot request: ``image`` as ``get_image`` returned it, and the
    host an admin forced (None: the scheduler chooses)."""
    return {"image": image_meta(image), "force_host": force_host}


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
