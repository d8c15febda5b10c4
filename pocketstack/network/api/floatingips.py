"""Handlers of ``/v2.0/floatingips`` (Networking API v2.0 reference, "Floating IPs
(floatingips)").

Each parses (``parse_create``/``parse_update``), authorizes with Neutron's rule names
(``create_floatingip``, ``create_floatingip:floating_ip_address`` when an address is
asked...), calls one function of ``cloud.network.floating_ips`` and renders with
``views.floatingip``. 201 on create, 204 on delete, 200 otherwise.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest
from pocketstack.network import common
from pocketstack.network import exceptions as exc
from pocketstack.network.api import listing, parse, views
from pocketstack.network.floatingips import FloatingIPCreate, FloatingIPUpdate

_UPDATE_ATTRS = frozenset({"description", "port_id", "fixed_ip_address", "qos_policy_id"})
_CREATE_ATTRS = _UPDATE_ATTRS | {
    "floating_network_id",
    "floating_ip_address",
    "subnet_id",
    "dns_name",
    "dns_domain",
}


def _optional(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    return None if value is None else str(value)


def parse_create(body: dict[str, Any]) -> FloatingIPCreate:
    """The ``floatingip`` body of ``POST /v2.0/floatingips`` as a ``FloatingIPCreate``.

    Raises:
        InvalidInput (400): an unknown attribute (``name`` too: floating IPs have none), a
        wrong type, no ``floating_network_id``.
    """
    parse.check_attrs(body, _CREATE_ATTRS)
    if "name" in body:
        raise exc.InvalidInput("Unrecognized attribute(s) 'name'")
    if not body.get("floating_network_id"):
        raise exc.InvalidInput("floating_network_id is required.")
    return FloatingIPCreate(
        floating_network_id=str(body["floating_network_id"]),
        description=parse.want_str(body, "description"),
        project_id=parse.project(body),
        floating_ip_address=_optional(body, "floating_ip_address"),
        subnet_id=_optional(body, "subnet_id"),
        port_id=_optional(body, "port_id"),
        fixed_ip_address=_optional(body, "fixed_ip_address"),
        tags=parse.tags(body),
    )


def parse_update(body: dict[str, Any]) -> FloatingIPUpdate:
    """The ``floatingip`` body of ``PUT /v2.0/floatingips/{id}`` as a ``FloatingIPUpdate``
    (``port_id: null`` disassociates; absent, the association stays).

    Raises:
        InvalidInput (400): an attribute that cannot change, a wrong type.
    """
    parse.check_attrs(body, _UPDATE_ATTRS)
    if "name" in body:
        raise exc.InvalidInput("Unrecognized attribute(s) 'name'")
    return FloatingIPUpdate(
        description=parse.optional_str(body, "description"),
        port_id=_optional(body, "port_id") if "port_id" in body else common.UNSET,
        fixed_ip_address=_optional(body, "fixed_ip_address"),
        tags=parse.optional_tags(body),
    )


def list_floatingips(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/floatingips``: filters (``floating_ip_address``, ``port_id``,
    ``router_id``...), ``fields``, sorting, pagination (``listing``); an admin sees every
    project's unless ``all_projects=false``."""
    query = listing.parse(req, admin_sees_all=True)
    policy.enforce(req.ctx, "get_floatingip")
    found = req.cloud.network.floating_ips.list(req.ctx, query)
    return views.page(req, query, "floatingips", found, views.floatingip)


def get_floatingip(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/floatingips/{id}``."""
    policy.enforce(req.ctx, "get_floatingip")
    record = req.cloud.network.floating_ips.get(req.ctx, req.params["id"])
    return views.one(req, "floatingip", views.floatingip(record))


def create_floatingip(req: ApiRequest) -> dict[str, Any]:
    """``POST /v2.0/floatingips`` with ``{"floatingip": {...}}``; 201."""
    spec = parse_create(req.require_body("floatingip"))
    policy.enforce(req.ctx, "create_floatingip")
    if spec.floating_ip_address is not None:
        policy.enforce(req.ctx, "create_floatingip:floating_ip_address")
    record = req.cloud.network.floating_ips.create(req.ctx, spec)
    return views.one(req, "floatingip", views.floatingip(record))


def update_floatingip(req: ApiRequest) -> dict[str, Any]:
    """``PUT /v2.0/floatingips/{id}`` with ``{"floatingip": {changes}}``."""
    changes = parse_update(req.require_body("floatingip"))
    policy.enforce(req.ctx, "update_floatingip")
    record = req.cloud.network.floating_ips.update(req.ctx, req.params["id"], changes)
    return views.one(req, "floatingip", views.floatingip(record))


def delete_floatingip(req: ApiRequest) -> None:
    """``DELETE /v2.0/floatingips/{id}``; 204."""
    policy.enforce(req.ctx, "delete_floatingip")
    req.cloud.network.floating_ips.delete(req.ctx, req.params["id"])
