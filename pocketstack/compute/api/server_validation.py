"""Validation of ``POST /servers`` bodies (2.1 schema, Nova's messages where practical).

``parse_create(body)`` turns the request body into the keyword arguments of
``cloud.compute.servers.create`` or raises ``BadRequest`` naming the bad field.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import uuid
from typing import Any

from pocketstack.common import errors
from pocketstack.common.http import parse_bool

MAX_USER_DATA = 65535  # bytes, decoded


def _bad(field: str, why: str) -> errors.BadRequest:
    return errors.BadRequest(f"Invalid input for field/attribute {field}. {why}")


def _ref(value: Any, field: str, required: bool = True) -> str | None:
    """An id given as itself or as a URL (its last path segment)."""
    if value is None or value == "":
        if required:
            raise _bad(field, f"'{field}' is a required property")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise _bad(field, f"Value: {value!r}. Expected a string.")
    ref = value.rstrip("/").rsplit("/", 1)[-1].strip()
    if not ref:
        raise _bad(field, f"Value: {value!r}. Invalid reference.")
    return ref


def _name(value: Any) -> str:
    if not isinstance(value, str):
        raise _bad("name", "'name' is a required property and must be a string")
    if not value.strip() or value.strip() != value:
        raise _bad(
            "name",
            f"Value: {value!r}. The name must be non-empty and must not "
            f"start or end with whitespace.",
        )
    if len(value) > 255:
        raise _bad("name", "The name is longer than 255 characters.")
    return value


def _networks(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad("networks", f"Value: {value!r}. Expected a list of networks.")
    result = []
    for item in value:
        if not isinstance(item, dict) or set(item) - {"uuid", "fixed_ip", "port", "tag"}:
            raise _bad(
                "networks",
                f"Value: {item!r}. Each network is an object with uuid, fixed_ip or port.",
            )
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
        result.append(net)
    return result


def _uuid(value: Any, what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise errors.BadRequest(
            f"Bad networks format: {what} is not in proper format ({value})"
        ) from None


def _user_data(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad("user_data", "Expected a base64-encoded string.")
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise errors.BadRequest("User data needs to be valid base 64.") from None
    if len(decoded) > MAX_USER_DATA:
        raise errors.BadRequest(
            f"User data too large. User-data size is {len(decoded)} "
            f"bytes, maximum is {MAX_USER_DATA} bytes."
        )
    return value


def metadata(value: Any, field: str = "metadata") -> dict[str, str]:
    """A metadata dict: string keys of 1-255 and string values of 0-255 characters."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad(field, f"Value: {value!r}. Expected an object.")
    for key, item in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 255:
            raise _bad(field, f"Metadata key {key!r} must be 1 to 255 characters.")
        if not isinstance(item, str) or len(item) > 255:
            raise _bad(
                field, f"Metadata value of {key!r} must be a string of at most 255 characters."
            )
    return dict(value)


def _security_groups(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise _bad("security_groups", 'Expected a list of {"name": ...} objects.')
    names = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise _bad("security_groups", f"Value: {item!r}. Each group needs a name.")
        names.append(item["name"])
    return names


def _count(value: Any, field: str) -> int:
    if isinstance(value, bool):
        raise _bad(field, "Expected an integer.")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _bad(field, f"Value: {value!r}. Expected an integer.") from None
    if number < 1:
        raise _bad(field, f"Value: {number}. Must be 1 or more.")
    return number


def _access_ip(value: Any) -> str | None:
    if value in (None, ""):
        return None
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise _bad("accessIPv4", f"Value: {value!r}. Not an IPv4 address.") from None


def parse_create(body: Any) -> tuple[dict[str, Any], bool]:
    """``(kwargs for servers.create, return_reservation_id)`` from a ``POST /servers`` body.

    Raises:
        errors.BadRequest: a missing or invalid field, min_count > max_count, boot from
        volume (not supported).
    """
    if not isinstance(body, dict) or not isinstance(body.get("server"), dict):
        raise _bad("server", "'server' is a required property")
    server = body["server"]
    image_id = _ref(server.get("imageRef"), "imageRef", required=False)
    if image_id is None:
        raise errors.BadRequest(
            "Block Device Mapping is Invalid: boot from volume is not "
            "supported; imageRef is required."
        )
    min_count = _count(server.get("min_count", 1), "min_count")
    max_count = _count(server.get("max_count", min_count), "max_count")
    if min_count > max_count:
        raise errors.BadRequest(f"min_count {min_count} must be <= max_count {max_count}.")
    config_drive = server.get("config_drive")
    kwargs = {
        "name": _name(server.get("name")),
        "image_id": image_id,
        "flavor_id": _ref(server.get("flavorRef"), "flavorRef"),
        "networks": _networks(server.get("networks")),
        "key_name": server.get("key_name") or None,
        "user_data": _user_data(server.get("user_data")),
        "metadata": metadata(server.get("metadata")),
        "availability_zone": server.get("availability_zone") or None,
        "security_groups": _security_groups(server.get("security_groups")),
        "min_count": min_count,
        "max_count": max_count,
        "access_ip_v4": _access_ip(server.get("accessIPv4")),
        "config_drive": True
        if config_drive in (None, "")
        else parse_bool(config_drive, "config_drive"),
    }
    for field in ("key_name", "availability_zone"):
        if kwargs[field] is not None and not isinstance(kwargs[field], str):
            raise _bad(field, "Expected a string.")
    reservation = parse_bool(server.get("return_reservation_id", False), "return_reservation_id")
    return kwargs, reservation
