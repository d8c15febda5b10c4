"""Handlers of ``/v2.0/networks`` (Networking API v2.0 reference, "Networks").

Each parses (``parse_create``/``parse_update`` turn the schema-checked body into the
family's record), authorizes (Neutron's ``<op>_network``), calls one function of
``cloud.network.networks`` and renders with ``views.network``. 201 on create, 204 on
delete, 200 otherwise.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest
from pocketstack.network.api import listing, parse, views
from pocketstack.network.networks import MAX_VNI, NetworkCreate, NetworkUpdate

_CREATE_ATTRS = frozenset(
    {
        "admin_state_up",
        "shared",
        "router:external",
        "mtu",
        "port_security_enabled",
        "provider:network_type",
        "provider:segmentation_id",
        "provider:physical_network",
        "availability_zone_hints",
        "is_default",
        "dns_domain",
        "qos_policy_id",
    }
)
_UPDATE_ATTRS = frozenset(
    {
        "name",
        "description",
        "admin_state_up",
        "shared",
        "router:external",
        "mtu",
        "port_security_enabled",
        "tags",
        "is_default",
        "qos_policy_id",
    }
)


def _mtu(body: dict[str, Any]) -> int | None:
    value = body.get("mtu")
    if value is None:
        return None
    return parse.want_digits(value, f"'{value}' is not a valid integer for mtu.")


def _optional(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    return None if value is None else str(value)


def parse_create(body: dict[str, Any]) -> NetworkCreate:
    """The ``network`` body of ``POST /v2.0/networks`` as a ``NetworkCreate``.

    Raises:
        InvalidInput (400): an unknown attribute, a wrong type, an MTU or a segmentation id
        that is not an integer.
    """
    parse.check_attrs(body, _CREATE_ATTRS)
    vni = body.get("provider:segmentation_id")
    return NetworkCreate(
        name=parse.want_str(body, "name"),
        description=parse.want_str(body, "description"),
        project_id=parse.project(body),
        admin_state_up=parse.want_bool(body, "admin_state_up", True),
        shared=parse.optional_bool(body, "shared"),
        external=parse.optional_bool(body, "router:external"),
        mtu=_mtu(body),
        port_security_enabled=parse.want_bool(body, "port_security_enabled", True),
        tags=parse.tags(body),
        network_type=_optional(body, "provider:network_type"),
        segmentation_id=None
        if vni is None
        else parse.want_digits(vni, f"provider:segmentation_id must be in 1..{MAX_VNI}."),
        physical_network=_optional(body, "provider:physical_network"),
    )


def parse_update(body: dict[str, Any]) -> NetworkUpdate:
    """The ``network`` body of ``PUT /v2.0/networks/{id}`` as a ``NetworkUpdate``.

    Raises:
        InvalidInput (400): an attribute that cannot change, a wrong type.
    """
    parse.check_attrs(body, _UPDATE_ATTRS)
    return NetworkUpdate(
        name=parse.optional_str(body, "name"),
        description=parse.optional_str(body, "description"),
        admin_state_up=parse.optional_bool(body, "admin_state_up"),
        shared=parse.optional_bool(body, "shared"),
        external=parse.optional_bool(body, "router:external"),
        mtu=_mtu(body),
        port_security_enabled=parse.optional_bool(body, "port_security_enabled"),
        tags=parse.optional_tags(body),
    )


def list_networks(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/networks``: filters, ``fields``, sorting, pagination (``listing``); an
    admin sees every project's unless ``all_projects=false``."""
    query = listing.parse(req, admin_sees_all=True)
    policy.enforce(req.ctx, "get_network")
    found = req.cloud.network.networks.list(req.ctx, query)
    return views.page(req, query, "networks", found, views.network)


def get_network(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/networks/{id}``."""
    policy.enforce(req.ctx, "get_network")
    record = req.cloud.network.networks.get(req.ctx, req.params["id"])
    return views.one(req, "network", views.network(record))


def create_network(req: ApiRequest) -> dict[str, Any]:
    """``POST /v2.0/networks`` with ``{"network": {...}}``; 201."""
    spec = parse_create(req.require_body("network"))
    policy.enforce(req.ctx, "create_network")
    record = req.cloud.network.networks.create(req.ctx, spec)
    return views.one(req, "network", views.network(record))


def update_network(req: ApiRequest) -> dict[str, Any]:
    """``PUT /v2.0/networks/{id}`` with ``{"network": {changes}}``."""
    changes = parse_update(req.require_body("network"))
    policy.enforce(req.ctx, "update_network")
    record = req.cloud.network.networks.update(req.ctx, req.params["id"], changes)
    return views.one(req, "network", views.network(record))


def delete_network(req: ApiRequest) -> None:
    """``DELETE /v2.0/networks/{id}``; 204."""
    policy.enforce(req.ctx, "delete_network")
    req.cloud.network.networks.delete(req.ctx, req.params["id"])
