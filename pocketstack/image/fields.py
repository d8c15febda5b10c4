"""Validation of image fields, for create (POST body) and update (JSON-patch operations).

Follows the Glance v2 image schema: standard fields with their types, read-only fields (403
when given), and extra properties as string values (400 otherwise).
"""

from __future__ import annotations

import uuid
from typing import Any

from pocketstack.common.errors import BadRequest
from pocketstack.image.access import VISIBILITIES
from pocketstack.image.exceptions import ImageForbidden
from pocketstack.image.formats import CONTAINER_FORMATS, DISK_FORMATS

#: set by the service only (403 when a client gives them)
READ_ONLY = frozenset(
    {
        "status",
        "size",
        "virtual_size",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "created_at",
        "updated_at",
        "file",
        "schema",
        "self",
        "direct_url",
        "locations",
        "stores",
        "id",
    }
)
#: standard fields a client sets (``id`` only at create)
CORE = frozenset(
    {
        "name",
        "visibility",
        "protected",
        "os_hidden",
        "min_disk",
        "min_ram",
        "disk_format",
        "container_format",
        "tags",
        "owner",
    }
)
#: names Glance keeps for itself (403 "Attribute '...' is reserved."), and its namespace
RESERVED = frozenset({"location", "deleted", "deleted_at"})
RESERVED_PREFIX = "os_glance"
MAX_TAGS = 128
MAX_PROPERTIES = 128


def parse_create(body: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Split a create body into ``(standard fields, extra properties)``, validated.

    Raises:
        BadRequest: not an object, a wrong type or value (e.g. an unknown disk_format).
        ImageForbidden: a read-only field (other than ``id``) is given.
    """
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object.")
    core: dict[str, Any] = {}
    props: dict[str, str] = {}
    for key, value in body.items():
        if key == "id":
            core["id"] = check_id(value)
        elif key in CORE:
            core[key] = coerce(key, value)
        elif key in READ_ONLY:
            raise ImageForbidden(f"Attribute '{key}' is read-only.")
        else:
            check_not_reserved(key)
            props[key] = check_property(key, value)
    if len(props) > MAX_PROPERTIES:
        raise BadRequest(f"Maximum number of image properties ({MAX_PROPERTIES}) exceeded.")
    return core, props


def check_not_reserved(name: str) -> None:
    """Refuse a property name Glance reserves: ``location``, ``deleted``, ``deleted_at`` and
    the ``os_glance`` namespace (Image API "Images": "Create image", "Update image").

    Raises:
        ImageForbidden: the name is reserved (403, as Glance).
    """
    if name in RESERVED or name.startswith(RESERVED_PREFIX):
        raise ImageForbidden(f"Attribute '{name}' is reserved.")


def check_id(value: Any) -> str:
    """A client-chosen image id: a UUID string (400 otherwise)."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise BadRequest(f"Invalid image id {value!r}: must be a UUID.") from None


def coerce(key: str, value: Any) -> Any:
    """Validate a standard field's value and return it in stored form.

    Raises:
        BadRequest: wrong type, out of range or not one of the allowed values.
    """
    if key == "name":
        if value is not None and (not isinstance(value, str) or len(value) > 255):
            raise BadRequest("Invalid value for name: a string of at most 255 characters.")
        return value
    if key in ("disk_format", "container_format"):
        allowed = DISK_FORMATS if key == "disk_format" else CONTAINER_FORMATS
        if value is not None and value not in allowed:
            raise BadRequest(
                f"Invalid value '{value}' for {key}: expected one of {', '.join(allowed)}."
            )
        return value
    if key == "visibility":
        if value not in VISIBILITIES:
            raise BadRequest(
                f"Invalid value '{value}' for visibility: expected one of "
                f"{', '.join(VISIBILITIES)}."
            )
        return value
    if key in ("protected", "os_hidden"):
        if not isinstance(value, bool):
            raise BadRequest(f"Invalid value {value!r} for {key}: expected a boolean.")
        return value
    if key in ("min_disk", "min_ram"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise BadRequest(f"Invalid value {value!r} for {key}: expected an integer >= 0.")
        return value
    if key == "tags":
        return check_tags(value)
    if key == "owner":
        if value is not None and (not isinstance(value, str) or len(value) > 255):
            raise BadRequest("Invalid value for owner: a string of at most 255 characters.")
        return value
    raise BadRequest(f"Unknown attribute {key!r}.")


def check_tags(value: Any) -> list[str]:
    """A tag list: unique strings of 1..255 characters, at most ``MAX_TAGS`` (order kept)."""
    if not isinstance(value, list):
        raise BadRequest("Invalid value for tags: expected a list of strings.")
    tags: list[str] = []
    for tag in value:
        if check_tag(tag) not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise BadRequest(f"Maximum number of tags ({MAX_TAGS}) exceeded.")
    return tags


def check_tag(tag: Any) -> str:
    """One tag: a non-empty string of at most 255 characters (400 otherwise)."""
    if not isinstance(tag, str) or not tag or len(tag) > 255:
        raise BadRequest(f"Invalid tag {tag!r}: a string of 1 to 255 characters.")
    return tag


def check_property(key: str, value: Any) -> str:
    """An extra property: name of 1..255 characters, string value (400 otherwise)."""
    if not key or len(key) > 255:
        raise BadRequest(f"Invalid property name {key!r}.")
    if not isinstance(value, str):
        raise BadRequest(f"Invalid value for property '{key}': expected a string.")
    if len(value) > 65535:
        raise BadRequest(f"Value of property '{key}' is too long.")
    return value


def parse_patch(body: Any) -> list[tuple[str, str, Any]]:
    """JSON-patch operations (``application/openstack-images-v2.1-json-patch``, or the
    v2.0 draft-10 form ``{"replace": "/name", "value": ...}``) as ``(op, attribute, value)``
    with op in add/replace/remove and ``value`` ``None`` for remove.

    The body's shape is checked first by the route's schema (``api.schemas.IMAGE_UPDATE``);
    these checks hold for a caller that bypasses it.

    Raises:
        BadRequest: not a list of operations, an unknown op, a path that is not
            ``/<attribute>``, or a missing value.
        ImageForbidden: a reserved attribute (``check_not_reserved``).
    """
    if not isinstance(body, list):
        raise BadRequest("Request body must be a JSON array of patch operations.")
    ops: list[tuple[str, str, Any]] = []
    for item in body:
        if isinstance(item, dict) and "op" not in item:  # the v2.0 (draft 10) form
            named = [op for op in ("add", "replace", "remove") if op in item]
            if len(named) == 1:
                item = {**item, "op": named[0], "path": item[named[0]]}
        if not isinstance(item, dict) or item.get("op") not in ("add", "replace", "remove"):
            raise BadRequest("Each operation must be an object with op add, replace or remove.")
        path = item.get("path")
        if not isinstance(path, str) or not path.startswith("/") or path.count("/") != 1:
            raise BadRequest(f"Invalid JSON pointer for this resource: {path!r}.")
        name = path[1:].replace("~1", "/").replace("~0", "~")
        check_not_reserved(name)
        if item["op"] != "remove" and "value" not in item:
            raise BadRequest(f"Operation {item['op']} on {path} needs a value.")
        ops.append((item["op"], name, item.get("value")))
    return ops
