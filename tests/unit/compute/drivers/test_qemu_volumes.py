"""The qemu driver's volumes: the argv of a guest started with volumes (the CHAP password
only in a 0600 file, never in the argv), and on a real QEMU guest a raw file exported by a
real tgtd (CHAP, QEMU's own libiscsi) hot-plugged, seen by the guest, grown and unplugged."""

from __future__ import annotations

import base64
import json
import shutil
import stat
import subprocess
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from pocketstack.compute.drivers import qemu_process as qp
from pocketstack.compute.drivers import qemu_volumes as qv
from pocketstack.compute.drivers.base import DriverError
from pocketstack.compute.drivers.qemu import QemuDriver
from pocketstack.volume.targets.tgt import TgtTarget
from tests import volume_guest
from tests.helpers import wait_until

MIB = 2**20
INITIATOR = "iqn.2010-10.org.pocketstack:node1"
PASSWORD = "s3cr3t-chap-passw0rd"


def _iscsi(volume_id: str, boot_index: int | None = None, password: str = PASSWORD) -> dict:
    return {
        "volume_id": volume_id,
        "attachment_id": "a-" + volume_id,
        "device_name": "/dev/vdb",
        "boot_index": boot_index,
        "disk_bus": "virtio",
        "connection_info": {
            "driver_volume_type": "iscsi",
            "data": {
                "target_portal": "127.0.0.1:3260",
                "target_iqn": f"iqn.2010-10.org.openstack:volume-{volume_id}",
                "target_lun": 1,
                "auth_method": "CHAP",
                "auth_username": "att-12345678",
                "auth_password": password,
                "volume_id": volume_id,
                "access_mode": "rw",
            },
        },
    }


def test_spawn_argv_carries_no_chap_password_and_boots_the_boot_volume_first(tmp_path):
    boot, data = str(uuid.uuid4()), str(uuid.uuid4())
    spec = {
        "uuid": "u-1",
        "image": {},
        "boot_from_volume": True,
        "block_devices": [_iscsi(data), _iscsi(boot, boot_index=0)],
    }
    paths = qp.InstancePaths(tmp_path)
    args, files = qv.spawn_args(spec, tmp_path, "q35", INITIATOR)
    cmd = qp.build_command(spec, paths, "tcg", volume_args=args)
    assert not any(PASSWORD in arg for arg in cmd)
    assert len(files) == 2 and all(f.read_text() == PASSWORD for f in files)
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert f"file={paths.disk}" not in " ".join(cmd)  # no local root disk
    devices = [cmd[i + 1] for i, a in enumerate(cmd) if a == "-device"]
    assert devices[0].startswith("virtio-blk-pci") and f"serial={boot}" in devices[0]
    assert "bootindex=0" in devices[0] and "bus=" not in devices[0]
    assert sum(d.startswith("pcie-root-port") for d in devices) == qv.ROOT_PORTS
    plugged = next(d for d in devices if f"serial={data}" in d)
    assert "bus=hp0" in plugged and "bootindex" not in plugged
    nodes = [json.loads(cmd[i + 1]) for i, a in enumerate(cmd) if a == "-blockdev"]
    assert nodes[0]["driver"] == "iscsi" and nodes[0]["initiator-name"] == INITIATOR
    assert nodes[0]["target"].endswith(boot) and nodes[0]["user"] == "att-12345678"
    assert set(qv.read_record(tmp_path)) == {boot, data}


def test_an_nbd_volume_is_an_nbd_node_and_an_unknown_type_is_refused():
    device = {
        "volume_id": "v",
        "connection_info": {
            "driver_volume_type": "nbd",
            "data": {"host": "127.0.0.1", "port": 10809, "export": "volume-v"},
        },
    }
    node = qv.blockdev(device, "vol-1", None, INITIATOR)
    assert node["driver"] == "nbd" and node["export"] == "volume-v"
    assert node["server"] == {"type": "inet", "host": "127.0.0.1", "port": "10809"}
    with pytest.raises(DriverError, match="unsupported volume type"):
        qv.blockdev({"connection_info": {"driver_volume_type": "rbd"}}, "n", None, INITIATOR)


def test_a_refused_device_add_undoes_the_node_and_the_secret(tmp_path):
    sent: list[tuple[str, dict]] = []

    def qmp(command: str, **arguments):
        sent.append((command, arguments))
        if command == "device_add":
            raise DriverError("Bus 'hp0' not found")

    with pytest.raises(DriverError, match="not found"):
        qv.hot_plug(qmp, tmp_path, "q35", _iscsi("v1"), INITIATOR)
    assert [c for c, _ in sent] == [
        "object-add",
        "blockdev-add",
        "device_add",
        "blockdev-del",
        "object-del",
    ]
    assert qv.read_record(tmp_path) == {}


# ---------------------------------------------------------------- a real guest and tgtd


@pytest.fixture
def tgt(tmp_path):
    if shutil.which("tgtd") is None:
        pytest.skip("needs tgt")
    target = TgtTarget(tmp_path / "pool", "127.0.0.1", 0)
    yield target
    target.stop()


@pytest.fixture
def driver(tmp_path):
    conf = SimpleNamespace(state_dir=str(tmp_path / "state"), accel="tcg", netns="")
    drv = QemuDriver(conf)
    drv.init_host("node1")
    made: list[str] = []
    yield drv, made
    for uuid_ in made:
        drv.destroy(uuid_)


def _block(driver: QemuDriver, uuid_: str) -> list[str]:
    return [b.get("qdev", "") for b in driver._qmp(uuid_, "query-block")]


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs QEMU")
def test_a_tgt_volume_is_hot_plugged_seen_grown_and_unplugged(driver, tgt, tmp_path):
    from pocketstack.bootstrap import guest_cache_dir
    from pocketstack.guest.build import ensure_image

    drv, made = driver
    image = ensure_image(guest_cache_dir())
    raw, volume_id = tmp_path / "volume.raw", str(uuid.uuid4())
    subprocess.run(["truncate", "-s", f"{64 * MIB}", str(raw)], check=True)
    export = tgt.export(volume_id, str(raw), "att-" + volume_id)
    device = _iscsi(volume_id, password=export["auth_password"])
    device["connection_info"]["data"].update(
        target_portal=export["target_portal"], auth_username=export["auth_username"]
    )
    uuid_ = str(uuid.uuid4())
    spec = {
        "uuid": uuid_,
        "name": "vmv",
        "hostname": "vmv",
        "vcpus": 1,
        "memory_mb": 256,
        "root_gb": 0,
        "image": {"id": "i", "disk_format": "qcow2", "path": str(image), "properties": {}},
        "network_info": [],
        "user_data": base64.b64encode(volume_guest.WATCHER.encode()).decode(),
        "block_devices": [],
    }
    made.append(uuid_)
    drv.spawn(spec)
    console = Path(drv.instances_dir, uuid_, "console.log")

    def seen(needle: str) -> str | None:
        text = console.read_text(errors="replace")
        return text if needle in text else None

    wait_until(lambda: seen("pocketstack guest vmv ready"), 180, "the guest to boot")
    key = volume_guest.key(volume_id)

    drv.attach_volume(uuid_, device)
    assert export["auth_password"] not in " ".join(
        qp.cmdline(qp.find_pid(drv._paths(uuid_), uuid_))
    )
    entry = qv.read_record(drv._paths(uuid_).dir)[volume_id]
    assert any(entry["device"] in qdev for qdev in _block(drv, uuid_))
    wait_until(lambda: seen(f"VOLTEST-WROTE {key} vmv:{key}:1"), 60, "the guest to write")
    assert drv.attached_volumes(uuid_) == [volume_id]

    # as the volume agent extends: the file grows and the LUN is refreshed, then QEMU is
    # told (libiscsi's block_resize takes only the LUN's current capacity)
    subprocess.run(["truncate", "-s", f"{128 * MIB}", str(raw)], check=True)
    tgt.refresh(volume_id)
    drv.extend_volume(uuid_, volume_id, 128 * MIB)
    wait_until(lambda: seen(f"VOLTEST-SIZE {key} {128 * MIB}"), 60, "the guest to see it")

    drv.detach_volume(uuid_, volume_id)
    assert not any(entry["device"] in q for q in _block(drv, uuid_))
    wait_until(lambda: seen(f"VOLTEST-GONE {key}"), 60, "the guest to lose the disk")
    assert drv.attached_volumes(uuid_) == []
    drv.detach_volume(uuid_, volume_id)  # not attached: nothing to do
    tgt.unexport(volume_id, "att-" + volume_id)


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs QEMU")
def test_a_guest_boots_from_a_tgt_volume_with_a_second_one_it_can_lose(driver, tgt, tmp_path):
    from pocketstack.bootstrap import guest_cache_dir
    from pocketstack.guest.build import ensure_image

    drv, made = driver
    boot_raw, data_raw = tmp_path / "boot.raw", tmp_path / "data.raw"
    subprocess.run(
        ["qemu-img", "convert", "-O", "raw", str(ensure_image(guest_cache_dir())), str(boot_raw)],
        check=True,
    )
    subprocess.run(["truncate", "-s", f"{64 * MIB}", str(data_raw)], check=True)
    devices = []
    for raw, boot_index in ((boot_raw, 0), (data_raw, None)):
        volume_id = str(uuid.uuid4())
        export = tgt.export(volume_id, str(raw), "att-" + volume_id)
        device = _iscsi(volume_id, boot_index, export["auth_password"])
        device["connection_info"]["data"].update(
            target_portal=export["target_portal"], auth_username=export["auth_username"]
        )
        devices.append(device)
    uuid_ = str(uuid.uuid4())
    spec = {
        "uuid": uuid_,
        "name": "bfv",
        "hostname": "bfv",
        "vcpus": 1,
        "memory_mb": 256,
        "root_gb": 0,
        "image": {"id": "", "properties": {}},
        "boot_from_volume": True,
        "network_info": [],
        "user_data": base64.b64encode(volume_guest.WATCHER.encode()).decode(),
        "block_devices": devices,
    }
    made.append(uuid_)
    drv.spawn(spec)
    paths = drv._paths(uuid_)
    argv = " ".join(qp.cmdline(qp.find_pid(paths, uuid_)))
    assert not any(d["connection_info"]["data"]["auth_password"] in argv for d in devices)
    assert not list(paths.dir.glob("sec-*")), "the secret files are gone once QEMU runs"
    assert not paths.disk.exists()  # no local root disk
    console = paths.console

    def seen(needle: str) -> str | None:
        text = console.read_text(errors="replace")
        return text if needle in text else None

    wait_until(lambda: seen("pocketstack guest bfv ready"), 180, "the guest to boot")
    boot_id, data_id = devices[0]["volume_id"], devices[1]["volume_id"]
    log = wait_until(lambda: seen(f"VOLTEST-WROTE {volume_guest.key(data_id)}"), 60, "data")
    assert f"VOLTEST-ROOT-SERIAL {volume_guest.key(boot_id)}" in log
    assert sorted(drv.attached_volumes(uuid_)) == sorted([boot_id, data_id])

    drv.detach_volume(uuid_, data_id)  # plugged at start, on a root port: it can go
    wait_until(lambda: seen(f"VOLTEST-GONE {volume_guest.key(data_id)}"), 60, "the unplug")
    assert drv.attached_volumes(uuid_) == [boot_id]
    drv.destroy(uuid_)
    for device in devices:
        tgt.unexport(device["volume_id"], "att-" + device["volume_id"])
