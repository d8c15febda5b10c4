"""Who may call the agents, quotas and tags routes of the Networking API, persona by
persona, against Neutron's defaults (``pocketstack/network/policies.py``): agents and quota
changes are an admin's; a project reads its quotas and tags; members change tags."""

from __future__ import annotations

import pytest

from pocketstack.common import policy
from pocketstack.common.auth import RequestContext
from pocketstack.network import policies  # noqa: F401  (registers the rules)

PERSONAS = {
    "admin": RequestContext(user_id="a", project_id="admin", roles=("admin",)),
    "member": RequestContext(user_id="m", project_id="demo", roles=("member",)),
    "reader": RequestContext(user_id="r", project_id="demo", roles=("reader",)),
}
#: rule -> the personas it allows
TABLE = {
    "network:agents:list": {"admin"},
    "network:agents:show": {"admin"},
    "network:agents:update": {"admin"},
    "network:agents:delete": {"admin"},
    "network:quotas:list": {"admin"},
    "network:quotas:show": {"admin", "member", "reader"},
    "network:quotas:update": {"admin"},
    "network:quotas:delete": {"admin"},
    "network:tags:show": {"admin", "member", "reader"},
    "network:tags:update": {"admin", "member"},
    "network:tags:delete": {"admin", "member"},
}


@pytest.mark.parametrize("rule", sorted(TABLE))
def test_rule_persona_by_persona(rule):
    allowed = {name for name, ctx in PERSONAS.items() if policy.allowed(ctx, rule)}
    assert allowed == TABLE[rule]
