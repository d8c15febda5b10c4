"""Handlers of ``/v2.0/ports`` (Networking API v2.0 reference, "Ports").

Each parses (``parse_create``/``parse_update``), authorizes (Neutron's ``<op>_port``), calls
one function of ``cloud.network.ports`` and renders with ``views.port``. 201 on create, 204
on delete, 200 otherwise.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest
from pocketstack.network import exceptions as exc
from pocketstack.network.api import listing, parse, views
from pocketstack.network.ports import PortCreate, PortUpdate

_CREATE_ATTRS = frozenset(
    {
        "network_id",
        "admin_state_up",
        "mac_address",
        "fixed_ips",
        "device_id",
        "device_owner",
        "binding:host_id",
        "binding:vnic_type",
        "binding:profile",
        "security_groups",
        "port_security_enabled",
        "allowed_address_pairs",
        "extra_dhcp_opts",
        "dns_name",
        "dns_domain",
        "qos_policy_id",
        "propagate_uplink_status",
        "numa_affinity_policy",
    }
)
_UPDATE_ATTRS = _CREATE_ATTRS - {"network_id"}


def _optional(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    return None if value is None else str(value)


def _host(body: dict[str, Any]) -> str | None:
    """``binding:host_id`` when given (``null`` unbinds: ``""``), else None."""
    if "binding:host_id" not in body:
        return None
    return str(body["binding:host_id"] or "")


def _fixed_ips(value: Any) -> list[Any] | None:
    if value is not None and not isinstance(value, list):
        raise exc.InvalidInput("fixed_ips must be a list.")
    return value


def _groups(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise exc.InvalidInput("security_groups must be a list of ids.")
    return [str(g) for g in value]


def parse_create(body: dict[str, Any]) -> PortCreate:
    """The ``port`` body of ``POST /v2.0/ports`` as a ``PortCreate``.

    Raises:
        InvalidInput (400): an unknown attribute, a wrong type, no ``network_id``.
    """
    parse.check_attrs(body, _CREATE_ATTRS)
    if not body.get("network_id"):
        raise exc.InvalidInput("network_id is required.")
    return PortCreate(
        network_id=str(body["network_id"]),
        name=parse.want_str(body, "name"),
        description=parse.want_str(body, "description"),
        project_id=parse.project(body),
        admin_state_up=parse.want_bool(body, "admin_state_up", True),
        mac_address=_optional(body, "mac_address"),
        fixed_ips=_fixed_ips(body.get("fixed_ips")),
        device_id=parse.want_str(body, "device_id"),
        device_owner=parse.want_str(body, "device_owner"),
        host_id=_host(body),
        vnic_type=_optional(body, "binding:vnic_type"),
        security_groups=_groups(body.get("security_groups")),
        port_security_enabled=parse.optional_bool(body, "port_security_enabled"),
        allowed_address_pairs=parse.want_list(body, "allowed_address_pairs"),
        extra_dhcp_opts=parse.want_list(body, "extra_dhcp_opts"),
        tags=parse.tags(body),
    )


def parse_update(body: dict[str, Any]) -> PortUpdate:
    """The ``port`` body of ``PUT /v2.0/ports/{id}`` as a ``PortUpdate`` (``fixed_ips``
    and ``security_groups`` given as ``null`` mean none).

    Raises:
        InvalidInput (400): an attribute that cannot change, a wrong type.
    """
    parse.check_attrs(body, _UPDATE_ATTRS)
    return PortUpdate(
        name=parse.optional_str(body, "name"),
        description=parse.optional_str(body, "description"),
        admin_state_up=parse.optional_bool(body, "admin_state_up"),
        mac_address=_optional(body, "mac_address"),
        fixed_ips=_fixed_ips(body["fixed_ips"] or []) if "fixed_ips" in body else None,
        device_id=parse.optional_str(body, "device_id"),
        device_owner=parse.optional_str(body, "device_owner"),
        host_id=_host(body),
        vnic_type=_optional(body, "binding:vnic_type"),
        security_groups=(_groups(body["security_groups"]) or [])
        if "security_groups" in body
        else None,
        port_security_enabled=parse.optional_bool(body, "port_security_enabled"),
        allowed_address_pairs=parse.optional_list(body, "allowed_address_pairs"),
        extra_dhcp_opts=parse.optional_list(body, "extra_dhcp_opts"),
        tags=parse.optional_tags(body),
    )


def list_ports(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/ports``: filters (``fixed_ips=ip_address=...`` too), ``fields``,
    sorting, pagination (``listing``); an admin sees every project's unless
    ``all_projects=false``."""
    query = listing.parse(req, admin_sees_all=True)
    policy.enforce(req.ctx, "get_port")
    found = req.cloud.network.ports.list(req.ctx, query)
    return views.page(req, query, "ports", found, views.port)


def get_port(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/ports/{id}``."""
    policy.enforce(req.ctx, "get_port")
    record = req.cloud.network.ports.get(req.ctx, req.params["id"])
    return views.one(req, "port", views.port(record))


def create_port(req: ApiRequest) -> dict[str, Any]:
    """``POST /v2.0/ports`` with ``{"port": {...}}``; 201.

    Or Neutron's bulk create, ``{"ports": [{...}, ...]}`` (``schemas.MAX_BULK_PORTS`` at
    most): all the ports or none, answered with ``{"ports": [...]}`` in the order given.
    """
    if isinstance(req.body, dict) and "ports" in req.body:
        specs = [parse_create(item) for item in req.body["ports"]]
        policy.enforce(req.ctx, "create_port")
        records = req.cloud.network.ports.create_many(req.ctx, specs)
        return {"ports": [views.one(req, "p", views.port(r))["p"] for r in records]}
    spec = parse_create(req.require_body("port"))
    policy.enforce(req.ctx, "create_port")
    record = req.cloud.network.ports.create(req.ctx, spec)
    return views.one(req, "port", views.port(record))


def update_port(req: ApiRequest) -> dict[str, Any]:
    """``PUT /v2.0/ports/{id}`` with ``{"port": {changes}}``."""
    changes = parse_update(req.require_body("port"))
    policy.enforce(req.ctx, "update_port")
    record = req.cloud.network.ports.update(req.ctx, req.params["id"], changes)
    return views.one(req, "port", views.port(record))


def delete_port(req: ApiRequest) -> None:
    """``DELETE /v2.0/ports/{id}``; 204."""
    policy.enforce(req.ctx, "delete_port")
    req.cloud.network.ports.delete(req.ctx, req.params["id"])
