"""Block Storage answers the OpenStack Interop guideline's tempest tests check (issue 12),
through openstacksdk's block_storage adapter (raw Cinder v3 JSON): the create and update
answers carry none of the show/detail extension attributes, the extension list, os-hosts,
and a snapshot of volume ``null``."""

from __future__ import annotations

import uuid

import pytest

from tests.helpers import wait_until

#: attributes Cinder's volume extensions add to GET show/detail only
EXTENSION_ATTRS = {
    "os-vol-tenant-attr:tenant_id",
    "os-vol-host-attr:host",
    "os-vol-mig-status-attr:migstat",
    "os-vol-mig-status-attr:name_id",
    "volume_image_metadata",
}


@pytest.fixture
def demo(running_cloud):
    return running_cloud.sdk("pocketstack-demo")


@pytest.fixture
def admin(running_cloud):
    return running_cloud.sdk("pocketstack-admin")


def _create(demo, made: list[str], **extra) -> dict:
    body = {"volume": {"size": 1, "name": f"interop-{uuid.uuid4().hex[:8]}", **extra}}
    answer = demo.block_storage.post("/volumes", json=body)
    assert answer.status_code == 202, answer.text
    volume = answer.json()["volume"]
    made.append(volume["id"])
    return volume


def _wait_available(demo, volume_id: str) -> dict:
    def shown():
        v = demo.block_storage.get(f"/volumes/{volume_id}").json()["volume"]
        return v if v["status"] == "available" else None

    return wait_until(shown, 120, f"volume {volume_id} available", interval=0.3)


@pytest.fixture
def made(admin):
    ids: list[str] = []
    yield ids
    for volume_id in ids:
        admin.block_storage.delete_volume(volume_id, ignore_missing=True, force=True)


def test_create_and_update_answers_carry_no_extension_attributes(demo, admin, made):
    created = _create(demo, made)
    assert not EXTENSION_ATTRS & created.keys()
    volume_id = created["id"]
    shown = _wait_available(demo, volume_id)
    # the owner sees its project (admin_or_owner), not the host or migration status
    assert shown["os-vol-tenant-attr:tenant_id"] == demo.current_project_id
    assert "os-vol-host-attr:host" not in shown
    assert "os-vol-mig-status-attr:migstat" not in shown
    detail = demo.block_storage.get("/volumes/detail").json()["volumes"]
    (listed,) = [v for v in detail if v["id"] == volume_id]
    assert listed["os-vol-tenant-attr:tenant_id"] == demo.current_project_id
    as_admin = admin.block_storage.get(f"/volumes/{volume_id}").json()["volume"]
    assert {"os-vol-host-attr:host", "os-vol-mig-status-attr:migstat"} <= as_admin.keys()
    updated = demo.block_storage.put(f"/volumes/{volume_id}", json={"volume": {"name": "renamed"}})
    assert updated.status_code == 200, updated.text
    assert updated.json()["volume"]["name"] == "renamed"
    assert not EXTENSION_ATTRS & updated.json()["volume"].keys()


def test_volume_image_metadata_only_on_show(demo, made):
    image = demo.image.find_image("cirros")
    created = _create(demo, made, imageRef=image.id)
    assert "volume_image_metadata" not in created
    shown = _wait_available(demo, created["id"])
    assert shown["volume_image_metadata"]["image_id"] == image.id


def test_extension_list_names_hosts_and_os_hosts_is_admin_only(demo, admin):
    answer = demo.block_storage.get("/extensions")
    assert answer.status_code == 200, answer.text
    extensions = answer.json()["extensions"]
    assert "Hosts" in [e["name"] for e in extensions]
    for ext in extensions:
        assert set(ext) == {"alias", "name", "description", "links", "updated"}
    hosts = admin.block_storage.get("/os-hosts")
    assert hosts.status_code == 200, hosts.text
    assert "cinder-volume" in [h["service"] for h in hosts.json()["hosts"]]
    assert demo.block_storage.get("/os-hosts").status_code == 403


def test_snapshot_of_a_null_volume_is_not_found(demo):
    answer = demo.block_storage.post("/snapshots", json={"snapshot": {"volume_id": None}})
    assert answer.status_code == 404, answer.text
    assert answer.json()["itemNotFound"]["message"] == "Volume None could not be found."
    wrong = demo.block_storage.post("/snapshots", json={"snapshot": {"volume_id": 5}})
    assert wrong.status_code == 400


def test_snapshot_extended_attributes_only_on_show_and_detail(demo, made):
    volume = _create(demo, made)
    _wait_available(demo, volume["id"])
    answer = demo.block_storage.post("/snapshots", json={"snapshot": {"volume_id": volume["id"]}})
    assert answer.status_code == 202, answer.text
    created = answer.json()["snapshot"]
    extended = {
        "os-extended-snapshot-attributes:progress",
        "os-extended-snapshot-attributes:project_id",
    }
    try:
        assert not extended & created.keys()
        path = f"/snapshots/{created['id']}"
        shown = demo.block_storage.get(path).json()["snapshot"]
        assert shown["os-extended-snapshot-attributes:project_id"] == demo.current_project_id
        updated = demo.block_storage.put(path, json={"snapshot": {"name": "s2"}}).json()
        assert not extended & updated["snapshot"].keys()
        (plain,) = [
            s
            for s in demo.block_storage.get("/snapshots").json()["snapshots"]
            if s["id"] == created["id"]
        ]
        assert not extended & plain.keys()
    finally:
        wait_until(
            lambda: demo.block_storage.get(path).json()["snapshot"]["status"] == "available",
            60,
            "snapshot available",
        )
        demo.block_storage.delete(path)


def test_volume_list_pagination_links_to_the_next_page(demo, made):
    ids = {_create(demo, made)["id"] for _ in range(3)}
    seen: list[str] = []
    params = "limit=2&sort=id:asc"
    for _ in range(100):
        page = demo.block_storage.get(f"/volumes/detail?{params}").json()
        seen += [v["id"] for v in page["volumes"]]
        nexts = [link["href"] for link in page.get("volumes_links", []) if link["rel"] == "next"]
        if not nexts:
            break
        # the link keeps the form of the request (the catalog's /v3, with or without project)
        assert nexts[0].startswith(
            demo.block_storage.get_endpoint().rstrip("/") + "/volumes/detail?"
        )
        params = nexts[0].split("?", 1)[1]
    assert ids <= set(seen) and len(seen) == len(set(seen))


def test_an_empty_volume_id_is_not_found(demo):
    for method in ("GET", "PUT", "DELETE"):
        body = {"volume": {"name": "x"}} if method == "PUT" else None
        answer = demo.block_storage.request("/volumes/", method, json=body)
        assert answer.status_code == 404, (method, answer.status_code)


def test_update_readonly_flag_shows_in_the_volume_metadata(demo, made):
    volume_id = _create(demo, made)["id"]
    _wait_available(demo, volume_id)
    for readonly in (True, False):
        body = {"os-update_readonly_flag": {"readonly": readonly}}
        answer = demo.block_storage.post(f"/volumes/{volume_id}/action", json=body)
        assert answer.status_code == 202, answer.text
        shown = demo.block_storage.get(f"/volumes/{volume_id}").json()["volume"]
        assert shown["metadata"]["readonly"] == str(readonly)
    bad = {"os-update_readonly_flag": {"readonly": "maybe"}}
    assert demo.block_storage.post(f"/volumes/{volume_id}/action", json=bad).status_code == 400
