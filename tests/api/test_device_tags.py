"""Device tags by microversion (issue 11; Nova's 2.32, 2.42, 2.49, shown at 2.70), through the
``openstack`` CLI and openstacksdk (session cloud, fake driver): ``--nic ...,tag=`` at
2.latest, a network's ``tag`` refused at 2.37-2.41 and a block device's at 2.33-2.41 (400),
a volume attachment's ``tag`` refused before 2.49 and shown from 2.70."""

from __future__ import annotations

import uuid

import openstack.exceptions
import pytest

ADMIN = "pocketstack-admin"
LATEST = ("--os-compute-api-version", "2.latest")


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _post(conn, url: str, body: dict, version: str):
    headers = {"OpenStack-API-Version": f"compute {version}"}
    return conn.compute.post(url, json=body, headers=headers, raise_exc=False)


def _server_body(conn, name: str, network: dict, **extra) -> dict:
    image = conn.image.find_image("cirros")
    flavor = conn.compute.find_flavor("m1.tiny")
    server = {"name": name, "imageRef": image.id, "flavorRef": flavor.id}
    return {"server": {**server, "networks": [network], **extra}}


@pytest.fixture
def cleanup(running_cloud):
    names: list[str] = []
    yield names
    admin = running_cloud.sdk(ADMIN)
    for name in names:
        found = admin.compute.find_server(name, all_projects=True)
        if found:
            admin.compute.delete_server(found)
            try:
                admin.compute.wait_for_delete(found, wait=60)
            except openstack.exceptions.NotFoundException:
                pass


def test_network_and_block_device_tags_by_version(running_cloud, cleanup):
    conn = running_cloud.sdk()
    net = conn.network.find_network("private")
    tagged = {"uuid": net.id, "tag": "frontend"}
    for version in ("2.31", "2.37", "2.41"):
        name = _name("tag")
        resp = _post(conn, "/servers", _server_body(conn, name, tagged), version)
        assert resp.status_code == 400, (version, resp.text)
        assert "'tag' was unexpected" in resp.text
    bdm = {
        "source_type": "image",
        "destination_type": "local",
        "boot_index": 0,
        "uuid": conn.image.find_image("cirros").id,
        "tag": "root",
    }
    untagged = {"uuid": net.id}
    body = _server_body(conn, _name("tag"), untagged, block_device_mapping_v2=[bdm])
    assert _post(conn, "/servers", body, "2.33").status_code == 400
    for version in ("2.32", "2.36", "2.42"):
        name = _name("tag")
        cleanup.append(name)
        resp = _post(conn, "/servers", _server_body(conn, name, tagged), version)
        assert resp.status_code == 202, (version, resp.text)
    name = _name("tag")
    cleanup.append(name)
    body = _server_body(conn, name, untagged, block_device_mapping_v2=[bdm])
    assert _post(conn, "/servers", body, "2.42").status_code == 202

    # the CLI: --nic net-id=...,tag=... at 2.latest
    name = _name("clitag")
    cleanup.append(name)
    running_cloud.openstack(
        *LATEST,
        "server",
        "create",
        "--flavor",
        "m1.tiny",
        "--image",
        "cirros",
        "--nic",
        f"net-id={net.id},tag=frontend",
        "--wait",
        name,
    )
    assert running_cloud.openstack("server", "show", name)["status"] == "ACTIVE"


def test_volume_attachment_tag_from_2_49(running_cloud, cleanup):
    cloud = running_cloud
    name = _name("voltag")
    cleanup.append(name)
    server = cloud.create_server(name, wait=True)
    conn = cloud.sdk()
    volume = conn.block_storage.create_volume(size=1, name=_name("v"))
    try:
        conn.block_storage.wait_for_status(volume, "available", wait=60)
        url = f"/servers/{server['id']}/os-volume_attachments"
        body = {"volumeAttachment": {"volumeId": volume.id, "tag": "data"}}
        old = _post(conn, url, body, "2.48")
        assert old.status_code == 400 and "'tag' was unexpected" in old.text
        made = _post(conn, url, body, "2.49")
        assert made.status_code == 200, made.text
        listed = cloud.openstack(*LATEST, "server", "volume", "list", name)
        assert [v.get("Tag") for v in listed] == ["data"], listed
        shown = conn.compute.get(
            f"{url}/{volume.id}", headers={"OpenStack-API-Version": "compute 2.70"}
        ).json()["volumeAttachment"]
        assert shown["tag"] == "data"
        cloud.openstack("server", "remove", "volume", name, volume.id, json_output=False)
        conn.block_storage.wait_for_status(volume, "available", wait=60)
    finally:
        conn.block_storage.delete_volume(volume, ignore_missing=True)


def test_interface_attachment_tag_from_2_49(running_cloud, cleanup):
    cloud = running_cloud
    name = _name("niftag")
    cleanup.append(name)
    server = cloud.create_server(name, wait=True)
    conn = cloud.sdk()
    url = f"/servers/{server['id']}/os-interface"
    net = conn.network.find_network("private")
    old = _post(conn, url, {"interfaceAttachment": {"net_id": net.id, "tag": "x"}}, "2.48")
    assert old.status_code == 400 and "'tag' was unexpected" in old.text
    port = cloud.openstack("port", "create", "--network", "private", _name("p"))
    try:
        cloud.openstack(
            *LATEST,
            "server",
            "add",
            "port",
            "--tag",
            "backend",
            name,
            port["id"],
            json_output=False,
        )
        listed = conn.compute.get(url, headers={"OpenStack-API-Version": "compute 2.70"}).json()
        tags = {i["port_id"]: i["tag"] for i in listed["interfaceAttachments"]}
        assert tags[port["id"]] == "backend"
        assert list(tags.values()).count(None) == 1  # the boot NIC has none
        shown = conn.compute.get(
            f"{url}/{port['id']}", headers={"OpenStack-API-Version": "compute 2.70"}
        ).json()["interfaceAttachment"]
        assert shown["tag"] == "backend"
        cloud.openstack("server", "remove", "port", name, port["id"], json_output=False)
    finally:
        cloud.openstack("port", "delete", port["id"], check=False, json_output=False)
