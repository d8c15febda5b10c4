"""Handlers of ``/v2.0/address-scopes`` (Networking API v2.0 reference, "Address scopes").

Each parses, authorizes (Neutron's ``<op>_address_scope``), calls one function of
``cloud.network.address_scopes`` and renders with ``views.address_scope``. 201 on create,
204 on delete, 200 otherwise.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest
from pocketstack.network.address_scopes import AddressScopeCreate
from pocketstack.network.api import listing, parse, views


def list_address_scopes(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/address-scopes``: own and shared scopes; filters, ``fields``, sorting,
    pagination."""
    query = listing.parse(req, admin_sees_all=True)
    policy.enforce(req.ctx, "get_address_scope")
    found = req.cloud.network.address_scopes.list(req.ctx, query)
    return views.page(req, query, "address-scopes", found, views.address_scope)


def get_address_scope(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/address-scopes/{id}``; AddressScopeNotFound (404)."""
    policy.enforce(req.ctx, "get_address_scope")
    row = req.cloud.network.address_scopes.get(req.ctx, req.params["id"])
    return views.one(req, "address_scope", views.address_scope(row))


def create_address_scope(req: ApiRequest) -> dict[str, Any]:
    """``POST /v2.0/address-scopes`` with ``{"address_scope": {"name", "ip_version"}}``;
    201."""
    body = req.require_body("address_scope")
    spec = AddressScopeCreate(
        name=parse.want_str(body, "name"),
        ip_version=int(body["ip_version"]),
        shared=parse.optional_bool(body, "shared"),
        project_id=parse.project(body),
    )
    policy.enforce(req.ctx, "create_address_scope")
    row = req.cloud.network.address_scopes.create(req.ctx, spec)
    return views.one(req, "address_scope", views.address_scope(row))


def update_address_scope(req: ApiRequest) -> dict[str, Any]:
    """``PUT /v2.0/address-scopes/{id}`` with ``{"address_scope": {"name"?, "shared"?}}``."""
    body = req.require_body("address_scope")
    name, shared = parse.optional_str(body, "name"), parse.optional_bool(body, "shared")
    policy.enforce(req.ctx, "update_address_scope")
    row = req.cloud.network.address_scopes.update(req.ctx, req.params["id"], name, shared)
    return views.one(req, "address_scope", views.address_scope(row))


def delete_address_scope(req: ApiRequest) -> None:
    """``DELETE /v2.0/address-scopes/{id}``; 204; AddressScopeInUse (409)."""
    policy.enforce(req.ctx, "delete_address_scope")
    req.cloud.network.address_scopes.delete(req.ctx, req.params["id"])
