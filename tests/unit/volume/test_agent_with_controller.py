"""The real volume agent (file driver, raw, tgtd on a free loopback port) behind the real
controller side (``cloud.volume`` and its ``agent_reports``) on one in-process bus: the
result casts and ``get_host_state`` the two sides built against docs/block-storage.md
agree, and an attachment's ``connection_info`` opens the volume through QEMU's initiator.
"""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import pytest

from pocketstack.volume import rpcapi
from pocketstack.volume.agent import VolumeAgent
from pocketstack.volume.drivers.file import FileDriver
from pocketstack.volume.volumes import VolumeCreate
from tests.helpers import wait_until
from tests.unit.volume.conftest import DEMO, wait_status

HOST = "store1"
CONNECTOR = {"host": "c1", "ip": "127.0.0.1", "initiator": "iqn.2010-10.org.pocketstack:c1"}


@pytest.fixture
def storage(cloud, tmp_path):
    """``cloud`` serving ``volume_server`` and one real storage host ``store1``."""
    cloud.bus.serve(rpcapi.SERVER_TOPIC, cloud.volume.agent_reports, rpcapi.SERVER_MESSAGES)
    cloud.volume.bootstrap()
    conf = SimpleNamespace(
        hostname=HOST,
        state_dir=str(tmp_path),
        periodic_interval=1.0,
        volume_sync_interval=3600.0,
        volume_format="raw",
        iscsi_ip="127.0.0.1",
        iscsi_port=0,
        tgt_control_port=0,
        netns=None,
        storage_availability_zone="nova",
        max_over_subscription_ratio=20.0,
    )
    agent = VolumeAgent(conf, cloud.bus, FileDriver(conf, tmp_path / "volumes"))
    agent.start()
    yield cloud, agent
    agent.stop(stop_exports=True)  # tgtd by its pid
    cloud.bus.unserve(rpcapi.SERVER_TOPIC)


def test_create_attach_read_detach_delete(storage):
    cloud, agent = storage
    record = cloud.volume.volumes.create(DEMO, VolumeCreate(size=1, name="v"))
    vid = record.volume.id
    wait_status(cloud, vid, "available")
    assert agent.driver.list_volumes() == {vid: 1}
    att = cloud.volume.attachments.create(DEMO, vid, "server-1", connector=CONNECTOR)
    data = att.connection_info["data"]
    assert att.connection_info["driver_volume_type"] == "iscsi"
    url = (
        f"iscsi://{data['auth_username']}%{data['auth_password']}@{data['target_portal']}"
        f"/{data['target_iqn']}/{data['target_lun']}"
    )
    out = subprocess.run(["qemu-img", "info", "-f", "raw", url], capture_output=True, text=True)
    assert out.returncode == 0 and "1 GiB" in out.stdout, out.stderr
    cloud.volume.attachments.delete(DEMO, att.id)
    wait_until(lambda: agent.driver.list_exports() == {}, 10, "the export to go")
    wait_status(cloud, vid, "available")
    cloud.volume.volumes.delete(DEMO, vid)
    wait_until(lambda: agent.driver.list_volumes() == {}, 10, "the volume file to go")


def test_a_sync_round_against_the_real_host_state_changes_nothing_settled(storage):
    cloud, agent = storage
    vid = cloud.volume.volumes.create(DEMO, VolumeCreate(size=1)).volume.id
    wait_status(cloud, vid, "available")
    rounds = agent.syncer.rounds
    agent.run_sync()
    assert agent.syncer.rounds == rounds + 1 and agent.syncer.last_error is None
    assert agent.driver.list_volumes() == {vid: 1}
    assert cloud.volume.volumes.get(DEMO, vid).volume.status == "available"
