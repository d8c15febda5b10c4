"""Volumes follow a moved server, the whole cloud in one process (issue 10): two fake
compute hosts, the volume manager and a volume agent with the fake volume driver. What the
API tests (tests/api/test_server_move_volumes.py) cannot see: the ``block_device_mapping``
rows and the destination guest's ``block_devices`` carry the new attachment and its
``connection_info``; a failed finish, a revert and a failed live migration leave the rows
and the attachments exactly as they were."""

from __future__ import annotations

import types

import pytest
import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.compute import migrations, states
from pocketstack.compute.agent import ComputeAgent
from pocketstack.compute.conductor import Conductor
from pocketstack.compute.drivers.base import DriverError
from pocketstack.compute.drivers.fake import FakeDriver
from pocketstack.compute.live_migration import LiveMigrationAPI
from pocketstack.compute.models import BlockDeviceMapping
from pocketstack.compute.volume_moves import VolumeMoves
from pocketstack.service import Cloud
from pocketstack.volume import rpcapi as volume_rpc
from pocketstack.volume.agent import VolumeAgent
from pocketstack.volume.attachments import AttachmentFilters
from pocketstack.volume.drivers.fake import FakeVolumeDriver
from pocketstack.volume.volumes import VolumeCreate
from tests.helpers import wait_hypervisor_up, wait_until

DEMO = RequestContext(
    user_id="demo-user", project_id="demo-project", roles=("member", "reader"), auth_token="t"
)
ADMIN = RequestContext(user_id="admin-user", project_id="admin-project", roles=("admin",))
HOSTS = ("node1", "node2")


@pytest.fixture
def env(conf, db, bus, tmp_path):
    conf = conf.replace(
        hostname="node1",
        periodic_interval=0.2,
        compute_vcpus=8,
        compute_memory_mb=4096,
        compute_disk_gb=100,
        state_dir=str(tmp_path / "state"),
    )
    cloud = Cloud(conf, db, bus)
    cloud.compute.flavors.bootstrap()
    cloud.network.bootstrap(ADMIN.project_id, DEMO.project_id)
    cloud.volume.bootstrap()
    bus.serve(volume_rpc.SERVER_TOPIC, cloud.volume.agent_reports, volume_rpc.SERVER_MESSAGES)
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * 4096)
    image = cloud.image.create_image_from_file(
        RequestContext.system(), "cirros", disk, disk_format="raw"
    )
    volume_driver = FakeVolumeDriver(conf, tmp_path / "pool")
    volume_driver.backend_name = "file"  # what the default volume type asks for
    volume_agent = VolumeAgent(conf, bus, volume_driver, host="node1")
    volume_agent.start()
    conductor = Conductor(cloud)
    conductor.start()
    agents = {}
    for host in HOSTS:
        host_conf = conf.replace(hostname=host, state_dir=tmp_path / host)
        agents[host] = ComputeAgent(host_conf, bus, FakeDriver(host_conf))
        agents[host].start()
        wait_hypervisor_up(cloud, host)
    wait_until(lambda: _probe(cloud), 10, "the volume service to report")
    yield types.SimpleNamespace(cloud=cloud, db=db, image=image.id, agents=agents)
    for agent in agents.values():
        agent.stop()
    conductor.stop()
    volume_agent.stop()
    bus.unserve(volume_rpc.SERVER_TOPIC)
    FakeVolumeDriver.shared.pop(str(tmp_path / "pool"), None)


def _probe(cloud) -> bool:
    try:
        vol = cloud.volume.volumes.create(DEMO, VolumeCreate(size=1, name="probe"))
    except errors.PocketError:
        return False
    status = _wait_volume(cloud, vol.volume.id, ("available", "error"))
    cloud.volume.volumes.delete(DEMO, vol.volume.id)
    return status == "available"


def _wait_volume(cloud, volume_id, wanted):
    def reached():
        status = cloud.volume.volumes.get(DEMO, volume_id).volume.status
        return status if status in wanted else None

    return wait_until(reached, 10, f"volume {volume_id} to be {wanted}", interval=0.02)


def _settle(env, uuid, status):
    def check():
        row = env.cloud.compute.servers.get(ADMIN, uuid)
        assert row.vm_state != states.ERROR
        return row if states.status_of(row.vm_state, row.task_state) == status else None

    return wait_until(check, 10, f"{uuid} to be {status}", interval=0.02)


def _server_with_volume(env):
    """An ACTIVE server with a volume attached: (server row, volume id)."""
    (server,) = env.cloud.compute.servers.create(
        DEMO, name="vm", image_id=env.image, flavor_id="1", networks="none"
    )
    _settle(env, server.uuid, "ACTIVE")
    vol = env.cloud.volume.volumes.create(DEMO, VolumeCreate(size=1, name="data"))
    _wait_volume(env.cloud, vol.volume.id, ("available",))
    env.cloud.compute.volumes.attach(DEMO, server.uuid, vol.volume.id)
    return env.cloud.compute.servers.get(ADMIN, server.uuid), vol.volume.id


def _bdm(env, uuid) -> tuple[str, dict]:
    with env.db.reader() as s:
        (row,) = s.scalars(
            sa.select(BlockDeviceMapping).where(
                BlockDeviceMapping.instance_uuid == uuid,
                BlockDeviceMapping.deleted.is_(False),
                BlockDeviceMapping.volume_id.is_not(None),
            )
        )
        return row.attachment_id, dict(row.connection_info or {})


def _attachments(env, volume_id) -> dict[str, tuple[str | None, str]]:
    """attachment id -> (host, status) of the volume."""
    rows = env.cloud.volume.attachments.list(DEMO, AttachmentFilters(volume_id=volume_id))
    return {r.id: (r.attached_host, r.attach_status) for r in rows}


def _guest_devices(env, host, uuid) -> list[str]:
    """The attachment ids of the guest's volumes as the host's driver was given them."""
    spec = env.agents[host].driver._guests[uuid].spec
    return [d["attachment_id"] for d in spec.get("block_devices") or []]


def test_live_migration_points_the_mapping_and_the_guest_at_the_new_attachment(env):
    server, volume_id = _server_with_volume(env)
    source = server.host
    dest = next(h for h in HOSTS if h != source)
    old_id, old_info = _bdm(env, server.uuid)
    LiveMigrationAPI(env.cloud).live_migrate(ADMIN, server.uuid, None, None)
    moved = wait_until(
        lambda: (
            (r := env.cloud.compute.servers.get(ADMIN, server.uuid)).host == dest
            and r.task_state is None
            and r
        ),
        10,
        "the live migration",
    )
    assert moved.vm_state == states.ACTIVE
    # the source's attachment goes once the server is the destination's
    wait_until(lambda: len(_attachments(env, volume_id)) == 1, 10, "one attachment left")
    new_id, new_info = _bdm(env, server.uuid)
    assert new_id != old_id
    ((att_id, (host, status)),) = _attachments(env, volume_id).items()
    assert (att_id, host, status) == (new_id, dest, "attached")
    attachment = env.cloud.volume.attachments.get(ADMIN, new_id)
    assert new_info == attachment.connection_info and new_info != old_info
    assert _guest_devices(env, dest, server.uuid) == [new_id]
    assert env.agents[dest].driver.attached_volumes(server.uuid) == [volume_id]
    stored = env.cloud.compute.servers.get(ADMIN, server.uuid).spec["block_devices"]
    assert [d["attachment_id"] for d in stored] == [new_id]


def test_resize_revert_puts_the_mapping_back_on_the_original_attachment(env):
    server, volume_id = _server_with_volume(env)
    source = server.host
    before = (_bdm(env, server.uuid), _attachments(env, volume_id))
    env.cloud.compute.resizes.resize(DEMO, server.uuid, "2")
    resized = _settle(env, server.uuid, "VERIFY_RESIZE")
    dest = resized.host
    new_id, new_info = _bdm(env, server.uuid)
    assert new_id != before[0][0] and _guest_devices(env, dest, server.uuid) == [new_id]
    assert new_info == env.cloud.volume.attachments.get(ADMIN, new_id).connection_info
    assert {h for h, _s in _attachments(env, volume_id).values()} == {source, dest}
    env.cloud.compute.resizes.revert_resize(DEMO, server.uuid)
    back = _settle(env, server.uuid, "ACTIVE")
    assert back.host == source
    assert (_bdm(env, server.uuid), _attachments(env, volume_id)) == before
    assert _guest_devices(env, source, server.uuid) == [before[0][0]]


def test_a_failed_finish_leaves_the_attachments_as_they_were(env, monkeypatch):
    server, volume_id = _server_with_volume(env)
    source = server.host
    dest = next(h for h in HOSTS if h != source)
    before = (_bdm(env, server.uuid), _attachments(env, volume_id))

    def broken(spec, power_on):
        raise DriverError("no room for the guest")

    monkeypatch.setattr(env.agents[dest].driver, "finish_migration", broken)
    env.cloud.compute.resizes.migrate(ADMIN, server.uuid)

    def failed():
        with env.db.reader() as s:
            return [m.status for m in migrations.for_instance(s, server.uuid)] == ["error"]

    wait_until(failed, 10, "the failure")
    assert _settle(env, server.uuid, "ACTIVE").host == source
    assert (_bdm(env, server.uuid), _attachments(env, volume_id)) == before
    assert _wait_volume(env.cloud, volume_id, ("in-use",)) == "in-use"


def test_a_volume_in_use_by_another_server_gets_no_second_attachment(env):
    server, volume_id = _server_with_volume(env)
    with pytest.raises(errors.PocketError) as caught:
        env.cloud.volume.attachments.create(ADMIN, volume_id, "another-server-uuid")
    assert caught.value.status == 400
    assert len(_attachments(env, volume_id)) == 1


@pytest.mark.parametrize("side", ["dest", "source"])
def test_an_interrupted_move_is_settled_from_the_volume_api(env, side):
    """A process killed between ``prepare`` and the end of a move left a second
    attachment; ``settle_on`` (what ``live_migration_recovery`` calls) keeps the one on the
    host the server ends on and points the mapping at it."""
    server, volume_id = _server_with_volume(env)
    source = server.host
    dest = next(h for h in HOSTS if h != source)
    before = (_bdm(env, server.uuid), _attachments(env, volume_id))
    (moved,) = VolumeMoves(env.cloud).prepare(ADMIN, server.uuid, dest)
    assert {h for h, _s in _attachments(env, volume_id).values()} == {source, dest}
    VolumeMoves(env.cloud).settle_on(ADMIN, server.uuid, dest if side == "dest" else source)
    if side == "source":
        assert (_bdm(env, server.uuid), _attachments(env, volume_id)) == before
        return
    new_id, new_info = _bdm(env, server.uuid)
    assert new_id == moved["attachment_id"] and new_info == moved["connection_info"]
    assert _attachments(env, volume_id) == {new_id: (dest, "attached")}
    stored = env.cloud.compute.servers.get(ADMIN, server.uuid).spec["block_devices"]
    assert [d["attachment_id"] for d in stored] == [new_id]


def _fails_once(monkeypatch, owner, name):
    """``owner.name`` raises ``DriverError`` on its first call, then works."""
    real = getattr(owner, name)
    calls = []

    def once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise DriverError(f"{name} failed once")
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, once)
    return calls


def _moved(env, uuid, dest):
    return wait_until(
        lambda: (
            (r := env.cloud.compute.servers.get(ADMIN, uuid)).host == dest
            and r.task_state is None
            and r
        ),
        10,
        "the live migration to end",
    )


def test_a_failure_after_the_copy_finishes_the_live_migration_with_its_volume(env, monkeypatch):
    """The source's guest ended, the destination's finish fails once: nothing is undone
    (the guest and its volume's attachment stay on the destination), it is finished
    forward: the server ACTIVE there, the mapping on the destination's attachment."""
    server, volume_id = _server_with_volume(env)
    source = server.host
    dest = next(h for h in HOSTS if h != source)
    calls = _fails_once(monkeypatch, env.agents[dest], "post_live_migration_at_destination")
    LiveMigrationAPI(env.cloud).live_migrate(ADMIN, server.uuid, None, None)
    moved = _moved(env, server.uuid, dest)
    assert len(calls) >= 2  # failed, then finished forward (a timed-out call is repeated)
    assert moved.vm_state == states.ACTIVE
    assert env.agents[source].driver.list_instances() == []
    assert env.agents[dest].driver.list_instances() == [server.uuid]
    with env.db.reader() as s:
        (mig,) = migrations.for_instance(s, server.uuid)
        assert mig.status == "completed"
    wait_until(lambda: len(_attachments(env, volume_id)) == 1, 10, "one attachment left")
    new_id, _info = _bdm(env, server.uuid)
    assert _attachments(env, volume_id) == {new_id: (dest, "attached")}
    assert _guest_devices(env, dest, server.uuid) == [new_id]


def test_a_failed_volume_switch_after_the_copy_is_finished_before_the_commit(env, monkeypatch):
    """The switch of the mappings to the destination's attachments fails once: the
    migration is not committed with the mapping left on the source's (deleted) attachment;
    it is finished forward from the volume API."""
    server, volume_id = _server_with_volume(env)
    source = server.host
    dest = next(h for h in HOSTS if h != source)
    old_id, _info = _bdm(env, server.uuid)
    calls = _fails_once(monkeypatch, VolumeMoves, "switch")
    LiveMigrationAPI(env.cloud).live_migrate(ADMIN, server.uuid, None, None)
    moved = _moved(env, server.uuid, dest)
    assert calls and moved.vm_state == states.ACTIVE
    wait_until(lambda: len(_attachments(env, volume_id)) == 1, 10, "one attachment left")
    new_id, new_info = _bdm(env, server.uuid)
    assert new_id != old_id
    assert _attachments(env, volume_id) == {new_id: (dest, "attached")}
    assert new_info == env.cloud.volume.attachments.get(ADMIN, new_id).connection_info
    stored = env.cloud.compute.servers.get(ADMIN, server.uuid).spec["block_devices"]
    assert [d["attachment_id"] for d in stored] == [new_id]


def test_a_source_attachment_left_by_a_live_migration_goes_at_the_next_controller_start(
    env, monkeypatch
):
    """``drop_old`` fails after the commit (the source's attachment stays): a controller
    starting (``recover_live_migrations``) deletes it and keeps the destination's."""
    server, volume_id = _server_with_volume(env)
    source = server.host
    dest = next(h for h in HOSTS if h != source)
    monkeypatch.setattr(VolumeMoves, "drop_old", lambda self, ctx, moved: None)
    LiveMigrationAPI(env.cloud).live_migrate(ADMIN, server.uuid, None, None)
    _moved(env, server.uuid, dest)
    new_id, _info = _bdm(env, server.uuid)
    assert sorted(h for h, _s in _attachments(env, volume_id).values()) == sorted([source, dest])
    Conductor(env.cloud).recover_live_migrations()  # what a starting controller runs
    assert _attachments(env, volume_id) == {new_id: (dest, "attached")}
    assert _bdm(env, server.uuid)[0] == new_id
