"""JSON schemas of Glance's metadata definitions (Image API v2 "Metadata definitions"):
the request body of each metadef route and the schemas published under
``/v2/schemas/metadefs/...`` ("Metadata definition schemas"), one table for both as for
images (``schemas.py``).

What they follow, from Glance's metadef schemas: namespace, object, property and resource
type names are 1..80 characters, tag names 1..255, a description up to 500 characters;
``visibility`` is ``public`` or ``private``; a property definition has a ``title`` and a
``type`` (``array``, ``boolean``, ``integer``, ``number``, ``object``, ``string`` or null)
and the JSON-schema keywords Glance's ``PropertyType`` keeps. Other keys are refused (400),
except the read-only ``created_at``, ``updated_at``, ``self`` and ``schema``, which pass the
schema and are then refused with 403 as Glance does (``READ_ONLY``).
"""

from __future__ import annotations

import copy
from typing import Any

from pocketstack.common import schema_types as t

Schema = t.Schema

#: Attributes a client may not set (Glance answers 403 "Attribute '...' is read-only.").
READ_ONLY = ("created_at", "updated_at", "self", "schema")
VISIBILITIES = ("public", "private")
PROPERTY_TYPES = ("array", "boolean", "integer", "number", "object", "string", None)

_NAME80 = t.string(80, 1)
#: Optional strings take null too (Glance's WSME models read null as unset).
_OPT80: Schema = {"type": ["string", "null"], "maxLength": 80}
_TEXT500: Schema = {"type": ["string", "null"], "maxLength": 500}
_STAMP: Schema = {"type": "string", "readOnly": True, "format": "date-time"}
_LINK: Schema = {"type": "string", "readOnly": True}
_READ_ONLY: dict[str, Schema] = {
    "created_at": _STAMP,
    "updated_at": _STAMP,
    "self": _LINK,
    "schema": _LINK,
}
_STRING_ARRAY: Schema = {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
_COUNT: Schema = t.integer(0)

#: One property definition without its name (Glance's ``PropertyType``).
PROPERTY_TYPE: Schema = t.obj(
    {
        "name": _NAME80,
        "title": {"type": "string"},
        "description": {"type": "string"},
        "operators": {"type": "array", "items": {"type": "string"}},
        "type": {"type": ["string", "null"], "enum": list(PROPERTY_TYPES)},
        "required": _STRING_ARRAY,
        "minimum": {"type": "number"},
        "maximum": {"type": "number"},
        "maxLength": _COUNT,
        "minLength": _COUNT,
        "pattern": {"type": "string", "format": "regex"},
        "enum": {"type": "array"},
        "readonly": {"type": "boolean"},
        "default": {},
        "items": t.obj(
            {
                "type": {"type": ["string", "null"], "enum": list(PROPERTY_TYPES)},
                "enum": {"type": "array"},
            }
        ),
        "maxItems": _COUNT,
        "minItems": _COUNT,
        "uniqueItems": {"type": "boolean"},
        "additionalItems": {"type": "boolean"},
    },
    required=["title", "type"],
)
#: ``{"<name>": <property definition>, ...}``
PROPERTY_MAP: Schema = {
    "type": "object",
    "propertyNames": {"maxLength": 80, "minLength": 1},
    "additionalProperties": PROPERTY_TYPE,
}

RESOURCE_TYPE_ASSOCIATION: Schema = t.obj(
    {
        "name": _NAME80,
        "prefix": _OPT80,
        "properties_target": _OPT80,
        **_READ_ONLY,
    },
    required=["name"],
)
OBJECT: Schema = t.obj(
    {
        "name": _NAME80,
        "description": _TEXT500,
        "required": _STRING_ARRAY,
        "properties": PROPERTY_MAP,
        **_READ_ONLY,
    },
    required=["name"],
)
TAG: Schema = t.obj({"name": t.string(255, 1), **_READ_ONLY}, required=["name"])
#: A property as created or updated: its definition with its name.
PROPERTY: Schema = {**PROPERTY_TYPE, "required": ["name", "title", "type"]}
PROPERTY["properties"] = {**PROPERTY_TYPE["properties"], **_READ_ONLY}

NAMESPACE: Schema = t.obj(
    {
        "namespace": _NAME80,
        "display_name": _OPT80,
        "description": _TEXT500,
        "visibility": {"type": "string", "enum": list(VISIBILITIES)},
        "protected": {"type": "boolean"},
        "owner": t.string(255),
        **_READ_ONLY,
        "resource_type_associations": {"type": "array", "items": RESOURCE_TYPE_ASSOCIATION},
        "properties": PROPERTY_MAP,
        "objects": {"type": "array", "items": OBJECT},
        "tags": {"type": "array", "items": TAG},
    },
    required=["namespace"],
)
#: ``POST .../tags`` (create several): ``{"tags": [{"name": ...}, ...]}``.
TAGS: Schema = t.obj({"tags": {"type": "array", "items": TAG}}, required=["tags"])
#: ``POST .../tags/{tag}`` takes no body (or an empty one).
NO_BODY: Schema = {"type": ["object", "null"]}


def _published(name: str, schema: Schema) -> Schema:
    return {"name": name, **copy.deepcopy(schema)}


def _listing(name: str, key: str, item: Schema, paged: bool = True) -> Schema:
    props: dict[str, Any] = {key: {"type": "array", "items": item}, "schema": {"type": "string"}}
    links = [{"rel": "describedby", "href": "{schema}"}]
    if paged:
        props.update(first={"type": "string"}, next={"type": "string"})
        links = [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"}, *links]
    return {"name": name, "properties": props, "links": links}


def published() -> dict[str, Schema]:
    """The schemas at ``/v2/schemas/metadefs/<name>``, by name (``namespace``,
    ``namespaces``, ``object``, ``objects``, ``property``, ``properties``, ``tag``,
    ``tags``, ``resource_type``, ``resource_types``)."""
    namespace = _published("namespace", NAMESPACE)
    obj = _published("object", OBJECT)
    prop = _published("property", PROPERTY)
    tag = _published("tag", TAG)
    rta = _published("resource_type_association", RESOURCE_TYPE_ASSOCIATION)
    return {
        "namespace": namespace,
        "namespaces": _listing("namespaces", "namespaces", namespace),
        "object": obj,
        "objects": _listing("objects", "objects", obj),
        "property": prop,
        "properties": {
            "name": "properties",
            "properties": {
                "properties": {"type": "object", "additionalProperties": PROPERTY_TYPE},
                "schema": {"type": "string"},
                "first": {"type": "string"},
                "next": {"type": "string"},
            },
            "links": [
                {"rel": "first", "href": "{first}"},
                {"rel": "next", "href": "{next}"},
                {"rel": "describedby", "href": "{schema}"},
            ],
        },
        "tag": tag,
        "tags": _listing("tags", "tags", tag),
        "resource_type": rta,
        "resource_types": _listing(
            "resource_type_associations", "resource_type_associations", rta, paged=False
        ),
    }


#: ``PUT .../objects/{name}``: an object whose ``name`` defaults to the path's.
OBJECT_UPDATE: Schema = {k: v for k, v in OBJECT.items() if k != "required"}
