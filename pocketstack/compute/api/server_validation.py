"""Checks of a ``POST /servers`` body beyond its schema (API reference "Servers (servers)",
Create Server), with Nova's messages.

The body's shape (types, lengths, names, metadata, known keys) is guaranteed by
``schemas.SERVER_CREATE`` before the handler runs; ``parse_create(body)`` turns it into the
keyword arguments of ``cloud.compute.servers.create``: it converts (``"2"`` → 2, an id
given as a URL → the id, ``"true"`` → True) and checks what a schema cannot (base64 that
decodes, UUIDs, IP addresses, ``min_count <= max_count``) and parses the block device
mappings (``block_device_mapping_v2``, or the legacy ``block_device_mapping``) with
``compute.block_device``: ``openstack server create --boot-from-volume SIZE``, ``--volume``,
``--block-device``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import uuid
from typing import Any

from pocketstack.common import errors
from pocketstack.common.http import parse_bool, parse_int
from pocketstack.compute import block_device, scheduler_hints

#: Largest server count one request may ask for (an integer column).
MAX_COUNT = 2**31 - 1


def _ref(value: str | int) -> str:
    """An id given as itself or as a URL (its last path segment)."""
    ref = str(value).rstrip("/").rsplit("/", 1)[-1].strip()
    if not ref:
        raise errors.BadRequest(f"Invalid input for field/attribute flavorRef. Value: {value!r}.")
    return ref


def _networks(value: list[dict[str, Any]]) -> list[dict[str, Any]]:
    result = []
    for item in value:
        net: dict[str, Any] = {}
        if item.get("port"):
            net["port"] = _uuid(item["port"], "port")
        if item.get("uuid"):
            net["uuid"] = _uuid(item["uuid"], "network uuid")
        if item.get("fixed_ip"):
            try:
                ipaddress.ip_address(item["fixed_ip"])
            except ValueError:
                raise errors.BadRequest(f"Invalid fixed IP address ({item['fixed_ip']})") from None
            net["fixed_ip"] = item["fixed_ip"]
        if not net.get("port") and not net.get("uuid"):
            raise errors.BadRequest("Bad networks format: network uuid is not in proper format")
        if item.get("tag"):
            net["tag"] = item["tag"]  # a device tag (compute.device_tags)
        result.append(net)
    return result


def _uuid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise errors.BadRequest(
            f"Bad networks format: {what} is not in proper format ({value[:64]})"
        ) from None


def _user_data(value: str | None) -> str | None:
    """Base64 text that decodes (the schema bounds it to 65535 characters, as Nova)."""
    if value is None:
        return None
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise errors.BadRequest("User data needs to be valid base 64.") from None
    return value


def _access_ip(value: str | None) -> str | None:
    """The address in its canonical form (the schema let only dotted quads through)."""
    return None if value is None else str(ipaddress.IPv4Address(value))


def _access_ip_v6(value: str | None) -> str | None:
    """``accessIPv6`` in its canonical (compressed) form; the schema only checked its
    characters, so an address that does not parse is a 400 with Nova's wording.

    Raises:
        BadRequest (400).
    """
    if value is None:
        return None
    try:
        return str(ipaddress.IPv6Address(value))
    except ValueError:
        raise errors.BadRequest(
            f"Invalid input for field/attribute accessIPv6. Value: {value}. "
            f"'{value}' is not a 'ipv6'"
        ) from None


def _block_devices(server: dict[str, Any]) -> list[block_device.BlockDeviceRequest]:
    """The request's mappings: ``block_device_mapping_v2``, else the legacy list (Nova
    refuses both in one request)."""
    if server.get("block_device_mapping_v2") and server.get("block_device_mapping"):
        raise errors.BadRequest(
            "Using different block_device_mapping syntaxes is not allowed in the same request."
        )
    if server.get("block_device_mapping_v2"):
        return block_device.parse_v2(server["block_device_mapping_v2"])
    return block_device.parse_legacy(server.get("block_device_mapping") or [])


def _group_hint(body: dict[str, Any]) -> str | None:
    """The ``group`` scheduler hint (a server group's UUID; the schema checked its form)."""
    hints = body.get("os:scheduler_hints") or body.get("OS-SCH-HNT:scheduler_hints") or {}
    group = hints.get("group")
    if group is None:
        return None
    try:
        return str(uuid.UUID(str(group)))
    except ValueError:
        raise errors.BadRequest(f"Invalid input for field/attribute group: {group}") from None


def parse_create(body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """``(kwargs for servers.create, return_reservation_id)`` from a ``POST /servers`` body
    that matched ``schemas.SERVER_CREATE``.

    Raises:
        errors.BadRequest: min_count > max_count, a count out of range, user data that is
        not base64, a malformed network or port id or fixed IP, a block device mapping
        that is not valid (``block_device.parse_v2``), or no image and no boot volume.
    """
    server = body["server"]
    bdms = _block_devices(server)
    if not server.get("imageRef") and not bdms:
        raise errors.BadRequest("Missing imageRef attribute")  # Nova's words
    if not server.get("imageRef") and not (
        block_device.boot_volume(bdms) or block_device.image_root(bdms)
    ):
        raise block_device.invalid(
            "Boot sequence for the instance and image/block device mapping combination "
            "is not valid."
        )
    min_count = parse_int(server.get("min_count", 1), "min_count", 1, MAX_COUNT)
    max_count = parse_int(server.get("max_count", min_count), "max_count", 1, MAX_COUNT)
    if min_count > max_count:
        raise errors.BadRequest(f"min_count {min_count} must be <= max_count {max_count}.")
    kwargs = {
        "name": server["name"],
        "image_id": server.get("imageRef") or None,
        "flavor_id": _ref(server["flavorRef"]),
        # "auto" and "none" (2.37) are kept as such
        "networks": networks
        if isinstance(networks := server.get("networks", []), str)
        else _networks(networks),
        "key_name": server.get("key_name"),
        "user_data": _user_data(server.get("user_data")),
        "metadata": dict(server.get("metadata", {})),
        "availability_zone": server.get("availability_zone"),
        "security_groups": [g["name"] for g in server["security_groups"]]
        if "security_groups" in server
        else None,
        "min_count": min_count,
        "max_count": max_count,
        "access_ip_v4": _access_ip(server.get("accessIPv4")),
        "access_ip_v6": _access_ip_v6(server.get("accessIPv6")),
        "config_drive": parse_bool(server.get("config_drive", True), "config_drive"),
        "block_device_mapping": bdms,
        "group": _group_hint(body),
        "scheduler_hints": scheduler_hints.parse(body),
        # microversion 2.19, 2.26, 2.74, 2.90 (the handler refused them at older versions)
        "description": server.get("description"),
        "tags": list(server.get("tags") or []),
        "host": server.get("host"),
        "hypervisor_hostname": server.get("hypervisor_hostname"),
        "hostname": server.get("hostname"),
    }
    reservation = parse_bool(server.get("return_reservation_id", False), "return_reservation_id")
    return kwargs, reservation
