"""Handlers of ``/v2.0/security-groups`` (Networking API v2.0 reference, "Security groups
(security-groups)").

Each parses (``parse_create``/``parse_update``), authorizes
(Neutron's ``<op>_security_group``), calls one function of ``cloud.network.security_groups``
and renders with ``views.security_group``. 201 on create, 204 on delete, 200 otherwise.
Groups stay per project for admins too (``all_projects`` to see every project's), so that
``default`` names one group.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest
from pocketstack.network.api import listing, parse, views
from pocketstack.network.secgroups import SecurityGroupCreate, SecurityGroupUpdate

_ATTRS = frozenset({"stateful"})


def parse_create(body: dict[str, Any]) -> SecurityGroupCreate:
    """The ``security_group`` body of ``POST`` as a ``SecurityGroupCreate``.

    Raises:
        InvalidInput (400): an unknown attribute, a wrong type.
    """
    parse.check_attrs(body, _ATTRS)
    return SecurityGroupCreate(
        name=parse.want_str(body, "name"),
        description=parse.want_str(body, "description"),
        project_id=parse.project(body),
        stateful=parse.want_bool(body, "stateful", True),
        tags=parse.tags(body),
    )


def parse_update(body: dict[str, Any]) -> SecurityGroupUpdate:
    """The ``security_group`` body of ``PUT`` as a ``SecurityGroupUpdate``.

    Raises:
        InvalidInput (400): an unknown attribute, a wrong type.
    """
    parse.check_attrs(body, _ATTRS)
    return SecurityGroupUpdate(
        name=parse.optional_str(body, "name"),
        description=parse.optional_str(body, "description"),
        stateful=parse.optional_bool(body, "stateful"),
        tags=parse.optional_tags(body),
    )


def list_security_groups(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/security-groups``: filters, ``fields``, sorting, pagination."""
    query = listing.parse(req)
    policy.enforce(req.ctx, "get_security_group")
    found = req.cloud.network.security_groups.list(req.ctx, query)
    return views.page(req, query, "security-groups", found, views.security_group)


def get_security_group(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/security-groups/{id}``."""
    policy.enforce(req.ctx, "get_security_group")
    record = req.cloud.network.security_groups.get(req.ctx, req.params["id"])
    return views.one(req, "security_group", views.security_group(record))


def create_security_group(req: ApiRequest) -> dict[str, Any]:
    """``POST /v2.0/security-groups`` with ``{"security_group": {...}}``; 201."""
    spec = parse_create(req.require_body("security_group"))
    policy.enforce(req.ctx, "create_security_group")
    record = req.cloud.network.security_groups.create(req.ctx, spec)
    return views.one(req, "security_group", views.security_group(record))


def update_security_group(req: ApiRequest) -> dict[str, Any]:
    """``PUT /v2.0/security-groups/{id}`` with ``{"security_group": {changes}}``."""
    changes = parse_update(req.require_body("security_group"))
    policy.enforce(req.ctx, "update_security_group")
    record = req.cloud.network.security_groups.update(req.ctx, req.params["id"], changes)
    return views.one(req, "security_group", views.security_group(record))


def delete_security_group(req: ApiRequest) -> None:
    """``DELETE /v2.0/security-groups/{id}``; 204."""
    policy.enforce(req.ctx, "delete_security_group")
    req.cloud.network.security_groups.delete(req.ctx, req.params["id"])
