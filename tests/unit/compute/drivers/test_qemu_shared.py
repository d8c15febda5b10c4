"""The qemu driver on shared instance storage (``qemu_shared``), without booting QEMU: it keeps
guests under ``[compute] instances_path``; two hosts' drivers on one directory each list
only the guests they own; a destroy that keeps the disks never touches another host's
directory; booting kept disks needs a disk and clears the old host's runtime files; a
second QEMU's own files go to ``InstancePaths.run``."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from pocketstack.compute.drivers import qemu_process as qp
from pocketstack.compute.drivers import qemu_shared as qsh
from pocketstack.compute.drivers.base import DriverError
from pocketstack.compute.drivers.qemu import QemuDriver


def _driver(tmp_path, host: str, shared: bool = True) -> QemuDriver:
    conf = SimpleNamespace(
        state_dir=str(tmp_path / host),
        instances_path=str(tmp_path / "shared"),
        instances_shared_storage=shared,
        hostname=host,
        netns="",
    )
    return QemuDriver(conf)


def _guest_dir(driver: QemuDriver, uuid: str, owner: str | None) -> None:
    path = driver.instances_dir / uuid
    path.mkdir(parents=True)
    (path / "disk").write_bytes(b"data the guest wrote")
    if owner:
        qsh.claim(path, owner)


def test_the_configured_directory_is_used(tmp_path):
    driver = _driver(tmp_path, "host1", shared=False)
    assert driver.instances_dir == tmp_path / "shared"
    _guest_dir(driver, "u-local", None)
    assert driver.list_instances() == ["u-local"]  # local storage: every directory is ours


def test_each_host_lists_only_its_own_guests(tmp_path):
    host1, host2 = _driver(tmp_path, "host1"), _driver(tmp_path, "host2")
    _guest_dir(host1, "u-1", "host1")
    _guest_dir(host1, "u-2", "host2")
    assert host1.list_instances() == ["u-1"]
    assert host2.list_instances() == ["u-2"]


def test_keeping_the_disks_never_touches_another_hosts_directory(tmp_path):
    host1 = _driver(tmp_path, "host1")
    _guest_dir(host1, "u-2", "host2")
    (host1.instances_dir / "u-2" / "pid").write_text("1")
    host1.destroy("u-2", destroy_disks=False)
    assert (host1.instances_dir / "u-2" / "disk").read_bytes() == b"data the guest wrote"
    assert (host1.instances_dir / "u-2" / "pid").exists()
    assert qsh.owner(host1.instances_dir / "u-2") == "host2"


def test_kept_disks_need_a_disk_and_lose_the_old_hosts_runtime_files(tmp_path):
    paths = qp.InstancePaths(tmp_path / "u-3")
    with pytest.raises(DriverError, match="no disk"):
        qsh.prepare_kept(paths, "u-3", boot_from_volume=False)
    paths.dir.mkdir()
    paths.disk.write_bytes(b"kept")
    for name in ("pid", "qmp.sock", "taps.json"):
        (paths.dir / name).write_text("old host's")
    qsh.prepare_kept(paths, "u-3", boot_from_volume=False)
    assert sorted(p.name for p in paths.dir.iterdir()) == ["disk"]


def test_an_incoming_qemu_keeps_its_own_files_apart(tmp_path):
    paths = qp.InstancePaths(tmp_path / "u-4", run=tmp_path / "u-4" / "incoming.d")
    assert paths.disk == tmp_path / "u-4" / "disk"
    assert paths.qmp.parent == paths.pidfile.parent == tmp_path / "u-4" / "incoming.d"
    cmd = qp.build_command({"uuid": "u-4", "image": {"path": "/x"}}, paths, "tcg")
    assert str(tmp_path / "u-4" / "incoming.d" / "pid") in cmd
    assert str(tmp_path / "u-4" / "disk") in " ".join(cmd)


@pytest.fixture
def stale_qemu(tmp_path):
    """Start a stand-in for a QEMU host1 started for guest ``u-5`` (argv as ``_start``
    builds it: name, pid file in the shared directory, the host it names) and yield its
    process; it is killed at the end."""
    exe = tmp_path / "bin" / qp.QEMU
    exe.parent.mkdir()
    exe.symlink_to(sys.executable)
    argv = [str(exe), "-c", "import time; time.sleep(120)", "-name", qp.NAME_PREFIX + "u-5"]
    argv += ["-pidfile", str(tmp_path / "shared" / "u-5" / "pid"), *qp.host_args("host1")]
    proc = subprocess.Popen(argv)
    try:
        deadline = time.monotonic() + 10
        while qp.cmdline(proc.pid)[-2:] != argv[-2:]:
            assert time.monotonic() < deadline, "the stand-in QEMU did not start"
            time.sleep(0.02)
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_host_still_sees_and_ends_its_qemu_of_a_guest_evacuated_away(tmp_path, stale_qemu):
    """Regression: host1's agent died, its QEMU went on, host2 booted the disk (owner file
    host2): host1's list skipped the guest and a disk-keeping destroy left the QEMU running,
    so two QEMUs wrote one disk for ever."""
    host1, host2 = _driver(tmp_path, "host1"), _driver(tmp_path, "host2")
    _guest_dir(host1, "u-5", "host2")
    (host1.instances_dir / "u-5" / "pid").write_text("1")  # host2's QEMU's
    assert qp.host_of(qp.cmdline(stale_qemu.pid)) == "host1"
    assert host1.list_instances() == ["u-5"]
    assert host2.list_instances() == ["u-5"]
    host2.destroy("u-5", destroy_disks=False)  # not host2's process: it stays
    assert stale_qemu.poll() is None
    host1.destroy("u-5", destroy_disks=False)
    assert stale_qemu.wait(timeout=10) == -signal.SIGKILL
    assert host1.list_instances() == []
    assert (host1.instances_dir / "u-5" / "disk").read_bytes() == b"data the guest wrote"
    assert (host1.instances_dir / "u-5" / "pid").read_text() == "1"
    assert qsh.owner(host1.instances_dir / "u-5") == "host2"


def test_the_host_named_in_qemus_argv_reads_back():
    assert qp.host_of(["qemu-system-x86_64", *qp.host_args("rack,2")]) == "rack,2"
    assert qp.host_of(["qemu-system-x86_64", "-object", "secret,id=x,data=y"]) is None
