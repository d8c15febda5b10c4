"""Role-based policy: who may do what.

Each service lists its rules in ``<service>/policies.py`` as ``RULES = {"compute:servers:create":
"member", ...}`` and registers them with ``register``. A rule names the least role needed,
following OpenStack's default personas (the "Secure RBAC" defaults):

- ``admin``: the cloud administrator (role ``admin``).
- ``member``: creates and changes resources of its project (role ``member`` or ``admin``).
- ``reader``: reads its project's resources (``reader``, ``member`` or ``admin``).
- ``any``: any authenticated caller.

Project scoping (a project never sees another's resources, answered 404) is the manager's job
through ``RequestContext.owns``; policy only answers "may this role call this at all".
"""

from __future__ import annotations

from collections.abc import Mapping

from pocketstack.common.auth import RequestContext
from pocketstack.common.errors import PolicyNotAuthorized

_RULES: dict[str, str] = {}
_LEVELS = ("any", "reader", "member", "admin")


def register(rules: Mapping[str, str]) -> None:
    """Add a service's rules. Raises ValueError for an unknown level."""
    for name, level in rules.items():
        if level not in _LEVELS:
            raise ValueError(f"policy {name}: unknown level {level!r}")
        _RULES[name] = level


def allowed(ctx: RequestContext, rule: str) -> bool:
    """Whether ``ctx`` passes ``rule``. Unknown rules are admin-only (fail closed)."""
    level = _RULES.get(rule, "admin")
    if ctx.is_admin:
        return True
    if level == "any":
        return ctx.user_id is not None
    if level == "reader":
        return bool({"reader", "member"} & set(ctx.roles))
    if level == "member":
        return ctx.can_write
    return False


def enforce(ctx: RequestContext, rule: str) -> None:
    """Raise ``PolicyNotAuthorized`` (403) unless ``ctx`` passes ``rule``."""
    if not allowed(ctx, rule):
        raise PolicyNotAuthorized(f"Policy doesn't allow {rule} to be performed.")
