"""Role-based policy: who may do what.

Each service lists its rules in ``<service>/policies.py`` as ``RULES = {"compute:servers:create":
"member", ...}`` and registers them with ``register``. A rule is one check or several joined
by `` or `` (the caller passes when any passes), in the spirit of oslo.policy check strings.
Role checks follow OpenStack's default personas (the "Secure RBAC" defaults):

- ``admin``: the cloud administrator (role ``admin``).
- ``member``: creates and changes resources of its project (role ``member`` or ``admin``).
- ``reader``: reads its project's resources (``reader``, ``member`` or ``admin``).
- ``any``: any authenticated caller.
- ``system_reader``: a reader (or higher) with a system-scoped token (Keystone's
  ``role:reader and system_scope:all``); a system admin passes ``admin`` as any admin does.
- ``domain_reader`` / ``domain_manager``: a reader (or higher) / a ``manager`` with a
  domain-scoped token whose domain is ``target["domain_id"]`` (Keystone's ``role:reader
  and token.domain.id:%(target.domain_id)s`` and its domain manager persona).
- ``service``: a service user (role ``service``, as Nova's user has in Placement's
  ``role:admin or role:service`` defaults).

Target checks compare the caller with the object acted on, given as ``target`` to
``enforce``/``allowed`` (a mapping; a missing key fails the check):

- ``owner``: ``target["user_id"]`` is the caller's user (Keystone's ``user_id:%(user_id)s``).
- ``project``: ``target["project_id"]`` is the caller's token project.
- ``domain``: ``target["domain_id"]`` is the caller's domain (the domain of its token's
  project, or its domain scope).

Internal work (``RequestContext.system()``) passes every rule; an admin passes every role
check but not a target check it does not meet (``owner`` alone is the user itself only).

Project scoping (a project never sees another's resources, answered 404) is the manager's job
through ``RequestContext.owns``; policy answers "may this caller call this at all".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pocketstack.common.auth import RequestContext
from pocketstack.common.errors import PolicyNotAuthorized

_RULES: dict[str, tuple[str, ...]] = {}
_ROLE_CHECKS = (
    "any",
    "reader",
    "member",
    "admin",
    "system_reader",
    "domain_reader",
    "domain_manager",
    "service",
)
_TARGET_CHECKS = {"owner": "user_id", "project": "project_id", "domain": "domain_id"}


def register(rules: Mapping[str, str]) -> None:
    """Add a service's rules. Raises ValueError for an unknown check."""
    for name, rule in rules.items():
        checks = tuple(c.strip() for c in rule.split(" or "))
        unknown = [c for c in checks if c not in _ROLE_CHECKS and c not in _TARGET_CHECKS]
        if unknown:
            raise ValueError(f"policy {name}: unknown check {unknown[0]!r}")
        _RULES[name] = checks


def rule(name: str) -> str:
    """The check string of a registered rule (``"admin"`` for an unknown one)."""
    return " or ".join(_RULES.get(name, ("admin",)))


def _passes(ctx: RequestContext, check: str, target: Mapping[str, Any]) -> bool:
    if check in _TARGET_CHECKS:
        mine = getattr(ctx, _TARGET_CHECKS[check])
        return mine is not None and target.get(_TARGET_CHECKS[check]) == mine
    if ctx.is_admin:
        return True
    if check == "any":
        return ctx.user_id is not None
    if check == "reader":
        return bool({"reader", "member"} & set(ctx.roles))
    if check == "member":
        return ctx.can_write
    if check == "system_reader":
        return ctx.system_scope and bool({"reader", "member", "manager"} & set(ctx.roles))
    if check in ("domain_reader", "domain_manager"):
        domain_scoped = ctx.domain_id is not None and ctx.project_id is None
        wanted = {"manager"} if check == "domain_manager" else {"reader", "member", "manager"}
        return (
            domain_scoped
            and not ctx.system_scope
            and bool(wanted & set(ctx.roles))
            and target.get("domain_id") == ctx.domain_id
        )
    if check == "service":
        return "service" in ctx.roles
    return False


def allowed(ctx: RequestContext, rule: str, target: Mapping[str, Any] | None = None) -> bool:
    """Whether ``ctx`` passes ``rule`` on ``target``. Unknown rules are admin-only (fail
    closed)."""
    if ctx.is_system:
        return True
    checks = _RULES.get(rule, ("admin",))
    return any(_passes(ctx, check, target or {}) for check in checks)


def enforce(ctx: RequestContext, rule: str, target: Mapping[str, Any] | None = None) -> None:
    """Raise ``PolicyNotAuthorized`` (403) unless ``ctx`` passes ``rule`` on ``target``."""
    if not allowed(ctx, rule, target):
        raise PolicyNotAuthorized(f"Policy doesn't allow {rule} to be performed.")
