"""The Networking API (Neutron v2.0), mounted at ``/networking``.

Routes are relative to the prefix: ``/`` (versions), ``/v2.0/`` (collections),
``/v2.0/extensions``, ``/v2.0/{networks,subnets,ports,security-groups,
security-group-rules,routers,floatingips}[/{id}]`` (handlers ``<verb>_<resource>`` in
``api/<family>.py``), the router actions ``/v2.0/routers/{id}/{add,remove}_router_interface``
and ``/v2.0/routers/{id}/{add,remove}_extraroutes``; ``/v2.0/segments[/{id}]``
(``api/segments.py``); ``/v2.0/rbac-policies[/{id}]`` (``api/rbac_policies.py``);
``/v2.0/subnetpools[/{id}]``, ``/v2.0/address-scopes[/{id}]``;
``/v2.0/agents[/{id}]``,
``/v2.0/networks/{id}/dhcp-agents``, ``/v2.0/routers/{id}/l3-agents`` (``api/agents.py``);
``/v2.0/quotas[/{project_id}[/default|/details]]`` (``api/quotas.py``);
``/v2.0/<taggable collection>/{id}/tags[/{tag}]`` (``api/tags.py``). Errors are rendered as
``{"NeutronError": {"type", "message", "detail"}}`` (``errors``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from pocketstack.common.http import RouteSpec, ServiceAPI, route
from pocketstack.network import policies as _policies  # noqa: F401  (registers the rules)
from pocketstack.network.api import (
    address_scopes,
    agents,
    floatingips,
    networks,
    ports,
    quotas,
    rbac_policies,
    root,
    routers,
    schemas,
    security_group_rules,
    segments,
    subnetpools,
    subnets,
    tags,
)
from pocketstack.network.api import security_groups as groups
from pocketstack.network.api.errors import RENDERERS
from pocketstack.network.tags import RESOURCES


def collection(
    path: str,
    family: ModuleType,
    resource: str,
    create: Mapping[str, Any],
    update: Mapping[str, Any] | None,
) -> list[RouteSpec]:
    """The routes of one collection at ``path`` (``/v2.0/<plural>``) and ``path/{id}``:
    ``list_<resource>s``, ``create_<resource>`` (201, body schema ``create``),
    ``get_<resource>``, ``update_<resource>`` (body schema ``update``; no PUT when None) and
    ``delete_<resource>`` (204), the handlers of ``family`` (``api/<family>.py``)."""
    one = path + "/{id}"
    routes = [
        route("GET", path, getattr(family, f"list_{resource}s")),
        route("POST", path, getattr(family, f"create_{resource}"), status=201, schema=create),
        route("GET", one, getattr(family, f"get_{resource}")),
    ]
    if update is not None:
        routes.append(route("PUT", one, getattr(family, f"update_{resource}"), schema=update))
    routes.append(route("DELETE", one, getattr(family, f"delete_{resource}"), status=204))
    return routes


ROUTES = [
    route("GET", "/", root.versions, auth=False),
    route("GET", "/v2.0", root.resources, auth=False),
    route("GET", "/v2.0/", root.resources, auth=False),
    route("GET", "/v2.0/extensions", root.list_extensions),
    route("GET", "/v2.0/extensions.json", root.list_extensions),
    route("GET", "/v2.0/extensions/{alias}", root.show_extension),
    route("GET", "/v2.0/agents", agents.list_agents),
    route("GET", "/v2.0/agents/{id}", agents.get_agent),
    route("PUT", "/v2.0/agents/{id}", agents.update_agent, schema=schemas.AGENT_UPDATE),
    route("DELETE", "/v2.0/agents/{id}", agents.delete_agent, status=204),
    route("GET", "/v2.0/networks/{id}/dhcp-agents", agents.list_network_dhcp_agents),
    route("GET", "/v2.0/routers/{id}/l3-agents", agents.list_router_l3_agents),
    route("GET", "/v2.0/quotas", quotas.list_quotas),
    route("GET", "/v2.0/quotas/{project_id}", quotas.get_quota),
    route("PUT", "/v2.0/quotas/{project_id}", quotas.update_quota, schema=schemas.QUOTA_UPDATE),
    route("DELETE", "/v2.0/quotas/{project_id}", quotas.delete_quota, status=204),
    route("GET", "/v2.0/quotas/{project_id}/default", quotas.get_quota_default),
    route("GET", "/v2.0/quotas/{project_id}/details", quotas.get_quota_details),
    route("GET", "/v2.0/quotas/{project_id}/details.json", quotas.get_quota_details),
    *collection(
        "/v2.0/networks", networks, "network", schemas.NETWORK_CREATE, schemas.NETWORK_UPDATE
    ),
    *collection(
        "/v2.0/segments", segments, "segment", schemas.SEGMENT_CREATE, schemas.SEGMENT_UPDATE
    ),
    *collection("/v2.0/subnets", subnets, "subnet", schemas.SUBNET_CREATE, schemas.SUBNET_UPDATE),
    *collection("/v2.0/ports", ports, "port", schemas.PORT_CREATE, schemas.PORT_UPDATE),
    *collection(
        "/v2.0/security-groups",
        groups,
        "security_group",
        schemas.SECURITY_GROUP_CREATE,
        schemas.SECURITY_GROUP_UPDATE,
    ),
    *collection("/v2.0/routers", routers, "router", schemas.ROUTER_CREATE, schemas.ROUTER_UPDATE),
    *(
        route("PUT", f"/v2.0/routers/{{id}}/{action}", getattr(routers, action), schema=schema)
        for action, schema in (
            ("add_router_interface", schemas.ROUTER_INTERFACE),
            ("remove_router_interface", schemas.ROUTER_INTERFACE),
            ("add_extraroutes", schemas.ROUTER_EXTRAROUTES),
            ("remove_extraroutes", schemas.ROUTER_EXTRAROUTES),
        )
    ),
    *collection(
        "/v2.0/floatingips",
        floatingips,
        "floatingip",
        schemas.FLOATINGIP_CREATE,
        schemas.FLOATINGIP_UPDATE,
    ),
    route("GET", "/v2.0/rbac-policies", rbac_policies.list_rbac_policies),
    route(
        "POST",
        "/v2.0/rbac-policies",
        rbac_policies.create_rbac_policy,
        status=201,
        schema=schemas.RBAC_POLICY_CREATE,
    ),
    route("GET", "/v2.0/rbac-policies/{id}", rbac_policies.get_rbac_policy),
    route(
        "PUT",
        "/v2.0/rbac-policies/{id}",
        rbac_policies.update_rbac_policy,
        schema=schemas.RBAC_POLICY_UPDATE,
    ),
    route("DELETE", "/v2.0/rbac-policies/{id}", rbac_policies.delete_rbac_policy, status=204),
    *collection(
        "/v2.0/subnetpools",
        subnetpools,
        "subnetpool",
        schemas.SUBNETPOOL_CREATE,
        schemas.SUBNETPOOL_UPDATE,
    ),
    *collection(
        "/v2.0/address-scopes",
        address_scopes,
        "address_scope",
        schemas.ADDRESS_SCOPE_CREATE,
        schemas.ADDRESS_SCOPE_UPDATE,
    ),
    *collection(
        "/v2.0/security-group-rules",
        security_group_rules,
        "security_group_rule",
        schemas.SECURITY_GROUP_RULE_CREATE,
        None,
    ),
]
#: the tag sub-resources of every taggable collection mounted above (``api/tags.py``)
ROUTES += tags.routes(
    [c for c in RESOURCES if any(r.path == f"/v2.0/{c}" and r.method == "POST" for r in ROUTES)]
)

API = ServiceAPI("network", "/networking", RENDERERS, ROUTES)
