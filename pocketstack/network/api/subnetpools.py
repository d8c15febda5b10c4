"""Handlers of ``/v2.0/subnetpools`` (Networking API v2.0 reference, "Subnet pools").

Each parses, authorizes (Neutron's ``<op>_subnetpool``), calls one function of
``cloud.network.subnetpools`` and renders with ``views.subnetpool``. 201 on create, 204 on
delete, 200 otherwise.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest
from pocketstack.network import common
from pocketstack.network.api import listing, parse, views
from pocketstack.network.subnetpools import SubnetPoolCreate, SubnetPoolUpdate


def _int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    return parse.want_digits(value, f"'{value}' is not a valid integer for {key}.")


def _prefixes(body: dict[str, Any]) -> list[str] | None:
    value = parse.optional_list(body, "prefixes")
    return None if value is None else [str(p) for p in value]


def parse_create(body: dict[str, Any]) -> SubnetPoolCreate:
    """The ``subnetpool`` body of ``POST /v2.0/subnetpools`` (schema-checked).

    Raises:
        InvalidInput (400): a prefix length that is not an integer.
    """
    return SubnetPoolCreate(
        prefixes=_prefixes(body) or [],
        name=parse.want_str(body, "name"),
        description=parse.want_str(body, "description"),
        project_id=parse.project(body),
        min_prefixlen=_int(body, "min_prefixlen"),
        max_prefixlen=_int(body, "max_prefixlen"),
        default_prefixlen=_int(body, "default_prefixlen"),
        shared=parse.optional_bool(body, "shared"),
        is_default=parse.optional_bool(body, "is_default"),
        default_quota=_int(body, "default_quota"),
        address_scope_id=parse.optional_str(body, "address_scope_id"),
        tags=parse.tags(body),
    )


def parse_update(body: dict[str, Any]) -> SubnetPoolUpdate:
    """The ``subnetpool`` body of ``PUT /v2.0/subnetpools/{id}`` (schema-checked)."""
    scope = body["address_scope_id"] if "address_scope_id" in body else common.UNSET
    return SubnetPoolUpdate(
        name=parse.optional_str(body, "name"),
        description=parse.optional_str(body, "description"),
        prefixes=_prefixes(body),
        min_prefixlen=_int(body, "min_prefixlen"),
        max_prefixlen=_int(body, "max_prefixlen"),
        default_prefixlen=_int(body, "default_prefixlen"),
        is_default=parse.optional_bool(body, "is_default"),
        default_quota=_int(body, "default_quota"),
        address_scope_id=scope if scope is common.UNSET or scope is None else str(scope),
        tags=parse.optional_tags(body),
    )


def list_subnetpools(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/subnetpools``: own and shared pools; filters, ``fields``, sorting,
    pagination."""
    query = listing.parse(req, admin_sees_all=True)
    policy.enforce(req.ctx, "get_subnetpool")
    found = req.cloud.network.subnetpools.list(req.ctx, query)
    return views.page(req, query, "subnetpools", found, views.subnetpool)


def get_subnetpool(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/subnetpools/{id}``; SubnetPoolNotFound (404)."""
    policy.enforce(req.ctx, "get_subnetpool")
    row = req.cloud.network.subnetpools.get(req.ctx, req.params["id"])
    return views.one(req, "subnetpool", views.subnetpool(row))


def create_subnetpool(req: ApiRequest) -> dict[str, Any]:
    """``POST /v2.0/subnetpools`` with ``{"subnetpool": {"prefixes": [...], ...}}``; 201."""
    spec = parse_create(req.require_body("subnetpool"))
    policy.enforce(req.ctx, "create_subnetpool")
    row = req.cloud.network.subnetpools.create(req.ctx, spec)
    return views.one(req, "subnetpool", views.subnetpool(row))


def update_subnetpool(req: ApiRequest) -> dict[str, Any]:
    """``PUT /v2.0/subnetpools/{id}`` with ``{"subnetpool": {changes}}``."""
    changes = parse_update(req.require_body("subnetpool"))
    policy.enforce(req.ctx, "update_subnetpool")
    row = req.cloud.network.subnetpools.update(req.ctx, req.params["id"], changes)
    return views.one(req, "subnetpool", views.subnetpool(row))


def delete_subnetpool(req: ApiRequest) -> None:
    """``DELETE /v2.0/subnetpools/{id}``; 204; SubnetPoolInUse (409)."""
    policy.enforce(req.ctx, "delete_subnetpool")
    req.cloud.network.subnetpools.delete(req.ctx, req.params["id"])
