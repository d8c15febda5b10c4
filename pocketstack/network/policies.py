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
