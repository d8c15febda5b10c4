"""Request parsing helpers shared by the identity handlers (400 on bad input)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pocketstack.common.http import ApiRequest, parse_bool
from pocketstack.identity.exceptions import ValidationError

_TYPES = {str: "a string", bool: "a boolean", list: "a list", dict: "an object"}


def field(
    obj: dict[str, Any], name: str, kind: type = str, required: bool = False, default: Any = None
) -> Any:
    """``obj[name]`` checked to be of ``kind`` (None allowed unless required).

    Raises:
        ValidationError: missing when required, or of the wrong type.
    """
    value = obj.get(name, default)
    if value is None:
        if required:
            raise ValidationError(f"'{name}' is a required property.")
        return default
    if kind is bool:
        return parse_bool(value, name)
    if not isinstance(value, kind) or (required and isinstance(value, str) and not value.strip()):
        raise ValidationError(
            f"Invalid input for field '{name}': expected {_TYPES.get(kind, kind.__name__)}."
        )
    return value


def changes(obj: dict[str, Any], allowed: Mapping[str, type]) -> dict[str, Any]:
    """The fields of an update body that are in ``allowed`` (name -> type), type-checked;
    ``id`` and unknown keys are ignored as Keystone does for extra attributes."""
    out = {}
    for name, kind in allowed.items():
        if name in obj:
            out[name] = (
                obj[name] if obj[name] is None and kind is not bool else field(obj, name, kind)
            )
    return out


def owner(req: ApiRequest) -> dict[str, str]:
    """The policy target of a ``/v3/users/{user_id}/...`` call: the user in the path."""
    return {"user_id": req.params["user_id"]}


def query_bool(req: ApiRequest, name: str) -> bool | None:
    """A boolean query filter, or None when absent; a bare ``?name`` counts as true."""
    if name not in req.query:
        return None
    raw = req.query.get(name)
    return True if raw == "" else parse_bool(raw, name)


def query(req: ApiRequest, name: str) -> str | None:
    """A string query filter, or None when absent."""
    return req.query.get(name)
