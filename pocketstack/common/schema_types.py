"""Building blocks of request-body schemas (JSON Schema 2020-12 dicts).

Services compose their schemas from these, beside their handlers (``<service>/api/schemas.py``),
the way Nova's ``parameter_types`` and Keystone's ``validation.parameter_types`` are used.
Lengths follow OpenStack: 255 for most names, 64 for Keystone domain and project names,
36 for UUIDs, 64 for ids Keystone generates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Schema = dict[str, Any]


def string(max_length: int = 255, min_length: int = 0, pattern: str | None = None) -> Schema:
    """A string of bounded length (characters), optionally matching ``pattern``."""
    schema: Schema = {"type": "string", "minLength": min_length, "maxLength": max_length}
    if pattern is not None:
        schema["pattern"] = pattern
    return schema


def name(max_length: int = 255) -> Schema:
    """A resource name: 1..max_length characters, not only blanks."""
    return string(max_length, 1, pattern=r"\S")


def nullable(schema: Schema) -> Schema:
    """``schema`` or JSON null."""
    return {"anyOf": [{"type": "null"}, schema]}


def integer(minimum: int | None = None, maximum: int | None = None) -> Schema:
    """A JSON integer within the bounds (inclusive)."""
    schema: Schema = {"type": "integer"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def integer_like(minimum: int | None = None, maximum: int | None = None) -> Schema:
    """An integer given as a JSON number or a decimal string (Nova takes ``"1024"`` for
    ``ram``), bounded when it is a number; the handler converts a string and checks it."""
    return {"anyOf": [integer(minimum, maximum), string(20, 1, pattern=r"^ *-?[0-9]+ *$")]}


def enum(*values: Any) -> Schema:
    """One of ``values``."""
    return {"enum": list(values)}


def array(items: Schema, max_items: int | None = None, unique: bool = False) -> Schema:
    """A list of ``items``."""
    schema: Schema = {"type": "array", "items": items}
    if max_items is not None:
        schema["maxItems"] = max_items
    if unique:
        schema["uniqueItems"] = True
    return schema


def obj(
    properties: Mapping[str, Schema],
    required: Sequence[str] = (),
    additional: bool | Schema = False,
    **extra: Any,
) -> Schema:
    """A JSON object with these properties; ``additional`` says what other keys may be."""
    schema: Schema = {
        "type": "object",
        "properties": dict(properties),
        "additionalProperties": additional,
    }
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


def wrapped(key: str, inner: Schema, additional: bool = False) -> Schema:
    """The usual OpenStack envelope ``{"<key>": {...}}``."""
    return obj({key: inner}, required=[key], additional=additional)


#: A JSON boolean (Keystone, Neutron, Glance take only these).
BOOLEAN: Schema = {"type": "boolean"}
#: Nova's lenient boolean: JSON booleans and the strings its ``parameter_types`` accepts.
BOOLEAN_LENIENT: Schema = {
    "enum": [
        True,
        False,
        *(
            s
            for word in ("true", "false", "1", "0", "on", "off", "yes", "no")
            for s in (word, word.capitalize(), word.upper())
        ),
    ]
}
#: A UUID with or without dashes.
UUID: Schema = string(36, 32, pattern=r"^[0-9a-fA-F-]{32,36}$")
#: An id as Keystone generates them (hex, up to 64 characters) or a name-like id.
ID: Schema = string(64, 1, pattern=r"^[A-Za-z0-9_.-]+$")
#: Free text (descriptions).
DESCRIPTION: Schema = string(65535)
#: Key/value metadata with string values (Nova server metadata: keys and values <= 255).
METADATA: Schema = {
    "type": "object",
    "maxProperties": 128,
    "propertyNames": string(255, 1),
    "additionalProperties": string(255),
}
