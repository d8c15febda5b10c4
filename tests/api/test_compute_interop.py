"""What the Interop guideline's required compute tempest tests check, through openstacksdk
(fake driver): the version list (v2.0 first), the ``adminPass`` asked for on create, and a
stopped server's view without ``progress`` (Nova shows it only in its progress statuses)."""

from __future__ import annotations

import uuid

import httpx
import pytest

DEMO = "pocketstack-demo"


@pytest.fixture
def demo(running_cloud):
    return running_cloud.sdk(DEMO)


def test_version_list_names_v2_0_first(running_cloud):
    versions = httpx.get(f"{running_cloud.url}/compute/").json()["versions"]
    assert [v["id"] for v in versions] == ["v2.0", "v2.1"]
    assert versions[0]["status"] == "SUPPORTED" and versions[1]["status"] == "CURRENT"


def test_create_keeps_admin_pass_and_stopped_view_has_no_progress(running_cloud, demo):
    image = demo.image.find_image("cirros")
    flavor = demo.compute.find_flavor("m1.tiny")
    network = demo.network.find_network("private")
    server = demo.compute.create_server(
        name=f"interop-{uuid.uuid4().hex[:8]}-Íñstáñcé",
        image_id=image.id,
        flavor_id=flavor.id,
        networks=[{"uuid": network.id}],
        admin_password="testpassword",
    )
    try:
        assert server.admin_password == "testpassword"
        demo.compute.wait_for_server(server, wait=60)
        shown = demo.compute.get(f"/servers/{server.id}").json()["server"]
        assert shown["progress"] == 100
        demo.compute.stop_server(server)
        demo.compute.wait_for_server(server, status="SHUTOFF", wait=60)
        resp = demo.compute.put(
            f"/servers/{server.id}", json={"server": {"name": "Íñstáñcé-renamed"}}
        )
        updated = resp.json()["server"]
        assert updated["name"] == "Íñstáñcé-renamed" and updated["status"] == "SHUTOFF"
        assert "progress" not in updated
    finally:
        demo.compute.delete_server(server, ignore_missing=True)
        demo.compute.wait_for_delete(server, wait=60)


def test_x509_keypair_is_generated_and_listed(demo):
    name = f"x509-{uuid.uuid4().hex[:8]}"
    headers = {"OpenStack-API-Version": "compute 2.2"}
    resp = demo.compute.post(
        "/os-keypairs", json={"keypair": {"name": name, "type": "x509"}}, headers=headers
    )
    made = resp.json()["keypair"]
    try:
        assert made["type"] == "x509" and "BEGIN CERTIFICATE" in made["public_key"]
        assert "PRIVATE KEY" in made["private_key"]
        assert len(made["fingerprint"].split(":")) == 20  # SHA-1 of the certificate
        shown = demo.compute.get(f"/os-keypairs/{name}", headers=headers).json()["keypair"]
        assert (shown["type"], shown["fingerprint"]) == ("x509", made["fingerprint"])
        listed = demo.compute.get("/os-keypairs", headers=headers).json()["keypairs"]
        assert {"x509"} == {k["keypair"]["type"] for k in listed if k["keypair"]["name"] == name}
        bad = demo.compute.post(
            "/os-keypairs",
            json={"keypair": {"name": name + "b", "type": "x509", "public_key": "junk"}},
            headers=headers,
            raise_exc=False,
        )
        assert bad.status_code == 400
    finally:
        demo.compute.delete(f"/os-keypairs/{name}")


def test_snapshot_through_the_compute_image_proxy(running_cloud, demo):
    image = demo.image.find_image("cirros")
    server = demo.compute.create_server(
        name=f"interop-snap-{uuid.uuid4().hex[:8]}",
        image_id=image.id,
        flavor_id=demo.compute.find_flavor("m1.tiny").id,
        networks=[{"uuid": demo.network.find_network("private").id}],
    )
    try:
        demo.compute.wait_for_server(server, wait=60)
        snap = demo.compute.create_server_image(
            server, "snap-Íñstáñcé", metadata={"image_type": "test"}, wait=True, timeout=60
        )
        old = {"OpenStack-API-Version": "compute 2.1"}
        shown = demo.compute.get(f"/images/{snap.id}", headers=old).json()["image"]
        assert (shown["name"], shown["status"], shown["progress"]) == (
            "snap-Íñstáñcé",
            "ACTIVE",
            100,
        )
        assert shown["metadata"]["image_type"] == "test"
        assert shown["server"]["id"] == server.id
        assert isinstance(shown["minDisk"], int) and isinstance(shown["minRam"], int)
        new = {"OpenStack-API-Version": "compute 2.36"}
        gone = demo.compute.get(f"/images/{snap.id}", headers=new, raise_exc=False)
        assert gone.status_code == 404  # Nova dropped the proxy at 2.36
        assert demo.compute.delete(f"/images/{snap.id}", headers=old).status_code == 204
        after = demo.compute.get(f"/images/{snap.id}", headers=old, raise_exc=False)
        assert after.status_code == 404 and "itemNotFound" in after.json()
    finally:
        demo.compute.delete_server(server, ignore_missing=True)
        demo.compute.wait_for_delete(server, wait=60)


def test_access_addresses_are_kept_on_create_update_and_rebuild(demo):
    image = demo.image.find_image("cirros")
    flavor = demo.compute.find_flavor("m1.tiny")
    network = demo.network.find_network("private")
    server = demo.compute.create_server(
        name=f"access-{uuid.uuid4().hex[:8]}",
        image_id=image.id,
        flavor_id=flavor.id,
        networks=[{"uuid": network.id}],
        access_ipv4="192.0.2.10",
        access_ipv6="2001:DB8:0:0::10",
    )
    try:
        demo.compute.wait_for_server(server, wait=60)
        shown = demo.compute.get_server(server.id)
        assert (shown.access_ipv4, shown.access_ipv6) == ("192.0.2.10", "2001:db8::10")
        updated = demo.compute.update_server(
            server, access_ipv4="192.0.2.11", access_ipv6="2001:db8::11"
        )
        assert (updated.access_ipv4, updated.access_ipv6) == ("192.0.2.11", "2001:db8::11")
        bad = demo.compute.put(
            f"/servers/{server.id}",
            json={"server": {"accessIPv6": "1:2:3"}},
            raise_exc=False,
        )
        assert bad.status_code == 400 and "accessIPv6" in bad.json()["badRequest"]["message"]
        assert demo.compute.get_server(server.id).access_ipv6 == "2001:db8::11"
        demo.compute.rebuild_server(server, image.id, access_ipv6="2001:db8::12")
        demo.compute.wait_for_server(server, wait=60)
        rebuilt = demo.compute.get_server(server.id)
        assert (rebuilt.access_ipv4, rebuilt.access_ipv6) == ("192.0.2.11", "2001:db8::12")
    finally:
        demo.compute.delete_server(server, ignore_missing=True)
        demo.compute.wait_for_delete(server, wait=60)


def test_servers_listed_by_image(demo):
    """``GET /servers?image=`` and ``/servers/detail?image=`` list only the servers booted
    from that image (tempest's test_list_servers[_detailed]_filter_by_image, which run once
    the interop harness gives ``image_ref_alt`` an image of its own)."""
    suffix = uuid.uuid4().hex[:8]
    alt = demo.image.create_image(
        name=f"alt-{suffix}", disk_format="raw", container_format="bare", data=b"\0" * 1024
    )
    flavor = demo.compute.find_flavor("m1.tiny")
    network = demo.network.find_network("private")
    servers = [
        demo.compute.create_server(
            name=f"by-image-{n}-{suffix}",
            image_id=image_id,
            flavor_id=flavor.id,
            networks=[{"uuid": network.id}],
        )
        for n, image_id in enumerate((demo.image.find_image("cirros").id, alt.id))
    ]
    try:
        for server in servers:
            demo.compute.wait_for_server(server, wait=60)
        for path in ("/servers", "/servers/detail"):
            listed = demo.compute.get(f"{path}?image={alt.id}").json()["servers"]
            assert {s["name"] for s in listed if s["name"].endswith(suffix)} == {servers[1].name}
        detail = demo.compute.get(f"/servers/detail?image={alt.id}").json()["servers"]
        assert {s["image"]["id"] for s in detail} == {alt.id}
    finally:
        for server in servers:
            demo.compute.delete_server(server, ignore_missing=True)
        for server in servers:
            demo.compute.wait_for_delete(server, wait=60)
        demo.image.delete_image(alt, ignore_missing=True)
