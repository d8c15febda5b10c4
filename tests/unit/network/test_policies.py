"""Who may call the Networking API, persona by persona, against Neutron's defaults
(``pocketstack/network/policies.py``, rules under Neutron's names): a project reads and
changes its networks, subnets, ports, groups and tags (readers only read); agents and quota
changes are an admin's; a project reads its own quotas."""

from __future__ import annotations

import pytest

from pocketstack.common import policy
from pocketstack.common.auth import RequestContext
from pocketstack.network import policies  # registers the rules

PERSONAS = {
    "admin": RequestContext(user_id="a", project_id="admin", roles=("admin",)),
    "member": RequestContext(user_id="m", project_id="demo", roles=("member",)),
    "reader": RequestContext(user_id="r", project_id="demo", roles=("reader",)),
}
#: rule -> the personas it allows
TABLE = {
    "get_network": {"admin", "member", "reader"},
    "create_network": {"admin", "member"},
    "update_network": {"admin", "member"},
    "delete_network": {"admin", "member"},
    "get_subnet": {"admin", "member", "reader"},
    "create_subnet": {"admin", "member"},
    "update_subnet": {"admin", "member"},
    "delete_subnet": {"admin", "member"},
    "get_port": {"admin", "member", "reader"},
    "create_port": {"admin", "member"},
    "update_port": {"admin", "member"},
    "delete_port": {"admin", "member"},
    "get_security_group": {"admin", "member", "reader"},
    "create_security_group": {"admin", "member"},
    "update_security_group": {"admin", "member"},
    "delete_security_group": {"admin", "member"},
    "get_security_group_rule": {"admin", "member", "reader"},
    "create_security_group_rule": {"admin", "member"},
    "delete_security_group_rule": {"admin", "member"},
    "get_agent": {"admin"},
    "update_agent": {"admin"},
    "delete_agent": {"admin"},
    "get_segment": {"admin"},
    "create_segment": {"admin"},
    "update_segment": {"admin"},
    "delete_segment": {"admin"},
    "get_dhcp-agents": {"admin"},
    "get_l3-agents": {"admin"},
    "get_quota": {"admin"},
    "get_own_quota": {"admin", "member", "reader"},
    "update_quota": {"admin"},
    "delete_quota": {"admin"},
    "get_rbac_policy": {"admin", "member", "reader"},
    "create_rbac_policy": {"admin", "member"},
    "update_rbac_policy": {"admin", "member"},
    "delete_rbac_policy": {"admin", "member"},
    "get_subnetpool": {"admin", "member", "reader"},
    "create_subnetpool": {"admin", "member"},
    "update_subnetpool": {"admin", "member"},
    "delete_subnetpool": {"admin", "member"},
    "get_address_scope": {"admin", "member", "reader"},
    "create_address_scope": {"admin", "member"},
    "update_address_scope": {"admin", "member"},
    "delete_address_scope": {"admin", "member"},
    "network:tags:show": {"admin", "member", "reader"},
    "network:tags:update": {"admin", "member"},
    "network:tags:delete": {"admin", "member"},
    "network:extensions:list": {"admin", "member", "reader"},
}


@pytest.mark.parametrize("rule", sorted(TABLE))
def test_rule_persona_by_persona(rule):
    allowed = {name for name, ctx in PERSONAS.items() if policy.allowed(ctx, rule)}
    assert allowed == TABLE[rule]


def test_every_network_rule_is_in_the_table():
    assert set(policies.RULES) == set(TABLE)
