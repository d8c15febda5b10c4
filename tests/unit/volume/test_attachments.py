"""Attachments as Nova's attach flow drives them (docs/block-storage.md, "Nova's side"):
create -> update (the agent exports) -> complete, and delete back to available."""

from __future__ import annotations

import pytest

from pocketstack.common.bus import RemoteError
from pocketstack.volume import exceptions as exc
from pocketstack.volume.volumes import VolumeCreate
from tests.unit.volume.conftest import DEMO, OTHER, wait_status

CONNECTOR = {"host": "node1", "ip": "127.0.0.1", "initiator": "iqn.2010-10.org.pocketstack:node1"}


def _volume(cloud):
    rec = cloud.volume.volumes.create(DEMO, VolumeCreate(size=1, name="v"))
    return wait_status(cloud, rec.volume.id, "available").volume


def test_attach_flow_moves_the_volume_through_reserved_attaching_in_use(volume_cloud):
    cloud, agent = volume_cloud
    volume = _volume(cloud)
    att = cloud.volume.attachments.create(DEMO, volume.id, "server-1")
    assert att.attach_status == "reserved"
    assert cloud.volume.volumes.get(DEMO, volume.id).volume.status == "reserved"
    att = cloud.volume.attachments.update(DEMO, att.id, CONNECTOR)
    assert att.connection_info["driver_volume_type"] == "iscsi"
    assert att.connection_info["data"]["access_mode"] == "rw"
    assert cloud.volume.volumes.get(DEMO, volume.id).volume.status == "attaching"
    cloud.volume.attachments.complete(DEMO, att.id)
    rec = cloud.volume.volumes.get(DEMO, volume.id)
    assert (rec.volume.status, rec.volume.attach_status) == ("in-use", "attached")
    assert [a.instance_uuid for a in rec.attachments] == ["server-1"]
    with pytest.raises(exc.InvalidVolume):
        cloud.volume.volumes.delete(DEMO, volume.id)
    cloud.volume.attachments.delete(DEMO, att.id)
    assert ("terminate_connection", {"attachment_id": att.id}) in agent.calls
    rec = cloud.volume.volumes.get(DEMO, volume.id)
    assert (rec.volume.status, rec.volume.attach_status) == ("available", "detached")


def test_a_reserved_attachment_deleted_before_use_frees_the_volume(volume_cloud):
    cloud, agent = volume_cloud
    volume = _volume(cloud)
    att = cloud.volume.attachments.create(DEMO, volume.id, "server-1")
    with pytest.raises(exc.InvalidVolume):
        cloud.volume.attachments.create(DEMO, volume.id, "server-2")
    cloud.volume.attachments.delete(DEMO, att.id)
    assert not [c for c in agent.calls if c[0] == "terminate_connection"]
    assert cloud.volume.volumes.get(DEMO, volume.id).volume.status == "available"


def test_a_failed_export_changes_nothing(volume_cloud):
    cloud, agent = volume_cloud
    volume = _volume(cloud)
    att = cloud.volume.attachments.create(DEMO, volume.id, "server-1")
    agent.fail.add("initialize_connection")
    with pytest.raises(RemoteError, match="export failed"):
        cloud.volume.attachments.update(DEMO, att.id, CONNECTOR)
    assert cloud.volume.attachments.get(DEMO, att.id).attach_status == "reserved"
    with pytest.raises(exc.InvalidAttachment):
        cloud.volume.attachments.complete(DEMO, att.id)


def test_another_projects_attachment_is_not_found(volume_cloud):
    cloud, _agent = volume_cloud
    volume = _volume(cloud)
    att = cloud.volume.attachments.create(DEMO, volume.id, "server-1")
    with pytest.raises(exc.VolumeAttachmentNotFound):
        cloud.volume.attachments.get(OTHER, att.id)
    with pytest.raises(exc.VolumeNotFound):
        cloud.volume.attachments.create(OTHER, volume.id, "server-2")
