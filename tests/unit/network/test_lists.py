"""Network lists done in SQL (``network.lists`` over ``common.paging``), through the API app
and the managers: filters, tags, sorting, keyset pages with Neutron's links, and that a
page reads (and renders) only its rows."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from pocketstack.common.auth import RequestContext
from pocketstack.network import exceptions as exc
from pocketstack.network.api import API, views
from pocketstack.network.lists import ListQuery
from pocketstack.network.networks import NetworkCreate
from tests.helpers import FixedTokens, service_app

USERS = {
    "admin": RequestContext(user_id="u-admin", project_id="p-admin", roles=("admin", "member")),
    "demo": RequestContext(user_id="u-demo", project_id="p-demo", roles=("member", "reader")),
    "other": RequestContext(user_id="u-other", project_id="p-other", roles=("member",)),
}
DEMO = USERS["demo"]


@pytest.fixture
def client(cloud, conf):
    with TestClient(service_app(API, conf, cloud, FixedTokens(USERS))) as test_client:
        yield test_client


@pytest.fixture
def pg_client(pg_cloud, conf):
    """The API over PostgreSQL, whose JSON tags and keyset comparisons differ from SQLite's."""
    with TestClient(service_app(API, conf, pg_cloud, FixedTokens(USERS))) as test_client:
        yield test_client


def call(client, method: str, path: str, body: Any = None, token: str = "demo"):
    headers = {"X-Auth-Token": token, "Content-Type": "application/json"}
    content = None if body is None else json.dumps(body)
    return client.request(method, "/networking/v2.0" + path, content=content, headers=headers)


def get(client, path: str, token: str = "demo", status: int = 200) -> dict[str, Any]:
    resp = call(client, "GET", path, token=token)
    assert resp.status_code == status, resp.text
    return resp.json()


def make(client, collection: str, key: str, attrs: dict[str, Any], token: str = "demo"):
    resp = call(client, "POST", f"/{collection}", {key: attrs}, token=token)
    assert resp.status_code == 201, resp.text
    return resp.json()[key]


@pytest.fixture
def nets(client):
    """Six networks of demo named n0..n5, created in that order; n1 and n4 admin-down;
    tags: n0 {a}, n1 {a, b}, n2 {b}."""
    tags = {0: ["a"], 1: ["a", "b"], 2: ["b"]}
    return [
        make(
            client,
            "networks",
            "network",
            {"name": f"n{i}", "admin_state_up": i not in (1, 4), "tags": tags.get(i, [])},
        )
        for i in range(6)
    ]


def _names(body: dict[str, Any], key: str = "networks") -> list[str]:
    return [item["name"] for item in body[key]]


def _marker(link: dict[str, str]) -> tuple[str, bool]:
    query = parse_qs(urlsplit(link["href"]).query)
    return query["marker"][0], query.get("page_reverse", ["False"])[0] == "True"


def _walk_next_links(client, path: str) -> list[str]:
    """The names of every page from ``path`` on, following each ``next`` link."""
    seen: list[str] = []
    while True:
        body = get(client, path)
        seen += _names(body)
        nexts = [link for link in body.get("networks_links", []) if link["rel"] == "next"]
        if not nexts:
            return seen
        path = "/networks?" + urlsplit(nexts[0]["href"]).query


def test_default_order_is_oldest_first(client, nets):
    assert _names(get(client, "/networks")) == [f"n{i}" for i in range(6)]


def test_repeated_keys_are_or_and_different_keys_and(client, nets):
    body = get(client, "/networks?name=n0&name=n1&name=n4&admin_state_up=false")
    assert _names(body) == ["n1", "n4"]
    assert _names(get(client, "/networks?admin_state_up=True")) == ["n0", "n2", "n3", "n5"]
    assert _names(get(client, "/networks?admin_state_up=maybe")) == []


def test_unknown_attributes_are_ignored_and_constants_compare(client, nets):
    assert len(get(client, "/networks?no_such_attribute=1")["networks"]) == 6
    assert get(client, "/networks?is_default=true")["networks"] == []
    assert len(get(client, "/networks?is_default=false")["networks"]) == 6
    assert len(get(client, "/networks?qos_policy_id=null")["networks"]) == 6
    # integers compare as the view renders them; past 64 bits they match nothing (not a 500)
    assert len(get(client, "/networks?mtu=1450")["networks"]) == 6
    for other in ("01450", "1450.0", "99999999999999999999"):
        assert get(client, f"/networks?mtu={other}")["networks"] == []


def test_admin_only_attributes_filter_for_admins_only(client, nets):
    vni = get(client, f"/networks/{nets[2]['id']}", token="admin")["network"][
        "provider:segmentation_id"
    ]
    # demo does not see the attribute, so the filter is ignored (as it always was)
    assert len(get(client, f"/networks?provider:segmentation_id={vni}")["networks"]) == 6
    body = get(client, f"/networks?provider:segmentation_id={vni}", token="admin")
    assert _names(body) == ["n2"]


def test_tag_filters(client, nets):
    assert _names(get(client, "/networks?tags=a,b")) == ["n1"]
    assert _names(get(client, "/networks?tags=a&tags=b")) == ["n1"]
    assert _names(get(client, "/networks?tags-any=a,b")) == ["n0", "n1", "n2"]
    assert _names(get(client, "/networks?not-tags=a,b")) == ["n0", "n2", "n3", "n4", "n5"]
    assert _names(get(client, "/networks?not-tags-any=a")) == ["n2", "n3", "n4", "n5"]


def test_sorting_and_invalid_sort_keys(client, nets):
    body = get(client, "/networks?sort_key=admin_state_up&sort_dir=asc&sort_key=name&sort_dir=desc")
    assert _names(body) == ["n4", "n1", "n5", "n3", "n2", "n0"]
    assert _names(get(client, "/networks?sort_key=name&sort_dir=DESC")) == [
        f"n{i}" for i in reversed(range(6))
    ]
    for bad in ("sort_key=bogus", "sort_key=name&sort_dir=sideways"):
        err = get(client, f"/networks?{bad}", status=400)
        assert err["NeutronError"]["type"] == "InvalidInput"


def test_pages_walk_forwards_and_backwards_with_links(client, nets):
    first = get(client, "/networks?limit=2&sort_key=name")
    assert _names(first) == ["n0", "n1"]
    assert [link["rel"] for link in first["networks_links"]] == ["next"]
    marker, reverse = _marker(first["networks_links"][0])
    assert (marker, reverse) == (nets[1]["id"], False)

    second = get(client, f"/networks?limit=2&sort_key=name&marker={marker}")
    assert _names(second) == ["n2", "n3"]
    rels = {link["rel"]: _marker(link) for link in second["networks_links"]}
    assert rels == {"next": (nets[3]["id"], False), "previous": (nets[2]["id"], True)}

    last = get(client, f"/networks?limit=2&sort_key=name&marker={nets[3]['id']}")
    assert _names(last) == ["n4", "n5"]
    assert [link["rel"] for link in last["networks_links"]] == ["previous"]

    # page_reverse: the rows before the marker, still in the requested order
    back = get(client, f"/networks?limit=2&sort_key=name&marker={nets[4]['id']}&page_reverse=True")
    assert _names(back) == ["n2", "n3"]
    rels = {link["rel"]: _marker(link) for link in back["networks_links"]}
    assert rels == {"next": (nets[3]["id"], False), "previous": (nets[2]["id"], True)}
    start = get(client, f"/networks?limit=2&sort_key=name&marker={nets[2]['id']}&page_reverse=1")
    assert _names(start) == ["n0", "n1"]
    assert [link["rel"] for link in start["networks_links"]] == ["next"]


def test_walking_next_links_gives_the_whole_sorted_list_once(client, nets):
    seen = _walk_next_links(
        client, "/networks?limit=4&sort_key=admin_state_up&sort_key=name&sort_dir=desc"
    )
    whole = get(client, "/networks?sort_key=admin_state_up&sort_key=name&sort_dir=desc")
    assert seen == _names(whole) and len(seen) == 6


def test_limit_and_marker_errors(client, nets):
    for bad in ("limit=0", "limit=-1", "limit=abc", "page_reverse=perhaps"):
        assert call(client, "GET", f"/networks?{bad}").status_code == 400, bad
    huge = get(client, "/networks?limit=99999999999999999999")
    assert len(huge["networks"]) == 6 and "networks_links" not in huge
    err = get(client, "/networks?marker=6f1c5a4e-0d5e-4f4e-9d6a-2b1c3d4e5f60", status=404)
    assert err["NeutronError"]["type"] == "NetworkNotFound"
    # another project's network is no marker for demo
    theirs = make(client, "networks", "network", {"name": "theirs"}, token="other")
    assert call(client, "GET", f"/networks?marker={theirs['id']}").status_code == 404


def test_fields_selects_attributes(client, nets):
    body = get(client, "/networks?fields=id&fields=name&limit=1")
    assert set(body["networks"][0]) == {"id", "name"}
    assert body["networks_links"][0]["rel"] == "next"


def test_a_page_reads_and_renders_only_its_rows(cloud, client, nets, monkeypatch):
    """The list is limited in SQL: the manager returns the page only, and the view renders
    only the page."""
    rendered: list[str] = []
    real = views.network
    monkeypatch.setattr(views, "network", lambda r: rendered.append(r.network.id) or real(r))
    body = get(client, "/networks?limit=2")
    assert len(body["networks"]) == 2 and len(rendered) == 2
    page = cloud.network.networks.list(DEMO, ListQuery(limit=2))
    assert [r.network.name for r in page.items] == ["n0", "n1"] and page.more
    everything = cloud.network.networks.list(DEMO, ListQuery())
    assert len(everything.items) == 6 and not everything.more


def test_the_sql_of_a_page_has_a_limit(cloud, nets):
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(sa.Engine, "before_cursor_execute", seen)
    try:
        cloud.network.networks.list(DEMO, ListQuery(limit=3))
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", seen)
    selects = [s for s in statements if "FROM networks" in s]
    assert selects and "LIMIT" in selects[0]


def test_port_filters_on_addresses_groups_and_device(client, nets):
    net = nets[0]["id"]
    subnet = make(client, "subnets", "subnet", {"network_id": net, "cidr": "10.8.0.0/24"})
    group = make(client, "security-groups", "security_group", {"name": "web"})
    p1 = make(client, "ports", "port", {"network_id": net, "device_id": "vm-1"})
    p2 = make(
        client,
        "ports",
        "port",
        {"network_id": net, "security_groups": [group["id"]], "device_owner": "compute:nova"},
    )
    ip1 = p1["fixed_ips"][0]["ip_address"]

    def ids(query: str) -> list[str]:
        return [p["id"] for p in get(client, f"/ports?{query}")["ports"]]

    assert ids(f"fixed_ips=ip_address%3D{ip1}") == [p1["id"]]
    assert ids(f"fixed_ips=subnet_id%3D{subnet['id']}") == [p1["id"], p2["id"]]
    assert ids("fixed_ips=mac%3Dx") == []
    assert ids(f"security_groups={group['id']}") == [p2["id"]]
    assert ids("device_id=vm-1") == [p1["id"]]
    assert ids("device_owner=compute:nova") == [p2["id"]]
    assert ids(f"mac_address={p2['mac_address']}") == [p2["id"]]
    assert ids(f"network_id={net}&status=DOWN") == [p1["id"], p2["id"]]
    # networks by subnet, subnets by cidr and version
    by_subnet = get(client, f"/networks?subnets={subnet['id']}")
    assert [n["id"] for n in by_subnet["networks"]] == [net]
    found = get(client, "/subnets?cidr=10.8.0.0/24&ip_version=4&gateway_ip=10.8.0.1")
    assert [s["id"] for s in found["subnets"]] == [subnet["id"]]
    assert get(client, "/subnets?ip_version=04")["subnets"] == []


def test_group_and_rule_lists(client):
    web = make(client, "security-groups", "security_group", {"name": "web"})
    groups = get(client, "/security-groups?sort_key=name")["security_groups"]
    assert [g["name"] for g in groups] == ["default", "web"]
    assert [
        g["name"] for g in get(client, "/security-groups?is_default=true")["security_groups"]
    ] == ["default"]
    rules = get(client, f"/security-group-rules?security_group_id={web['id']}")
    assert {r["direction"] for r in rules["security_group_rules"]} == {"egress"}
    assert len(rules["security_group_rules"]) == 2
    paged = get(client, "/security-group-rules?limit=3&belongs_to_default_sg=true")
    assert len(paged["security_group_rules"]) == 3
    assert paged["security_group_rules_links"][0]["rel"] == "next"
    assert all(r["belongs_to_default_sg"] for r in paged["security_group_rules"])


def test_an_admin_lists_every_project_unless_asked_not_to(cloud, client):
    make(client, "networks", "network", {"name": "d"})
    make(client, "networks", "network", {"name": "a"}, token="admin")
    assert _names(get(client, "/networks", token="admin")) == ["d", "a"]
    assert _names(get(client, "/networks?all_projects=false", token="admin")) == ["a"]
    assert _names(get(client, "/networks?project_id=p-demo", token="admin")) == ["d"]
    assert _names(get(client, "/networks?tenant_id=p-demo", token="admin")) == ["d"]


def test_marker_of_an_unlisted_row_is_the_familys_404(cloud):
    net = cloud.network.networks.create(DEMO, NetworkCreate(name="x"))
    query = ListQuery(marker=net.network.id)
    other = RequestContext(user_id="u", project_id="nobody", roles=("member",))
    with pytest.raises(exc.NetworkNotFound):
        cloud.network.networks.list(other, query)
    with pytest.raises(exc.PortNotFound):
        cloud.network.ports.list(DEMO, query)
    assert cloud.network.networks.list(DEMO, query).items == []


def test_filters_tags_and_pages_on_postgresql(pg_client):
    client = pg_client
    tags = {0: ["a"], 1: ["a", "b"], 2: ["b"]}
    nets = [
        make(
            client,
            "networks",
            "network",
            {"name": f"n{i}", "admin_state_up": i not in (1, 4), "tags": tags.get(i, [])},
        )
        for i in range(6)
    ]
    assert _names(get(client, "/networks?tags=a,b")) == ["n1"]
    assert _names(get(client, "/networks?not-tags-any=a")) == ["n2", "n3", "n4", "n5"]
    assert _names(get(client, "/networks?admin_state_up=false&name=n1&name=n2")) == ["n1"]
    subnet = make(
        client,
        "subnets",
        "subnet",
        {"network_id": nets[0]["id"], "cidr": "10.8.0.0/24", "dns_nameservers": ["8.8.8.8"]},
    )
    found = get(client, "/subnets?dns_nameservers=8.8.8.8")["subnets"]
    assert [s["id"] for s in found] == [subnet["id"]]
    port = make(client, "ports", "port", {"network_id": nets[0]["id"]})
    ip = port["fixed_ips"][0]["ip_address"]
    assert [p["id"] for p in get(client, f"/ports?fixed_ips=ip_address%3D{ip}")["ports"]] == [
        port["id"]
    ]
    seen = _walk_next_links(
        client, "/networks?limit=4&sort_key=admin_state_up&sort_key=name&sort_dir=desc"
    )
    assert seen == ["n5", "n3", "n2", "n0", "n4", "n1"]
    back = get(client, f"/networks?limit=2&sort_key=name&marker={nets[4]['id']}&page_reverse=1")
    assert _names(back) == ["n2", "n3"]
    assert get(client, "/networks?name=%00")["networks"] == []
    assert call(client, "GET", "/networks?marker=%00").status_code == 404
