"""The controller's side of the bus: heartbeats, the host state, result casts written
through the transition table (stale ones dropped)."""

from __future__ import annotations

from pocketstack.common.auth import RequestContext
from pocketstack.volume.volumes import VolumeCreate
from tests.unit.volume.conftest import DEMO, HOST, wait_status

SYSTEM = RequestContext.system()


def test_host_state_lists_the_hosts_volumes_and_live_attachments(volume_cloud):
    cloud, _agent = volume_cloud
    rec = cloud.volume.volumes.create(DEMO, VolumeCreate(size=1))
    volume = wait_status(cloud, rec.volume.id, "available").volume
    att = cloud.volume.attachments.create(DEMO, volume.id, "srv")
    cloud.volume.attachments.update(DEMO, att.id, {"host": "h"})
    state = cloud.volume.agent_reports.get_host_state(SYSTEM, HOST)
    assert state["volumes"] == [
        {"id": volume.id, "size": 1, "status": "attaching", "previous_status": None}
    ]
    assert [a["id"] for a in state["attachments"]] == [att.id]
    assert state["attachments"][0]["connection_info"]["driver_volume_type"] == "iscsi"
    assert cloud.volume.agent_reports.get_host_state(SYSTEM, "elsewhere")["volumes"] == []


def test_a_failed_create_leaves_the_fault_and_a_stale_result_is_dropped(volume_cloud):
    cloud, agent = volume_cloud
    agent.fail.add("create_volume")
    rec = cloud.volume.volumes.create(DEMO, VolumeCreate(size=1))
    volume = wait_status(cloud, rec.volume.id, "error").volume
    assert volume.fault == "boom"
    cloud.volume.agent_reports.volume_created(SYSTEM, volume_id=volume.id, status="available")
    assert cloud.volume.volumes.get(DEMO, volume.id).volume.status == "error"


def test_an_extend_that_fails_goes_error_extending_with_the_old_size(volume_cloud):
    cloud, agent = volume_cloud
    rec = cloud.volume.volumes.create(DEMO, VolumeCreate(size=1))
    wait_status(cloud, rec.volume.id, "available")
    agent.fail.add("extend_volume")
    cloud.volume.volume_actions.extend(DEMO, rec.volume.id, 2)
    volume = wait_status(cloud, rec.volume.id, "error_extending").volume
    assert volume.size == 1


def test_report_state_keeps_an_admins_disabled_flag(volume_cloud):
    cloud, _agent = volume_cloud
    cloud.volume.services.set_disabled(SYSTEM, HOST, "cinder-volume", True, "maintenance")
    cloud.volume.agent_reports.report_state(
        SYSTEM, {"host": HOST, "backend": f"{HOST}@file", "capabilities": {}}
    )
    (rec,) = cloud.volume.services.list(SYSTEM, binary="cinder-volume")
    assert rec.service.disabled and rec.service.disabled_reason == "maintenance" and rec.up
