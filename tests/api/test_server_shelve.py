"""Shelving through the ``openstack`` CLI and openstacksdk on the fake-driver cloud (its
``shelved_offload_time`` is Nova's default 0: a shelve offloads at once): shelve ->
SHELVED_OFFLOADED with the shelve image ``<name>-shelved`` active, no host, the ports kept
but unbound; unshelve -> ACTIVE again with the same id and fixed IPs, the ports bound, the
shelve image deleted; the instance actions and their events; the microversions of
unshelve's body (2.77 zone, 2.91 host, admin); 409 in the wrong states."""

from __future__ import annotations

import uuid

import openstack.exceptions
import pytest

from tests.helpers import wait_until

ADMIN = "pocketstack-admin"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def server(running_cloud):
    """A demo server, ACTIVE; deleted afterwards (its shelve image with it)."""
    made = running_cloud.create_server(_name("shelf"), wait=True)
    yield made
    admin = running_cloud.sdk(ADMIN)
    admin.compute.delete_server(made["id"], ignore_missing=True)
    try:
        admin.compute.wait_for_delete(admin.compute.get_server(made["id"]), wait=60)
    except openstack.exceptions.NotFoundException:
        pass


def _action(conn, server_id: str, body: dict, version: str | None = None):
    headers = {"OpenStack-API-Version": f"compute {version}"} if version else {}
    return conn.compute.post(
        f"/servers/{server_id}/action", json=body, headers=headers, raise_exc=False
    )


def _settled(conn, server_id: str, status: str):
    def reached():
        shown = conn.compute.get_server(server_id)
        if shown.status == "ERROR":
            raise AssertionError(f"server went ERROR: {shown.fault}")
        return shown if shown.status == status and shown.task_state is None else None

    return wait_until(reached, 60, f"the server to be {status}", interval=0.2)


def _shelve_images(conn, server_id: str) -> list:
    return [i for i in conn.image.images() if i.instance_uuid == server_id]


def _events(admin, server_id: str, action: str) -> list[tuple[str, str]]:
    found = [a for a in admin.compute.server_actions(server_id) if a.action == action]
    assert found, action
    resp = admin.compute.get(f"/servers/{server_id}/os-instance-actions/{found[0].request_id}")
    events = resp.json()["instanceAction"]["events"]
    return sorted((e["event"], e["result"]) for e in events)


def test_cli_shelve_offloads_and_unshelve_comes_back_with_its_ips(running_cloud, server):
    cloud = running_cloud
    conn, admin = cloud.sdk(), cloud.sdk(ADMIN)
    before = admin.compute.get_server(server["id"])
    ports = {p.id: p for p in admin.network.ports(device_id=server["id"])}
    assert ports and before.compute_host
    cloud.openstack("server", "shelve", "--wait", server["id"], json_output=False)
    shelved = _settled(admin, server["id"], "SHELVED_OFFLOADED")
    assert shelved.vm_state == "shelved_offloaded" and shelved.power_state == 0
    assert not shelved.compute_host and not shelved.hypervisor_hostname
    assert shelved.addresses == before.addresses  # the fixed IPs stay
    after = {p.id: p for p in admin.network.ports(device_id=server["id"])}
    assert set(after) == set(ports)
    assert all(not p.binding_host_id for p in after.values())
    (image,) = _shelve_images(conn, server["id"])
    assert image.name == f"{server['name']}-shelved" and image.status == "active"
    props = conn.image.get(f"/images/{image.id}").json()
    assert props["image_type"] == "snapshot"
    assert _events(admin, server["id"], "shelve") == [
        ("compute_shelve_instance", "Success"),
        ("compute_shelve_offload_instance", "Success"),
    ]
    # a shelved server refuses what needs a guest
    resp = _action(conn, server["id"], {"os-stop": None})
    assert resp.status_code == 409
    resp = _action(conn, server["id"], {"shelve": None})
    assert resp.status_code == 409
    cloud.openstack("server", "unshelve", "--wait", server["id"], json_output=False)
    back = _settled(admin, server["id"], "ACTIVE")
    assert back.id == server["id"] and back.addresses == before.addresses
    assert back.compute_host and back.power_state == 1
    rebound = list(admin.network.ports(device_id=server["id"]))
    assert {p.id for p in rebound} == set(ports)
    assert all(p.binding_host_id == back.compute_host for p in rebound)
    wait_until(lambda: not _shelve_images(conn, server["id"]), 30, "the shelve image to go")
    assert _events(admin, server["id"], "unshelve") == [
        ("compute__bind_ports", "Success"),
        ("compute__schedule_instances", "Success"),
        ("compute_unshelve_instance", "Success"),
    ]
    # and it shelves again
    conn.compute.shelve_server(server["id"])
    _settled(admin, server["id"], "SHELVED_OFFLOADED")
    conn.compute.unshelve_server(server["id"])
    _settled(admin, server["id"], "ACTIVE")


def test_a_stopped_server_shelves_and_unshelves_to_a_host(running_cloud, server):
    cloud = running_cloud
    conn, admin = cloud.sdk(), cloud.sdk(ADMIN)
    conn.compute.stop_server(server["id"])
    _settled(conn, server["id"], "SHUTOFF")
    conn.compute.shelve_server(server["id"])
    _settled(admin, server["id"], "SHELVED_OFFLOADED")
    host = next(iter(admin.compute.hypervisors())).name
    for body, version, status in (
        ({"unshelve": {"availability_zone": "nova"}}, "2.76", 400),
        ({"unshelve": {"host": host}}, "2.90", 400),
        ({"unshelve": {}}, "2.91", 400),
        ({"unshelve": {"availability_zone": "nowhere"}}, "2.77", 400),
        ({"unshelve": {"other": 1}}, "2.91", 400),
    ):
        resp = _action(admin, server["id"], body, version)
        assert resp.status_code == status, (body, version, resp.text)
    # the host: admin only (Nova's unshelve_to_host)
    resp = _action(conn, server["id"], {"unshelve": {"host": host}}, "2.91")
    assert resp.status_code == 403, resp.text
    resp = _action(admin, server["id"], {"unshelve": {"host": "no-such-host"}}, "2.91")
    assert resp.status_code == 400, resp.text
    resp = _action(admin, server["id"], {"unshelve": {"host": host}}, "2.91")
    assert resp.status_code == 202, resp.text
    back = _settled(admin, server["id"], "ACTIVE")
    assert back.compute_host == host


def test_offload_by_hand_errors_and_an_unshelve_of_the_wrong_state(running_cloud, server):
    cloud = running_cloud
    conn, admin = cloud.sdk(), cloud.sdk(ADMIN)
    sid = server["id"]
    for body in ({"unshelve": None}, {"shelveOffload": None}):
        resp = _action(admin, sid, body)
        assert resp.status_code == 409, (body, resp.text)
    assert "Cannot 'unshelve' instance" in _action(conn, sid, {"unshelve": None}).text
    resp = _action(conn, sid, {"shelveOffload": None})
    assert resp.status_code == 403  # admin only
    assert _action(conn, sid, {"shelve": {"x": 1}}).status_code == 400
    missing = _action(conn, str(uuid.uuid4()), {"shelve": None})
    assert missing.status_code == 404
    # a server being shelved (task shelving...) or shelved refuses another shelve
    assert _action(conn, sid, {"shelve": None}).status_code == 202
    _settled(admin, sid, "SHELVED_OFFLOADED")
    assert _action(admin, sid, {"shelveOffload": None}).status_code == 409
    # delete of an offloaded server: its shelve image goes too
    (image,) = _shelve_images(conn, sid)
    conn.compute.delete_server(sid)
    wait_until(lambda: conn.compute.find_server(sid) is None, 60, "the delete")
    wait_until(lambda: not _shelve_images(conn, sid), 30, "the shelve image to go")
    assert conn.image.find_image(image.id) is None


def test_cli_unshelve_into_a_zone_pins_it_and_no_zone_unpins_it(running_cloud, server):
    cloud = running_cloud
    admin = cloud.sdk(ADMIN)
    sid = server["id"]

    def pinned() -> str | None:
        shown = cloud.openstack("--os-compute-api-version", "2.96", "server", "show", sid)
        return shown["pinned_availability_zone"]

    assert pinned() is None  # created in no particular zone
    cloud.openstack("server", "shelve", "--wait", sid, json_output=False)
    _settled(admin, sid, "SHELVED_OFFLOADED")
    # an unknown zone is the API's 400
    done = cloud.openstack(
        "--os-compute-api-version", "2.77", "server", "unshelve", "--availability-zone",
        "nowhere", sid, check=False, json_output=False,
    )  # fmt: skip
    assert done.returncode != 0 and "availability zone is not available" in done.stderr
    cloud.openstack(
        "--os-compute-api-version", "2.77", "server", "unshelve", "--availability-zone",
        "nova", "--wait", sid, json_output=False,
    )  # fmt: skip
    back = _settled(admin, sid, "ACTIVE")
    assert back.availability_zone == "nova" and back.compute_host
    assert pinned() == "nova"  # Nova keeps the zone asked for in the request spec
    # 2.91's --no-availability-zone unpins it
    cloud.openstack("server", "shelve", "--wait", sid, json_output=False)
    _settled(admin, sid, "SHELVED_OFFLOADED")
    cloud.openstack(
        "--os-compute-api-version", "2.91", "server", "unshelve", "--no-availability-zone",
        "--wait", sid, json_output=False,
    )  # fmt: skip
    _settled(admin, sid, "ACTIVE")
    assert pinned() is None
