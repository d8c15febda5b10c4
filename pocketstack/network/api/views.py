"""The Networking API's view of every resource: model or record -> Neutron's JSON.

Networking API v2.0 reference: "Networks" (show network details), "Subnets", "Ports",
"Security groups (security-groups)", "Security group rules (security-group-rules)", and
for lists "Filtering and column selection" (``fields=``) and "Pagination"
(``<collection>_links``). Each ``network``/``subnet``/``port``/``security_group``/
``security_group_rule`` renders every attribute, admin-only ones included; ``one`` and
``page`` then drop the admin-only attributes (``ADMIN_ONLY``) for other callers and keep
only the ``fields=`` asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode

from pocketstack.common.db import isotime
from pocketstack.common.http import ApiRequest
from pocketstack.network import segments
from pocketstack.network.agents import AgentRecord
from pocketstack.network.floatingips import FloatingIPRecord
from pocketstack.network.lists import ListQuery, Page
from pocketstack.network.models import (
    AddressScope,
    Network,
    NetworkRBAC,
    SecurityGroupRule,
    Subnet,
    SubnetPool,
)
from pocketstack.network.networks import NetworkRecord
from pocketstack.network.ports import PortRecord
from pocketstack.network.quotas import QuotaUsage
from pocketstack.network.routers import RouterInterface, RouterRecord
from pocketstack.network.secgroups import SecurityGroupRecord, SecurityGroupRuleRecord

T = TypeVar("T")

#: Attributes only an admin sees (Neutron's ``provider`` and ``binding`` policies), all
#: but ``binding:vnic_type``.
ADMIN_ONLY = frozenset(
    {
        "provider:network_type",
        "provider:physical_network",
        "provider:segmentation_id",
        "binding:host_id",
        "binding:vif_type",
        "binding:vif_details",
        "binding:profile",
        "distributed",
        "ha",
    }
)


def standard_attrs(row: Any) -> dict[str, Any]:
    """The standard attributes every Neutron resource shows (id, project, name,
    description, timestamps, revision, tags)."""
    return {
        "id": row.id,
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "name": row.name,
        "description": row.description or "",
        "created_at": isotime(row.created_at),
        "updated_at": isotime(row.updated_at or row.created_at),
        "revision_number": row.revision_number,
        "tags": list(row.tags or []),
    }


def network(record: NetworkRecord) -> dict[str, Any]:
    """A network ("Show network details"), ``provider:*`` included."""
    net = record.network
    data = standard_attrs(net)
    data.update(
        {
            "admin_state_up": net.admin_state_up,
            "shared": record.shared or net.shared,
            "router:external": record.external or net.external,
            "mtu": net.mtu,
            "status": net.status,
            "subnets": list(record.subnet_ids),
            "port_security_enabled": net.port_security_enabled,
            "availability_zones": ["nova"],
            "availability_zone_hints": [],
            "ipv4_address_scope": None,
            "ipv6_address_scope": None,
            "l2_adjacency": True,
            "is_default": False,
            "qos_policy_id": None,
            "provider:network_type": net.network_type,
            "provider:physical_network": net.physical_network,
            "provider:segmentation_id": net.segmentation_id,
        }
    )
    return data


def subnet(row: Subnet, external: bool = False) -> dict[str, Any]:
    """A subnet ("Show subnet details"); ``external``: whether its network is external
    (``router:external``, extension ``subnet-external-network``)."""
    data = standard_attrs(row)
    data.update(
        {
            "network_id": row.network_id,
            "ip_version": row.ip_version,
            "cidr": row.cidr,
            "gateway_ip": row.gateway_ip,
            "allocation_pools": [dict(p) for p in row.allocation_pools],
            "enable_dhcp": row.enable_dhcp,
            "dns_nameservers": list(row.dns_nameservers),
            "host_routes": [dict(r) for r in row.host_routes],
            "subnetpool_id": row.subnetpool_id,
            "ipv6_ra_mode": row.ipv6_ra_mode,
            "ipv6_address_mode": row.ipv6_address_mode,
            "service_types": [],
            "segment_id": None,
            "dns_publish_fixed_ip": None,
            "router:external": external,
        }
    )
    return data


def vif_details(row: Any) -> dict[str, Any]:
    """A port's ``binding:vif_details``: for a port bound as ``bridge`` (the linuxbridge
    driver) the filtering it gets and the bridge of its network, ``brq`` +
    network_id[:11] (docs/network-dataplane.md, "Kernel names"), as Neutron's linuxbridge
    mechanism driver reports them; ``{}`` for any other binding."""
    if row.vif_type != "bridge":
        return {}
    return {"port_filter": True, "bridge_name": "brq" + row.network_id[:11]}


def port(record: PortRecord) -> dict[str, Any]:
    """A port ("Show port details"), ``binding:*`` included."""
    row = record.port
    data = standard_attrs(row)
    data.update(
        {
            "network_id": row.network_id,
            "mac_address": row.mac_address,
            "admin_state_up": row.admin_state_up,
            "status": row.status,
            "device_id": row.device_id,
            "device_owner": row.device_owner,
            "fixed_ips": [
                {"subnet_id": a.subnet_id, "ip_address": a.ip_address} for a in record.fixed_ips
            ],
            "security_groups": list(record.security_group_ids),
            "port_security_enabled": row.port_security_enabled,
            # a pair given without a MAC is the port's own MAC, as Neutron shows it
            "allowed_address_pairs": [
                {
                    "ip_address": p["ip_address"],
                    "mac_address": p.get("mac_address") or row.mac_address,
                }
                for p in row.allowed_address_pairs
            ],
            "extra_dhcp_opts": [dict(o) for o in row.extra_dhcp_opts or []],
            "propagate_uplink_status": False,
            "qos_policy_id": None,
            "binding:host_id": row.host_id,
            "binding:vif_type": row.vif_type,
            "binding:vnic_type": row.vnic_type,
            "binding:profile": {},
            "binding:vif_details": vif_details(row),
        }
    )
    return data


def _rule(rule: SecurityGroupRule, in_default_group: bool) -> dict[str, Any]:
    return {
        "id": rule.id,
        "project_id": rule.project_id,
        "tenant_id": rule.project_id,
        "security_group_id": rule.security_group_id,
        "direction": rule.direction,
        "ethertype": rule.ethertype,
        "protocol": rule.protocol,
        "port_range_min": rule.port_range_min,
        "port_range_max": rule.port_range_max,
        "remote_ip_prefix": rule.remote_ip_prefix,
        "normalized_cidr": rule.remote_ip_prefix,
        "remote_group_id": rule.remote_group_id,
        "remote_address_group_id": None,
        "description": rule.description or "",
        "revision_number": rule.revision_number,
        "created_at": isotime(rule.created_at),
        "updated_at": isotime(rule.updated_at or rule.created_at),
        "belongs_to_default_sg": in_default_group,
    }


def security_group_rule(record: SecurityGroupRuleRecord) -> dict[str, Any]:
    """A rule ("Show security group rule")."""
    return _rule(record.rule, record.in_default_group)


def security_group(record: SecurityGroupRecord) -> dict[str, Any]:
    """A group with its rules ("Show security group")."""
    data = standard_attrs(record.group)
    data.update(
        {
            "stateful": record.group.stateful,
            "shared": False,
            "is_default": record.is_default,
            "security_group_rules": [_rule(r, record.is_default) for r in record.rules],
        }
    )
    return data


def _agent_time(value: Any) -> str | None:
    """An agent's timestamp as Neutron shows it: ``2026-11-30 14:05:09`` (UTC, no zone)."""
    return None if value is None else value.replace(microsecond=0).isoformat(" ")


def agent(record: AgentRecord) -> dict[str, Any]:
    """An agent ("Networking Agents" > "Show agent details"), ``alive`` computed."""
    row = record.agent
    return {
        "id": row.id,
        "agent_type": row.agent_type,
        "binary": row.binary,
        "host": row.host,
        "topic": row.topic,
        "availability_zone": row.availability_zone,
        "admin_state_up": row.admin_state_up,
        "alive": record.alive,
        "configurations": dict(row.configurations or {}),
        "description": row.description or None,
        "created_at": _agent_time(row.created_at),
        "started_at": _agent_time(row.started_at),
        "heartbeat_timestamp": _agent_time(row.heartbeat_timestamp),
        "resources_synced": None,
    }


def rbac_policy(row: NetworkRBAC) -> dict[str, Any]:
    """An RBAC policy ("RBAC Policies" > "Show RBAC policy details")."""
    return {
        "id": row.id,
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "object_type": "network",
        "object_id": row.object_id,
        "action": row.action,
        "target_tenant": row.target_project,
        "target_project_id": row.target_project,
    }


def subnetpool(row: SubnetPool) -> dict[str, Any]:
    """A subnet pool ("Subnet pools" > "Show subnet pool")."""
    data = standard_attrs(row)
    data.update(
        {
            "ip_version": row.ip_version,
            "prefixes": list(row.prefixes),
            "min_prefixlen": row.min_prefixlen,
            "max_prefixlen": row.max_prefixlen,
            "default_prefixlen": row.default_prefixlen,
            "shared": row.shared,
            "is_default": row.is_default,
            "default_quota": row.default_quota,
            "address_scope_id": row.address_scope_id,
        }
    )
    return data


def address_scope(row: AddressScope) -> dict[str, Any]:
    """An address scope ("Address scopes" > "Show address scope")."""
    return {
        "id": row.id,
        "name": row.name,
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "ip_version": row.ip_version,
        "shared": row.shared,
    }


def segment(net: Network) -> dict[str, Any]:
    """The one segment of network ``net`` ("Segments" > "Show segment details"): its id
    ``segments.segment_id``, no name, an empty description, revision 0 and both times the
    network's creation (it never changes after)."""
    made = isotime(net.created_at)
    return {
        "id": segments.segment_id(net.id),
        "network_id": net.id,
        "name": None,
        "description": "",
        "network_type": net.network_type,
        "physical_network": net.physical_network,
        "segmentation_id": net.segmentation_id,
        "revision_number": 0,
        "created_at": made,
        "updated_at": made,
    }


def router(record: RouterRecord) -> dict[str, Any]:
    """A router ("Routers" > "Show router details"): ``external_gateway_info`` null
    without a gateway; ``distributed``/``ha`` (admin-only) always false."""
    row = record.router
    data = standard_attrs(row)
    gateway = None
    if row.gw_network_id is not None:
        gateway = {
            "network_id": row.gw_network_id,
            "enable_snat": row.enable_snat,
            "external_fixed_ips": [
                {"subnet_id": a.subnet_id, "ip_address": a.ip_address} for a in record.gateway_ips
            ],
        }
    data.update(
        {
            "admin_state_up": row.admin_state_up,
            "status": row.status,
            "external_gateway_info": gateway,
            "routes": [{"destination": r.destination, "nexthop": r.nexthop} for r in record.routes],
            "distributed": False,
            "ha": False,
            "availability_zone_hints": [],
            "availability_zones": ["nova"],
            "flavor_id": None,
        }
    )
    return data


def router_interface(found: RouterInterface) -> dict[str, Any]:
    """The answer of add/remove_router_interface ("Add interface to router"): not
    wrapped."""
    return {
        "id": found.id,
        "tenant_id": found.project_id,
        "project_id": found.project_id,
        "port_id": found.port_id,
        "network_id": found.network_id,
        "subnet_id": found.subnet_id,
        "subnet_ids": list(found.subnet_ids),
    }


def floatingip(record: FloatingIPRecord) -> dict[str, Any]:
    """A floating IP ("Floating IPs" > "Show floating IP details") with ``port_details``
    (``fip-port-details``: null when not associated)."""
    row = record.floatingip
    port = record.port
    details = None
    if port is not None:
        details = {
            "name": port.name,
            "network_id": port.network_id,
            "mac_address": port.mac_address,
            "admin_state_up": port.admin_state_up,
            "status": port.status,
            "device_id": port.device_id,
            "device_owner": port.device_owner,
        }
    return {
        "id": row.id,
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "description": row.description or "",
        "floating_network_id": row.floating_network_id,
        "floating_ip_address": row.floating_ip_address,
        "port_id": row.port_id,
        "fixed_ip_address": row.fixed_ip_address,
        "router_id": row.router_id,
        "status": row.status,
        "port_details": details,
        "port_forwardings": [],
        "qos_policy_id": None,
        "created_at": isotime(row.created_at),
        "updated_at": isotime(row.updated_at or row.created_at),
        "revision_number": row.revision_number,
        "tags": list(row.tags or []),
    }


def quota(limits: Mapping[str, int], project_id: str | None = None) -> dict[str, Any]:
    """A project's network limits ("Quotas extension" > "Show quota"); in a list
    ("List quotas for projects with non-default quota values") with its project."""
    body: dict[str, Any] = dict(limits)
    if project_id is not None:
        body.update(project_id=project_id, tenant_id=project_id)
    return body


def quota_details(usage: Mapping[str, QuotaUsage]) -> dict[str, Any]:
    """Limits with usage ("Show quota details for a tenant"): ``{resource: {"limit",
    "used", "reserved"}}``."""
    return {r: {"limit": u.limit, "used": u.used, "reserved": u.reserved} for r, u in usage.items()}


def redact(req: ApiRequest, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as the caller may see it (``ADMIN_ONLY`` attributes dropped for others)."""
    if req.ctx is not None and req.ctx.is_admin:
        return data
    return {k: v for k, v in data.items() if k not in ADMIN_ONLY}


def select_fields(req: ApiRequest, data: dict[str, Any]) -> dict[str, Any]:
    """Keep only the ``fields=`` asked for (all when none)."""
    fields = [f for f in req.query_all("fields") if f]
    if not fields:
        return data
    return {k: v for k, v in data.items() if k in fields}


def one(req: ApiRequest, key: str, data: dict[str, Any]) -> dict[str, Any]:
    """The body of one resource: ``{key: {...}}`` as the caller may see it."""
    return {key: select_fields(req, redact(req, data))}


def _link(req: ApiRequest, path: str, **changes: Any) -> str:
    pairs = [
        (k, v)
        for k in req.query.keys()
        if k not in ("marker", "page_reverse")
        for v in req.query_all(k)
    ]
    pairs += [(k, str(v)) for k, v in changes.items()]
    return f"{req.base_url}/v2.0/{path}?{urlencode(pairs)}"


def links(
    req: ApiRequest, path: str, query: ListQuery, ids: list[str], more: bool
) -> list[dict[str, str]]:
    """Neutron's ``<collection>_links`` of a page whose items have ``ids`` (in order).

    Only with a ``limit``. ``next`` starts after the last item; ``previous`` ends before the
    first (``page_reverse=True``). Going forwards, ``next`` is there when ``more`` rows
    follow and ``previous`` when a marker was given; with ``page_reverse`` the other way
    round.
    """
    if query.limit is None or not ids:
        return []
    has_next, has_previous = more, query.marker is not None
    if query.page_reverse:
        has_next, has_previous = has_previous, has_next
    result = []
    if has_next:
        result.append({"rel": "next", "href": _link(req, path, marker=ids[-1])})
    if has_previous:
        result.append(
            {"rel": "previous", "href": _link(req, path, marker=ids[0], page_reverse="True")}
        )
    return result


def page(
    req: ApiRequest,
    query: ListQuery,
    path: str,
    items: Page[T],
    render: Callable[[T], dict[str, Any]],
) -> dict[str, Any]:
    """A list body ``{collection: [...], collection_links: [...]?}``.

    ``path`` is the URL path (``security-groups``); the body key is it with underscores.
    """
    collection = path.replace("-", "_")
    rendered = [redact(req, render(i)) for i in items.items]
    body: dict[str, Any] = {collection: [select_fields(req, r) for r in rendered]}
    found = links(req, path, query, [r["id"] for r in rendered], items.more)
    if found:
        body[collection + "_links"] = found
    return body
