"""Shared vs local instance storage across two fake compute hosts, the whole cloud in one
process (issue 10): an evacuation onto a host sharing the instances directory boots the
disk the dead host left (what the guest wrote survives), one onto local storage comes back
from the image (it is gone); the conductor's ``rebuild_server`` step says which; the dead
host, back, forgets its guest but leaves the shared disk; a live migration's ``auto``
resolves to memory only on shared storage and to block migration on local storage, and a
request that contradicts the storage is 400 (``compute.live_migration.check_storage``)."""

from __future__ import annotations

import types

import pytest
import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.compute import evacuate, states
from pocketstack.compute.agent import ComputeAgent
from pocketstack.compute.conductor import Conductor
from pocketstack.compute.drivers.fake import FakeDriver
from pocketstack.compute.live_migration import LiveMigrationAPI
from pocketstack.compute.models import ComputeNode, InstanceAction, InstanceActionEvent, Migration
from pocketstack.compute.scheduler import claims
from pocketstack.placement.models import Allocation, ResourceProvider
from pocketstack.service import Cloud
from tests.helpers import wait_hypervisor_up, wait_until

DEMO = RequestContext(
    user_id="demo-user", project_id="demo-project", roles=("member",), auth_token="token"
)
ADMIN = RequestContext(user_id="admin-user", project_id="admin-project", roles=("admin",))
HOSTS = ("node1", "node2")


@pytest.fixture(params=["shared", "local"])
def env(request, conf, db, bus, tmp_path):
    """Two fake hosts whose instances directory is one shared one, or each its own."""
    shared = request.param == "shared"
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
    image = cloud.image.create_image_from_file(
        RequestContext.system(), "cirros", disk, disk_format="raw"
    )
    conductor = Conductor(cloud)
    conductor.start()
    agents, confs = {}, {}
    for host in HOSTS:
        confs[host] = conf.replace(
            hostname=host,
            state_dir=tmp_path / host,
            instances_path=str(tmp_path / ("shared" if shared else host) / "instances"),
            instances_shared_storage=shared,
        )
        agents[host] = ComputeAgent(confs[host], bus, FakeDriver(confs[host]))
        agents[host].start()
        wait_hypervisor_up(cloud, host)
    ns = types.SimpleNamespace(cloud=cloud, db=db, image=image.id, agents=agents, confs=confs)
    ns.shared = shared
    yield ns
    for agent in ns.agents.values():
        agent.stop()
    conductor.stop()


def settle(env, uuid, status):
    def check():
        row = env.cloud.compute.servers.get(ADMIN, uuid)
        return row if states.status_of(row.vm_state, row.task_state) == status else None

    return wait_until(check, 10, f"{uuid} to be {status}", interval=0.02)


def boot(env):
    """A demo server, ACTIVE, that wrote a file on its disk: ``(server, host, other)``."""
    (server,) = env.cloud.compute.servers.create(
        DEMO, name="vm", image_id=env.image, flavor_id="1", networks="auto"
    )
    server = settle(env, server.uuid, "ACTIVE")
    env.agents[server.host].driver.write_disk(server.uuid, "hello from the guest\n")
    return server, server.host, next(h for h in HOSTS if h != server.host)


def event_details(env, uuid, action, event):
    with env.db.reader() as s:
        return s.scalars(
            sa.select(InstanceActionEvent.details)
            .join(InstanceAction, InstanceAction.id == InstanceActionEvent.action_id)
            .where(
                InstanceAction.instance_uuid == uuid,
                InstanceAction.action == action,
                InstanceActionEvent.event == event,
            )
        ).one()


def force_down(env, host, down):
    env.cloud.compute.hypervisors.update_service(
        ADMIN, host=host, binary="nova-compute", forced_down=down
    )


def test_evacuate_keeps_the_disk_only_on_shared_storage(env):
    server, src, dst = boot(env)
    env.agents[src].stop()
    force_down(env, src, True)
    evacuate.evacuate(env.cloud, ADMIN, server.uuid)
    after = settle(env, server.uuid, "ACTIVE")
    assert (after.host, after.uuid) == (dst, server.uuid)
    assert [v["fixed_ips"] for v in after.network_info] == [
        v["fixed_ips"] for v in server.network_info
    ]
    disk = env.agents[dst].driver.disk_contents(server.uuid)
    details = event_details(env, server.uuid, "evacuate", evacuate.EV_REBUILD_SERVER)
    if env.shared:
        assert "hello from the guest" in disk
        assert details.startswith("shared instance storage")
    else:
        assert disk == f"image {env.image}\n"  # made again from the image: the file is gone
        assert details.startswith("local instance storage")
        assert env.image in details
    with env.db.reader() as s:
        (migration,) = s.scalars(sa.select(Migration).where(Migration.instance_uuid == server.uuid))
        assert (migration.migration_type, migration.status) == ("evacuation", "done")


def test_the_dead_host_back_never_deletes_a_shared_disk_of_another_host(env):
    server, src, dst = boot(env)
    old_driver = env.agents[src].driver
    env.agents[src].stop()
    force_down(env, src, True)
    evacuate.evacuate(env.cloud, ADMIN, server.uuid)
    settle(env, server.uuid, "ACTIVE")
    assert server.uuid in old_driver.list_instances()  # the dead host's leftover guest
    force_down(env, src, False)
    env.agents[src] = ComputeAgent(env.confs[src], env.agents[dst].bus, old_driver)
    env.agents[src].start()  # its start-up reconciliation sweeps orphans
    wait_until(lambda: server.uuid not in old_driver.list_instances(), 10, "the sweep")
    row = settle(env, server.uuid, "ACTIVE")
    assert row.host == dst
    disk = env.agents[dst].driver.disk_contents(server.uuid)
    assert ("hello from the guest" in disk) is env.shared
    if env.shared:
        shared_disk = env.agents[dst].driver.instances_dir / server.uuid / "disk"
        assert shared_disk.is_file()


def test_live_migration_auto_is_memory_only_on_shared_storage(env):
    server, src, dst = boot(env)
    LiveMigrationAPI(env.cloud).live_migrate(ADMIN, server.uuid, dst, None)
    after = settle(env, server.uuid, "ACTIVE")
    assert after.host == dst
    details = event_details(env, server.uuid, "live-migration", "compute_pre_live_migration")
    assert details.startswith("shared storage" if env.shared else "block migration")
    if env.shared:  # the source's cleanup left the disk the destination runs
        assert "hello from the guest" in env.agents[dst].driver.disk_contents(server.uuid)


def test_live_migration_contradicting_the_storage_is_400(env):
    server, src, dst = boot(env)
    if env.shared:
        with pytest.raises(errors.BadRequest, match="can not be used with shared storage"):
            LiveMigrationAPI(env.cloud).live_migrate(ADMIN, server.uuid, dst, True)
    else:
        with pytest.raises(errors.BadRequest, match="is not on shared storage"):
            LiveMigrationAPI(env.cloud).live_migrate(ADMIN, server.uuid, dst, False)
    row = env.cloud.compute.servers.get(ADMIN, server.uuid)
    assert (row.host, row.task_state) == (src, None)  # nothing began
    with env.db.reader() as s:
        assert not s.scalars(
            sa.select(Migration).where(Migration.instance_uuid == server.uuid)
        ).all()


def test_shared_storage_evacuation_needs_no_image(env):
    """Regression: the image deleted after the boot failed the evacuation although the
    disk is kept on shared storage (the spec is built on the stored image then)."""
    server, src, dst = boot(env)
    env.cloud.image.images.delete(RequestContext.system(), env.image)
    env.agents[src].stop()
    force_down(env, src, True)
    evacuate.evacuate(env.cloud, ADMIN, server.uuid)
    if not env.shared:  # rebuilt from the image: it cannot be, the server stays on src
        row = wait_until(lambda: _settled_failure(env, server.uuid), 10, "the failure")
        assert (row.host, row.vm_state) == (src, server.vm_state)
        assert dst_usage(env, dst) == (0, 0)
        return
    after = settle(env, server.uuid, "ACTIVE")
    assert after.host == dst
    assert "hello from the guest" in env.agents[dst].driver.disk_contents(server.uuid)


def _settled_failure(env, uuid):
    row = env.cloud.compute.servers.get(ADMIN, uuid)
    return row if row.task_state is None else None


def dst_usage(env, host):
    """``(vcpus_used, allocations)`` of ``host``'s compute node."""
    with env.db.reader() as s:
        node = s.scalars(sa.select(ComputeNode).where(ComputeNode.host == host)).one()
        allocations = s.scalar(
            sa.select(sa.func.count())
            .select_from(Allocation)
            .join(ResourceProvider, ResourceProvider.id == Allocation.resource_provider_id)
            .where(ResourceProvider.uuid == claims.provider_of(env.db, host))
        )
        return node.vcpus_used, allocations


def test_a_failed_volume_step_leaves_the_evacuated_server_where_it_was(env, monkeypatch):
    """Regression: a failure moving the volumes (after the new host was written) left the
    server on the destination with no guest, its ports bound there and its claim there."""
    server, src, dst = boot(env)
    env.agents[src].stop()
    force_down(env, src, True)

    def broken(self, ctx, instance_uuid, dest):
        raise errors.Conflict(f"cannot export the volumes to {dest}")

    monkeypatch.setattr(evacuate.VolumeMoves, "prepare", broken)
    evacuate.evacuate(env.cloud, ADMIN, server.uuid)
    row = wait_until(lambda: _settled_failure(env, server.uuid), 10, "the failure")
    assert (row.host, row.vm_state) == (src, server.vm_state)
    assert dst_usage(env, dst) == (0, 0)
    ports = [env.cloud.network.ports.get(ADMIN, v["port_id"]) for v in server.network_info]
    assert {p.port.host_id for p in ports} == {src}
    fault = env.cloud.compute.servers.faults([server.uuid])[server.uuid]
    assert fault.message == f"cannot export the volumes to {dst}"
    with env.db.reader() as s:
        (migration,) = s.scalars(sa.select(Migration).where(Migration.instance_uuid == server.uuid))
        assert migration.status == "failed"
