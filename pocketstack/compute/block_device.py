"""Block device mappings: a boot request's ``block_device_mapping_v2``, device names, and the
``block_devices`` of an ``InstanceSpec`` (Nova's ``nova/block_device.py`` and
``compute/api.py`` BDM checks; API reference "Create Server", ``block_device_mapping_v2``).

A request's mapping, once parsed (``parse_v2``/``parse_legacy`` in the API layer's
``server_validation``), is a ``BlockDeviceRequest``::

    {"source_type": "image"|"volume"|"snapshot"|"blank", "destination_type": "volume"|"local",
     "uuid": str | None, "boot_index": int | None, "volume_size": int | None,
     "delete_on_termination": bool, "device_name": str | None, "guest_format": str | None,
     "disk_bus": str | None, "tag": str | None}

Supported (docs/block-storage.md "Nova's side"): volumes of any source (an existing volume,
a new one from an image, a snapshot or blank), and the image itself as the local root disk
(``source_type=image, destination_type=local, boot_index=0``: the same as ``imageRef``).
Blank local mappings may name the flavor's own ephemeral and swap disks (of the flavor's
size, ``check_local_disks``); the driver makes those from the flavor. Other local devices are
refused (400).

An ``InstanceSpec``'s ``block_devices`` (``block_devices_for_spec``), boot volume first::

    [{"volume_id", "attachment_id", "device_name": "/dev/vda", "boot_index": 0 | None,
      "disk_bus": "virtio", "connection_info": {"driver_volume_type", "data"}}]
"""

from __future__ import annotations

import re
from typing import Any, TypedDict

from pocketstack.common import errors
from pocketstack.common.http import parse_bool
from pocketstack.compute.models import BlockDeviceMapping

#: the root disk's name; volumes get the next free ``/dev/vd[b-z]``
ROOT_DEVICE = "/dev/vda"
_DEVICE = re.compile(r"^(/dev/)?(x?vd|sd|hd)([a-z]+)\Z")
SOURCE_TYPES = ("image", "volume", "snapshot", "blank")


class BlockDeviceRequest(TypedDict):
    """One entry of a boot request's mapping (see the module's docstring)."""

    source_type: str
    destination_type: str
    uuid: str | None
    boot_index: int | None
    volume_size: int | None
    delete_on_termination: bool
    device_name: str | None
    guest_format: str | None
    disk_bus: str | None
    tag: str | None


def invalid(reason: str) -> errors.BadRequest:
    """Nova's ``InvalidBDM`` (400): ``Block Device Mapping is Invalid: <reason>``."""
    return errors.BadRequest(f"Block Device Mapping is Invalid: {reason}")


def _boot_index(value: Any) -> int | None:
    if value is None:
        return None
    try:
        index = int(value)
    except (TypeError, ValueError):
        raise invalid(f"Boot index {value!r} is invalid.") from None
    return None if index < 0 else index


def _size(value: Any) -> int | None:
    if value is None:
        return None
    try:
        size = int(value)
    except (TypeError, ValueError):
        raise invalid(f"volume_size {value!r} is not an integer.") from None
    if size < 1:
        raise invalid("volume_size must be a positive integer.")
    return size


def parse_v2(items: list[dict[str, Any]]) -> list[BlockDeviceRequest]:
    """``block_device_mapping_v2`` entries (schema-checked) as ``BlockDeviceRequest``s.

    Raises:
        errors.BadRequest: a source without its ``uuid``, an unknown combination, two boot
            disks, a malformed size or device name.
    """
    result: list[BlockDeviceRequest] = []
    for item in items:
        source = item.get("source_type") or ("volume" if item.get("volume_id") else None)
        if source is None and item.get("snapshot_id"):
            source = "snapshot"
        if source not in SOURCE_TYPES:
            raise invalid("source_type is required (image, volume, snapshot or blank).")
        dest = item.get("destination_type") or ("local" if source == "image" else "volume")
        uuid = item.get("uuid") or item.get("volume_id") or item.get("snapshot_id")
        uuid = uuid or item.get("image_id")
        if source != "blank" and not uuid:
            raise invalid(f"a {source} source needs its uuid.")
        result.append(
            {
                "source_type": source,
                "destination_type": dest,
                "uuid": str(uuid) if uuid else None,
                "boot_index": _boot_index(item.get("boot_index")),
                "volume_size": _size(item.get("volume_size")),
                "delete_on_termination": parse_bool(
                    item.get("delete_on_termination", False), "delete_on_termination"
                ),
                "device_name": normalize_device(item["device_name"])
                if item.get("device_name")
                else None,
                "guest_format": item.get("guest_format"),
                "disk_bus": item.get("disk_bus"),
                "tag": item.get("tag"),
            }
        )
    check_boot_indexes(result)
    return result


def parse_legacy(items: list[dict[str, Any]]) -> list[BlockDeviceRequest]:
    """The legacy ``block_device_mapping`` (``volume_id``/``snapshot_id``, ``device_name``):
    as v2 volumes; the one named ``vda`` is the boot disk (Nova's conversion)."""
    converted = []
    for item in items:
        if item.get("no_device"):
            continue
        name = item.get("device_name")
        boot = 0 if name and normalize_device(name) == ROOT_DEVICE else None
        source = "snapshot" if item.get("snapshot_id") and not item.get("volume_id") else "volume"
        converted.append({**item, "source_type": source, "boot_index": boot})
    return parse_v2(converted)


def check_boot_indexes(bdms: list[BlockDeviceRequest]) -> None:
    """Boot indexes must be unique and start at 0 (Nova's ``_validate_bdm``).

    Raises:
        errors.BadRequest: Nova's "Boot sequence ... is not valid".
    """
    indexes = sorted(b["boot_index"] for b in bdms if b["boot_index"] is not None)
    if indexes != list(range(len(indexes))):
        raise invalid(
            "Boot sequence for the instance and image/block device mapping combination "
            "is not valid."
        )
    for bdm in bdms:
        if bdm["destination_type"] == "local" and not (
            (bdm["source_type"] == "image" and bdm["boot_index"] == 0)
            or (bdm["source_type"] == "blank" and bdm["boot_index"] is None)
        ):
            raise invalid("local block devices other than the image's root disk are not supported.")


def check_local_disks(bdms: list[BlockDeviceRequest], ephemeral_gb: int, swap_mb: int) -> None:
    """Blank local mappings (``source_type=blank, destination_type=local``) name the
    flavor's own ephemeral (``guest_format`` None or ``ext4``; ``volume_size`` in GiB) and
    swap (``guest_format=swap``; ``volume_size`` in MiB) disks, which the driver makes
    (Nova's ``_validate_bdm`` size checks). Only the flavor's sizes are made: a mapping
    without a size, or with the flavor's, is accepted.

    Raises:
        errors.BadRequest: more than one swap or ephemeral mapping, a size larger than the
            flavor's (Nova's reasons), a smaller one, or another ``guest_format``.
    """
    local = [b for b in bdms if b["destination_type"] == "local" and b["source_type"] == "blank"]
    swaps = [b for b in local if b["guest_format"] == "swap"]
    ephemerals = [b for b in local if b["guest_format"] != "swap"]
    if len(swaps) > 1:
        raise invalid("More than one swap drive requested.")
    if len(ephemerals) > 1:
        raise invalid("more than one ephemeral disk is not supported.")
    for bdm, flavor_size in [(b, swap_mb) for b in swaps] + [(b, ephemeral_gb) for b in ephemerals]:
        if bdm["guest_format"] not in (None, "ext4", "swap"):
            raise invalid(f"guest_format {bdm['guest_format']!r} is not supported (ext4 or swap).")
        size = bdm["volume_size"]
        if size is not None and size > flavor_size:
            raise errors.BadRequest(
                "Swap drive requested is larger than instance type allows."
                if bdm["guest_format"] == "swap"
                else "Ephemeral disks requested are larger than the instance type allows. If no "
                "size is given in one block device mapping, flavor ephemeral size will be used."
            )
        if size is not None and size != flavor_size:
            raise invalid("a local disk of another size than the flavor's is not supported.")


def boot_volume(bdms: list[BlockDeviceRequest]) -> BlockDeviceRequest | None:
    """The mapping the server boots from when it is a volume (boot index 0), else None."""
    for bdm in bdms:
        if bdm["boot_index"] == 0 and bdm["destination_type"] == "volume":
            return bdm
    return None


def image_root(bdms: list[BlockDeviceRequest]) -> str | None:
    """The image of a ``source_type=image, destination_type=local`` boot mapping."""
    for bdm in bdms:
        if bdm["boot_index"] == 0 and bdm["destination_type"] == "local":
            return bdm["uuid"]
    return None


def normalize_device(name: str) -> str:
    """``vdb``/``/dev/vdb``/``sdb`` -> ``/dev/vdb`` (every disk here is virtio).

    Raises:
        errors.BadRequest: Nova's "The supplied device path (...) is invalid."
    """
    match = _DEVICE.match(name.strip())
    if not match:
        raise errors.BadRequest(f"The supplied device path ({name}) is invalid.")
    return f"/dev/vd{match.group(3)}"


def _letters(index: int) -> str:
    """0 -> a, 25 -> z, 26 -> aa (Nova's ``generate_device_letter``)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters


def next_device_name(used: set[str], requested: str | None = None) -> str:
    """The device of a new volume: ``requested`` (normalized) when free, else the first
    free ``/dev/vdb``, ``/dev/vdc``... (``/dev/vda`` is the root disk's).

    Raises:
        errors.BadRequest: the requested device is invalid or in use (Nova's messages).
    """
    taken = used | {ROOT_DEVICE}
    if requested:
        name = normalize_device(requested)
        if name in taken:
            raise errors.BadRequest(f"The supplied device path ({name}) is in use.")
        return name
    index = 1
    while f"/dev/vd{_letters(index)}" in taken:
        index += 1
    return f"/dev/vd{_letters(index)}"


def spec_entry(bdm: BlockDeviceMapping) -> dict[str, Any]:
    """One ``block_devices`` entry of an ``InstanceSpec`` (see the module's docstring)."""
    return {
        "volume_id": bdm.volume_id,
        "attachment_id": bdm.attachment_id,
        "device_name": bdm.device_name,
        "boot_index": bdm.boot_index,
        "disk_bus": bdm.disk_bus or "virtio",
        "tag": bdm.tag,
        "connection_info": dict(bdm.connection_info or {}),
    }


def block_devices_for_spec(bdms: list[BlockDeviceMapping]) -> list[dict[str, Any]]:
    """The ``block_devices`` of an ``InstanceSpec``: attached volumes, boot volume first,
    then by device name."""
    volumes = [b for b in bdms if b.destination_type == "volume" and b.connection_info]
    volumes.sort(key=lambda b: (b.boot_index != 0, b.device_name or ""))
    return [spec_entry(b) for b in volumes]
