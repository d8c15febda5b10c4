"""Resize and cold migration through the ``openstack`` CLI and openstacksdk on a fake-driver
cloud of one host with ``allow_resize_to_same_host``: resize -> VERIFY_RESIZE with the new
flavor, confirm -> ACTIVE (the claim the new flavor's), revert -> ACTIVE with the old
flavor; id and fixed IPs kept; the migration records in ``GET /os-migrations`` at 2.1,
2.23, 2.59 and 2.80 and ``openstack server migration list``; the instance actions; 409 in
the wrong states, 400 for bad flavors, 403 for a member's migrate; a migrate with no other
host fails and leaves the server ACTIVE where it was, its claim not leaked; a resize beyond
the project's cores quota is 403 with Nova's message."""

from __future__ import annotations

import uuid

import openstack.exceptions
import pytest

from tests.conftest import launch_cloud
from tests.helpers import wait_until

ADMIN = "pocketstack-admin"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    """A fake-driver cloud whose resizes may stay on its one host."""
    with launch_cloud(
        tmp_path_factory.mktemp("resize"), extra=["--allow-resize-to-same-host"]
    ) as running:
        yield running


@pytest.fixture
def server(cloud):
    made = cloud.create_server(f"rs-{uuid.uuid4().hex[:8]}", wait=True)
    yield made
    admin = cloud.sdk(ADMIN)
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
        return shown if shown.status == status and shown.task_state is None else None

    return wait_until(reached, 60, f"the server to be {status}", interval=0.2)


def _usage(admin) -> tuple[int, int]:
    """(vCPUs, MiB) used on the one host, as ``os-hypervisors/detail`` at 2.1 shows."""
    (hyp,) = admin.compute.get("/os-hypervisors/detail").json()["hypervisors"]
    return hyp["vcpus_used"], hyp["memory_mb_used"]


def _migrations(admin, version: str, **query) -> list[dict]:
    got = admin.compute.get(
        "/os-migrations",
        params=query,
        headers={"OpenStack-API-Version": f"compute {version}"},
    )
    assert got.status_code == 200, got.text
    return got.json()["migrations"]


def test_resize_confirm_keeps_id_and_addresses(cloud, server):
    conn, admin = cloud.sdk(), cloud.sdk(ADMIN)
    before = conn.compute.get_server(server["id"])
    used = _usage(admin)
    cloud.openstack(
        "server", "resize", "--flavor", "m1.small", "--wait", server["id"], json_output=False
    )
    shown = _settled(conn, server["id"], "VERIFY_RESIZE")
    assert shown.flavor["original_name"] == "m1.small"
    assert shown.addresses == before.addresses
    # the destination's claim is held besides the source's until the confirm
    assert _usage(admin)[1] > used[1]
    cloud.openstack("server", "resize", "confirm", server["id"], json_output=False)
    shown = _settled(conn, server["id"], "ACTIVE")
    assert shown.flavor["original_name"] == "m1.small" and shown.id == before.id
    small = conn.compute.find_flavor("m1.small")
    tiny = conn.compute.find_flavor("m1.tiny")
    assert _usage(admin)[1] == used[1] - tiny.ram + small.ram
    events = {a.action: a for a in admin.compute.server_actions(server["id"])}
    assert {"resize", "confirmResize"} <= set(events)
    (mig,) = _migrations(admin, "2.59", instance_uuid=server["id"])
    assert mig["status"] == "confirmed" and mig["migration_type"] == "resize"
    assert mig["source_compute"] == mig["dest_compute"]
    assert mig["old_instance_type_id"] != mig["new_instance_type_id"]


def test_resize_revert_restores_the_old_flavor(cloud, server):
    conn, admin = cloud.sdk(), cloud.sdk(ADMIN)
    used = _usage(admin)
    assert _action(conn, server["id"], {"resize": {"flavorRef": "2"}}).status_code == 202
    _settled(conn, server["id"], "VERIFY_RESIZE")
    assert _action(conn, server["id"], {"revertResize": None}).status_code == 202
    shown = _settled(conn, server["id"], "ACTIVE")
    assert shown.flavor["original_name"] == "m1.tiny"
    assert _usage(admin) == used  # the destination's claim released
    (mig,) = _migrations(admin, "2.80", instance_uuid=server["id"])
    assert mig["status"] == "reverted" and mig["user_id"] and mig["project_id"]


def test_wrong_states_and_bad_requests(cloud, server):
    conn = cloud.sdk()
    sid = server["id"]
    for body in ({"confirmResize": None}, {"revertResize": None}):
        got = _action(conn, sid, body)
        assert got.status_code == 409, got.text
        assert "while it is in vm_state active" in got.text
    assert _action(conn, sid, {"resize": {"flavorRef": "1"}}).status_code == 400  # same
    assert _action(conn, sid, {"resize": {"flavorRef": "nope"}}).status_code == 400
    assert _action(conn, sid, {"resize": {}}).status_code == 400
    assert _action(conn, sid, {"migrate": None}).status_code == 403  # admin only
    conn.compute.stop_server(sid)
    _settled(conn, sid, "SHUTOFF")
    # a stopped server resizes too, and stays stopped
    assert _action(conn, sid, {"resize": {"flavorRef": "2"}}).status_code == 202
    _settled(conn, sid, "VERIFY_RESIZE")
    assert _action(conn, sid, {"resize": {"flavorRef": "3"}}).status_code == 409
    assert _action(conn, sid, {"confirmResize": None}).status_code == 204
    _settled(conn, sid, "SHUTOFF")


def test_migrate_without_another_host_stays_active(cloud, server):
    admin = cloud.sdk(ADMIN)
    used = _usage(admin)
    assert _action(admin, server["id"], {"migrate": {"host": "nowhere"}}, "2.56").status_code == 400
    assert _action(admin, server["id"], {"migrate": {"host": "x"}}).status_code == 400  # < 2.56
    assert _action(admin, server["id"], {"migrate": None}).status_code == 202

    def failed():
        found = _migrations(admin, "2.23", instance_uuid=server["id"])
        return found if found and found[0]["status"] == "error" else None

    (mig,) = wait_until(failed, 60, "the migration to fail", interval=0.2)
    assert mig["migration_type"] == "migration"
    shown = _settled(admin, server["id"], "ACTIVE")
    assert shown.fault is None  # Nova shows a fault on ERROR servers only
    (action,) = [a for a in admin.compute.server_actions(server["id"]) if a.action == "migrate"]
    assert action.message == "Error"
    detail = admin.compute.get_server_action(action.request_id, server["id"])
    assert [(e["event"], e["result"]) for e in detail.events] == [
        ("conductor_migrate_server", "Error")
    ]
    assert _usage(admin) == used


def test_migration_list_shapes(cloud, server):
    admin = cloud.sdk(ADMIN)
    assert _action(admin, server["id"], {"resize": {"flavorRef": "2"}}).status_code == 202
    _settled(admin, server["id"], "VERIFY_RESIZE")
    old = _migrations(admin, "2.1", instance_uuid=server["id"])[0]
    assert "migration_type" not in old and "uuid" not in old
    mid = _migrations(admin, "2.23", instance_uuid=server["id"])[0]
    assert mid["migration_type"] == "resize" and "uuid" not in mid
    assert "links" not in mid  # only in-progress live migrations have links
    new = _migrations(admin, "2.80", instance_uuid=server["id"])[0]
    assert {"uuid", "user_id", "project_id"} <= set(new)
    every = _migrations(admin, "2.59")
    page = admin.compute.get(
        "/os-migrations",
        params={"limit": 1},
        headers={"OpenStack-API-Version": "compute 2.59"},
    ).json()
    assert len(page["migrations"]) == 1 and page["migrations_links"][0]["rel"] == "next"
    assert page["migrations"][0]["uuid"] == every[0]["uuid"]
    bad = admin.compute.get(
        "/os-migrations",
        params={"marker": "nope"},
        headers={"OpenStack-API-Version": "compute 2.59"},
    )
    assert bad.status_code == 400
    listed = cloud.openstack("server", "migration", "list", "--server", server["id"], cloud=ADMIN)
    assert listed and listed[0]["Status"] in ("finished", "confirmed")
    # in-progress live migrations only under /servers/{id}/migrations
    got = admin.compute.get(
        f"/servers/{server['id']}/migrations",
        headers={"OpenStack-API-Version": "compute 2.23"},
    )
    assert got.status_code == 200 and got.json() == {"migrations": []}
    missing = admin.compute.get(
        f"/servers/{server['id']}/migrations/{mid['id']}",
        headers={"OpenStack-API-Version": "compute 2.23"},
    )
    assert missing.status_code == 404
    assert cloud.sdk().compute.get("/os-migrations").status_code == 403
    assert _action(admin, server["id"], {"confirmResize": None}).status_code == 204
    _settled(admin, server["id"], "ACTIVE")


def test_a_resize_beyond_the_quota_is_403_with_novas_message(cloud, server):
    """Nova's ``_check_quota_for_upsize``: the growth (new minus old flavor) must fit the
    project's cores and ram quotas; the CLI shows the reason."""
    conn, admin = cloud.sdk(), cloud.sdk(ADMIN)
    sid = server["id"]
    project = conn.compute.get_server(sid).project_id
    limits = conn.compute.get("/limits").json()["limits"]["absolute"]
    used = limits["totalCoresUsed"]
    quota_url = f"/os-quota-sets/{project}"
    assert admin.compute.put(quota_url, json={"quota_set": {"cores": used}}).status_code == 200
    try:
        got = _action(conn, sid, {"resize": {"flavorRef": "3"}})  # m1.medium: +1 vCPU
        assert got.status_code == 403, got.text
        assert got.json() == {
            "forbidden": {
                "code": 403,
                "message": f"Quota exceeded for cores: Requested 1, but already used "
                f"{used} of {used} cores",
            }
        }
        failed = cloud.openstack(
            "server", "resize", "--flavor", "m1.medium", sid, json_output=False, check=False
        )
        assert failed.returncode != 0 and "Quota exceeded for cores" in failed.stderr
        shown = conn.compute.get_server(sid)
        assert shown.status == "ACTIVE" and shown.flavor.name == "m1.tiny"
        # a resize that does not grow the cores (m1.small: same vCPU, more RAM) goes on
        assert _action(conn, sid, {"resize": {"flavorRef": "2"}}).status_code == 202
        _settled(conn, sid, "VERIFY_RESIZE")
        assert _action(conn, sid, {"confirmResize": None}).status_code == 204
        _settled(conn, sid, "ACTIVE")
    finally:
        admin.compute.delete(quota_url)  # back to the defaults
