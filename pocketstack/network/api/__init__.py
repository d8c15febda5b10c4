"""The Networking API (Neutron v2.0), mounted at ``/networking``.

Routes are relative to the prefix: ``/`` (versions), ``/v2.0/`` (collections),
``/v2.0/extensions``, ``/v2.0/{networks,subnets,ports,security-groups,
security-group-rules}[/{id}]`` (handlers ``<verb>_<resource>`` in ``api/<family>.py``),
``/v2.0/quotas/{project_id}``. Errors are rendered as
``{"NeutronError": {"type", "message", "detail"}}`` (``errors``).
"""

from __future__ import annotations

from pocketstack.common.http import ServiceAPI, route
from pocketstack.network import policies as _policies  # noqa: F401  (registers the rules)
from pocketstack.network.api import networks, ports, root, schemas, security_group_rules, subnets
from pocketstack.network.api import security_groups as groups
from pocketstack.network.api.errors import RENDERERS

_NETS, _NET = "/v2.0/networks", "/v2.0/networks/{id}"
_SUBNETS, _SUBNET = "/v2.0/subnets", "/v2.0/subnets/{id}"
_PORTS, _PORT = "/v2.0/ports", "/v2.0/ports/{id}"
_GROUPS, _GROUP = "/v2.0/security-groups", "/v2.0/security-groups/{id}"
_RULES, _RULE = "/v2.0/security-group-rules", "/v2.0/security-group-rules/{id}"

ROUTES = [
    route("GET", "/", root.versions, auth=False),
    route("GET", "/v2.0", root.resources, auth=False),
    route("GET", "/v2.0/", root.resources, auth=False),
    route("GET", "/v2.0/extensions", root.list_extensions),
    route("GET", "/v2.0/extensions.json", root.list_extensions),
    route("GET", "/v2.0/extensions/{alias}", root.show_extension),
    route("GET", "/v2.0/quotas/{project_id}", root.show_quota),
    route("GET", "/v2.0/quotas/{project_id}/details.json", root.show_quota_details),
    route("GET", _NETS, networks.list_networks),
    route("POST", _NETS, networks.create_network, status=201, schema=schemas.NETWORK_CREATE),
    route("GET", _NET, networks.get_network),
    route("PUT", _NET, networks.update_network, schema=schemas.NETWORK_UPDATE),
    route("DELETE", _NET, networks.delete_network, status=204),
    route("GET", _SUBNETS, subnets.list_subnets),
    route("POST", _SUBNETS, subnets.create_subnet, status=201, schema=schemas.SUBNET_CREATE),
    route("GET", _SUBNET, subnets.get_subnet),
    route("PUT", _SUBNET, subnets.update_subnet, schema=schemas.SUBNET_UPDATE),
    route("DELETE", _SUBNET, subnets.delete_subnet, status=204),
    route("GET", _PORTS, ports.list_ports),
    route("POST", _PORTS, ports.create_port, status=201, schema=schemas.PORT_CREATE),
    route("GET", _PORT, ports.get_port),
    route("PUT", _PORT, ports.update_port, schema=schemas.PORT_UPDATE),
    route("DELETE", _PORT, ports.delete_port, status=204),
    route("GET", _GROUPS, groups.list_security_groups),
    route(
        "POST",
        _GROUPS,
        groups.create_security_group,
        status=201,
        schema=schemas.SECURITY_GROUP_CREATE,
    ),
    route("GET", _GROUP, groups.get_security_group),
    route("PUT", _GROUP, groups.update_security_group, schema=schemas.SECURITY_GROUP_UPDATE),
    route("DELETE", _GROUP, groups.delete_security_group, status=204),
    route("GET", _RULES, security_group_rules.list_security_group_rules),
    route(
        "POST",
        _RULES,
        security_group_rules.create_security_group_rule,
        status=201,
        schema=schemas.SECURITY_GROUP_RULE_CREATE,
    ),
    route("GET", _RULE, security_group_rules.get_security_group_rule),
    route("DELETE", _RULE, security_group_rules.delete_security_group_rule, status=204),
]

API = ServiceAPI("network", "/networking", RENDERERS, ROUTES)
