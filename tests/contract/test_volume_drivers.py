"""The volume driver contract (``pocketstack.volume.drivers.base``, docs/block-storage.md "The
driver contract"), run against every driver of ``VOLUME_DRIVERS``: ``fake`` and ``file`` in
both formats (``raw`` exported with a real tgtd on a free loopback port, ``qcow2`` with
qemu-storage-daemon over NBD). Data checks read and write the files with ``qemu-io``."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from pocketstack.common.drivers import VOLUME_DRIVERS
from pocketstack.volume.drivers.base import GiB, VolumeDriver, VolumeDriverError, VolumeNotFound

CASES = [("fake", "raw"), ("file", "raw"), ("file", "qcow2")]
CONNECTOR = {"host": "h1", "ip": "127.0.0.1", "initiator": "iqn.2010-10.org.pocketstack:h1"}


def conf_for(fmt: str) -> SimpleNamespace:
    """The options a volume driver reads (a free iSCSI port on loopback)."""
    return SimpleNamespace(
        volume_format=fmt, iscsi_ip="127.0.0.1", iscsi_port=0, tgt_control_port=0, netns=None
    )


@pytest.fixture(params=CASES, ids=[f"{n}-{f}" for n, f in CASES])
def driver(request, tmp_path):
    name, fmt = request.param
    drv = VOLUME_DRIVERS.load(name, conf_for(fmt), tmp_path / "pool")
    drv.case = request.param  # type: ignore[attr-defined]
    yield drv
    drv.stop()  # the file driver's tgtd / NBD daemons, by their pids
    if name == "fake":
        type(drv).shared.pop(str(tmp_path / "pool"), None)  # type: ignore[attr-defined]


def new_id() -> str:
    return str(uuid.uuid4())


def is_file(drv: VolumeDriver) -> bool:
    return drv.case[0] == "file"  # type: ignore[attr-defined]


def qemu_io(path: str, command: str) -> subprocess.CompletedProcess[str]:
    with open(path, "rb") as f:
        fmt = "qcow2" if f.read(4) == b"QFI\xfb" else "raw"
    return subprocess.run(
        ["qemu-io", "-f", fmt, "-c", command, path], capture_output=True, text=True, check=False
    )


def has_pattern(path: str, pattern: int, offset: str = "0", length: str = "64k") -> bool:
    out = qemu_io(path, f"read -P {pattern} {offset} {length}")
    return out.returncode == 0 and "Pattern verification failed" not in out.stdout


def test_create_list_delete_is_idempotent(driver):
    vid = new_id()
    driver.create_volume(vid, 1)
    assert driver.list_volumes()[vid] == 1
    assert driver.capabilities()["provisioned_capacity_gb"] >= 1.0
    assert driver.capabilities()["volume_backend_name"] == driver.backend_name
    driver.delete_volume(vid)
    assert vid not in driver.list_volumes()
    driver.delete_volume(vid)  # gone already: succeeds


def test_blank_volume_is_thin_and_zero(driver):
    vid = new_id()
    driver.create_volume(vid, 2)
    if is_file(driver):
        path = Path(driver.volume_path(vid))
        assert path.stat().st_blocks * 512 < 10 * 1024 * 1024  # sparse / thin
        assert has_pattern(str(path), 0, "1G", "64k")


def test_extend_grows_and_never_shrinks(driver):
    vid = new_id()
    driver.create_volume(vid, 1)
    driver.extend_volume(vid, 3)
    assert driver.list_volumes()[vid] == 3
    with pytest.raises(VolumeDriverError):
        driver.extend_volume(vid, 2)
    with pytest.raises(VolumeNotFound):
        driver.extend_volume(new_id(), 5)


def test_snapshot_keeps_data_of_its_time(driver):
    vid, sid, copy = new_id(), new_id(), new_id()
    driver.create_volume(vid, 1)
    path = driver.volume_path(vid)
    if is_file(driver):
        assert qemu_io(path, "write -P 0x11 0 64k").returncode == 0
    driver.create_snapshot(sid, vid)
    assert sid in driver.list_snapshots()
    if is_file(driver):
        assert qemu_io(driver.volume_path(vid), "write -P 0x22 0 64k").returncode == 0
    driver.create_volume_from_snapshot(copy, sid, 2)
    assert driver.list_volumes()[copy] == 2
    if is_file(driver):
        assert has_pattern(driver.volume_path(copy), 0x11)
        assert has_pattern(driver.volume_path(vid), 0x22)
    # deleting the snapshot keeps both volumes' data (qcow2: merged into its dependents)
    driver.delete_snapshot(sid, vid)
    driver.delete_snapshot(sid, vid)  # gone already: succeeds
    assert sid not in driver.list_snapshots()
    if is_file(driver):
        assert has_pattern(driver.volume_path(copy), 0x11)
        assert has_pattern(driver.volume_path(vid), 0x22)


def test_snapshot_chain_delete_middle_keeps_older(driver):
    vid, s1, s2, from1 = new_id(), new_id(), new_id(), new_id()
    driver.create_volume(vid, 1)
    if is_file(driver):
        qemu_io(driver.volume_path(vid), "write -P 0x01 0 64k")
    driver.create_snapshot(s1, vid)
    if is_file(driver):
        qemu_io(driver.volume_path(vid), "write -P 0x02 64k 64k")
    driver.create_snapshot(s2, vid)
    driver.create_volume_from_snapshot(from1, s1, 1)
    driver.delete_snapshot(s1, vid)  # s2 and from1 depend on it (qcow2)
    driver.delete_snapshot(s2, vid)
    if is_file(driver):
        assert has_pattern(driver.volume_path(vid), 0x01, "0", "64k")
        assert has_pattern(driver.volume_path(vid), 0x02, "64k", "64k")
        assert has_pattern(driver.volume_path(from1), 0x01, "0", "64k")
        assert has_pattern(driver.volume_path(from1), 0x00, "64k", "64k")


def test_clone_copies_data(driver):
    src, dst = new_id(), new_id()
    driver.create_volume(src, 1)
    if is_file(driver):
        qemu_io(driver.volume_path(src), "write -P 0x33 0 64k")
    driver.clone_volume(dst, src, 2)
    assert driver.list_volumes()[dst] == 2
    if is_file(driver):
        assert has_pattern(driver.volume_path(dst), 0x33)
    with pytest.raises(VolumeNotFound):
        driver.clone_volume(new_id(), new_id(), 1)


def test_failed_create_from_missing_snapshot_leaves_nothing(driver):
    vid = new_id()
    with pytest.raises(VolumeNotFound):
        driver.create_volume_from_snapshot(vid, new_id(), 1)
    assert vid not in driver.list_volumes()
    if is_file(driver):
        assert sorted(p.name for p in Path(driver.pool_dir).iterdir() if "tmp" in p.name) == []


def test_image_to_volume_and_back(driver, tmp_path):
    image = tmp_path / "image.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "64M"], check=True)
    subprocess.run(
        ["qemu-io", "-c", "write -P 0x44 0 64k", str(image)], check=True, capture_output=True
    )
    vid = new_id()
    driver.copy_image_to_volume(vid, str(image), "qcow2", 1)
    assert driver.list_volumes()[vid] == 1
    out = tmp_path / "out.img"
    driver.copy_volume_to_image(vid, str(out), "qcow2")
    assert out.exists()
    if is_file(driver):
        assert has_pattern(driver.volume_path(vid), 0x44)
        info = json.loads(subprocess.check_output(["qemu-img", "info", "--output=json", str(out)]))
        assert info["format"] == "qcow2" and info["virtual-size"] == GiB
        assert has_pattern(str(out), 0x44)


def test_image_larger_than_volume_is_refused_and_leaves_nothing(driver, tmp_path):
    image = tmp_path / "big.raw"
    with open(image, "wb") as f:
        f.truncate(2 * GiB)
    vid = new_id()
    with pytest.raises(VolumeDriverError):
        driver.copy_image_to_volume(vid, str(image), "raw", 1)
    assert vid not in driver.list_volumes()


def test_connection_info_and_exports(driver):
    vid, a1, a2 = new_id(), new_id(), new_id()
    driver.create_volume(vid, 1)
    info = driver.initialize_connection(vid, a1, CONNECTOR)
    data = info["data"]
    assert data["volume_id"] == vid and data["access_mode"] == "rw"
    if info["driver_volume_type"] == "iscsi":
        assert data["target_iqn"] == f"iqn.2010-10.org.openstack:volume-{vid}"
        assert data["target_lun"] == 1 and data["auth_method"] == "CHAP"
        assert data["auth_username"] == f"att-{a1[:8]}" and len(data["auth_password"]) >= 12
        assert data["encrypted"] is False and ":" in data["target_portal"]
    else:
        assert info["driver_volume_type"] == "nbd"
        assert data["export"] == f"volume-{vid}" and data["port"] > 0
    driver.initialize_connection(vid, a2, CONNECTOR)
    assert len(driver.list_exports()[vid]) == 2
    driver.terminate_connection(vid, a1)
    assert len(driver.list_exports()[vid]) == 1
    driver.terminate_connection(vid, a2)
    assert vid not in driver.list_exports()
    driver.terminate_connection(vid, a2)  # gone already: succeeds
    with pytest.raises(VolumeNotFound):
        driver.initialize_connection(new_id(), a1, CONNECTOR)


def test_delete_removes_the_export(driver):
    vid = new_id()
    driver.create_volume(vid, 1)
    driver.initialize_connection(vid, new_id(), CONNECTOR)
    driver.delete_volume(vid)
    assert vid not in driver.list_exports() and vid not in driver.list_volumes()


def test_extend_while_exported(driver):
    vid = new_id()
    driver.create_volume(vid, 1)
    driver.initialize_connection(vid, new_id(), CONNECTOR)
    driver.extend_volume(vid, 2)
    assert driver.list_volumes()[vid] == 2
