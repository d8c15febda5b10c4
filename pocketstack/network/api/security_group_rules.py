"""Handlers of ``/v2.0/security-group-rules`` (Networking API v2.0 reference, "Security
group rules (security-group-rules)"). Rules have no update.

Each parses (``parse_create``), authorizes (Neutron's ``<op>_security_group_rule``), calls
one function of ``cloud.network.security_group_rules`` and renders with
``views.security_group_rule``. 201 on create, 204 on delete, 200 otherwise.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest
from pocketstack.network import exceptions as exc
from pocketstack.network.api import listing, parse, views
from pocketstack.network.secgroups import SecurityGroupRuleCreate

_ATTRS = frozenset(
    {
        "security_group_id",
        "direction",
        "ethertype",
        "protocol",
        "port_range_min",
        "port_range_max",
        "remote_ip_prefix",
        "remote_group_id",
        "remote_address_group_id",
    }
)


def _optional(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    return None if value is None else str(value)


def _port(body: dict[str, Any], key: str) -> int | None:
    """A rule port: an integer or a string of digits (spaces around allowed); a negative
    integer passes here so that the family answers "Invalid value for port N" as Neutron."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
        raise exc.InvalidInput(f"'{str(value)[:64]}' is not an integer for {key}.")
    return int(text)


def parse_create(body: dict[str, Any]) -> SecurityGroupRuleCreate:
    """The ``security_group_rule`` body of ``POST`` as a ``SecurityGroupRuleCreate``
    (values typed; the family checks direction, protocol, ranges and prefixes).

    Raises:
        InvalidInput (400): an unknown attribute, a port that is not an integer.
    """
    parse.check_attrs(body, _ATTRS)
    return SecurityGroupRuleCreate(
        security_group_id=str(body.get("security_group_id") or ""),
        direction=_optional(body, "direction"),
        ethertype=_optional(body, "ethertype"),
        protocol=_optional(body, "protocol"),
        port_range_min=_port(body, "port_range_min"),
        port_range_max=_port(body, "port_range_max"),
        remote_ip_prefix=_optional(body, "remote_ip_prefix"),
        remote_group_id=_optional(body, "remote_group_id"),
        remote_address_group_id=_optional(body, "remote_address_group_id"),
        description=parse.want_str(body, "description"),
    )


def list_security_group_rules(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/security-group-rules``: filters, ``fields``, sorting, pagination."""
    query = listing.parse(req)
    policy.enforce(req.ctx, "get_security_group_rule")
    found = req.cloud.network.security_group_rules.list(req.ctx, query)
    return views.page(req, query, "security-group-rules", found, views.security_group_rule)


def get_security_group_rule(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/security-group-rules/{id}``."""
    policy.enforce(req.ctx, "get_security_group_rule")
    record = req.cloud.network.security_group_rules.get(req.ctx, req.params["id"])
    return views.one(req, "security_group_rule", views.security_group_rule(record))


def create_security_group_rule(req: ApiRequest) -> dict[str, Any]:
    """``POST /v2.0/security-group-rules`` with ``{"security_group_rule": {...}}``; 201.

    Or Neutron's bulk create, ``{"security_group_rules": [{...}, ...]}`` (as
    openstacksdk's ``create_security_group_rules`` and Ansible's ``security_group`` with
    ``security_group_rules`` send it): all the rules or none, answered with
    ``{"security_group_rules": [...]}`` in the order given.
    """
    if isinstance(req.body, dict) and "security_group_rules" in req.body:
        specs = [parse_create(item) for item in req.body["security_group_rules"]]
        policy.enforce(req.ctx, "create_security_group_rule")
        records = req.cloud.network.security_group_rules.create_many(req.ctx, specs)
        return {
            "security_group_rules": [
                views.one(req, "r", views.security_group_rule(r))["r"] for r in records
            ]
        }
    spec = parse_create(req.require_body("security_group_rule"))
    policy.enforce(req.ctx, "create_security_group_rule")
    record = req.cloud.network.security_group_rules.create(req.ctx, spec)
    return views.one(req, "security_group_rule", views.security_group_rule(record))


def delete_security_group_rule(req: ApiRequest) -> None:
    """``DELETE /v2.0/security-group-rules/{id}``; 204."""
    policy.enforce(req.ctx, "delete_security_group_rule")
    req.cloud.network.security_group_rules.delete(req.ctx, req.params["id"])
