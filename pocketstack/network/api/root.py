"""Version documents, the v2.0 resource index and ``/v2.0/extensions``.

``GET /networking/`` lists the API versions (only v2.0) and ``GET /networking/v2.0/`` the
collections; both need no token (keystoneauth discovers the version with them). The
extensions are the Neutron aliases this cloud implements; clients check some of them
(``external-net``, ``security-group``, ``binding``...) before using an attribute.
"""

from __future__ import annotations

import functools
from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest
from pocketstack.network import exceptions as exc

_UPDATED = "2026-01-01T00:00:00-00:00"
EXTENSIONS: dict[str, tuple[str, str]] = {
    "allowed-address-pairs": ("Allowed Address Pairs", "Extra addresses a port may use."),
    "binding": ("Port Binding", "Expose port bindings of a virtual port to external apps."),
    "external-net": ("Neutron external network", "Adds external network attribute."),
    "extra_dhcp_opt": (
        "Neutron Extra DHCP options",
        "Per-port extra DHCP options (PXE boot servers, boot file names...).",
    ),
    "agent": ("agent", "The agent management extension."),
    "dhcp_agent_scheduler": ("DHCP Agent Scheduler", "Which DHCP agents serve a network."),
    "l3_agent_scheduler": ("L3 Agent Scheduler", "Which L3 agents host a router."),
    "net-mtu": ("Network MTU", "Provides MTU attribute for a network resource."),
    "net-mtu-writable": ("Network MTU (writable)", "Lets the MTU of a network be set."),
    "port-security": ("Port Security", "Provides port security."),
    "project-id": ("project_id field enabled", "Extension that indicates project_id."),
    "provider": ("Provider Network", "Expose mapping of virtual networks to segments."),
    "quotas": ("Quota management support", "Expose functions for quotas management."),
    "quota_details": ("Quota details management support", "Quota limits with their usage."),
    "security-group": ("security-group", "The security groups extension."),
    "segment": ("Segment", "Segments of a network (read only: one per network here)."),
    "sort-key-validation": ("Sort keys validation", "Sort keys are validated."),
    "standard-attr-description": (
        "standard-attr-description",
        "Extension to add descriptions to standard attributes.",
    ),
    "standard-attr-revisions": (
        "Resource revision numbers",
        "This extension will display the revision number.",
    ),
    "standard-attr-timestamp": ("Resource timestamps", "Adds created_at and updated_at fields."),
    "standard-attr-tag": ("Tag support", "Tags on resources with standard attributes."),
    "stateful-security-group": (
        "Stateful security group",
        "Indicates if the security group is stateful or not.",
    ),
    "router": ("Neutron L3 Router", "Router abstraction for basic L3 forwarding."),
    "ext-gw-mode": ("Neutron L3 Configurable external gateway mode", "enable_snat."),
    "extraroute": ("Neutron Extra Route", "Extra routes configuration for L3 router."),
    "extraroute-atomic": ("Atomically add/remove extra routes", "add/remove_extraroutes."),
    "fip-port-details": ("Floating IP Port Details Extension", "Port details of a FIP."),
    "rbac-policies": ("RBAC Policies", "Allows creation and modification of policies."),
    "subnet-external-network": (
        "Subnet External Network",
        "Informs if the subnet is associated with an external network.",
    ),
    "subnet_allocation": ("Subnet Allocation", "Enables allocation of subnets from a subnet pool"),
    "address-scope": ("Address scope", "Address scopes extension."),
    "pagination": ("Pagination support", "Extension that indicates pagination is enabled."),
    "sorting": ("Sorting support", "Extension that indicates sorting is enabled."),
}
#: alias -> a route (method, path) that must be mounted for the alias to be listed, so the
#: list never names an API this cloud lacks; aliases not here are attributes the views
#: always render.
REQUIRES: dict[str, tuple[str, str]] = {
    "agent": ("GET", "/v2.0/agents"),
    "dhcp_agent_scheduler": ("GET", "/v2.0/networks/{id}/dhcp-agents"),
    "l3_agent_scheduler": ("GET", "/v2.0/routers/{id}/l3-agents"),
    "quotas": ("PUT", "/v2.0/quotas/{project_id}"),
    "quota_details": ("GET", "/v2.0/quotas/{project_id}/details"),
    "standard-attr-tag": ("PUT", "/v2.0/networks/{id}/tags"),
    "security-group": ("POST", "/v2.0/security-groups"),
    "segment": ("GET", "/v2.0/segments"),
    "stateful-security-group": ("POST", "/v2.0/security-groups"),
    "router": ("POST", "/v2.0/routers"),
    "ext-gw-mode": ("POST", "/v2.0/routers"),
    "extraroute": ("PUT", "/v2.0/routers/{id}"),
    "extraroute-atomic": ("PUT", "/v2.0/routers/{id}/add_extraroutes"),
    "fip-port-details": ("POST", "/v2.0/floatingips"),
    "rbac-policies": ("POST", "/v2.0/rbac-policies"),
    "subnet_allocation": ("POST", "/v2.0/subnetpools"),
    "address-scope": ("POST", "/v2.0/address-scopes"),
}
COLLECTIONS = (
    ("network", "networks"),
    ("subnet", "subnets"),
    ("port", "ports"),
    ("security_group", "security-groups"),
    ("security_group_rule", "security-group-rules"),
    ("router", "routers"),
    ("segment", "segments"),
    ("floatingip", "floatingips"),
    ("quota", "quotas"),
    ("rbac_policy", "rbac-policies"),
    ("subnetpool", "subnetpools"),
    ("address_scope", "address-scopes"),
)


def versions(req: ApiRequest) -> dict[str, Any]:
    """``GET /networking/``: the one API version."""
    return {
        "versions": [
            {
                "id": "v2.0",
                "status": "CURRENT",
                "links": [{"href": f"{req.base_url}/v2.0/", "rel": "self"}],
            }
        ]
    }


def resources(req: ApiRequest) -> dict[str, Any]:
    """``GET /networking/v2.0/``: the collections of v2.0."""
    return {
        "resources": [
            {
                "name": name,
                "collection": coll,
                "links": [{"href": f"{req.base_url}/v2.0/{coll}", "rel": "self"}],
            }
            for name, coll in COLLECTIONS
        ]
    }


def _extension(alias: str) -> dict[str, Any]:
    name, description = EXTENSIONS[alias]
    return {
        "alias": alias,
        "name": name,
        "description": description,
        "updated": _UPDATED,
        "links": [],
    }


@functools.cache
def available() -> tuple[str, ...]:
    """The aliases of ``EXTENSIONS`` whose ``REQUIRES`` route is in the mounted route table
    (``network.api.ROUTES``, read once), sorted."""
    from pocketstack.network.api import ROUTES  # the table is built after this module

    mounted = {(r.method, r.path) for r in ROUTES}
    return tuple(sorted(a for a in EXTENSIONS if a not in REQUIRES or REQUIRES[a] in mounted))


def list_extensions(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/extensions``: the extensions ``available``."""
    policy.enforce(req.ctx, "network:extensions:list")
    return {"extensions": [_extension(a) for a in available()]}


def show_extension(req: ApiRequest) -> dict[str, Any]:
    """``GET /v2.0/extensions/{alias}``; ExtensionNotFound (404) for others."""
    policy.enforce(req.ctx, "network:extensions:list")
    alias = req.params["alias"]
    if alias not in available():
        raise exc.ExtensionNotFound(alias)
    return {"extension": _extension(alias)}
