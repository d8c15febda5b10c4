"""Ports' extra DHCP options (Neutron's ``extra_dhcp_opt`` extension, Networking API v2.0
reference, "Ports" > ``extra_dhcp_opts``).

A port's options are a list of ``{"opt_name", "opt_value", "ip_version"}`` (``ip_version``
4 or 6, 4 when not given), at most one per ``(opt_name, ip_version)``, kept on the port
(``Port.extra_dhcp_opts``) in the order they were first set. The DHCP agent serves them to
that port only (``host_state`` -> ``drivers/dhcp.py``).

Neutron's rules, checked here (400 ``InvalidInput``):

- ``opt_name`` a non-empty string of at most 64 characters; ``opt_value`` a string of at
  most 255 characters or ``null``, empty only for ``router`` and ``classless-static-route``
  (an empty value there tells dnsmasq to send no such option); ``ip_version`` 4 or 6 (also
  as a string).
- Beyond Neutron: control characters (newlines, NUL...) in a name or a value are refused,
  since each option becomes one line of dnsmasq's options file.
- Create: options with a ``null`` value are not stored; two options with the same
  ``(opt_name, ip_version)`` are a 400.
- Update (``merge``): an option matching a stored one by ``(opt_name, ip_version)``
  replaces its value, or removes it when its value is ``null``; others are added. ``null``
  or ``[]`` for the whole attribute changes nothing (Neutron's ``_update_extra_dhcp_opts``).
"""

from __future__ import annotations

from typing import Any

from pocketstack.network import exceptions as exc

NAME_MAX_LEN = 64
VALUE_MAX_LEN = 255
#: options whose value may be empty (Neutron's ``VALID_BLANK_EXTRA_DHCP_OPTS``)
BLANK_ALLOWED = frozenset({"router", "classless-static-route"})
_KEYS = frozenset({"opt_name", "opt_value", "ip_version"})


def _fail(reason: str) -> exc.InvalidInput:
    return exc.InvalidInput(f"Invalid data format for extra_dhcp_opts: {reason}")


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def _ip_version(value: Any) -> int:
    if value is None:
        return 4
    if isinstance(value, bool) or str(value) not in ("4", "6"):
        raise _fail(f"ip_version '{str(value)[:16]}' is not 4 or 6.")
    return int(value)


def check_one(opt: Any) -> dict[str, Any]:
    """One option as stored: ``{"opt_name": str, "opt_value": str | None, "ip_version":
    4 | 6}``. Raises InvalidInput (400) when it breaks the rules in the module docstring."""
    if not isinstance(opt, dict):
        raise _fail("each option must be an object.")
    unknown = sorted(set(opt) - _KEYS)
    if unknown:
        raise _fail(f"unknown key(s) {', '.join(str(k)[:32] for k in unknown)}.")
    if "opt_name" not in opt or "opt_value" not in opt:
        raise _fail("each option needs opt_name and opt_value.")
    name, value = opt["opt_name"], opt["opt_value"]
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX_LEN:
        raise _fail(f"opt_name must be a non-empty string of at most {NAME_MAX_LEN} characters.")
    if value is not None and (not isinstance(value, str) or len(value) > VALUE_MAX_LEN):
        raise _fail(f"opt_value of {name} must be a string of at most {VALUE_MAX_LEN} characters.")
    if value == "" and name not in BLANK_ALLOWED:
        raise _fail(f"opt_value of {name} must not be empty.")
    if _has_control(name) or (value is not None and _has_control(value)):
        raise _fail("opt_name and opt_value must not contain control characters.")
    return {"opt_name": name, "opt_value": value, "ip_version": _ip_version(opt.get("ip_version"))}


def _key(opt: dict[str, Any]) -> tuple[str, int]:
    return (opt["opt_name"], opt["ip_version"])


def for_create(given: list[Any] | None) -> list[dict[str, Any]]:
    """The options a new port stores (``null`` values dropped).

    Raises:
        InvalidInput (400): a bad option, or two with one ``(opt_name, ip_version)``.
    """
    checked = [check_one(opt) for opt in given or []]
    keys = [_key(opt) for opt in checked]
    if len(set(keys)) != len(keys):
        raise _fail("an option is given twice for the same opt_name and ip_version.")
    return [opt for opt in checked if opt["opt_value"] is not None]


def merge(current: list[dict[str, Any]], changes: list[Any] | None) -> list[dict[str, Any]]:
    """``current`` (as stored) with ``changes`` applied by ``(opt_name, ip_version)``: a
    value replaces, ``null`` removes, a new key is appended. Returns a new list.

    Raises:
        InvalidInput (400): a bad option.
    """
    merged = {_key(opt): dict(opt) for opt in current}
    for opt in (check_one(o) for o in changes or []):
        if opt["opt_value"] is None:
            merged.pop(_key(opt), None)
        else:
            merged[_key(opt)] = opt
    return list(merged.values())


def for_ip_version(opts: list[dict[str, Any]], ip_version: int) -> list[dict[str, Any]]:
    """The options of one IP version, as the DHCP driver takes them
    (``[{"opt_name", "opt_value", "ip_version"}]``)."""
    return [dict(opt) for opt in opts if opt.get("ip_version", 4) == ip_version]
