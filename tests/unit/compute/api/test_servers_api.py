"""Servers over HTTP with rows planted in the database: list/show/update/metadata/actions,
project isolation, all_tenants, and the request checks done before any manager call."""

from __future__ import annotations

import uuid

import pytest

from tests.unit.compute import builders
from tests.unit.compute.api.conftest import ADMIN, DEMO, READER

V = "/compute/v2.1"


def plant(db, name: str, project_id: str, vm_state: str = "active", **fields) -> str:
    """A server of ``project_id`` on node1 in zone nova (image, default group, metadata)."""
    return builders.plant(
        db,
        name=name,
        project_id=project_id,
        vm_state=vm_state,
        image_ref="img",
        host="node1",
        node="node1",
        availability_zone="nova",
        security_groups=["default"],
        metadata_={"a": "1"},
        **fields,
    )


@pytest.fixture
def servers(db):
    return {
        "demo": plant(db, "vm1", "p-demo"),
        "stopped": plant(db, "vm2", "p-demo", vm_state="stopped", power_state=4),
        "admin": plant(db, "adminvm", "p-admin"),
    }


def test_list_and_detail_only_own_project(client, servers):
    listed = client.get(V + "/servers", headers=DEMO).json()["servers"]
    assert sorted(s["name"] for s in listed) == ["vm1", "vm2"]
    assert set(listed[0]) == {"id", "name", "links"}
    detail = client.get(V + "/servers/detail", headers=DEMO).json()["servers"]
    assert {s["status"] for s in detail} == {"ACTIVE", "SHUTOFF"}
    assert all(s["tenant_id"] == "p-demo" for s in detail)
    named = client.get(V + "/servers/detail?name=vm1", headers=DEMO).json()["servers"]
    assert [s["name"] for s in named] == ["vm1"]
    status = client.get(V + "/servers/detail?status=shutoff", headers=DEMO).json()
    assert [s["name"] for s in status["servers"]] == ["vm2"]


def test_all_tenants_is_admin_only(client, servers):
    assert client.get(V + "/servers?all_tenants=1", headers=DEMO).status_code == 403
    everyone = client.get(V + "/servers/detail?all_tenants=True", headers=ADMIN).json()
    assert len(everyone["servers"]) == 3
    own = client.get(V + "/servers/detail", headers=ADMIN).json()["servers"]
    assert [s["name"] for s in own] == ["adminvm"]
    assert "OS-EXT-SRV-ATTR:host" in own[0]


def test_other_projects_server_is_404(client, servers):
    r = client.get(V + f"/servers/{servers['admin']}", headers=DEMO)
    assert r.status_code == 404
    assert r.json() == {
        "itemNotFound": {"code": 404, "message": f"Instance {servers['admin']} could not be found."}
    }
    assert client.delete(V + f"/servers/{servers['admin']}", headers=DEMO).status_code == 404


def test_show_update_and_reader(client, servers):
    shown = client.get(V + f"/servers/{servers['demo']}", headers=READER).json()["server"]
    assert shown["name"] == "vm1" and shown["metadata"] == {"a": "1"}
    r = client.put(
        V + f"/servers/{servers['demo']}", json={"server": {"name": "renamed"}}, headers=DEMO
    )
    assert r.status_code == 200 and r.json()["server"]["name"] == "renamed"
    assert (
        client.put(
            V + f"/servers/{servers['demo']}", json={"server": {"name": "x"}}, headers=READER
        ).status_code
        == 403
    )
    assert (
        client.put(
            V + f"/servers/{servers['demo']}", json={"server": {"bogus": 1}}, headers=DEMO
        ).status_code
        == 400
    )


def test_metadata(client, servers):
    url = V + f"/servers/{servers['demo']}/metadata"
    assert client.get(url, headers=DEMO).json() == {"metadata": {"a": "1"}}
    merged = client.post(url, json={"metadata": {"b": "2"}}, headers=DEMO).json()
    assert merged == {"metadata": {"a": "1", "b": "2"}}
    replaced = client.put(url, json={"metadata": {"c": "3"}}, headers=DEMO).json()
    assert replaced == {"metadata": {"c": "3"}}
    assert client.put(url + "/d", json={"meta": {"d": "4"}}, headers=DEMO).json() == {
        "meta": {"d": "4"}
    }
    assert client.put(url + "/d", json={"meta": {"e": "4"}}, headers=DEMO).status_code == 400
    assert client.get(url + "/d", headers=DEMO).json() == {"meta": {"d": "4"}}
    assert client.delete(url + "/d", headers=DEMO).status_code == 204
    assert client.get(url + "/d", headers=DEMO).status_code == 404
    assert client.delete(url + "/d", headers=DEMO).status_code == 404


def test_actions_check_state_and_unknown_actions(client, servers):
    url = V + f"/servers/{servers['stopped']}/action"
    r = client.post(url, json={"os-stop": None}, headers=DEMO)
    assert r.status_code == 409
    assert "while it is in vm_state stopped" in r.json()["conflictingRequest"]["message"]
    assert client.post(url, json={"reboot": {"type": "SOFT"}}, headers=DEMO).status_code == 409
    assert client.post(url, json={"reboot": {"type": "GENTLE"}}, headers=DEMO).status_code == 400
    assert client.post(url, json={"os-explode": None}, headers=DEMO).status_code == 400
    assert client.post(url, json={}, headers=DEMO).status_code == 400
    assert client.post(url, json={"os-start": None}, headers=READER).status_code == 403


def test_create_rejects_bad_bodies_before_anything(client, servers):
    r = client.post(
        V + "/servers",
        json={"server": {"name": "", "imageRef": "i", "flavorRef": "1"}},
        headers=DEMO,
    )
    assert r.status_code == 400 and "badRequest" in r.json()
    r = client.post(V + "/servers", content=b"{not json", headers=DEMO)
    assert r.status_code == 400
    huge = {"server": {"name": "vm", "imageRef": "i", "flavorRef": "1", "user_data": "A" * 200000}}
    assert client.post(V + "/servers", json=huge, headers=DEMO).status_code == 413
    assert (
        client.post(
            V + "/servers",
            json={"server": {"name": "vm", "imageRef": str(uuid.uuid4()), "flavorRef": "1"}},
            headers=READER,
        ).status_code
        == 403
    )


def test_ips(client, db):
    info = [
        {
            "network_name": "private",
            "mac_address": "fa:16:3e:00:00:01",
            "fixed_ips": [{"ip_address": "10.0.0.7"}],
        }
    ]
    uuid = plant(db, "vm3", "p-demo", network_info=info)
    ips = client.get(V + f"/servers/{uuid}/ips", headers=DEMO).json()
    assert ips["addresses"]["private"][0]["addr"] == "10.0.0.7"
    one = client.get(V + f"/servers/{uuid}/ips/private", headers=DEMO).json()
    assert one["private"][0]["version"] == 4
    assert client.get(V + f"/servers/{uuid}/ips/public", headers=DEMO).status_code == 404


def test_paging_follows_next_links_with_the_sort_kept(client, db):
    for i in range(5):
        plant(db, f"p{i}", "p-demo")
    url = V + "/servers/detail?limit=2&sort_key=display_name&sort_dir=asc"
    seen, pages = [], 0
    while url:
        body = client.get(url, headers=DEMO).json()
        seen += [s["name"] for s in body["servers"]]
        pages += 1
        links = body.get("servers_links", [])
        assert all(link["rel"] == "next" for link in links)
        if links:
            href = links[0]["href"]
            assert "sort_key=display_name" in href and "limit=2" in href
            assert f"marker={body['servers'][-1]['id']}" in href
            url = href.replace("http://testserver", "")
        else:
            url = None
    assert seen == [f"p{i}" for i in range(5)] and pages == 3
    bad = client.get(V + "/servers?marker=nope", headers=DEMO)
    assert bad.status_code == 400
    assert bad.json()["badRequest"]["message"] == "marker [nope] not found"
    assert client.get(V + "/servers?sort_key=password", headers=DEMO).status_code == 400
