"""Turning a validated request body into typed values, for the handlers of every family.

The body was checked against its JSON schema (``schemas``) before a handler runs; these
helpers still refuse, with Neutron's 400 ``InvalidInput``, what an in-process caller could
send that the schema would not let through (unknown attributes, wrong types), so a record
never carries an untyped value. Semantic checks (a CIDR that parses, a port range that suits
the protocol, admin-only attributes) stay with the logic.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Any

from pocketstack.network import exceptions as exc

#: Attributes every resource accepts on create (and ignores when they name the caller).
COMMON_ATTRS = frozenset({"name", "description", "tenant_id", "project_id", "tags"})


def check_attrs(body: dict[str, Any], allowed: Set[str]) -> None:
    """Raise InvalidInput (400) naming attributes not in ``allowed`` or ``COMMON_ATTRS``."""
    unknown = sorted(set(body) - set(allowed) - COMMON_ATTRS)
    if unknown:
        raise exc.InvalidInput(f"Unrecognized attribute(s) '{', '.join(unknown)}'")


def want_str(body: dict[str, Any], key: str, default: str = "", maxlen: int = 255) -> str:
    """A string attribute (None becomes ``default``), at most ``maxlen`` characters."""
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise exc.InvalidInput(f"'{value}' is not a valid string for {key}.")
    if len(value) > maxlen:
        raise exc.InvalidInput(f"'{key}' exceeds maximum length of {maxlen}.")
    return value


def want_bool(body: dict[str, Any], key: str, default: bool) -> bool:
    """A boolean attribute (``true``/``false``/``1``/``0`` strings accepted, as Neutron's
    ``convert_to_boolean``)."""
    value = body.get(key, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise exc.InvalidInput(f"'{value}' is not a valid boolean value for {key}.")


def want_list(body: dict[str, Any], key: str) -> list[Any]:
    """A list attribute (None becomes [])."""
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise exc.InvalidInput(f"'{value}' is not a list for {key}.")
    return value


def want_digits(value: Any, message: str) -> int:
    """An integer given as a JSON integer or a string of ASCII digits (Neutron's
    ``convert_to_int``; ``str.isdigit`` alone also takes ``²``, which ``int()`` refuses).

    Raises:
        InvalidInput (400) with ``message``.
    """
    text = str(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise exc.InvalidInput(message)
    if not (text.isascii() and text.isdigit()):
        raise exc.InvalidInput(message)
    return int(text)


def optional_bool(body: dict[str, Any], key: str) -> bool | None:
    """A boolean attribute when the body has it, else None."""
    return want_bool(body, key, False) if key in body else None


def optional_str(body: dict[str, Any], key: str) -> str | None:
    """A string attribute when the body has it (None given becomes ``""``), else None."""
    return want_str(body, key) if key in body else None


def optional_list(body: dict[str, Any], key: str) -> list[Any] | None:
    """A list attribute when the body has it (None given becomes ``[]``), else None."""
    return want_list(body, key) if key in body else None


def tags(body: dict[str, Any]) -> list[str]:
    """The ``tags`` of a new resource (``[]`` when absent)."""
    return [str(t) for t in want_list(body, "tags")]


def optional_tags(body: dict[str, Any]) -> list[str] | None:
    """The new ``tags`` of an update, or None when the body has none."""
    return tags(body) if "tags" in body else None


def project(body: dict[str, Any]) -> str | None:
    """The project a create asks for (``project_id``, or the older ``tenant_id``)."""
    wanted = body.get("project_id") or body.get("tenant_id")
    return str(wanted) if wanted else None
