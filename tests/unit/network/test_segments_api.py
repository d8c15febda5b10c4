"""Neutron's ``segment`` extension, read side: ``GET /v2.0/segments[/{id}]`` shows each
network's one segment to admins (filters, sorting, paging, ``fields``); members get 403;
creating, changing or deleting a segment is refused (one segment per network)."""

from __future__ import annotations

import uuid

import pytest
from starlette.testclient import TestClient

from pocketstack.common.auth import RequestContext
from pocketstack.network import segments
from pocketstack.network.api import API
from tests.helpers import FixedTokens, service_app

ADMIN = RequestContext(user_id="u0", project_id="admin", roles=("admin", "member", "reader"))
DEMO = RequestContext(user_id="u1", project_id="demo", roles=("member", "reader"))
FLAT = {"provider:network_type": "flat", "provider:physical_network": "public"}


@pytest.fixture
def client(cloud, conf):
    app = service_app(API, conf, cloud, FixedTokens({"admin": ADMIN, "demo": DEMO}))
    with TestClient(app) as test_client:
        yield test_client


def _call(client, method: str, path: str, token: str = "admin", **kwargs):
    headers = {"X-Auth-Token": token}
    return client.request(method, "/networking/v2.0" + path, headers=headers, **kwargs)


@pytest.fixture
def nets(network):
    """A demo vxlan network, an admin vxlan one with VNI 4000 and a flat one on public."""
    return {
        "demo": network.networks.create(DEMO, {"name": "d"}),
        "vni": network.networks.create(ADMIN, {"provider:segmentation_id": 4000}),
        "flat": network.networks.create(ADMIN, {"name": "ext", **FLAT}),
    }


def test_segment_ids_are_stable_distinct_uuids_that_lead_back():
    network_id = str(uuid.uuid4())
    seg = segments.segment_id(network_id)
    assert seg != network_id and seg == segments.segment_id(network_id)
    assert uuid.UUID(seg).version == 4
    assert segments.network_of(seg) == network_id
    assert segments.network_of(seg.upper()) is None and segments.network_of("x") is None


def test_list_shows_one_segment_per_network(client, nets):
    resp = _call(client, "GET", "/segments")
    assert resp.status_code == 200
    by_network = {s["network_id"]: s for s in resp.json()["segments"]}
    assert set(by_network) >= {n["id"] for n in nets.values()}
    demo = by_network[nets["demo"]["id"]]
    assert set(demo) == {
        "id",
        "network_id",
        "name",
        "description",
        "network_type",
        "physical_network",
        "segmentation_id",
        "revision_number",
        "created_at",
        "updated_at",
    }
    assert demo["network_type"] == "vxlan" and demo["physical_network"] is None
    assert demo["segmentation_id"] == nets["demo"]["provider:segmentation_id"]
    assert demo["name"] is None and demo["description"] == ""
    flat = by_network[nets["flat"]["id"]]
    assert (flat["network_type"], flat["physical_network"], flat["segmentation_id"]) == (
        "flat",
        "public",
        None,
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("network_type=flat", {"flat"}),
        ("physical_network=public", {"flat"}),
        ("segmentation_id=4000", {"vni"}),
        ("network_type=vxlan&segmentation_id=4000&segmentation_id=16777000", {"vni"}),
        ("segmentation_id=abc", set()),
        ("name=nothing", set()),
    ],
)
def test_list_filters(client, nets, query, expected):
    names = {n["id"]: k for k, n in nets.items()}
    body = _call(client, "GET", f"/segments?{query}").json()
    assert {names.get(s["network_id"], "other") for s in body["segments"]} == expected


def test_filter_by_network_and_by_id(client, nets):
    vni = nets["vni"]["id"]
    found = _call(client, "GET", f"/segments?network_id={vni}").json()["segments"]
    assert [s["network_id"] for s in found] == [vni]
    by_id = _call(client, "GET", f"/segments?id={found[0]['id']}").json()["segments"]
    assert by_id == found
    assert _call(client, "GET", f"/segments?id={vni}").json()["segments"] == []


def test_show_and_not_found(client, nets):
    flat = nets["flat"]["id"]
    seg = segments.segment_id(flat)
    resp = _call(client, "GET", f"/segments/{seg}")
    assert resp.status_code == 200
    assert resp.json()["segment"]["id"] == seg and resp.json()["segment"]["network_id"] == flat
    fields = _call(client, "GET", f"/segments/{seg}?fields=id&fields=network_type").json()
    assert fields == {"segment": {"id": seg, "network_type": "flat"}}
    for missing in (flat, str(uuid.uuid4()), "not-a-uuid"):
        resp = _call(client, "GET", f"/segments/{missing}")
        assert resp.status_code == 404
        assert resp.json()["NeutronError"]["type"] == "SegmentNotFound"


def test_sorting_and_paging(client, nets):
    mine = {n["id"] for n in nets.values()}
    asc = _call(client, "GET", "/segments?sort_key=segmentation_id&sort_dir=asc").json()
    ordered = [s["segmentation_id"] for s in asc["segments"] if s["segmentation_id"]]
    assert ordered == sorted(ordered)
    seen, path = [], "/segments?limit=1"
    for _ in range(20):
        body = _call(client, "GET", path).json()
        seen += [s["network_id"] for s in body["segments"]]
        nxt = [link for link in body.get("segments_links", []) if link["rel"] == "next"]
        if not nxt:
            break
        path = "/segments?" + nxt[0]["href"].split("?", 1)[1]
    assert mine <= set(seen) and len(seen) == len(set(seen))
    bad_sort = _call(client, "GET", "/segments?sort_key=nope")
    assert bad_sort.status_code == 400
    bad_marker = _call(client, "GET", f"/segments?limit=1&marker={uuid.uuid4()}")
    assert bad_marker.status_code == 404
    assert bad_marker.json()["NeutronError"]["type"] == "SegmentNotFound"


def test_members_may_not_read_or_write_segments(client, nets):
    seg = segments.segment_id(nets["demo"]["id"])
    for method, path, body in (
        ("GET", "/segments", None),
        ("GET", f"/segments/{seg}", None),
        (
            "POST",
            "/segments",
            {"segment": {"network_id": nets["demo"]["id"], "network_type": "vxlan"}},
        ),
        ("PUT", f"/segments/{seg}", {"segment": {"name": "x"}}),
        ("DELETE", f"/segments/{seg}", None),
    ):
        resp = _call(client, method, path, token="demo", json=body)
        assert resp.status_code == 403, (method, path, resp.text)
        assert resp.json()["NeutronError"]["type"] == "PolicyNotAuthorized"


def test_writes_are_refused_one_segment_per_network(client, nets):
    demo = nets["demo"]["id"]
    seg = segments.segment_id(demo)
    create = {"segment": {"network_id": demo, "network_type": "vxlan"}}
    made = _call(client, "POST", "/segments", json=create)
    assert made.status_code == 400
    assert made.json()["NeutronError"]["type"] == "SegmentsUnsupported"
    elsewhere = {"segment": {"network_id": str(uuid.uuid4()), "network_type": "vxlan"}}
    assert _call(client, "POST", "/segments", json=elsewhere).status_code == 404
    renamed = _call(client, "PUT", f"/segments/{seg}", json={"segment": {"name": "x"}})
    assert renamed.status_code == 400
    deleted = _call(client, "DELETE", f"/segments/{seg}")
    assert deleted.status_code == 409
    assert deleted.json()["NeutronError"]["type"] == "SegmentInUse"
    assert _call(client, "DELETE", f"/segments/{uuid.uuid4()}").status_code == 404
    assert _call(client, "GET", f"/segments/{seg}").json()["segment"]["network_id"] == demo
