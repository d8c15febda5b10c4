"""JSON schemas of the Image API v2 (Glance): the request body of each route that takes one,
and the image and member schemas published at ``GET /v2/schemas/image`` and
``/v2/schemas/member`` (Image API v2 reference, "Image Schemas").

One table, ``IMAGE_PROPERTIES``, is both what Glance publishes for an image and what a create
body and each JSON-patch ``value`` are validated against; ``MEMBER_PROPERTIES`` likewise for
members. The HTTP layer checks a body against its route's schema before the handler runs: a
mismatch is a 400 in Glance's error body and nothing is written.

What they follow, from Glance's image schema and request deserializers:

- ``name``, ``owner`` and the two formats take ``null``; booleans are JSON booleans only; the
  formats are those pocketstack supports (``pocketstack.image.formats``).
- ``min_disk``/``min_ram`` are integers from 0 to 2**31 - 1, the 32-bit column Glance (and
  pocketstack) store them in; Glance leaves them unbounded and a database refuses the rest.
- Tags are strings of 1..255 characters. Duplicates are accepted and kept once, as Glance
  stores a set (``openstack image create --tag a --tag a`` sends both).
- Any other key of an image is a custom property: a name of 1..255 characters (Glance's limit)
  and a string value of at most 65535 characters (Glance's ``Text`` column; Glance itself does
  not bound it). How many an image may have (``fields.MAX_PROPERTIES``) is counted later.
- Read-only attributes (``status``, ``checksum``...) carry their published types; giving one
  passes the schema and is then refused with 403, as in Glance. Reserved names (``location``,
  ``deleted``, ``os_glance_*``) are 403 too (``fields.check_not_reserved``), not schema errors.
- A PATCH body is a JSON array of ``add``/``replace``/``remove`` operations whose ``path`` is a
  one-level JSON pointer (``/name``); the ``value`` of an add or replace must match the
  property the path names. Members an operation does not use are ignored (RFC 6902).
- Import, member create and member update bodies: the keys Glance reads are typed, others are
  ignored as Glance ignores them.
"""

from __future__ import annotations

import copy
from typing import Any

from pocketstack.common import schema_types as t
from pocketstack.image import fields
from pocketstack.image.access import MEMBER_STATUSES, VISIBILITIES
from pocketstack.image.data import IMPORT_METHODS
from pocketstack.image.formats import CONTAINER_FORMATS, DISK_FORMATS

Schema = t.Schema

#: Glance's image id: a UUID in its dashed form.
UUID_PATTERN = (
    "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
)
#: ``min_disk`` and ``min_ram`` are stored in a signed 32-bit column.
MAX_INT32 = 2**31 - 1
#: A custom property's value (Image API "Create image": extra properties are strings).
CUSTOM_PROPERTY: Schema = {"type": "string", "maxLength": 65535}
#: A custom property's name (Glance refuses names over 255 characters).
PROPERTY_NAME: Schema = t.string(255, 1)


def _read_only(schema: Schema, description: str) -> Schema:
    return {**schema, "readOnly": True, "description": description}


_NULLABLE_STRING: Schema = {"type": ["null", "string"], "maxLength": 255}
_STRING: Schema = {"type": "string"}

#: The image's standard attributes (Image API "Images": "Show image" response), as published
#: at ``/v2/schemas/image`` and checked in request bodies. Writable ones are ``fields.CORE``
#: plus ``id`` at create; the rest are ``fields.READ_ONLY``.
IMAGE_PROPERTIES: dict[str, Schema] = {
    "id": {"type": "string", "pattern": UUID_PATTERN, "description": "The image's UUID."},
    "name": {**_NULLABLE_STRING, "description": "A name for the image."},
    "visibility": {
        "type": "string",
        "enum": list(VISIBILITIES),
        "description": "Who may see the image.",
    },
    "protected": {"type": "boolean", "description": "A protected image cannot be deleted."},
    "os_hidden": {
        "type": "boolean",
        "description": "A hidden image is left out of image lists unless asked for.",
    },
    "owner": {**_NULLABLE_STRING, "description": "The project that owns the image."},
    "container_format": {
        "type": ["null", "string"],
        "enum": [None, *CONTAINER_FORMATS],
        "description": "The container format of the image data.",
    },
    "disk_format": {
        "type": ["null", "string"],
        "enum": [None, *DISK_FORMATS],
        "description": "The disk format of the image data.",
    },
    "tags": {
        "type": "array",
        "items": t.string(255, 1),
        "description": "Strings attached to the image.",
    },
    "min_ram": {
        **t.integer(0, MAX_INT32),
        "description": "RAM in MiB a server needs to boot the image.",
    },
    "min_disk": {
        **t.integer(0, MAX_INT32),
        "description": "Disk in GiB a server needs to boot the image.",
    },
    "status": _read_only(
        {
            "type": "string",
            "enum": [
                "queued",
                "saving",
                "active",
                "killed",
                "deleted",
                "uploading",
                "importing",
                "pending_delete",
                "deactivated",
            ],
        },
        "Where the image is in its lifecycle.",
    ),
    "checksum": _read_only(
        {"type": ["null", "string"], "maxLength": 32}, "MD5 hex digest of the data."
    ),
    "os_hash_algo": _read_only(
        {"type": ["null", "string"], "maxLength": 64}, "Algorithm of os_hash_value."
    ),
    "os_hash_value": _read_only(
        {"type": ["null", "string"], "maxLength": 128}, "Hex digest of the data (os_hash_algo)."
    ),
    "size": _read_only({"type": ["null", "integer"]}, "Size of the data in bytes."),
    "virtual_size": _read_only(
        {"type": ["null", "integer"]}, "Size in bytes of the disk the data holds."
    ),
    "created_at": _read_only(_STRING, "When the image was created."),
    "updated_at": _read_only(_STRING, "When the image was last changed."),
    "self": _read_only(_STRING, "The image's URL."),
    "file": _read_only(_STRING, "The URL of the image data."),
    "schema": _read_only(_STRING, "The URL of this schema."),
    "direct_url": _read_only(_STRING, "Where the store keeps the data (not shown)."),
    "stores": _read_only(_STRING, "The stores holding the data (not shown)."),
    "locations": _read_only(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"url": t.string(255), "metadata": {"type": "object"}},
                "required": ["url", "metadata"],
            },
        },
        "Where the data is kept (not shown).",
    ),
}

_IMAGE_LINKS = [
    {"rel": "self", "href": "{self}"},
    {"rel": "enclosure", "href": "{file}"},
    {"rel": "describedby", "href": "{schema}"},
]


def image_schema() -> dict[str, Any]:
    """The image schema Glance publishes (Image API "Image Schemas": "Show image schema"):
    the standard attributes, custom properties as strings, and the image's links."""
    return {
        "name": "image",
        "properties": copy.deepcopy(IMAGE_PROPERTIES),
        "additionalProperties": dict(CUSTOM_PROPERTY),
        "links": copy.deepcopy(_IMAGE_LINKS),
    }


#: Image API "Images": "Create image". Standard attributes as published, custom properties as
#: strings; read-only attributes pass here and are refused (403) by ``fields.parse_create``.
IMAGE_CREATE: Schema = {
    "type": "object",
    "properties": IMAGE_PROPERTIES,
    "propertyNames": PROPERTY_NAME,
    "additionalProperties": CUSTOM_PROPERTY,
}

#: A one-level JSON pointer (``/name``): ``~`` only in the escapes ``~0`` and ``~1``; a
#: property name of 255 characters is at most 510 once escaped.
_POINTER: Schema = t.string(511, 2, pattern="^/([^/~]|~[01])+$")


def _value_of(path: str | list[str], schema: Schema) -> Schema:
    """An add or replace on ``path`` (one path, or any path but those listed) has a
    ``value`` matching ``schema``."""
    match: Schema = {"const": path} if isinstance(path, str) else {"not": {"enum": path}}
    return {
        "if": {
            "properties": {"op": {"enum": ["add", "replace"]}, "path": match},
            "required": ["op", "path"],
        },
        "then": {"properties": {"value": schema}},
    }


_WRITABLE = sorted(fields.CORE)
_PATCH_OPERATION: Schema = {
    "type": "object",
    "properties": {"op": t.enum("add", "replace", "remove"), "path": _POINTER, "value": {}},
    "required": ["op", "path"],
    "allOf": [
        {
            "if": {"properties": {"op": {"enum": ["add", "replace"]}}, "required": ["op"]},
            "then": {"required": ["value"]},
        },
        *(_value_of(f"/{name}", IMAGE_PROPERTIES[name]) for name in _WRITABLE),
        # read-only paths are refused with 403 whatever their value
        _value_of([f"/{name}" for name in IMAGE_PROPERTIES], CUSTOM_PROPERTY),
    ],
}


def _v20_value_of(path: str | list[str], schema: Schema) -> Schema:
    """As ``_value_of``, for an operation in the v2.0 (JSON-patch draft 10) form."""
    match: Schema = {"const": path} if isinstance(path, str) else {"not": {"enum": path}}
    return {
        "if": {
            "anyOf": [
                {"properties": {"add": match}, "required": ["add"]},
                {"properties": {"replace": match}, "required": ["replace"]},
            ]
        },
        "then": {"properties": {"value": schema}},
    }


#: An operation of ``application/openstack-images-v2.0-json-patch`` (JSON-patch draft 10,
#: which tempest's image client sends): the op is the key and the path its value,
#: ``{"replace": "/name", "value": "x"}``; the same value checks as the RFC 6902 form.
_PATCH_OPERATION_V20: Schema = {
    "type": "object",
    "properties": {"add": _POINTER, "replace": _POINTER, "remove": _POINTER, "value": {}},
    "oneOf": [{"required": [op]} for op in ("add", "replace", "remove")],
    "allOf": [
        {
            "if": {"anyOf": [{"required": ["add"]}, {"required": ["replace"]}]},
            "then": {"required": ["value"]},
        },
        *(_v20_value_of(f"/{name}", IMAGE_PROPERTIES[name]) for name in _WRITABLE),
        _v20_value_of([f"/{name}" for name in IMAGE_PROPERTIES], CUSTOM_PROPERTY),
    ],
}

#: Image API "Images": "Update image", a body of media type
#: ``application/openstack-images-v2.1-json-patch`` (RFC 6902 operations) or
#: ``...-v2.0-json-patch`` (draft 10: an item without ``op``). At least one operation: an
#: empty patch changes nothing (Glance answers it 200; no client sends one), as an update
#: body elsewhere names at least one attribute.
IMAGE_UPDATE: Schema = {
    **t.array({"if": {"required": ["op"]}, "then": _PATCH_OPERATION, "else": _PATCH_OPERATION_V20}),
    "minItems": 1,
}

#: Image API "Interoperable image import": "Import an image". Only the methods this cloud
#: offers (``GET /v2/info/import``) are accepted, as Glance's ``enabled_import_methods``.
IMAGE_IMPORT: Schema = t.obj(
    {
        "method": t.obj(
            {
                "name": {"type": "string", "enum": list(IMPORT_METHODS)},
                "uri": t.string(2048, 1),
                "glance_image_id": {"type": "string", "pattern": UUID_PATTERN},
                "glance_region": t.string(255, 1),
                "glance_service_interface": t.string(255, 1),
            },
            required=["name"],
            additional=True,
        ),
        "stores": t.array(t.string(255, 1)),
        "all_stores": t.BOOLEAN,
        "all_stores_must_succeed": t.BOOLEAN,
    },
    required=["method"],
    additional=True,
)

#: The member's attributes (Image API "Sharing": "Show image member details" response), as
#: published at ``/v2/schemas/member``.
MEMBER_PROPERTIES: dict[str, Schema] = {
    "created_at": {"type": "string", "description": "When the membership was created."},
    "updated_at": {"type": "string", "description": "When the membership last changed."},
    "image_id": {"type": "string", "pattern": UUID_PATTERN, "description": "The image."},
    "member_id": {"type": "string", "description": "The project the image is shared with."},
    "status": {
        "type": "string",
        "enum": list(MEMBER_STATUSES),
        "description": "Whether the member accepted the image.",
    },
    "schema": {"type": "string", "readOnly": True},
}


def member_schema() -> dict[str, Any]:
    """The member schema Glance publishes (Image API "Image Schemas": "Show image member
    schema")."""
    return {"name": "member", "properties": copy.deepcopy(MEMBER_PROPERTIES)}


#: Image API "Sharing": "Create image member" ``{"member": "<project id>"}``.
MEMBER_CREATE: Schema = t.obj({"member": t.string(255, 1)}, required=["member"], additional=True)

#: Image API "Sharing": "Update image member" ``{"status": "accepted"}``.
MEMBER_UPDATE: Schema = t.obj(
    {"status": MEMBER_PROPERTIES["status"]}, required=["status"], additional=True
)

#: Calls that take no body (Image API "Image tags": "Add image tag"; "Images":
#: "Deactivate image", "Reactivate image"): none, or an empty object.
NO_BODY: Schema = {"type": ["null", "object"], "maxProperties": 0}
