"""Nova's side of block storage with the whole cloud in one process (no HTTP): the compute
API's managers, the conductor, the compute agent with the fake hypervisor, the volume
manager and a real volume agent with the fake volume driver, all on the in-process bus.

Attach and detach (devices, errors, rollback, recorded events), boot from volume (a volume
made from the image, an existing volume), the volumes' fate on server delete and on a failed
build, and the ``volume-extended`` event."""

from __future__ import annotations

import types

import pytest
import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.compute import actions, states, volumes
from pocketstack.compute.agent import ComputeAgent
from pocketstack.compute.conductor import Conductor
from pocketstack.compute.drivers.fake import FakeDriver
from pocketstack.compute.exceptions import InvalidVolume, VolumeBDMNotFound
from pocketstack.compute.external_events import ServerExternalEvent
from pocketstack.compute.models import (
    Allocation,
    BlockDeviceMapping,
    InstanceAction,
    InstanceActionEvent,
)
from pocketstack.service import Cloud
from pocketstack.volume import rpcapi as volume_rpc
from pocketstack.volume.agent import VolumeAgent
from pocketstack.volume.drivers.fake import FakeVolumeDriver
from pocketstack.volume.exceptions import VolumeNotFound
from pocketstack.volume.models import Volume
from pocketstack.volume.volumes import VolumeCreate
from tests.helpers import wait_hypervisor_up, wait_until

DEMO = RequestContext(
    user_id="demo-user", project_id="demo-project", roles=("member", "reader"), auth_token="t"
)
OTHER = RequestContext(user_id="other-user", project_id="other-project", roles=("member",))
ADMIN = RequestContext(user_id="admin-user", project_id="admin-project", roles=("admin",))


@pytest.fixture
def env(conf, db, bus, tmp_path):
    conf = conf.replace(hostname="node1", periodic_interval=0.2)
    cloud = Cloud(conf, db, bus)
    cloud.compute.flavors.bootstrap()
    cloud.network.bootstrap(ADMIN.project_id, DEMO.project_id)
    cloud.volume.bootstrap()
    bus.serve(volume_rpc.SERVER_TOPIC, cloud.volume.agent_reports, volume_rpc.SERVER_MESSAGES)
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * 4096)
    system = RequestContext.system()
    image = cloud.image.create_image_from_file(system, "cirros", disk, disk_format="raw")
    broken = cloud.image.create_image_from_file(
        system, "broken", disk, disk_format="raw", properties={"fake_spawn_error": "disk boom"}
    )
    # the storage host has the image in its cache already (no download, no service user)
    cache = tmp_path / "state" / "images" / "cache"
    cache.mkdir(parents=True)
    (cache / image.id).write_bytes(disk.read_bytes())
    conf = conf.replace(state_dir=str(tmp_path / "state"))
    volume_driver = FakeVolumeDriver(conf, tmp_path / "pool")
    volume_driver.backend_name = "file"  # what the default volume type asks for
    volume_agent = VolumeAgent(conf, bus, volume_driver, host="node1")
    volume_agent.start()
    conductor = Conductor(cloud)
    conductor.start()
    driver = FakeDriver(conf)
    agent = ComputeAgent(conf, bus, driver)
    agent.start()
    wait_hypervisor_up(cloud, "node1")
    wait_until(_volume_service_up(cloud), 10, "the volume service to report")
    yield types.SimpleNamespace(
        cloud=cloud,
        db=db,
        driver=driver,
        volume_driver=volume_driver,
        image=image.id,
        broken=broken.id,
    )
    agent.stop()
    conductor.stop()
    volume_agent.stop()
    bus.unserve(volume_rpc.SERVER_TOPIC)
    FakeVolumeDriver.shared.pop(str(tmp_path / "pool"), None)


def _volume_service_up(cloud):
    def check():
        try:
            vol = cloud.volume.volumes.create(DEMO, VolumeCreate(size=1, name="probe"))
        except errors.PocketError:
            return None
        status = _wait_volume(cloud, vol.volume.id, ("available", "error"))
        cloud.volume.volumes.delete(DEMO, vol.volume.id)
        return status == "available" or None

    return check


def _wait_volume(cloud, volume_id, wanted, ctx=DEMO):
    def reached():
        try:
            status = cloud.volume.volumes.get(ctx, volume_id).volume.status
        except VolumeNotFound:
            status = "deleted"
        return status if status in wanted else None

    return wait_until(reached, 10, f"volume {volume_id} to be {wanted}", interval=0.02)


def new_volume(env, size=1, ctx=DEMO):
    vol = env.cloud.volume.volumes.create(ctx, VolumeCreate(size=size, name="data"))
    _wait_volume(env.cloud, vol.volume.id, ("available",), ctx)
    return vol.volume.id


def volume_status(env, volume_id, ctx=DEMO):
    try:
        return env.cloud.volume.volumes.get(ctx, volume_id).volume.status
    except VolumeNotFound:
        return "deleted"


def boot(env, image=None, bdms=None, name="vm1", flavor="1"):
    (server,) = env.cloud.compute.servers.create(
        DEMO,
        name=name,
        image_id=env.image if image is None else image,
        flavor_id=flavor,
        networks="none",
        block_device_mapping=bdms,
    )
    return server.uuid


def wait_status(env, uuid, status):
    def check():
        row = env.cloud.compute.servers.get(ADMIN, uuid, include_deleted=True)
        return row if states.status_of(row.vm_state, row.task_state) == status else None

    return wait_until(check, 10, f"{uuid} to be {status}", interval=0.02)


def action_events(env, uuid, action):
    with env.db.reader() as s:
        act = s.scalars(
            sa.select(InstanceAction)
            .where(InstanceAction.instance_uuid == uuid, InstanceAction.action == action)
            .order_by(InstanceAction.id.desc())
        ).first()
        assert act is not None, f"no {action} action"
        events = s.scalars(
            sa.select(InstanceActionEvent)
            .where(InstanceActionEvent.action_id == act.id)
            .order_by(InstanceActionEvent.id)
        )
        return act, [(e.event, e.result) for e in events]


def bdm_rows(env, uuid):
    with env.db.reader() as s:
        return list(
            s.scalars(
                sa.select(BlockDeviceMapping).where(
                    BlockDeviceMapping.instance_uuid == uuid, BlockDeviceMapping.deleted.is_(False)
                )
            )
        )


def test_attach_gives_the_next_free_device_and_detach_frees_the_volume(env):
    uuid = boot(env)
    wait_status(env, uuid, "ACTIVE")
    first, second, third = new_volume(env), new_volume(env), new_volume(env)
    volumes_api = env.cloud.compute.volumes

    bdm = volumes_api.attach(DEMO, uuid, first)
    assert bdm.device_name == "/dev/vdb" and bdm.volume_id == first
    assert volume_status(env, first) == "in-use"
    assert env.driver.attached_volumes(uuid) == [first]
    act, events = action_events(env, uuid, "attach_volume")
    assert act.finish_time is not None and act.message is None
    assert events == [
        (volumes.EV_RESERVE_VOLUME, "Success"),
        (volumes.EV_INITIALIZE_CONNECTION, "Success"),
        (volumes.EV_ATTACH_VOLUME, "Success"),
        (volumes.EV_COMPLETE_ATTACHMENT, "Success"),
    ]
    assert volumes_api.attach(DEMO, uuid, second, "/dev/vdf").device_name == "/dev/vdf"
    assert volumes_api.attach(DEMO, uuid, third).device_name == "/dev/vdc"
    assert [b.volume_id for b in volumes_api.list(DEMO, uuid)] == [first, second, third]
    # the stored spec lists them: a power-on or hard reboot starts the guest with them
    spec = env.cloud.compute.servers.get(DEMO, uuid).spec
    assert {d["volume_id"] for d in spec["block_devices"]} == {first, second, third}

    volumes_api.detach(DEMO, uuid, first)
    assert volume_status(env, first) == "available"
    assert sorted(env.driver.attached_volumes(uuid)) == sorted([second, third])
    assert action_events(env, uuid, "detach_volume")[1] == [
        (volumes.EV_DETACH_VOLUME, "Success"),
        (volumes.EV_DELETE_ATTACHMENT, "Success"),
    ]
    with pytest.raises(VolumeBDMNotFound):
        volumes_api.get(DEMO, uuid, first)
    # the freed name is the next one given
    assert volumes_api.attach(DEMO, uuid, first).device_name == "/dev/vdb"


def test_attach_and_detach_errors_are_novas(env):
    uuid = boot(env)
    wait_status(env, uuid, "ACTIVE")
    vol = new_volume(env)
    volumes_api = env.cloud.compute.volumes
    volumes_api.attach(DEMO, uuid, vol)
    with pytest.raises(InvalidVolume, match="status must be 'available'") as info:
        volumes_api.attach(DEMO, uuid, vol)  # in-use already
    assert info.value.status == 400
    others = new_volume(env, ctx=OTHER)
    with pytest.raises(VolumeNotFound) as info:
        volumes_api.attach(DEMO, uuid, others)
    assert info.value.status == 404
    with pytest.raises(VolumeBDMNotFound) as info:
        volumes_api.detach(DEMO, uuid, new_volume(env))
    assert info.value.status == 404
    elsewhere = new_volume(env)
    with env.db.transaction() as s:  # as if made on a storage host of another zone
        s.execute(sa.update(Volume).where(Volume.id == elsewhere).values(availability_zone="az2"))
    with pytest.raises(InvalidVolume, match="same availability_zone") as info:
        volumes_api.attach(DEMO, uuid, elsewhere)
    assert info.value.status == 400
    with pytest.raises(errors.BadRequest, match=r"\(/dev/vdb\) is in use"):
        volumes_api.attach(DEMO, uuid, new_volume(env), "vdb")


def test_a_failed_hot_plug_undoes_every_step(env):
    uuid = boot(env)
    wait_status(env, uuid, "ACTIVE")
    vol = new_volume(env)
    env.driver.fail_attach = "no free slot"
    with pytest.raises(errors.PocketError, match="no free slot"):
        env.cloud.compute.volumes.attach(DEMO, uuid, vol)
    assert volume_status(env, vol) == "available"
    assert bdm_rows(env, uuid) == [] and env.driver.attached_volumes(uuid) == []
    act, events = action_events(env, uuid, "attach_volume")
    assert act.message == actions.ERROR and act.finish_time is not None
    assert events == [
        (volumes.EV_RESERVE_VOLUME, "Success"),
        (volumes.EV_INITIALIZE_CONNECTION, "Success"),
        (volumes.EV_ATTACH_VOLUME, "Error"),
        (volumes.EV_INITIALIZE_CONNECTION + "_rollback", "Success"),
        (volumes.EV_RESERVE_VOLUME + "_rollback", "Success"),
    ]
    assert env.volume_driver.exports.get(vol, {}) == {}  # the export went too
    env.driver.fail_attach = None
    assert env.cloud.compute.volumes.attach(DEMO, uuid, vol).device_name == "/dev/vdb"


def test_boot_from_a_volume_made_from_the_image_deleted_with_the_server(env):
    bdms = [
        {
            "source_type": "image",
            "destination_type": "volume",
            "uuid": env.image,
            "boot_index": 0,
            "volume_size": 2,
            "delete_on_termination": True,
            "device_name": None,
            "guest_format": None,
            "disk_bus": None,
            "tag": None,
        }
    ]
    uuid = boot(env, image="", bdms=bdms)
    row = wait_status(env, uuid, "ACTIVE")
    assert row.image_ref == ""
    (bdm,) = bdm_rows(env, uuid)
    assert bdm.device_name == "/dev/vda" and bdm.boot_index == 0 and bdm.attachment_id
    assert volume_status(env, bdm.volume_id) == "in-use"
    assert env.cloud.volume.volumes.get(DEMO, bdm.volume_id).volume.size == 2
    assert row.spec["boot_from_volume"] is True
    assert [d["volume_id"] for d in row.spec["block_devices"]] == [bdm.volume_id]
    assert row.spec["block_devices"][0]["connection_info"]["driver_volume_type"] == "iscsi"
    assert env.driver.attached_volumes(uuid) == [bdm.volume_id]
    assert (actions.EV_BLOCK_DEVICE, "Success") in action_events(env, uuid, "create")[1]
    with pytest.raises(errors.BadRequest, match="root device"):
        env.cloud.compute.volumes.detach(DEMO, uuid, bdm.volume_id)

    env.cloud.compute.servers.delete(DEMO, uuid)
    wait_status(env, uuid, "DELETED")
    _wait_volume(env.cloud, bdm.volume_id, ("deleted",))
    assert (actions.EV_DETACH_VOLUMES, "Success") in action_events(env, uuid, "delete")[1]


def test_an_existing_boot_volume_survives_the_server(env):
    vol = new_volume(env)
    bdms = [
        {
            "source_type": "volume",
            "destination_type": "volume",
            "uuid": vol,
            "boot_index": 0,
            "volume_size": None,
            "delete_on_termination": False,
            "device_name": None,
            "guest_format": None,
            "disk_bus": None,
            "tag": None,
        }
    ]
    uuid = boot(env, image="", bdms=bdms)
    wait_status(env, uuid, "ACTIVE")
    assert volume_status(env, vol) == "in-use"
    with pytest.raises(InvalidVolume):  # in use by the first server now
        boot(env, image="", bdms=bdms, name="vm2")
    env.cloud.compute.servers.delete(DEMO, uuid)
    wait_status(env, uuid, "DELETED")
    assert volume_status(env, vol) == "available"


def test_a_failed_build_deletes_its_volumes_and_frees_the_users(env):
    mine = new_volume(env)
    bdms = [
        {
            "source_type": "blank",
            "destination_type": "volume",
            "uuid": None,
            "boot_index": None,
            "volume_size": 1,
            "delete_on_termination": False,
            "device_name": None,
            "guest_format": None,
            "disk_bus": None,
            "tag": None,
        },
        {
            "source_type": "volume",
            "destination_type": "volume",
            "uuid": mine,
            "boot_index": None,
            "volume_size": None,
            "delete_on_termination": False,
            "device_name": "/dev/vdd",
            "guest_format": None,
            "disk_bus": None,
            "tag": None,
        },
    ]
    uuid = boot(env, image=env.broken, bdms=bdms)
    wait_status(env, uuid, "ERROR")
    _wait_volume(env.cloud, mine, ("available",))  # released right after the ERROR

    def only_mine_left():
        return [v.volume.id for v in env.cloud.volume.volumes.list(DEMO, _all())] == [mine]

    wait_until(only_mine_left, 10, "the blank volume the build made to be deleted")
    assert all(b.attachment_id is None for b in bdm_rows(env, uuid))
    blank = next(b for b in _all_bdms(env, uuid) if b.source_type == "blank")
    assert blank.volume_id is None  # a rebuild of the step would make it again


def _all_bdms(env, uuid):
    with env.db.reader() as s:
        return list(
            s.scalars(sa.select(BlockDeviceMapping).where(BlockDeviceMapping.instance_uuid == uuid))
        )


def _all():
    from pocketstack.volume.volumes import VolumeFilters

    return VolumeFilters()


def test_volume_extended_event_resizes_the_guests_disk(env):
    uuid = boot(env)
    wait_status(env, uuid, "ACTIVE")
    vol = new_volume(env)
    env.cloud.compute.volumes.attach(DEMO, uuid, vol)
    with env.db.transaction() as s:  # as the volume manager records a finished extend
        s.execute(sa.update(Volume).where(Volume.id == vol).values(size=3))
    answered = env.cloud.compute.server_external_events.create(
        ADMIN, [ServerExternalEvent(name="volume-extended", server_uuid=uuid, tag=vol)]
    )
    assert answered[0].code == 200
    wait_until(
        lambda: env.driver.volume_size(uuid, vol) == 3 * 1024**3, 10, "the guest's disk to grow"
    )


def test_extending_an_attached_volume_through_the_volume_api_reaches_the_guest(env):
    uuid = boot(env)
    wait_status(env, uuid, "ACTIVE")
    vol = new_volume(env)
    env.cloud.compute.volumes.attach(DEMO, uuid, vol)
    env.cloud.volume.volume_actions.extend(DEMO, vol, 2, attached_ok=True)
    wait_until(
        lambda: env.driver.volume_size(uuid, vol) == 2 * 1024**3, 10, "the guest's disk to grow"
    )
    assert volume_status(env, vol) == "in-use"


def test_the_flavors_ephemeral_and_swap_are_local_disks_of_image_and_volume_servers(env):
    env.cloud.compute.flavors.create(
        ADMIN, name="eph", flavorid="eph", ram=64, vcpus=1, disk=1, ephemeral=1, swap=64
    )
    wanted = {"disk.eph0": 1024**3, "disk.swap": 64 * 1024**2}
    uuid = boot(env, flavor="eph")
    row = wait_status(env, uuid, "ACTIVE")
    assert (row.spec["ephemeral_gb"], row.spec["swap_mb"]) == (1, 64)
    assert env.driver.local_disks(uuid) == wanted
    bdms = [
        {
            "source_type": "image",
            "destination_type": "volume",
            "uuid": env.image,
            "boot_index": 0,
            "volume_size": 1,
            "delete_on_termination": True,
            "device_name": None,
            "guest_format": None,
            "disk_bus": None,
            "tag": None,
        }
    ]
    volume_backed = boot(env, image="", bdms=bdms, name="vm2", flavor="eph")
    wait_status(env, volume_backed, "ACTIVE")
    assert env.driver.local_disks(volume_backed) == wanted
    with env.db.reader() as s:  # root + ephemeral + swap rounded up to a GiB, as Nova's DISK_GB
        claimed = {a.instance_uuid: a.disk_gb for a in s.scalars(sa.select(Allocation))}
    assert (claimed[uuid], claimed[volume_backed]) == (3, 2)
    swap = {"source_type": "blank", "destination_type": "local", "guest_format": "swap"}
    mapped = boot(
        env,
        bdms=[dict(bdms[0], **swap, uuid=None, boot_index=None, volume_size=None)],
        flavor="eph",
    )
    wait_status(env, mapped, "ACTIVE")
    assert env.driver.local_disks(mapped) == wanted
    with pytest.raises(errors.BadRequest, match="Swap drive requested is larger"):
        boot(env, bdms=[dict(bdms[0], **swap, uuid=None, boot_index=None, volume_size=65)])
    plain = boot(env, name="vm3")
    wait_status(env, plain, "ACTIVE")
    assert env.driver.local_disks(plain) == {}
