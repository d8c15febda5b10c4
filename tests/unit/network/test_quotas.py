"""Network quotas through the API app (``/v2.0/quotas``): Neutron's defaults, overrides set
and removed by an admin, usage in the details, and the 409 OverQuota every create answers
past a limit."""

from __future__ import annotations

from typing import Any

import pytest

from pocketstack.network import quotas
from tests.unit.network.api_client import USERS, call, serve

NEUTRON_DEFAULTS = {
    "network": 100,
    "subnet": 100,
    "port": 500,
    "router": 10,
    "floatingip": 50,
    "security_group": 10,
    "security_group_rule": 100,
}


@pytest.fixture
def client(cloud, conf):
    with serve(cloud, conf) as test_client:
        yield test_client


def ok(resp, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json() if resp.content else None


def set_quota(client, project: str, **limits: Any) -> dict[str, Any]:
    return ok(call(client, "PUT", f"/quotas/{project}", {"quota": limits}))["quota"]


def test_defaults_are_neutrons(client):
    assert ok(call(client, "GET", "/quotas/p-demo", token="demo"))["quota"] == NEUTRON_DEFAULTS
    default = ok(call(client, "GET", "/quotas/p-demo/default", token="demo"))["quota"]
    assert default == NEUTRON_DEFAULTS
    assert ok(call(client, "GET", "/quotas"))["quotas"] == []


def test_set_list_details_and_delete(client):
    shown = set_quota(client, "p-demo", network="3", port=-1, check_limit=True)
    assert shown == {**NEUTRON_DEFAULTS, "network": 3, "port": -1}
    listed = ok(call(client, "GET", "/quotas"))["quotas"]
    assert listed == [{**shown, "project_id": "p-demo", "tenant_id": "p-demo"}]
    ok(call(client, "POST", "/networks", {"network": {"name": "n"}}, token="demo"), 201)
    details = ok(call(client, "GET", "/quotas/p-demo/details", token="demo"))["quota"]
    assert details["network"] == {"limit": 3, "used": 1, "reserved": 0}
    assert details["port"] == {"limit": -1, "used": 0, "reserved": 0}
    ok(call(client, "DELETE", "/quotas/p-demo"), 204)
    assert ok(call(client, "GET", "/quotas/p-demo"))["quota"] == NEUTRON_DEFAULTS


def test_only_admins_change_and_projects_read_their_own(client):
    assert (
        call(client, "PUT", "/quotas/p-demo", {"quota": {"network": 1}}, "demo").status_code == 403
    )
    assert call(client, "DELETE", "/quotas/p-demo", token="demo").status_code == 403
    assert call(client, "GET", "/quotas", token="demo").status_code == 403
    assert call(client, "GET", "/quotas/p-admin", token="demo").status_code == 403


@pytest.mark.parametrize(
    "limits", [{"network": -2}, {"network": "x"}, {"bogus": 1}, {"network": True}, {}]
)
def test_bad_limits_are_400(client, limits):
    resp = call(client, "PUT", "/quotas/p-demo", {"quota": limits} if limits else {"q": {}})
    assert resp.status_code == 400, resp.text
    assert ok(call(client, "GET", "/quotas/p-demo"))["quota"] == NEUTRON_DEFAULTS


def test_check_limit_refuses_a_limit_below_usage(client):
    ok(call(client, "POST", "/networks", {"network": {"name": "a"}}, token="demo"), 201)
    ok(call(client, "POST", "/networks", {"network": {"name": "b"}}, token="demo"), 201)
    resp = call(client, "PUT", "/quotas/p-demo", {"quota": {"network": 1, "check_limit": True}})
    assert resp.status_code == 409, resp.text
    assert resp.json()["NeutronError"]["type"] == "InvalidQuotaValue"
    assert set_quota(client, "p-demo", network=1, force=True)["network"] == 1


def _over_quota(resp, resource: str) -> None:
    assert resp.status_code == 409, resp.text
    assert resp.json()["NeutronError"] == {
        "type": "OverQuota",
        "message": f"Quota exceeded for resources: ['{resource}'].",
        "detail": "",
    }


def test_every_create_is_held_to_its_quota(client):
    set_quota(client, "p-demo", network=1, subnet=1, port=1, security_group=2)
    net = ok(call(client, "POST", "/networks", {"network": {"name": "n"}}, token="demo"), 201)
    _over_quota(
        call(client, "POST", "/networks", {"network": {"name": "m"}}, token="demo"), "network"
    )
    subnet = {"network_id": net["network"]["id"], "cidr": "10.9.0.0/24"}
    ok(call(client, "POST", "/subnets", {"subnet": subnet}, token="demo"), 201)
    subnet["cidr"] = "10.9.1.0/24"
    _over_quota(call(client, "POST", "/subnets", {"subnet": subnet}, token="demo"), "subnet")
    port = {"network_id": net["network"]["id"]}
    ok(call(client, "POST", "/ports", {"port": port}, token="demo"), 201)
    _over_quota(call(client, "POST", "/ports", {"port": port}, token="demo"), "port")
    # the default group counts too: one more group fits, then none
    group = ok(
        call(client, "POST", "/security-groups", {"security_group": {"name": "g"}}, "demo"), 201
    )
    _over_quota(
        call(client, "POST", "/security-groups", {"security_group": {"name": "h"}}, "demo"),
        "security_group",
    )
    used = ok(call(client, "GET", "/quotas/p-demo/details"))["quota"]["security_group_rule"]["used"]
    set_quota(client, "p-demo", security_group_rule=used + 1)
    rule = {"security_group_id": group["security_group"]["id"], "direction": "ingress"}
    ok(call(client, "POST", "/security-group-rules", {"security_group_rule": rule}, "demo"), 201)
    rule["protocol"] = "tcp"
    _over_quota(
        call(client, "POST", "/security-group-rules", {"security_group_rule": rule}, "demo"),
        "security_group_rule",
    )


def test_check_is_what_other_families_call(cloud):
    with cloud.db.transaction() as s:
        quotas.check(s, "p-x", "router", delta=10)
        with pytest.raises(quotas.exc.OverQuota):
            quotas.check(s, "p-x", "router", delta=11)


def test_quotas_on_postgresql(pg_cloud):
    """PostgreSQL quotes the ``limit`` column and counts the same way."""
    admin = USERS["admin"]
    assert pg_cloud.network.quotas.update(admin, "p-pg", {"network": 0})["network"] == 0
    assert pg_cloud.network.quotas.list(admin)["p-pg"]["network"] == 0
    with pg_cloud.db.transaction() as s, pytest.raises(quotas.exc.OverQuota):
        quotas.check(s, "p-pg", "network")
    assert pg_cloud.network.quotas.details(admin, "p-pg")["network"].used == 0


def test_concurrent_creates_never_pass_the_quota_on_postgresql(pg_cloud):
    """Eight creates at once against a quota of three: three networks, five OverQuota."""
    from concurrent.futures import ThreadPoolExecutor

    from pocketstack.network.networks import NetworkCreate

    admin, demo = USERS["admin"], USERS["demo"]
    pg_cloud.network.quotas.update(admin, "p-demo", {"network": 3})

    def create(i: int) -> str:
        try:
            pg_cloud.network.networks.create(demo, NetworkCreate(name=f"n{i}"))
            return "made"
        except quotas.exc.OverQuota:
            return "over"

    with ThreadPoolExecutor(8) as pool:
        outcomes = sorted(pool.map(create, range(8)))
    assert outcomes == ["made"] * 3 + ["over"] * 5
    assert pg_cloud.network.quotas.details(admin, "p-demo")["network"].used == 3
