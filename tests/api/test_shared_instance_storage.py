"""Shared instance storage through openstacksdk and the ``openstack`` CLI, on a fake-driver
cloud of two compute hosts that share one instances directory (``--fake-hosts 1
--instances-shared-storage``): ``hypervisor show`` (2.88) says so; a live migration with
``block_migration: auto`` moves memory only (its pre-migration event says ``shared
storage``); asking for block migration to a named host is 400 before anything begins
(Nova's ``InvalidLocalStorage``); an evacuation keeps the disk (the ``rebuild_server``
event says so). ``openstack hypervisor show`` prints only Nova's fields, so the view is
read with the SDK's session."""

from __future__ import annotations

import uuid

import openstack.exceptions
import pytest

from tests.conftest import launch_cloud
from tests.helpers import wait_until

ADMIN = "pocketstack-admin"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    state = tmp_path_factory.mktemp("shared") / "state"
    extra = ["--fake-hosts", "1", "--instances-shared-storage"]
    extra += ["--instances-path", str(state.parent / "shared-instances")]
    with launch_cloud(state, extra=extra) as made:
        admin = made.sdk(ADMIN)
        wait_until(
            lambda: len([s for s in admin.compute.services() if s.state == "up"]) >= 2,
            60,
            "two compute services up",
            interval=0.5,
        )
        yield made


@pytest.fixture
def server(cloud):
    made = cloud.create_server(f"sh-{uuid.uuid4().hex[:8]}", wait=True)
    yield made
    admin = cloud.sdk(ADMIN)
    admin.compute.delete_server(made["id"], ignore_missing=True)
    try:
        admin.compute.wait_for_delete(admin.compute.get_server(made["id"]), wait=60)
    except openstack.exceptions.NotFoundException:
        pass


def _other_host(admin, host: str) -> str:
    hosts = {s.host for s in admin.compute.services() if s.binary == "nova-compute"}
    (other,) = hosts - {host}
    return other


def _event(admin, server_id: str, action: str, event: str) -> dict:
    (found,) = [a for a in admin.compute.server_actions(server_id) if a.action == action]
    resp = admin.compute.get(
        f"/servers/{server_id}/os-instance-actions/{found.request_id}",
        headers={"OpenStack-API-Version": "compute 2.84"},
    )
    (ev,) = [e for e in resp.json()["instanceAction"]["events"] if e["event"] == event]
    return ev


def _settled(admin, server_id: str):
    def done():
        shown = admin.compute.get_server(server_id)
        assert shown.status != "ERROR", shown.fault
        return shown if shown.task_state is None and shown.status == "ACTIVE" else None

    return wait_until(done, 60, "the server to settle ACTIVE", interval=0.2)


def test_hypervisors_report_the_shared_directory(cloud):
    admin = cloud.sdk(ADMIN)
    headers = {"OpenStack-API-Version": "compute 2.88"}
    listed = admin.compute.get("/os-hypervisors", headers=headers).json()["hypervisors"]
    assert len(listed) == 2
    for hv in listed:
        shown = admin.compute.get(f"/os-hypervisors/{hv['id']}", headers=headers).json()
        assert shown["hypervisor"]["instances_shared_storage"] is True
        assert shown["hypervisor"]["instances_path"].endswith("shared-instances")


def test_live_migration_auto_is_memory_only_and_block_is_400(cloud, server):
    admin = cloud.sdk(ADMIN)
    source = admin.compute.get_server(server["id"]).compute_host
    dest = _other_host(admin, source)
    with pytest.raises(openstack.exceptions.BadRequestException) as refused:
        admin.compute.live_migrate_server(server["id"], host=dest, block_migration=True)
    assert "Block migration can not be used with shared storage" in str(refused.value)
    assert admin.compute.get_server(server["id"]).compute_host == source
    admin.compute.live_migrate_server(server["id"], host=dest, block_migration="auto")
    assert _settled(admin, server["id"]).compute_host == dest
    pre = _event(admin, server["id"], "live-migration", "compute_pre_live_migration")
    assert pre["details"].startswith("shared storage")


def test_evacuate_keeps_the_disk(cloud, server):
    admin = cloud.sdk(ADMIN)
    source = admin.compute.get_server(server["id"]).compute_host
    cloud.openstack(
        "--os-compute-api-version", "2.53", "compute", "service", "set", "--down",
        source, "nova-compute", cloud=ADMIN, json_output=False,
    )  # fmt: skip
    try:
        cloud.openstack(
            "--os-compute-api-version", "2.14", "server", "evacuate", server["id"],
            cloud=ADMIN, json_output=False,
        )  # fmt: skip
        after = _settled(admin, server["id"])
        assert after.compute_host == _other_host(admin, source)
        event = _event(admin, server["id"], "evacuate", "rebuild_server")
        assert event["result"] == "Success"
        assert event["details"].startswith("shared instance storage")
    finally:
        cloud.openstack(
            "--os-compute-api-version", "2.53", "compute", "service", "set", "--up",
            source, "nova-compute", cloud=ADMIN, json_output=False,
        )  # fmt: skip
