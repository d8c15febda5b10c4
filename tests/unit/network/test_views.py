"""The Networking API's views (``network.api.views``): records -> Neutron's JSON, admin-only
attributes, ``fields=`` and the pagination links, on rows built in memory."""

from __future__ import annotations

import datetime
import types
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.datastructures import QueryParams

from pocketstack.common.auth import RequestContext
from pocketstack.network.api import views
from pocketstack.network.lists import ListQuery, Page
from pocketstack.network.models import (
    IPAllocation,
    Network,
    Port,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
)
from pocketstack.network.networks import NetworkRecord
from pocketstack.network.ports import PortRecord
from pocketstack.network.secgroups import SecurityGroupRecord, SecurityGroupRuleRecord

T0 = datetime.datetime(2026, 1, 2, 3, 4, 5)
ADMIN = RequestContext(user_id="a", project_id="p-admin", roles=("admin",))
DEMO = RequestContext(user_id="d", project_id="p", roles=("member",))
STANDARD = {
    "id",
    "project_id",
    "tenant_id",
    "name",
    "description",
    "created_at",
    "updated_at",
    "revision_number",
    "tags",
}


def _req(ctx: RequestContext, query: str = "") -> Any:
    """What the views read of an ``ApiRequest``: caller, query string, base URL."""
    params = QueryParams(query)
    return types.SimpleNamespace(
        ctx=ctx,
        query=params,
        query_all=params.getlist,
        base_url="http://cloud/networking",
    )


def _standard(**extra: Any) -> dict[str, Any]:
    base = dict(project_id="p", description=None, created_at=T0, revision_number=3, tags=["t"])
    return {**base, **extra}


def _network() -> NetworkRecord:
    net = Network(
        id="n1",
        name="net",
        admin_state_up=True,
        shared=False,
        external=True,
        mtu=1400,
        status="ACTIVE",
        network_type="vxlan",
        segmentation_id=1001,
        port_security_enabled=True,
        **_standard(),
    )
    return NetworkRecord(net, ["s1", "s2"])


def _port(host: str = "h1", vif_type: str = "ovs") -> PortRecord:
    port = Port(
        id="p1",
        name="",
        network_id="n1",
        mac_address="fa:16:3e:00:00:01",
        admin_state_up=True,
        status="ACTIVE",
        device_id="vm",
        device_owner="compute:nova",
        host_id=host,
        vnic_type="normal",
        vif_type=vif_type,
        port_security_enabled=True,
        allowed_address_pairs=[{"ip_address": "10.0.0.9"}],
        **_standard(),
    )
    allocation = IPAllocation(subnet_id="s1", ip_address="10.0.0.5", network_id="n1")
    return PortRecord(port, [allocation], ["g1", "g2"])


def test_network_view_shows_every_attribute_with_standard_ones():
    data = views.network(_network())
    assert STANDARD <= set(data)
    assert data["description"] == "" and data["updated_at"] == data["created_at"]
    assert data["created_at"].startswith("2026-01-02T03:04:05")
    assert (data["subnets"], data["router:external"], data["mtu"]) == (["s1", "s2"], True, 1400)
    assert data["provider:segmentation_id"] == 1001 and data["tenant_id"] == "p"
    assert data["availability_zones"] == ["nova"] and data["is_default"] is False


def test_subnet_view():
    subnet = Subnet(
        id="s1",
        name="sub",
        network_id="n1",
        ip_version=4,
        cidr="10.0.0.0/24",
        gateway_ip=None,
        enable_dhcp=True,
        allocation_pools=[{"start": "10.0.0.2", "end": "10.0.0.254"}],
        dns_nameservers=["8.8.8.8"],
        host_routes=[],
        **_standard(),
    )
    data = views.subnet(subnet)
    assert STANDARD <= set(data)
    assert (data["cidr"], data["gateway_ip"], data["subnetpool_id"]) == ("10.0.0.0/24", None, None)
    assert data["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.0.254"}]


def test_port_view_binding_details_follow_the_vif_type():
    data = views.port(_port(vif_type="bridge"))
    assert data["fixed_ips"] == [{"subnet_id": "s1", "ip_address": "10.0.0.5"}]
    assert data["security_groups"] == ["g1", "g2"]
    # linuxbridge: filtered, on the network's brq bridge (network id "n1": "brq" + "n1")
    assert data["binding:vif_details"] == {"port_filter": True, "bridge_name": "brqn1"}
    assert (data["binding:vif_type"], data["binding:profile"]) == ("bridge", {})
    assert views.port(_port(vif_type="ovs"))["binding:vif_details"] == {}
    assert views.port(_port(host="", vif_type="unbound"))["binding:vif_details"] == {}


def test_group_view_marks_its_rules_as_the_defaults_when_it_is():
    group = SecurityGroup(id="g1", name="default", stateful=True, **_standard())
    rule = SecurityGroupRule(
        id="r1",
        project_id="p",
        security_group_id="g1",
        direction="egress",
        ethertype="IPv4",
        description=None,
        revision_number=1,
        created_at=T0,
    )
    data = views.security_group(SecurityGroupRecord(group, [rule], True))
    assert data["is_default"] is True and data["shared"] is False
    [shown] = data["security_group_rules"]
    assert shown["belongs_to_default_sg"] is True and shown["normalized_cidr"] is None
    alone = views.security_group_rule(SecurityGroupRuleRecord(rule, False))
    assert alone["belongs_to_default_sg"] is False and alone["description"] == ""


def test_admin_only_attributes_are_for_admins():
    data = views.port(_port())
    assert views.ADMIN_ONLY & set(views.one(_req(ADMIN), "port", data)["port"])
    shown = views.one(_req(DEMO), "port", data)["port"]
    assert not views.ADMIN_ONLY & set(shown) and shown["binding:vnic_type"] == "normal"
    assert "provider:network_type" not in views.redact(_req(DEMO), views.network(_network()))


def test_fields_select_attributes():
    req = _req(DEMO, "fields=id&fields=mtu&fields=provider:segmentation_id")
    assert views.one(req, "network", views.network(_network())) == {
        "network": {"id": "n1", "mtu": 1400}
    }


def _rels(links: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {link["rel"]: dict(parse_qsl(urlsplit(link["href"]).query)) for link in links}


def test_links_only_with_a_limit_and_in_neutrons_directions():
    req = _req(DEMO, "limit=2&name=x&marker=m0&page_reverse=True")
    assert views.links(req, "networks", ListQuery(), ["a", "b"], True) == []
    assert views.links(req, "networks", ListQuery(limit=2), [], True) == []
    forward = views.links(req, "networks", ListQuery(limit=2, marker="m0"), ["a", "b"], True)
    assert _rels(forward) == {
        "next": {"limit": "2", "name": "x", "marker": "b"},
        "previous": {"limit": "2", "name": "x", "marker": "a", "page_reverse": "True"},
    }
    assert forward[0]["href"].startswith("http://cloud/networking/v2.0/networks?")
    first = views.links(req, "networks", ListQuery(limit=2), ["a", "b"], False)
    assert first == []
    back = ListQuery(limit=2, marker="m0", page_reverse=True)
    assert set(_rels(views.links(req, "networks", back, ["a", "b"], False))) == {"next"}
    assert set(_rels(views.links(req, "networks", back, ["a", "b"], True))) == {"next", "previous"}


def test_page_envelope_uses_the_collection_name():
    req = _req(DEMO, "limit=1")
    body = views.page(req, ListQuery(limit=1), "ports", Page([_port()], more=True), views.port)
    assert set(body) == {"ports", "ports_links"}
    assert "binding:host_id" not in body["ports"][0]
    empty = views.page(
        req, ListQuery(), "security-group-rules", Page([]), views.security_group_rule
    )
    assert empty == {"security_group_rules": []}
