"""Handlers of ``/v2.0/routers`` (Networking API v2.0 reference, "Routers"; extensions
``router``, ``ext-gw-mode``, ``extraroute``, ``extraroute-atomic``).

Each parses (``parse_create``/``parse_update``), authorizes with Neutron's rule names
(``create_router``, ``update_router:external_gateway_info:enable_snat``...; a
sub-attribute rule only when the body gives that attribute), calls one function of
``cloud.network.routers`` and renders with ``views``. 201 on create, 204 on delete, 200
otherwise; the interface actions answer the bare interface object, the extraroute actions
``{"router": {...}}``.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest
from pocketstack.network import common
from pocketstack.network import exceptions as exc
from pocketstack.network.api import listing, parse, views
from pocketstack.network.routers import GatewayInfo, RouterCreate, RouterUpdate

_CREATE_ATTRS = frozenset(
    {
        "admin_state_up",
        "external_gateway_info",
        "distributed",
        "ha",
        "availability_zone_hints",
        "flavor_id",
    }
)
_UPDATE_ATTRS = frozenset(
    {
        "name",
        "description",
        "admin_state_up",
        "external_gateway_info",
        "distributed",
        "ha",
        "routes",
        "tags",
    }
)


def _gateway(value: Any) -> GatewayInfo | None:
    """``external_gateway_info``: None for ``{}``/null (no gateway)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise exc.InvalidInput("external_gateway_info must be an object.")
    if not value.get("network_id"):
        if value.get("enable_snat") is not None or value.get("external_fixed_ips"):
            raise exc.BadRequest("router", "external_gateway_info needs a network_id.")
        return None
    fixed = value.get("external_fixed_ips")
    if fixed is not None and not isinstance(fixed, list):
        raise exc.InvalidInput("external_fixed_ips must be a list.")
    return GatewayInfo(
        network_id=str(value["network_id"]),
        enable_snat=parse.optional_bool(value, "enable_snat"),
        external_fixed_ips=fixed,
    )


def _no_dvr_or_ha(body: dict[str, Any]) -> None:
    """Refuse ``distributed``/``ha`` true: this cloud's routers are legacy ones."""
    for key in ("distributed", "ha"):
        if key in body and parse.want_bool(body, key, False):
            raise exc.InvalidInput(f"{key} routers are not supported.")


def parse_create(body: dict[str, Any]) -> RouterCreate:
    """The ``router`` body of ``POST /v2.0/routers`` as a ``RouterCreate``.

    Raises:
        InvalidInput (400): an unknown attribute, a wrong type, ``distributed``/``ha``.
    """
    parse.check_attrs(body, _CREATE_ATTRS)
    _no_dvr_or_ha(body)
    return RouterCreate(
        name=parse.want_str(body, "name"),
        description=parse.want_str(body, "description"),
        project_id=parse.project(body),
        admin_state_up=parse.want_bool(body, "admin_state_up", True),
        external_gateway_info=_gateway(body.get("external_gateway_info")),
        tags=parse.tags(body),
    )


def parse_update(body: dict[str, Any]) -> RouterUpdate:
    """The ``router`` body of ``PUT /v2.0/routers/{id}`` as a ``RouterUpdate``
    (``external_gateway_info: {}`` or null clears the gateway; ``routes: null`` removes
    every route).

    Raises:
        InvalidInput (400): an attribute that cannot change, a wrong type.
    """
    parse.check_attrs(body, _UPDATE_ATTRS)
    _no_dvr_or_ha(body)
    gateway = (
        _gateway(body["external_gateway_info"]) if "external_gateway_info" in body else common.UNSET
    )
    return RouterUpdate(
        name=parse.optional_str(body, "name"),
        description=parse.optional_str(body, "description"),
        admin_state_up=parse.optional_bool(body, "admin_state_up"),
        external_gateway_info=gateway,
        routes=parse.optional_list(body, "routes"),
        tags=parse.optional_tags(body),
    )


def _authorize_gateway(req: ApiRequest, action: str, body: dict[str, Any]) -> None:
    """The sub-attribute rules of ``external_gateway_info`` the body gives."""
    info = body.get("external_gateway_info")
    if "external_gateway_info" not in body:
        return
    policy.enforce(req.ctx, f"{action}:external_gateway_info")
    for key in ("network_id", "enable_snat", "external_fixed_ips"):
        if isinstance(info, dict) and key in info:
            policy.enforce(req.ctx, f"{action}:external_gateway_info:{key}")


def list_routers(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/routers``: filters, ``fields``, sorting, pagination (``listing``); an
    admin sees every project's unless ``all_projects=false``."""
    query = listing.parse(req, admin_sees_all=True)
    policy.enforce(req.ctx, "get_router")
    found = req.cloud.network.routers.list(req.ctx, query)
    return views.page(req, query, "routers", found, views.router)


def get_router(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/routers/{id}``."""
    policy.enforce(req.ctx, "get_router")
    record = req.cloud.network.routers.get(req.ctx, req.params["id"])
    return views.one(req, "router", views.router(record))


def create_router(req: ApiRequest) -> dict[str, Any]:
    """``POST /v2.0/routers`` with ``{"router": {...}}``; 201."""
    body = req.require_body("router")
    spec = parse_create(body)
    policy.enforce(req.ctx, "create_router")
    _authorize_gateway(req, "create_router", body)
    record = req.cloud.network.routers.create(req.ctx, spec)
    return views.one(req, "router", views.router(record))


def update_router(req: ApiRequest) -> dict[str, Any]:
    """``PUT /v2.0/routers/{id}`` with ``{"router": {changes}}``."""
    body = req.require_body("router")
    changes = parse_update(body)
    policy.enforce(req.ctx, "update_router")
    _authorize_gateway(req, "update_router", body)
    record = req.cloud.network.routers.update(req.ctx, req.params["id"], changes)
    return views.one(req, "router", views.router(record))


def delete_router(req: ApiRequest) -> None:
    """``DELETE /v2.0/routers/{id}``; 204."""
    policy.enforce(req.ctx, "delete_router")
    req.cloud.network.routers.delete(req.ctx, req.params["id"])


def _interface_ids(req: ApiRequest) -> tuple[str | None, str | None]:
    body = req.body if isinstance(req.body, dict) else {}
    subnet_id, port_id = body.get("subnet_id"), body.get("port_id")
    return (str(subnet_id) if subnet_id else None, str(port_id) if port_id else None)


def add_router_interface(req: ApiRequest) -> dict[str, Any]:
    """``PUT /v2.0/routers/{id}/add_router_interface`` with ``{"subnet_id"}`` or
    ``{"port_id"}``: the interface (``id``, ``subnet_id``, ``subnet_ids``, ``port_id``,
    ``network_id``, ``project_id``...)."""
    subnet_id, port_id = _interface_ids(req)
    policy.enforce(req.ctx, "add_router_interface")
    found = req.cloud.network.routers.add_interface(
        req.ctx, req.params["id"], subnet_id=subnet_id, port_id=port_id
    )
    return views.router_interface(found)


def remove_router_interface(req: ApiRequest) -> dict[str, Any]:
    """``PUT /v2.0/routers/{id}/remove_router_interface`` with ``{"subnet_id"}`` and/or
    ``{"port_id"}``: the interface removed."""
    subnet_id, port_id = _interface_ids(req)
    policy.enforce(req.ctx, "remove_router_interface")
    found = req.cloud.network.routers.remove_interface(
        req.ctx, req.params["id"], subnet_id=subnet_id, port_id=port_id
    )
    return views.router_interface(found)


def add_extraroutes(req: ApiRequest) -> dict[str, Any]:
    """``PUT /v2.0/routers/{id}/add_extraroutes`` with ``{"router": {"routes": [...]}}``:
    the router."""
    routes = parse.want_list(req.require_body("router"), "routes")
    policy.enforce(req.ctx, "add_extraroutes")
    record = req.cloud.network.routers.add_extraroutes(req.ctx, req.params["id"], routes)
    return views.one(req, "router", views.router(record))


def remove_extraroutes(req: ApiRequest) -> dict[str, Any]:
    """``PUT /v2.0/routers/{id}/remove_extraroutes`` with ``{"router": {"routes": [...]}}``:
    the router."""
    routes = parse.want_list(req.require_body("router"), "routes")
    policy.enforce(req.ctx, "remove_extraroutes")
    record = req.cloud.network.routers.remove_extraroutes(req.ctx, req.params["id"], routes)
    return views.one(req, "router", views.router(record))
