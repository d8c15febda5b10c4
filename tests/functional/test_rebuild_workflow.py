"""Rebuild with the whole cloud in one process (fake driver): the tasks it runs through, the
new image and fields, a stopped server stays stopped, a failed spawn leaves ERROR with a
fault, the state checks (``compute.rebuild``)."""

from __future__ import annotations

import types

import pytest
import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.compute import rebuild, states
from pocketstack.compute.agent import ComputeAgent
from pocketstack.compute.conductor import Conductor
from pocketstack.compute.drivers.base import PowerState
from pocketstack.compute.drivers.fake import FakeDriver
from pocketstack.compute.models import Instance
from pocketstack.service import Cloud
from tests.helpers import wait_hypervisor_up, wait_until

DEMO = RequestContext(
    user_id="demo-user", project_id="demo-project", roles=("member",), auth_token="token"
)
ADMIN = RequestContext(user_id="admin-user", project_id="admin-project", roles=("admin",))


@pytest.fixture
def env(conf, db, bus, tmp_path):
    conf = conf.replace(
        hostname="node1",
        periodic_interval=0.2,
        compute_vcpus=8,
        compute_memory_mb=4096,
        compute_disk_gb=100,
    )
    cloud = Cloud(conf, db, bus)
    cloud.compute.flavors.bootstrap()
    cloud.network.bootstrap(ADMIN.project_id, DEMO.project_id)
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * 4096)
    system = RequestContext.system()
    image = cloud.image.create_image_from_file(system, "cirros", disk, disk_format="raw")
    other = cloud.image.create_image_from_file(system, "other", disk, disk_format="raw")
    broken = cloud.image.create_image_from_file(
        system, "broken", disk, disk_format="raw", properties={"fake_spawn_error": "disk boom"}
    )
    conductor = Conductor(cloud)
    conductor.start()
    driver = FakeDriver(conf)
    agent = ComputeAgent(conf, bus, driver)
    agent.start()
    wait_hypervisor_up(cloud, "node1")
    yield types.SimpleNamespace(
        cloud=cloud,
        conf=conf,
        agent=agent,
        driver=driver,
        image=image.id,
        other=other.id,
        broken=broken.id,
    )
    agent.stop()
    conductor.stop()


def settle(env, uuid, status):
    def check():
        row = env.cloud.compute.servers.get(ADMIN, uuid)
        return row if states.status_of(row.vm_state, row.task_state) == status else None

    return wait_until(check, 10, f"{uuid} to be {status}", interval=0.02)


def boot(env):
    (server,) = env.cloud.compute.servers.create(
        DEMO, name="vm", image_id=env.image, flavor_id="1", networks="auto"
    )
    return settle(env, server.uuid, "ACTIVE")


def test_rebuild_spawns_the_new_image_on_the_same_host_with_the_same_ports(env):
    before = boot(env)
    request = rebuild.RebuildRequest(
        image_ref=env.other, name="again", metadata={"a": "b"}, description="new"
    )
    row, password = rebuild.rebuild(env.cloud, DEMO, before.uuid, request)
    assert states.status_of(row.vm_state, row.task_state) == "REBUILD" and password
    after = settle(env, before.uuid, "ACTIVE")
    assert (after.image_ref, after.name, after.metadata_, after.description) == (
        env.other,
        "again",
        {"a": "b"},
        "new",
    )
    assert after.host == before.host and after.network_info == before.network_info
    assert after.spec["image"]["id"] == env.other
    assert env.driver.get_power_state(before.uuid) == PowerState.RUNNING


def test_a_stopped_server_is_rebuilt_stopped(env):
    server = boot(env)
    env.cloud.compute.servers.stop(DEMO, server.uuid)
    settle(env, server.uuid, "SHUTOFF")
    rebuild.rebuild(env.cloud, DEMO, server.uuid, rebuild.RebuildRequest(image_ref=env.other))
    assert settle(env, server.uuid, "SHUTOFF").image_ref == env.other


def test_a_failed_spawn_leaves_error_with_a_fault(env):
    server = boot(env)
    rebuild.rebuild(env.cloud, DEMO, server.uuid, rebuild.RebuildRequest(image_ref=env.broken))
    settle(env, server.uuid, "ERROR")
    assert "disk boom" in env.cloud.compute.servers.faults([server.uuid])[server.uuid].message
    # an ERROR server may be rebuilt (Nova's way out of ERROR)
    rebuild.rebuild(env.cloud, DEMO, server.uuid, rebuild.RebuildRequest(image_ref=env.image))
    assert settle(env, server.uuid, "ACTIVE").image_ref == env.image


def test_rebuild_refusals(env):
    server = boot(env)
    with pytest.raises(errors.BadRequest, match="Cannot find requested image"):
        rebuild.rebuild(env.cloud, DEMO, server.uuid, rebuild.RebuildRequest(image_ref="nope"))
    env.cloud.compute.server_actions.pause(DEMO, server.uuid)
    settle(env, server.uuid, "PAUSED")
    with pytest.raises(errors.Conflict, match="vm_state paused"):
        rebuild.rebuild(env.cloud, DEMO, server.uuid, rebuild.RebuildRequest(image_ref=env.image))


def test_an_agent_killed_mid_rebuild_leaves_error_then_rebuild_recovers(env, conf, bus, db):
    server = boot(env)
    env.agent.stop()  # killed: the guest stays, the task is left half-done
    with db.transaction() as s:
        s.execute(
            sa.update(Instance)
            .where(Instance.uuid == server.uuid)
            .values(task_state=rebuild.REBUILD_SPAWNING)
        )
    agent = ComputeAgent(env.conf, bus, FakeDriver(env.conf))
    agent.start()
    try:
        settle(env, server.uuid, "ERROR")
        fault = env.cloud.compute.servers.faults([server.uuid])[server.uuid]
        assert fault.message == "Rebuild interrupted by a compute restart"
        rebuild.rebuild(env.cloud, DEMO, server.uuid, rebuild.RebuildRequest(image_ref=env.other))
        assert settle(env, server.uuid, "ACTIVE").image_ref == env.other
    finally:
        agent.stop()
