"""Placement's defaults: every rule is ``admin or service``; a project member or reader is
refused, a caller with the ``service`` role (Nova's user) passes."""

from __future__ import annotations

import pytest

from pocketstack.common import policy
from pocketstack.common.auth import RequestContext
from pocketstack.common.errors import PolicyNotAuthorized
from pocketstack.placement.policies import RULES

ADMIN = RequestContext(user_id="a", project_id="p", roles=("admin",))
SERVICE = RequestContext(user_id="nova", project_id="service", roles=("service",))
MEMBER = RequestContext(user_id="m", project_id="p", roles=("member", "reader"))


@pytest.mark.parametrize("rule", sorted(RULES))
def test_admin_and_service_pass_a_member_does_not(rule):
    policy.enforce(ADMIN, rule)
    policy.enforce(SERVICE, rule)
    with pytest.raises(PolicyNotAuthorized):
        policy.enforce(MEMBER, rule)


def test_the_service_check_is_the_service_role_only():
    assert policy.allowed(SERVICE, "placement:allocations:update")
    assert not policy.allowed(SERVICE, "identity:create_user")  # admin-only elsewhere
