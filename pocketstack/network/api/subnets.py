"""Handlers of ``/v2.0/subnets`` (Networking API v2.0 reference, "Subnets").

Each parses (``parse_create``/``parse_update``), authorizes (Neutron's ``<op>_subnet``),
calls one function of ``cloud.network.subnets`` and renders with ``views.subnet``. 201 on
create, 204 on delete, 200 otherwise. ``ip_version`` 4 or 6 (with ``ipv6_ra_mode`` /
``ipv6_address_mode``, checked by the manager as Neutron does). A subnet
takes its ``cidr`` from ``subnetpool_id`` (with ``prefixlen``) when given;
``use_default_subnetpool`` is a 400.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest
from pocketstack.network import exceptions as exc
from pocketstack.network.api import listing, parse, views
from pocketstack.network.common import UNSET, Unset
from pocketstack.network.models import Subnet
from pocketstack.network.subnets import SubnetCreate, SubnetUpdate

_CREATE_ATTRS = frozenset(
    {
        "network_id",
        "ip_version",
        "cidr",
        "gateway_ip",
        "allocation_pools",
        "enable_dhcp",
        "dns_nameservers",
        "host_routes",
        "subnetpool_id",
        "ipv6_ra_mode",
        "ipv6_address_mode",
        "service_types",
        "segment_id",
        "use_default_subnetpool",
        "prefixlen",
        "dns_publish_fixed_ip",
    }
)
_UPDATE_ATTRS = frozenset(
    {
        "name",
        "description",
        "gateway_ip",
        "allocation_pools",
        "enable_dhcp",
        "dns_nameservers",
        "host_routes",
        "tags",
        "service_types",
    }
)


def _gateway(body: dict[str, Any]) -> str | None | Unset:
    if "gateway_ip" not in body:
        return UNSET
    return None if body["gateway_ip"] is None else parse.want_str(body, "gateway_ip")


def parse_create(body: dict[str, Any]) -> SubnetCreate:
    """The ``subnet`` body of ``POST /v2.0/subnets`` as a ``SubnetCreate``.

    Raises:
        InvalidInput (400): an unknown attribute, a wrong type, ``ip_version`` not 4 or 6,
        ``use_default_subnetpool``, no ``network_id``, no ``cidr`` without a subnet pool, a
        ``prefixlen`` without one.
    """
    parse.check_attrs(body, _CREATE_ATTRS)
    version = str(body.get("ip_version", 4))
    if version not in ("4", "6"):
        raise exc.InvalidInput(f"'{body.get('ip_version')}' is not a valid ip_version.")
    if body.get("use_default_subnetpool"):
        raise exc.InvalidInput("There is no default subnet pool; give a subnetpool_id.")
    if not body.get("network_id"):
        raise exc.InvalidInput("network_id is required.")
    pool = body.get("subnetpool_id")
    prefixlen = body.get("prefixlen")
    if body.get("cidr") is None and not pool:
        raise exc.InvalidInput("cidr is required.")
    if prefixlen is not None and not pool:
        raise exc.InvalidInput(
            "Invalid input for operation: prefixlen is only allowed with a subnetpool_id."
        )
    return SubnetCreate(
        network_id=str(body["network_id"]),
        cidr=None if body.get("cidr") is None else parse.want_str(body, "cidr"),
        subnetpool_id=str(pool) if pool else None,
        prefixlen=None
        if prefixlen is None
        else parse.want_digits(prefixlen, f"'{prefixlen}' is not a valid prefixlen."),
        name=parse.want_str(body, "name"),
        description=parse.want_str(body, "description"),
        project_id=parse.project(body),
        gateway_ip=_gateway(body),
        allocation_pools=parse.optional_list(body, "allocation_pools"),
        enable_dhcp=parse.want_bool(body, "enable_dhcp", True),
        dns_nameservers=parse.want_list(body, "dns_nameservers"),
        host_routes=parse.want_list(body, "host_routes"),
        tags=parse.tags(body),
        ip_version=int(version),
        ipv6_ra_mode=_mode(body, "ipv6_ra_mode"),
        ipv6_address_mode=_mode(body, "ipv6_address_mode"),
    )


def _mode(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    return None if value is None else parse.want_str(body, name)


def parse_update(body: dict[str, Any]) -> SubnetUpdate:
    """The ``subnet`` body of ``PUT /v2.0/subnets/{id}`` as a ``SubnetUpdate``.

    Raises:
        InvalidInput (400): an attribute that cannot change, a wrong type.
    """
    parse.check_attrs(body, _UPDATE_ATTRS)
    return SubnetUpdate(
        name=parse.optional_str(body, "name"),
        description=parse.optional_str(body, "description"),
        gateway_ip=_gateway(body),
        allocation_pools=parse.optional_list(body, "allocation_pools"),
        enable_dhcp=parse.optional_bool(body, "enable_dhcp"),
        dns_nameservers=parse.optional_list(body, "dns_nameservers"),
        host_routes=parse.optional_list(body, "host_routes"),
        tags=parse.optional_tags(body),
    )


def _view(req: ApiRequest, row: Subnet) -> dict[str, Any]:
    """``views.subnet`` with ``router:external`` of its network."""
    external = req.cloud.network.subnets.external_network_ids([row.network_id])
    return views.subnet(row, row.network_id in external)


def list_subnets(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/subnets``: filters, ``fields``, sorting, pagination (``listing``); an
    admin sees every project's unless ``all_projects=false``."""
    query = listing.parse(req, admin_sees_all=True)
    policy.enforce(req.ctx, "get_subnet")
    found = req.cloud.network.subnets.list(req.ctx, query)
    external = req.cloud.network.subnets.external_network_ids([r.network_id for r in found.items])
    return views.page(
        req, query, "subnets", found, lambda r: views.subnet(r, r.network_id in external)
    )


def get_subnet(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/subnets/{id}``."""
    policy.enforce(req.ctx, "get_subnet")
    row = req.cloud.network.subnets.get(req.ctx, req.params["id"])
    return views.one(req, "subnet", _view(req, row))


def create_subnet(req: ApiRequest) -> dict[str, Any]:
    """``POST /v2.0/subnets`` with ``{"subnet": {...}}``; 201."""
    spec = parse_create(req.require_body("subnet"))
    policy.enforce(req.ctx, "create_subnet")
    row = req.cloud.network.subnets.create(req.ctx, spec)
    return views.one(req, "subnet", _view(req, row))


def update_subnet(req: ApiRequest) -> dict[str, Any]:
    """``PUT /v2.0/subnets/{id}`` with ``{"subnet": {changes}}``."""
    changes = parse_update(req.require_body("subnet"))
    policy.enforce(req.ctx, "update_subnet")
    row = req.cloud.network.subnets.update(req.ctx, req.params["id"], changes)
    return views.one(req, "subnet", _view(req, row))


def delete_subnet(req: ApiRequest) -> None:
    """``DELETE /v2.0/subnets/{id}``; 204."""
    policy.enforce(req.ctx, "delete_subnet")
    req.cloud.network.subnets.delete(req.ctx, req.params["id"])
