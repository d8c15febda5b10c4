"""The hypervisor driver contract (``pocketstack.compute.drivers.base``), run against every driver.

The drivers are those registered in ``pocketstack.common.drivers.COMPUTE_DRIVERS``. ``fake``
always runs; ``qemu`` tests boot real guests (the project's guest image from
``pocketstack.guest.build.ensure_image``, cached where ``pocketstack up`` caches it) and are marked
``slow`` (as is every driver whose capabilities say ``real_guests``). Every test cleans up: its
guests are destroyed and the teardown checks that no directory and no ``pocketstack-<uuid>``
QEMU process of the test survives.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
import uuid as uuidlib
from pathlib import Path

import pytest

from pocketstack.common.config import Config
from pocketstack.common.drivers import COMPUTE_DRIVERS
from pocketstack.compute.drivers.base import (
    DriverError,
    InstanceNotRunning,
    PowerState,
)
from tests.helpers import wait_until

BOOT_TIMEOUT = 60.0

#: every registered driver; those booting real guests are ``slow``.
DRIVERS = [
    pytest.param(
        name,
        id=name,
        marks=[pytest.mark.slow]
        if COMPUTE_DRIVERS.load_class(name).capabilities.get("real_guests")
        else [],
    )
    for name in COMPUTE_DRIVERS.names
]


@pytest.fixture(scope="session")
def guest_image() -> Path:
    """The project's bootable guest image (built once, cached across sessions in the cache
    ``pocketstack up`` and the e2e tests use: ``guest_cache_dir()``)."""
    from pocketstack.bootstrap import guest_cache_dir
    from pocketstack.guest.build import ensure_image

    return ensure_image(guest_cache_dir())


def _processes_of(uuids: set[str]) -> list[int]:
    """Pids of live (non-zombie) processes whose argv names ``pocketstack-<uuid>``."""
    names = {f"pocketstack-{u}".encode() for u in uuids}
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if stat.rsplit(b")", 1)[1].split()[0] != b"Z" and names & set(argv):
            pids.append(int(entry))
    return pids


class Harness:
    """A driver over a temp state directory plus spec building and cleanup bookkeeping."""

    def __init__(
        self,
        name: str,
        state_dir: Path,
        request: pytest.FixtureRequest,
        host: str = "test-host",
        **conf: object,
    ):
        """``conf``: more options (e.g. a shared ``instances_path``); ``host`` its name."""
        self.name = name
        self.conf = Config.load({"state_dir": str(state_dir), "accel": "tcg", **conf}, environ={})
        self.driver = COMPUTE_DRIVERS.load(name, self.conf)
        self.driver.init_host(host)
        if name == "qemu":
            self.driver.soft_reboot_timeout = 20.0
        self.image = request.getfixturevalue("guest_image") if name == "qemu" else None
        self.tmp = state_dir.parent
        self.uuids: set[str] = set()

    @property
    def real(self) -> bool:
        return bool(self.driver.capabilities.get("real_guests"))

    def spec(self, **changes) -> dict:
        uuid = str(uuidlib.uuid4())
        self.uuids.add(uuid)
        hostname = "vm-" + uuid[:8]
        spec = {
            "uuid": uuid,
            "name": hostname,
            "hostname": hostname,
            "project_id": "p1",
            "vcpus": 1,
            "memory_mb": 128,
            "root_gb": 1,
            "ephemeral_gb": 0,
            "image": {
                "id": "img1",
                "disk_format": "qcow2",
                "path": str(self.image or "/nonexistent"),
                "properties": {},
            },
            "network_info": [
                {
                    "port_id": "0a1b2c3d-1111-2222-3333-" + uuid[:12],
                    "network_id": "net1",
                    "mac_address": "fa:16:3e:" + ":".join(uuid[i : i + 2] for i in (0, 2, 4)),
                    "mtu": 1450,
                    "devname": "tap" + uuid[:11],
                    "vif_type": "noop",
                    "fixed_ips": [
                        {
                            "ip_address": "10.0.0.5",
                            "subnet_id": "sub1",
                            "cidr": "10.0.0.0/24",
                            "gateway_ip": "10.0.0.1",
                            "enable_dhcp": False,
                            "dns_nameservers": [],
                        }
                    ],
                }
            ],
            "metadata": {"role": "test"},
            "user_data": None,
            "public_keys": {"mykey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIContract test"},
            "availability_zone": "nova",
            "launch_index": 0,
        }
        spec.update(changes)
        return spec

    def wait_console(
        self, uuid: str, text: str, count: int = 1, timeout: float = BOOT_TIMEOUT
    ) -> str:
        """Poll the console log until ``text`` appears ``count`` times; return the log."""
        log = ""

        def shown() -> str | None:
            nonlocal log
            log = self.driver.get_console_output(uuid)
            return log if log.count(text) >= count else None

        return wait_until(
            shown,
            timeout,
            f"{text!r} x{count} on the console",
            interval=0.1,
            detail=lambda: log[-3000:],
        )

    def ready_line(self, spec: dict) -> str:
        return f"pocketstack guest {spec['hostname']} ready"

    def cleanup(self) -> None:
        errors = []
        for uuid in self.uuids:
            try:
                self.driver.destroy(uuid)
            except Exception as exc:  # keep destroying the others
                errors.append(f"{uuid}: {exc}")
        instances = Path(self.conf.state_dir, "instances")
        left = [p.name for p in instances.iterdir()] if instances.is_dir() else []
        procs = _processes_of(self.uuids)
        assert not errors and not left and not procs, (errors, left, procs)


@pytest.fixture(params=DRIVERS)
def h(request, tmp_path):
    harness = Harness(request.param, tmp_path / "state", request)
    try:
        yield harness
    finally:
        harness.cleanup()


def _assert_gone(h: Harness, uuid: str) -> None:
    assert uuid not in h.driver.list_instances()
    assert h.driver.get_power_state(uuid) == PowerState.NOSTATE
    assert not Path(h.conf.state_dir, "instances", uuid).exists()
    assert _processes_of({uuid}) == []


# ------------------------------------------------------------------------------ tests


def test_spawn_running_and_listed(h):
    spec = h.spec()
    h.driver.spawn(spec)
    assert h.driver.get_power_state(spec["uuid"]) == PowerState.RUNNING
    assert spec["uuid"] in h.driver.list_instances()


def test_console_shows_ready_line_with_hostname(h):
    spec = h.spec()
    h.driver.spawn(spec)
    log = h.wait_console(spec["uuid"], h.ready_line(spec))
    tail = h.driver.get_console_output(spec["uuid"], length=5)
    assert len(tail.splitlines()) <= 5 and tail in log
    assert "\x1b" not in log  # no terminal control sequences reach `console log show`


def test_user_data_runs_in_guest(h):
    if not h.real:
        pytest.skip("user_data runs only in real guests")
    marker = "USERDATA-OK-" + uuidlib.uuid4().hex[:8]
    script = f"#!/bin/sh\necho {marker}\n".encode()
    spec = h.spec(user_data=base64.b64encode(script).decode())
    h.driver.spawn(spec)
    log = h.wait_console(spec["uuid"], h.ready_line(spec))
    assert marker in log


def test_power_off_then_on(h):
    spec = h.spec()
    h.driver.spawn(spec)
    h.wait_console(spec["uuid"], h.ready_line(spec))
    h.driver.power_off(spec["uuid"], timeout=30)
    assert h.driver.get_power_state(spec["uuid"]) == PowerState.SHUTDOWN
    assert spec["uuid"] in h.driver.list_instances()
    h.driver.power_off(spec["uuid"], timeout=30)  # already off: fine
    h.driver.power_on(spec)
    assert h.driver.get_power_state(spec["uuid"]) == PowerState.RUNNING
    log = h.wait_console(spec["uuid"], h.ready_line(spec), count=2)
    assert "power" in log.lower()


def test_reboot_hard(h):
    spec = h.spec()
    h.driver.spawn(spec)
    h.wait_console(spec["uuid"], h.ready_line(spec))
    h.driver.reboot(spec, hard=True)
    assert h.driver.get_power_state(spec["uuid"]) == PowerState.RUNNING
    h.wait_console(spec["uuid"], h.ready_line(spec), count=2)


def test_reboot_hard_starts_a_stopped_guest(h):
    spec = h.spec()
    h.driver.spawn(spec)
    h.driver.power_off(spec["uuid"], timeout=5)
    h.driver.reboot(spec, hard=True)
    assert h.driver.get_power_state(spec["uuid"]) == PowerState.RUNNING


def test_reboot_soft(h):
    spec = h.spec()
    h.driver.spawn(spec)
    h.wait_console(spec["uuid"], h.ready_line(spec))
    h.driver.reboot(spec, hard=False)
    assert h.driver.get_power_state(spec["uuid"]) == PowerState.RUNNING
    h.wait_console(spec["uuid"], h.ready_line(spec), count=2)


def test_reboot_soft_of_stopped_guest_raises(h):
    spec = h.spec()
    h.driver.spawn(spec)
    h.driver.power_off(spec["uuid"], timeout=5)
    with pytest.raises(InstanceNotRunning):
        h.driver.reboot(spec, hard=False)


def test_destroy_removes_everything_and_twice_is_ok(h):
    spec = h.spec()
    h.driver.spawn(spec)
    h.driver.destroy(spec["uuid"])
    _assert_gone(h, spec["uuid"])
    h.driver.destroy(spec["uuid"])
    h.driver.destroy(str(uuidlib.uuid4()))  # never existed


def test_destroy_stopped_guest(h):
    spec = h.spec()
    h.driver.spawn(spec)
    h.driver.power_off(spec["uuid"], timeout=5)
    h.driver.destroy(spec["uuid"])
    _assert_gone(h, spec["uuid"])


def _broken(h: Harness) -> dict:
    if h.name == "fake":
        return h.spec(
            image={
                "id": "bad",
                "disk_format": "qcow2",
                "path": "/nonexistent",
                "properties": {"fake_spawn_error": "broken image"},
            }
        )
    bad = h.tmp / "broken.qcow2"
    bad.write_bytes(b"this is not a disk image\n" * 100)
    return h.spec(image={"id": "bad", "disk_format": "qcow2", "path": str(bad), "properties": {}})


def test_spawn_broken_image_raises_and_leaves_nothing(h):
    spec = _broken(h)
    with pytest.raises(DriverError) as info:
        h.driver.spawn(spec)
    assert info.value.message
    _assert_gone(h, spec["uuid"])


def test_spawn_missing_image_raises_and_leaves_nothing(h):
    if not h.real:
        pytest.skip("the fake driver does not read images")
    spec = h.spec(
        image={"id": "x", "disk_format": "qcow2", "path": str(h.tmp / "missing"), "properties": {}}
    )
    with pytest.raises(DriverError):
        h.driver.spawn(spec)
    _assert_gone(h, spec["uuid"])


def test_spawn_existing_uuid_raises_and_keeps_guest(h):
    spec = h.spec()
    h.driver.spawn(spec)
    with pytest.raises(DriverError):
        h.driver.spawn(spec)
    assert h.driver.get_power_state(spec["uuid"]) == PowerState.RUNNING


def test_new_driver_readopts_running_guest(h):
    if not h.real:
        pytest.skip("the fake driver keeps guests in memory only")
    spec = h.spec()
    h.driver.spawn(spec)
    h.wait_console(spec["uuid"], h.ready_line(spec))  # acpid runs: power_off is graceful
    again = COMPUTE_DRIVERS.load(h.name, h.conf)
    assert spec["uuid"] in again.list_instances()
    assert again.get_power_state(spec["uuid"]) == PowerState.RUNNING
    again.power_off(spec["uuid"], timeout=30)
    assert h.driver.get_power_state(spec["uuid"]) == PowerState.SHUTDOWN


def test_unknown_instance(h):
    uuid = str(uuidlib.uuid4())
    assert h.driver.get_power_state(uuid) == PowerState.NOSTATE
    with pytest.raises(DriverError):
        h.driver.get_console_output(uuid)


def test_concurrent_spawns(h):
    count = 40 if h.name == "fake" else 2
    specs = [h.spec() for _ in range(count)]
    errors: list[Exception] = []

    def boot(spec):
        try:
            h.driver.spawn(spec)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=boot, args=(s,)) for s in specs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    listed = set(h.driver.list_instances())
    assert {s["uuid"] for s in specs} <= listed
    for s in specs:
        assert h.driver.get_power_state(s["uuid"]) == PowerState.RUNNING


def test_host_resources(h):
    res = h.driver.get_host_resources()
    for key in ("vcpus", "memory_mb", "local_gb", "hypervisor_version"):
        assert isinstance(res[key], int) and res[key] > 0, key
    assert isinstance(res["hypervisor_type"], str) and isinstance(res["cpu_info"], str)
    forced = COMPUTE_DRIVERS.load(
        h.name, h.conf.replace(compute_vcpus=3, compute_memory_mb=1000, compute_disk_gb=7)
    )
    res = forced.get_host_resources()
    assert (res["vcpus"], res["memory_mb"], res["local_gb"]) == (3, 1000, 7)


def test_capabilities_declared(h):
    caps = h.driver.capabilities
    assert set(caps) >= {"console_log", "real_guests", "config_drive"}
    assert all(isinstance(v, bool) for v in caps.values())


def test_qemu_orphan_process_listed_and_destroyed(h):
    if h.name != "qemu":
        pytest.skip("qemu only: a QEMU whose instance directory was deleted")
    spec = h.spec()
    h.driver.spawn(spec)
    inst = Path(h.conf.state_dir, "instances", spec["uuid"])
    subprocess.run(["rm", "-rf", str(inst)], check=True)
    assert spec["uuid"] in h.driver.list_instances()
    h.driver.destroy(spec["uuid"])
    _assert_gone(h, spec["uuid"])


# ------------------------------------------------------------------------------ volumes


def test_volume_connector_is_os_bricks_shape(h):
    connector = h.driver.get_volume_connector("h1")
    assert connector == {
        "host": "h1",
        "ip": h.conf.local_ip or "127.0.0.1",
        "initiator": "iqn.2010-10.org.pocketstack:h1",
        "platform": "x86_64",
        "os_type": "linux",
        "multipath": False,
    }


def test_detaching_what_is_not_attached_succeeds_and_attach_needs_the_guest(h):
    uuid = str(uuidlib.uuid4())
    h.driver.detach_volume(uuid, str(uuidlib.uuid4()))  # unknown guest: nothing to do
    with pytest.raises(DriverError):
        h.driver.attach_volume(uuid, _nbd_device(str(uuidlib.uuid4()), 10809))
    spec = h.spec()
    h.driver.spawn(spec)
    h.driver.detach_volume(spec["uuid"], str(uuidlib.uuid4()))
    assert h.driver.attached_volumes(spec["uuid"]) == []


def _nbd_device(volume_id: str, port: int) -> dict:
    return {
        "volume_id": volume_id,
        "attachment_id": "a1",
        "device_name": "/dev/vdb",
        "boot_index": None,
        "disk_bus": "virtio",
        "connection_info": {
            "driver_volume_type": "nbd",
            "data": {"host": "127.0.0.1", "port": port, "export": "volume-" + volume_id},
        },
    }


@pytest.fixture
def nbd_export(tmp_path):
    """A 64 MiB raw file exported over NBD on a free loopback port by a
    qemu-storage-daemon this test starts (and kills by its pid): ``(volume_id, port)``."""
    from tests.helpers import free_port

    volume_id, port = str(uuidlib.uuid4()), free_port()
    raw = tmp_path / "volume.raw"
    subprocess.run(["truncate", "-s", "64M", str(raw)], check=True)
    proc = subprocess.Popen(
        [
            "qemu-storage-daemon",
            "--blockdev",
            f"driver=file,node-name=f,filename={raw}",
            "--nbd-server",
            f"addr.type=inet,addr.host=127.0.0.1,addr.port={port}",
            "--export",
            f"type=nbd,id=e,node-name=f,name=volume-{volume_id},writable=on",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield volume_id, port
    proc.kill()
    proc.wait()


def test_a_volume_is_attached_once_and_detached(h, nbd_export):
    volume_id, port = nbd_export
    spec = h.spec()
    h.driver.spawn(spec)
    if h.real:  # the guest must run its kernel to release a hot-plugged device
        h.wait_console(spec["uuid"], h.ready_line(spec), timeout=3 * BOOT_TIMEOUT)
    device = _nbd_device(volume_id, port)
    h.driver.attach_volume(spec["uuid"], device)
    assert h.driver.attached_volumes(spec["uuid"]) == [volume_id]
    with pytest.raises(DriverError):
        h.driver.attach_volume(spec["uuid"], device)
    assert h.driver.attached_volumes(spec["uuid"]) == [volume_id]
    h.driver.detach_volume(spec["uuid"], volume_id)
    assert h.driver.attached_volumes(spec["uuid"]) == []


def test_the_flavors_ephemeral_and_swap_are_local_disks_gone_with_the_guest(h):
    spec = h.spec(ephemeral_gb=1, swap_mb=64)
    uuid = spec["uuid"]
    h.driver.spawn(spec)
    sizes = {"disk.eph0": 1024**3, "disk.swap": 64 * 1024**2}
    if h.name == "fake":
        assert h.driver.local_disks(uuid) == sizes
    elif h.name == "qemu":  # what QEMU has attached, whatever the guest makes of it
        blocks = {b["device"]: b["inserted"] for b in h.driver._qmp(uuid, "query-block")}
        assert blocks["eph0"]["image"]["virtual-size"] == sizes["disk.eph0"]
        assert blocks["eph0"]["drv"] == "qcow2" and blocks["swap0"]["drv"] == "raw"
        assert blocks["swap0"]["image"]["virtual-size"] == sizes["disk.swap"]
        assert {"root", "config"} <= set(blocks)
        # root and config drive are found by label: the guest still boots and reads its
        # hostname from the config drive with the two extra disks before it
        h.wait_console(uuid, h.ready_line(spec))
        # a power cycle keeps the ephemeral disk and remakes a lost one
        inst = Path(h.conf.state_dir, "instances", uuid)
        eph = (inst / "disk.eph0").stat().st_ino
        h.driver.power_off(uuid, timeout=5)
        (inst / "disk.swap").unlink()
        h.driver.power_on(spec)
        assert (inst / "disk.eph0").stat().st_ino == eph
        assert (inst / "disk.swap").stat().st_size == sizes["disk.swap"]
    h.driver.destroy(uuid)
    _assert_gone(h, uuid)


def _console_bytes(address: str, send: bytes = b"", want: bytes = b"") -> bytes:
    """Connect to a console socket (``get_console``'s ``unix``), send ``send``, read until
    ``want`` shows (or 20 s pass); the bytes read."""
    import socket
    import time

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(3)
    if address.startswith("\0"):
        sock.connect(address)
    else:  # a temp directory's path may not fit sun_path: through the directory's fd
        dir_fd = os.open(os.path.dirname(address), os.O_PATH | os.O_DIRECTORY)
        try:
            sock.connect(f"/proc/self/fd/{dir_fd}/{os.path.basename(address)}")
        finally:
            os.close(dir_fd)
    got = b""
    deadline = time.monotonic() + 20
    with sock:
        while time.monotonic() < deadline and (not got or want not in got):
            if send:
                sock.sendall(send)
            try:
                got += sock.recv(4096)
            except TimeoutError:
                continue
    return got


def test_consoles_of_a_running_guest(h):
    spec = h.spec()
    h.driver.spawn(spec)
    h.wait_console(spec["uuid"], h.ready_line(spec))
    vnc = h.driver.get_console(spec["uuid"], "vnc")
    assert _console_bytes(vnc["unix"]).startswith(b"RFB 003.00")  # an RFB server greets
    serial = h.driver.get_console(spec["uuid"], "serial")
    # the guest's serial port: the real guest's getty answers Enter with a login prompt,
    # the fake port sends the boot log
    want = b"login:" if h.real else h.ready_line(spec).encode()
    assert want in _console_bytes(serial["unix"], send=b"\r", want=want)
    # a serial session does not take the console log away
    assert h.ready_line(spec) in h.driver.get_console_output(spec["uuid"])
    h.driver.power_off(spec["uuid"], timeout=30)
    with pytest.raises(DriverError):
        h.driver.get_console(spec["uuid"], "vnc")
    with pytest.raises(DriverError):
        h.driver.get_console(spec["uuid"], "spice")


def _qcow2_standalone(path: Path, real: bool) -> None:
    """``path`` is a qcow2 image with no backing file (a snapshot's upload)."""
    assert path.read_bytes()[:4] == b"QFI\xfb"
    if real:
        out = subprocess.run(
            ["qemu-img", "info", "--output=json", str(path)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert '"format": "qcow2"' in out and "backing-filename" not in out


def test_snapshots_of_a_running_paused_and_stopped_guest(h, tmp_path):
    spec = h.spec(image=dict(h.spec()["image"], properties={"hw_qemu_guest_agent": "yes"}))
    uuid = spec["uuid"]
    h.driver.spawn(spec)
    h.wait_console(uuid, h.ready_line(spec))
    # running: the guest's agent (the fake's, or qemu-ga in the guest image) freezes
    details = h.driver.snapshot(uuid, str(tmp_path / "running.qcow2"), True)
    assert "running guest, quiesced" in details
    _qcow2_standalone(tmp_path / "running.qcow2", h.real)
    assert h.driver.get_power_state(uuid) == PowerState.RUNNING
    h.driver.pause(uuid)
    h.driver.snapshot(uuid, str(tmp_path / "paused.qcow2"), False)
    assert h.driver.get_power_state(uuid) == PowerState.PAUSED  # stays paused
    h.driver.unpause(uuid)
    h.driver.power_off(uuid, timeout=30)
    details = h.driver.snapshot(uuid, str(tmp_path / "stopped.qcow2"), True)
    assert "stopped guest" in details
    _qcow2_standalone(tmp_path / "stopped.qcow2", h.real)
    assert h.driver.get_power_state(uuid) == PowerState.SHUTDOWN
    with pytest.raises(DriverError):
        h.driver.snapshot(str(uuidlib.uuid4()), str(tmp_path / "x.qcow2"), False)
