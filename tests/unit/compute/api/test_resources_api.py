"""Flavors, keypairs, limits, quotas, services, hypervisors and zones over HTTP (2.1)."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from pocketstack.compute import liveness
from pocketstack.compute.api import common as api_common
from pocketstack.compute.scheduler import host_manager
from tests.unit.compute.api.conftest import ADMIN, DEMO, READER

V = "/compute/v2.1"


def public_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def test_flavor_list_show_and_detail(client):
    listed = client.get(V + "/flavors", headers=DEMO).json()["flavors"]
    assert listed[0] == {"id": "1", "name": "m1.tiny", "links": listed[0]["links"]}
    detail = client.get(V + "/flavors/detail", headers=DEMO).json()["flavors"][0]
    assert (detail["ram"], detail["vcpus"], detail["disk"]) == (256, 1, 1)
    assert detail["os-flavor-access:is_public"] is True and detail["swap"] == ""
    assert client.get(V + "/flavors/1", headers=DEMO).json()["flavor"]["name"] == "m1.tiny"
    missing = client.get(V + "/flavors/nope", headers=DEMO)
    assert missing.status_code == 404
    assert missing.json() == {
        "itemNotFound": {"code": 404, "message": "Flavor nope could not be found."}
    }
    page = client.get(V + "/flavors?limit=2", headers=DEMO).json()
    assert len(page["flavors"]) == 2 and "marker=2" in page["flavors_links"][0]["href"]


def test_flavor_pages_follow_next_links_in_the_requested_order(client):
    url = V + "/flavors/detail?limit=2&sort_key=memory_mb&sort_dir=desc"
    rams = []
    while url:
        body = client.get(url, headers=DEMO).json()
        rams += [f["ram"] for f in body["flavors"]]
        links = body.get("flavors_links")
        assert links is None or "sort_key=memory_mb" in links[0]["href"]
        url = links[0]["href"].replace("http://testserver", "") if links else None
    assert rams == [4096, 2048, 1024, 512, 256]
    bad = client.get(V + "/flavors?marker=nope", headers=DEMO)
    assert bad.status_code == 400
    assert bad.json()["badRequest"]["message"] == "marker [nope] not found"


def test_a_list_without_limit_is_capped_at_max_limit_with_a_next_link(client, monkeypatch):
    # Nova's get_limit_and_marker: no limit means [api] max_limit, and a full page links on
    monkeypatch.setattr(api_common, "MAX_LIMIT", 2)
    body = client.get(V + "/flavors", headers=DEMO).json()
    assert [f["id"] for f in body["flavors"]] == ["1", "2"]
    assert "marker=2" in body["flavors_links"][0]["href"]
    assert len(client.get(V + "/flavors?limit=50", headers=DEMO).json()["flavors"]) == 2


def test_flavor_create_is_admin_only_and_extra_specs(client):
    new = {"flavor": {"name": "f1", "ram": 128, "vcpus": 1, "disk": 1, "id": "f1"}}
    assert client.post(V + "/flavors", json=new, headers=DEMO).status_code == 403
    created = client.post(V + "/flavors", json=new, headers=ADMIN)
    assert created.status_code == 200 and created.json()["flavor"]["id"] == "f1"
    assert client.post(V + "/flavors", json=new, headers=ADMIN).status_code == 409
    bad = {"flavor": {"name": "f2", "ram": "lots", "vcpus": 1, "disk": 1}}
    assert client.post(V + "/flavors", json=bad, headers=ADMIN).status_code == 400
    specs = client.post(
        V + "/flavors/f1/os-extra_specs", json={"extra_specs": {"k": "v"}}, headers=ADMIN
    )
    assert specs.json() == {"extra_specs": {"k": "v"}}
    assert client.get(V + "/flavors/f1/os-extra_specs/k", headers=DEMO).json() == {"k": "v"}
    assert client.delete(V + "/flavors/f1/os-extra_specs/k", headers=ADMIN).status_code == 200
    assert client.delete(V + "/flavors/f1", headers=ADMIN).status_code == 202
    assert client.get(V + "/flavors/f1", headers=DEMO).status_code == 404


def test_private_flavor_access(client):
    new = {
        "flavor": {
            "name": "p",
            "ram": 64,
            "vcpus": 1,
            "disk": 0,
            "id": "p",
            "os-flavor-access:is_public": False,
        }
    }
    client.post(V + "/flavors", json=new, headers=ADMIN)
    assert client.get(V + "/flavors/p", headers=DEMO).status_code == 404
    r = client.post(
        V + "/flavors/p/action", json={"addTenantAccess": {"tenant": "p-demo"}}, headers=ADMIN
    )
    assert r.json() == {"flavor_access": [{"flavor_id": "p", "tenant_id": "p-demo"}]}
    assert client.get(V + "/flavors/p", headers=DEMO).status_code == 200
    bad = client.post(V + "/flavors/p/action", json={"explode": {}}, headers=ADMIN)
    assert bad.status_code == 400


def test_keypair_import_generate_list_show_delete(client):
    keys = public_key() + "\n" + public_key()
    r = client.post(
        V + "/os-keypairs", json={"keypair": {"name": "k", "public_key": keys}}, headers=DEMO
    )
    assert r.status_code == 200
    assert r.json()["keypair"]["public_key"] == keys and "private_key" not in r.json()["keypair"]
    gen = client.post(V + "/os-keypairs", json={"keypair": {"name": "g"}}, headers=DEMO)
    assert gen.json()["keypair"]["private_key"].startswith("-----BEGIN")
    listed = client.get(V + "/os-keypairs", headers=DEMO).json()["keypairs"]
    assert [k["keypair"]["name"] for k in listed] == ["g", "k"]
    shown = client.get(V + "/os-keypairs/k", headers=DEMO).json()["keypair"]
    assert shown["user_id"] == "u-demo" and shown["fingerprint"].count(":") == 15
    assert client.get(V + "/os-keypairs/k", headers=ADMIN).status_code == 404
    dup = client.post(V + "/os-keypairs", json={"keypair": {"name": "k"}}, headers=DEMO)
    assert dup.status_code == 409 and "conflictingRequest" in dup.json()
    assert (
        client.post(V + "/os-keypairs", json={"keypair": {"name": "r"}}, headers=READER).status_code
        == 403
    )
    assert client.delete(V + "/os-keypairs/k", headers=DEMO).status_code == 202
    assert client.delete(V + "/os-keypairs/k", headers=DEMO).status_code == 404


def test_limits_and_quota_sets(client):
    absolute = client.get(V + "/limits", headers=DEMO).json()["limits"]["absolute"]
    assert absolute["maxTotalInstances"] == 10 and absolute["totalInstancesUsed"] == 0
    change = {"quota_set": {"instances": 2}}
    assert client.put(V + "/os-quota-sets/p-demo", json=change, headers=DEMO).status_code == 403
    r = client.put(V + "/os-quota-sets/p-demo", json=change, headers=ADMIN)
    assert r.json()["quota_set"]["instances"] == 2
    shown = client.get(V + "/os-quota-sets/p-demo", headers=DEMO).json()["quota_set"]
    assert shown["id"] == "p-demo" and shown["instances"] == 2
    detail = client.get(V + "/os-quota-sets/p-demo/detail", headers=DEMO).json()
    assert detail["quota_set"]["instances"]["limit"] == 2
    assert client.get(V + "/os-quota-sets/p-admin", headers=DEMO).status_code == 403
    defaults = client.get(V + "/os-quota-sets/p-demo/defaults", headers=DEMO).json()
    assert defaults["quota_set"]["instances"] == 10
    bad = client.put(
        V + "/os-quota-sets/p-demo", json={"quota_set": {"instances": -5}}, headers=ADMIN
    )
    assert bad.status_code == 400


def test_services_hypervisors_zones(client, db, conf):
    liveness.report_service(db, "node1")
    host_manager.report_compute_node(
        db,
        conf,
        "node1",
        {
            "vcpus": 4,
            "memory_mb": 4096,
            "local_gb": 20,
            "hypervisor_type": "fake",
            "hypervisor_hostname": "node1",
        },
    )
    assert client.get(V + "/os-services", headers=DEMO).status_code == 403
    (svc,) = client.get(V + "/os-services", headers=ADMIN).json()["services"]
    assert (svc["host"], svc["status"], svc["state"], svc["zone"]) == (
        "node1",
        "enabled",
        "up",
        "nova",
    )
    r = client.put(
        V + "/os-services/disable-log-reason",
        headers=ADMIN,
        json={"host": "node1", "binary": svc["binary"], "disabled_reason": "maint"},
    )
    assert r.json()["service"]["status"] == "disabled"
    assert (
        client.get(V + "/os-services", headers=ADMIN).json()["services"][0]["disabled_reason"]
        == "maint"
    )
    client.put(
        V + "/os-services/enable", headers=ADMIN, json={"host": "node1", "binary": svc["binary"]}
    )
    (hyp,) = client.get(V + "/os-hypervisors", headers=ADMIN).json()["hypervisors"]
    assert hyp["hypervisor_hostname"] == "node1" and hyp["state"] == "up"
    shown = client.get(V + f"/os-hypervisors/{hyp['id']}", headers=ADMIN).json()
    assert shown["hypervisor"]["vcpus"] == 4
    assert shown["hypervisor"]["service"]["host"] == "node1"
    stats = client.get(V + "/os-hypervisors/statistics", headers=ADMIN).json()
    assert stats["hypervisor_statistics"]["count"] == 1
    zones = client.get(V + "/os-availability-zone", headers=DEMO).json()
    assert zones == {
        "availabilityZoneInfo": [
            {"zoneName": "nova", "zoneState": {"available": True}, "hosts": None}
        ]
    }
    assert client.get(V + "/os-availability-zone/detail", headers=DEMO).status_code == 403


def test_auth_and_routing_errors(client):
    assert client.get(V + "/flavors").status_code == 401
    assert client.get(V + "/flavors", headers={"X-Auth-Token": "bogus"}).status_code == 401
    assert client.get(V + "/no-such-thing", headers=DEMO).status_code == 404
    assert client.patch(V + "/flavors", headers=DEMO).status_code == 405
