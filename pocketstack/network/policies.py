"""Who may call which Networking API (Neutron's default personas, roughly).

Levels are those of ``pocketstack.common.policy``. Project scoping (another project's
resource is 404, shared and external networks are visible to all) is done by the managers;
the admin-only attributes (``shared``, ``router:external``, ``provider:*``,
``binding:host_id``) are checked by the managers too, with ``RequestContext.is_admin``.

Rule names are Neutron's own (``neutron/conf/policies/<resource>.py``), as
docs/service-recipe.md asks of policy names: ``get_<resource>`` covers both list and show
(Neutron checks it per resource for a list), ``create_``/``update_``/``delete_<resource>``
the writes. Three have no Neutron rule and keep pocketstack's names: ``get_own_quota``
(Neutron checks no rule when a project reads its own quotas; here a reader may),
``network:extensions:list`` (Neutron does not police ``/v2.0/extensions``) and
``network:tags:*`` (one set for every taggable collection).
"""

from __future__ import annotations

from pocketstack.common import policy

RULES: dict[str, str] = {
    "network:extensions:list": "any",
    "get_network": "reader",
    "create_network": "member",
    "update_network": "member",
    "delete_network": "member",
    "get_subnet": "reader",
    "create_subnet": "member",
    "update_subnet": "member",
    "delete_subnet": "member",
    "get_port": "reader",
    "create_port": "member",
    "update_port": "member",
    "delete_port": "member",
    "get_security_group": "reader",
    "create_security_group": "member",
    "update_security_group": "member",
    "delete_security_group": "member",
    "get_security_group_rule": "reader",
    "create_security_group_rule": "member",
    "delete_security_group_rule": "member",
    "get_own_quota": "reader",
    "get_quota": "admin",
    "update_quota": "admin",
    "delete_quota": "admin",
    "get_agent": "admin",
    "update_agent": "admin",
    "delete_agent": "admin",
    "get_segment": "admin",
    "create_segment": "admin",
    "update_segment": "admin",
    "delete_segment": "admin",
    "get_dhcp-agents": "admin",
    "get_l3-agents": "admin",
    "get_rbac_policy": "reader",
    "create_rbac_policy": "member",
    "update_rbac_policy": "member",
    "delete_rbac_policy": "member",
    "get_subnetpool": "reader",
    "create_subnetpool": "member",
    "update_subnetpool": "member",
    "delete_subnetpool": "member",
    "get_address_scope": "reader",
    "create_address_scope": "member",
    "update_address_scope": "member",
    "delete_address_scope": "member",
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
