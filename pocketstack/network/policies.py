"""Who may call which Networking API (Neutron's default personas, roughly).

Levels are those of ``pocketstack.common.policy``. Project scoping (another project's
resource is 404, shared and external networks are visible to all) is done by the managers;
the admin-only attributes (``shared``, ``router:external``, ``provider:*``,
``binding:host_id``) are checked by the managers too, with ``RequestContext.is_admin``.
"""

from __future__ import annotations

from pocketstack.common import policy

RULES: dict[str, str] = {
    "network:extensions:list": "any",
    "network:networks:list": "reader",
    "network:networks:show": "reader",
    "network:networks:create": "member",
    "network:networks:update": "member",
    "network:networks:delete": "member",
    "network:networks:list:all_projects": "admin",
    "network:subnets:list": "reader",
    "network:subnets:show": "reader",
    "network:subnets:create": "member",
    "network:subnets:update": "member",
    "network:subnets:delete": "member",
    "network:ports:list": "reader",
    "network:ports:show": "reader",
    "network:ports:create": "member",
    "network:ports:update": "member",
    "network:ports:delete": "member",
    "network:security_groups:list": "reader",
    "network:security_groups:show": "reader",
    "network:security_groups:create": "member",
    "network:security_groups:update": "member",
    "network:security_groups:delete": "member",
    "network:security_group_rules:list": "reader",
    "network:security_group_rules:show": "reader",
    "network:security_group_rules:create": "member",
    "network:security_group_rules:delete": "member",
    "network:quotas:show": "reader",
    "network:quotas:list": "admin",
    "network:quotas:update": "admin",
    "network:quotas:delete": "admin",
    "network:agents:list": "admin",
    "network:agents:show": "admin",
    "network:agents:update": "admin",
    "network:agents:delete": "admin",
    "network:tags:show": "reader",
    "network:tags:update": "member",
    "network:tags:delete": "member",
}

policy.register(RULES)

#: The L3 API's rules keep Neutron's own names (``neutron/conf/policies/router.py`` and
#: ``floatingip.py``), sub-attribute rules included: a rule ``<action>:<attribute>`` is
#: checked only when the request gives that attribute. As in Neutron, only an admin sets
#: ``enable_snat`` or picks the gateway's or a floating IP's address.
L3_RULES: dict[str, str] = {
    "get_router": "reader",
    "create_router": "member",
    "create_router:external_gateway_info": "member",
    "create_router:external_gateway_info:network_id": "member",
    "create_router:external_gateway_info:enable_snat": "admin",
    "create_router:external_gateway_info:external_fixed_ips": "admin",
    "update_router": "member",
    "update_router:external_gateway_info": "member",
    "update_router:external_gateway_info:network_id": "member",
    "update_router:external_gateway_info:enable_snat": "admin",
    "update_router:external_gateway_info:external_fixed_ips": "admin",
    "delete_router": "member",
    "add_router_interface": "member",
    "remove_router_interface": "member",
    "add_extraroutes": "member",
    "remove_extraroutes": "member",
    "get_floatingip": "reader",
    "create_floatingip": "member",
    "create_floatingip:floating_ip_address": "admin",
    "update_floatingip": "member",
    "delete_floatingip": "member",
}

policy.register(L3_RULES)
