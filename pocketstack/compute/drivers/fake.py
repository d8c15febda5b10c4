"""The fake hypervisor driver: the reference implementation of the driver contract.

No process, no disk: guests live in a dict ``uuid -> _FakeGuest`` in memory, guarded by one
lock so many spawns may run at once (the API, IaC and scale tests boot hundreds of them).
Power actions only flip states; the console log is a short plausible boot log that ends with
the same ``pocketstack guest <hostname> ready`` line the real guest image prints.

Failure injection (for rollback tests): an image property ``fake_spawn_error`` makes ``spawn``
raise ``DriverError`` with that text, leaving nothing behind, like a real broken image; the
attribute ``fail_attach`` (a message) makes ``attach_volume`` fail the same way.

Root disk: each guest has a small text "disk" (``disk_contents``; ``write_disk`` plays a
guest writing a file), made from the image's id at spawn. On shared instance storage
(``[compute] instances_shared_storage``) it is the file ``<instances_path>/<uuid>/disk``,
which another fake host sharing the directory sees: ``spawn`` with ``keep_disks`` (an
evacuation) boots it as it is, ``destroy(destroy_disks=False)`` leaves it. Elsewhere it is
kept in memory and goes with the guest.

Volumes: the guest keeps its block devices (from the spec, and hot-plugged ones) with the
size it sees; ``attached_volumes`` lists them. The flavor's ephemeral and swap disks are
recorded with their sizes (``local_disks``), as the qemu driver would make them.
"""

from __future__ import annotations

import shutil
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pocketstack.compute import instance_storage
from pocketstack.compute.drivers import local_disks as ld
from pocketstack.compute.drivers.base import (
    BlockDevice,
    ComputeDriver,
    DriverError,
    GuestAgentError,
    InstanceNotRunning,
    InstanceSpec,
    PowerState,
)
from pocketstack.compute.drivers.fake_console import FakeConsoleServer
from pocketstack.compute.drivers.fake_live_migration import FakeLiveMigration

#: Host capacity reported when ``conf.compute_*`` are 0 (big enough for scale tests).
DEFAULT_VCPUS = 64
DEFAULT_MEMORY_MB = 128 * 1024
DEFAULT_DISK_GB = 2 * 1024


@dataclass
class _FakeGuest:
    spec: InstanceSpec
    state: PowerState = PowerState.RUNNING
    console: list[str] = field(default_factory=list)
    #: volume id -> (block device, size in bytes the guest sees)
    volumes: dict[str, tuple[BlockDevice, int]] = field(default_factory=dict)
    #: the flavor's local disks, file name -> size in bytes (``local_disks.wanted``)
    local_disks: dict[str, int] = field(default_factory=dict)
    #: the image the guest runs rescued from (``rescue``), else None
    rescue_image: dict[str, Any] | None = None
    #: user -> password set through the (fake) guest agent
    passwords: dict[str, str] = field(default_factory=dict)
    #: port id -> the hot-plugged NIC's vif (``network_info`` entry)
    nics: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: when the guest was created (``time.monotonic``), for its diagnostics' uptime
    started: float = field(default_factory=time.monotonic)
    #: the root disk's text when it is kept in memory (local instance storage)
    disk: str = ""


#: the diagnostics' ``state`` of each power state (Nova's enum)
DIAGNOSTICS_STATES = {
    PowerState.RUNNING: "running",
    PowerState.PAUSED: "paused",
    PowerState.SHUTDOWN: "shutdown",
    PowerState.CRASHED: "crashed",
    PowerState.SUSPENDED: "suspended",
}


class FakeDriver(FakeLiveMigration, ComputeDriver):
    """In-memory driver: instant spawns, power actions that flip states, a fake console.

    Spawning a uuid that already exists raises ``DriverError`` (as a real hypervisor would).
    """

    name = "fake"
    capabilities = {"console_log": True, "real_guests": False, "config_drive": False}

    def __init__(self, conf: Any):
        super().__init__(conf)
        self._lock = threading.Lock()
        self._guests: dict[str, _FakeGuest] = {}
        #: guests parked on a move's source (``park_instance``) until its end
        self._parked: dict[str, _FakeGuest] = {}
        #: when set, ``snapshot`` raises ``DriverError`` with this message
        self.fail_snapshot: str | None = None
        #: when set, ``attach_volume`` raises ``DriverError`` with this message
        self.fail_attach: str | None = None
        #: (uuid, kind) -> the guest's console server, made on first ``get_console``
        self._consoles: dict[tuple[str, str], FakeConsoleServer] = {}
        self.shared_storage = bool(getattr(conf, "instances_shared_storage", False))
        self.instances_dir = Path(instance_storage.instances_path(conf))

    def spawn(self, spec: InstanceSpec) -> None:
        """Record the guest as RUNNING and write its boot log.

        Raises:
            DriverError: the uuid exists, the image property ``fake_spawn_error`` is set,
                or ``keep_disks`` finds no disk on shared storage to keep.
        """
        uuid = spec["uuid"]
        error = ((spec.get("image") or {}).get("properties") or {}).get("fake_spawn_error")
        if error:
            raise DriverError(str(error))
        with self._lock:
            if uuid in self._guests:
                raise DriverError(f"instance {uuid} already exists on this host")
            guest = _FakeGuest(spec=dict(spec))
            guest.disk = self._make_disk(spec)
            for device in spec.get("block_devices") or []:
                guest.volumes[device["volume_id"]] = (dict(device), 0)
            guest.local_disks = {n: size for n, _fmt, size in ld.wanted(spec)}
            guest.console.extend(_boot_log(spec))
            self._guests[uuid] = guest

    def _disk_file(self, uuid: str) -> Path:
        return self.instances_dir / uuid / "disk"

    def _make_disk(self, spec: InstanceSpec) -> str:
        """The new guest's root disk text (see the module doc); called under the lock."""
        fresh = f"image {(spec.get('image') or {}).get('id')}\n"
        if not self.shared_storage:
            if spec.get("keep_disks"):
                raise DriverError(f"instance {spec['uuid']}: no shared disk to keep")
            return fresh
        path = self._disk_file(spec["uuid"])
        if spec.get("keep_disks"):
            if not path.is_file():
                raise DriverError(f"instance {spec['uuid']} has no disk in {path.parent} to keep")
            return ""
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(fresh)
        return ""

    def disk_contents(self, uuid: str) -> str:
        """The guest's root disk text (the shared file's, on shared storage).

        Raises:
            DriverError: unknown instance.
        """
        with self._lock:
            guest = self._get(uuid)
            return self._disk_file(uuid).read_text() if self.shared_storage else guest.disk

    def write_disk(self, uuid: str, text: str) -> None:
        """Append ``text`` to the guest's root disk (a guest writing a file).

        Raises:
            DriverError: unknown instance.
        """
        with self._lock:
            guest = self._get(uuid)
            if self.shared_storage:
                with self._disk_file(uuid).open("a") as f:
                    f.write(text)
            else:
                guest.disk += text

    def destroy(self, uuid: str, destroy_disks: bool = True) -> None:
        """Forget the guest (and stop its console servers); succeeds if it is unknown. On
        shared storage its disk file is deleted too unless ``destroy_disks`` is False."""
        with self._lock:
            self._guests.pop(uuid, None)
            if self.shared_storage and destroy_disks:
                shutil.rmtree(self.instances_dir / uuid, ignore_errors=True)
            consoles = [self._consoles.pop(k) for k in list(self._consoles) if k[0] == uuid]
        for server in consoles:
            server.close()

    def get_console(self, uuid: str, kind: str) -> dict[str, Any]:
        """``{"unix": <abstract socket>}`` of the guest's fake console server
        (``fake_console``): ``vnc`` greets as an RFB 3.8 server, ``serial`` sends the
        console log then echoes.

        Raises:
            InstanceNotRunning: the guest is not running or paused; DriverError: unknown
                instance or kind.
        """
        if kind not in ("vnc", "serial"):
            raise DriverError(f"the fake driver has no {kind} console")
        with self._lock:
            guest = self._get(uuid)
            if guest.state not in (PowerState.RUNNING, PowerState.PAUSED):
                raise InstanceNotRunning(f"instance {uuid} is not running")
            server = self._consoles.get((uuid, kind))
            if server is None:
                server = FakeConsoleServer(uuid, kind, lambda: self._console_lines(uuid))
                self._consoles[(uuid, kind)] = server
        return {"unix": server.address}

    def _console_lines(self, uuid: str) -> list[str]:
        with self._lock:
            guest = self._guests.get(uuid)
            return list(guest.console) if guest else []

    def power_off(self, uuid: str, timeout: float = 30.0) -> None:
        """Flip to SHUTDOWN (already off is fine)."""
        with self._lock:
            guest = self._get(uuid)
            if guest.state != PowerState.SHUTDOWN:
                guest.console.append(_stamp("reboot: Power down"))
            guest.state = PowerState.SHUTDOWN

    def power_on(self, spec: InstanceSpec) -> None:
        """Flip to RUNNING and append a fresh boot log."""
        with self._lock:
            guest = self._get(spec["uuid"])
            if guest.state != PowerState.RUNNING:
                guest.console.extend(_boot_log(guest.spec))
            guest.state = PowerState.RUNNING

    def reboot(self, spec: InstanceSpec, hard: bool = False) -> None:
        """Soft needs a running guest (``InstanceNotRunning``); hard starts a stopped one
        (a suspended one forgets its saved state)."""
        with self._lock:
            guest = self._get(spec["uuid"])
            if not hard and guest.state != PowerState.RUNNING:
                raise InstanceNotRunning(f"instance {spec['uuid']} is not running")
            guest.console.append(_stamp("reboot: Restarting system"))
            guest.console.extend(_boot_log(guest.spec))
            guest.state = PowerState.RUNNING

    def snapshot(self, uuid: str, dest: str, quiesce: bool) -> str:
        """Write a placeholder qcow2 (a bare 512-byte header of the flavor's root size) to
        ``dest``; "quiesced" when ``quiesce`` and the guest's image declares
        ``hw_qemu_guest_agent`` and it runs.

        Raises:
            DriverError: unknown instance, or ``fail_snapshot`` is set (its message).
        """
        with self._lock:
            guest = self._get(uuid)
            if self.fail_snapshot:
                raise DriverError(self.fail_snapshot)
            spec = guest.spec
            running = guest.state in (PowerState.RUNNING, PowerState.PAUSED)
        root_gb = int(spec.get("root_gb") or 1)
        header = bytearray(512)
        struct.pack_into(">4sIQIIQ", header, 0, b"QFI\xfb", 3, 0, 0, 16, root_gb << 30)
        with open(dest, "wb") as out:
            out.write(bytes(header))
        props = (spec.get("image") or {}).get("properties") or {}
        agent = str(props.get("hw_qemu_guest_agent", "")).lower() in ("yes", "true", "1")
        if not running:
            return "Snapshot of the stopped guest's disk (no process: nothing to quiesce)."
        if quiesce and agent:
            return (
                "Snapshot of the running guest, quiesced (filesystems frozen by the guest agent)."
            )
        return "Snapshot of the running guest, not quiesced: no guest agent answered."

    def pause(self, uuid: str) -> None:
        """RUNNING -> PAUSED (``InstanceNotRunning`` otherwise)."""
        self._flip(uuid, (PowerState.RUNNING,), PowerState.PAUSED, "pocketstack: paused")

    def unpause(self, uuid: str) -> None:
        """PAUSED -> RUNNING (``InstanceNotRunning`` otherwise)."""
        self._flip(uuid, (PowerState.PAUSED,), PowerState.RUNNING, "pocketstack: unpaused")

    def suspend(self, uuid: str) -> None:
        """RUNNING -> SUSPENDED (``InstanceNotRunning`` otherwise)."""
        self._flip(uuid, (PowerState.RUNNING,), PowerState.SUSPENDED, "PM: suspend entry (disk)")

    def resume(self, spec: InstanceSpec) -> None:
        """SUSPENDED -> RUNNING (a running guest is left alone); ``DriverError`` when the
        guest is neither."""
        with self._lock:
            guest = self._get(spec["uuid"])
            if guest.state == PowerState.RUNNING:
                return
            if guest.state != PowerState.SUSPENDED:
                raise DriverError(f"instance {spec['uuid']} has no saved state to resume")
            guest.state = PowerState.RUNNING
            guest.console.append(_stamp("PM: resume from disk"))

    def rescue(self, spec: InstanceSpec, rescue_image: dict[str, Any]) -> None:
        """Record the rescue image and a rescue boot log; the guest runs."""
        with self._lock:
            guest = self._get(spec["uuid"])
            guest.rescue_image = dict(rescue_image)
            guest.state = PowerState.RUNNING
            guest.console.append(_stamp(f"pocketstack: rescue boot from {rescue_image['id']}"))
            guest.console.extend(_boot_log(guest.spec))

    def unrescue(self, spec: InstanceSpec) -> None:
        """Forget the rescue image and boot again from the root disk."""
        with self._lock:
            guest = self._get(spec["uuid"])
            guest.rescue_image = None
            guest.state = PowerState.RUNNING
            guest.console.extend(_boot_log(guest.spec))

    def rescued_from(self, uuid: str) -> str | None:
        """The id of the image the guest runs rescued from, else None."""
        with self._lock:
            image = self._get(uuid).rescue_image
            return image["id"] if image else None

    def set_admin_password(self, uuid: str, user: str, password: str) -> None:
        """Record the password when the guest runs and its image declares
        ``hw_qemu_guest_agent``, else ``GuestAgentError`` (as a guest without an agent)."""
        with self._lock:
            guest = self._get(uuid)
            props = (guest.spec.get("image") or {}).get("properties") or {}
            if str(props.get("hw_qemu_guest_agent", "")).lower() not in ("yes", "true", "1"):
                raise GuestAgentError("QEMU guest agent is not enabled")
            if guest.state != PowerState.RUNNING:
                raise GuestAgentError(f"the guest agent of {uuid} is not running")
            guest.passwords[user] = password

    def password_of(self, uuid: str, user: str) -> str | None:
        """The password last set for ``user`` (tests)."""
        with self._lock:
            return self._get(uuid).passwords.get(user)

    def inject_nmi(self, uuid: str) -> None:
        """A kernel panic line on the console of a guest that has a process."""
        with self._lock:
            guest = self._get(uuid)
            if guest.state not in (PowerState.RUNNING, PowerState.PAUSED):
                raise InstanceNotRunning(f"instance {uuid} is not running")
            guest.console.append(_stamp("Kernel panic - not syncing: NMI: Not continuing"))

    def reset_network(self, spec: InstanceSpec) -> None:
        """A console line per VIF (nothing to plug)."""
        with self._lock:
            guest = self._get(spec["uuid"])
            for vif in guest.spec.get("network_info") or []:
                guest.console.append(_stamp(f"pocketstack: replugged {vif.get('devname')}"))

    def _flip(self, uuid: str, allowed: tuple[PowerState, ...], to: PowerState, line: str) -> None:
        with self._lock:
            guest = self._get(uuid)
            if guest.state not in allowed:
                raise InstanceNotRunning(f"instance {uuid} is {guest.state.name}")
            guest.state = to
            guest.console.append(_stamp(line))

    # -- resize and cold migration: no files; a parked guest waits in ``_parked``

    def resize_target_dir(self, uuid: str) -> str:
        """Nothing to make; ``DriverError`` when the guest exists here (not parked)."""
        with self._lock:
            if uuid in self._guests:
                raise DriverError(f"instance {uuid} already exists on this host")
        return ""

    def park_instance(self, uuid: str) -> None:
        """Power off and park the guest (image property ``fake_migrate_error``: fail,
        leaving it off and unparked)."""
        with self._lock:
            guest = self._get(uuid)
            props = (guest.spec.get("image") or {}).get("properties") or {}
            if guest.state != PowerState.SHUTDOWN:
                guest.console.append(_stamp("reboot: Power down"))
            guest.state = PowerState.SHUTDOWN
            if props.get("fake_migrate_error"):
                raise DriverError(str(props["fake_migrate_error"]))
            self._parked[uuid] = self._guests.pop(uuid)

    def copy_parked_disks(self, uuid: str, dest_dir: str) -> None:
        """Nothing to copy; ``DriverError`` when the guest is not parked."""
        with self._lock:
            if uuid not in self._parked:
                raise DriverError(f"instance {uuid} is not parked on this host")

    def finish_migration(self, spec: InstanceSpec, power_on: bool) -> None:
        """A new guest of ``spec``'s flavor (running unless ``power_on`` is false)."""
        self.spawn(spec)
        if not power_on:
            self.power_off(spec["uuid"])

    def confirm_migration(self, uuid: str) -> None:
        """Forget the parked guest."""
        with self._lock:
            self._parked.pop(uuid, None)

    def finish_revert_migration(self, spec: InstanceSpec, power_on: bool) -> None:
        """The parked guest back, with ``spec``; running when ``power_on``."""
        with self._lock:
            guest = self._parked.pop(spec["uuid"], None)
            if guest is None:
                raise DriverError(f"instance {spec['uuid']} has no parked guest on this host")
            guest.spec = dict(spec)
            self._guests[spec["uuid"]] = guest
        if power_on:
            self.power_on(spec)

    def parked_instances(self) -> list[str]:
        """Uuids of the parked guests."""
        with self._lock:
            return list(self._parked)

    def get_power_state(self, uuid: str) -> PowerState:
        """The recorded state; ``NOSTATE`` for an unknown uuid."""
        with self._lock:
            guest = self._guests.get(uuid)
            return guest.state if guest else PowerState.NOSTATE

    def list_instances(self) -> list[str]:
        """Uuids of every recorded guest."""
        with self._lock:
            return list(self._guests)

    def get_console_output(self, uuid: str, length: int | None = None) -> str:
        """The fake boot log (last ``length`` lines when given).

        Raises:
            DriverError: unknown instance.
        """
        with self._lock:
            lines = list(self._get(uuid).console)
        if length is not None:
            lines = lines[-length:] if length > 0 else []
        return "".join(line + "\n" for line in lines)

    def get_host_resources(self) -> dict[str, Any]:
        """64 vCPUs / 128 GiB / 2 TiB unless ``conf.compute_*`` are non-zero."""
        conf = self.conf
        return {
            "vcpus": getattr(conf, "compute_vcpus", 0) or DEFAULT_VCPUS,
            "memory_mb": getattr(conf, "compute_memory_mb", 0) or DEFAULT_MEMORY_MB,
            "local_gb": getattr(conf, "compute_disk_gb", 0) or DEFAULT_DISK_GB,
            "hypervisor_type": "fake",
            "hypervisor_version": 1000,
            "cpu_info": "fake",
        }

    def attach_volume(self, uuid: str, block_device: BlockDevice) -> None:
        """Record the volume on the guest (running or not).

        Raises:
            DriverError: unknown instance, ``fail_attach`` set, or the volume is attached.
        """
        with self._lock:
            guest = self._get(uuid)
            if self.fail_attach:
                raise DriverError(self.fail_attach)
            volume_id = block_device["volume_id"]
            if volume_id in guest.volumes:
                raise DriverError(f"volume {volume_id} is already attached to {uuid}")
            guest.volumes[volume_id] = (dict(block_device), 0)
            guest.console.append(_stamp(f"virtio_blk: {block_device.get('device_name')} added"))

    def detach_volume(self, uuid: str, volume_id: str) -> None:
        """Forget the volume; succeeds when the guest or the volume is unknown."""
        with self._lock:
            guest = self._guests.get(uuid)
            if guest is not None:
                guest.volumes.pop(volume_id, None)

    def extend_volume(self, uuid: str, volume_id: str, new_size: int) -> None:
        """Record the size the guest sees.

        Raises:
            DriverError: unknown instance or volume not attached.
        """
        with self._lock:
            guest = self._get(uuid)
            if volume_id not in guest.volumes:
                raise DriverError(f"volume {volume_id} is not attached to {uuid}")
            guest.volumes[volume_id] = (guest.volumes[volume_id][0], new_size)

    def attach_interface(self, uuid: str, vif: dict[str, Any]) -> None:
        """Record the NIC on the guest (running or not).

        Raises:
            DriverError: unknown instance, or the port is plugged already.
        """
        with self._lock:
            guest = self._get(uuid)
            port_id = str(vif["port_id"])
            if port_id in guest.nics or any(
                v.get("port_id") == port_id for v in guest.spec.get("network_info") or []
            ):
                raise DriverError(f"port {port_id} is already plugged into {uuid}")
            guest.nics[port_id] = dict(vif)
            guest.console.append(_stamp(f"virtio_net: {vif.get('mac_address')} added"))

    def detach_interface(self, uuid: str, port_id: str) -> None:
        """Forget the port's NIC (hot-plugged or from the spec); succeeds when unknown."""
        with self._lock:
            guest = self._guests.get(uuid)
            if guest is None:
                return
            guest.nics.pop(port_id, None)
            nics = [v for v in guest.spec.get("network_info") or [] if v["port_id"] != port_id]
            guest.spec = {**guest.spec, "network_info": nics}

    def interfaces(self, uuid: str) -> list[str]:
        """The MAC addresses of the guest's NICs (booted with, then hot-plugged)."""
        with self._lock:
            guest = self._get(uuid)
            vifs = [*(guest.spec.get("network_info") or []), *guest.nics.values()]
            return [str(v["mac_address"]) for v in vifs]

    def get_diagnostics(self, uuid: str) -> dict[str, Any]:
        """Fixed plausible figures (Nova's fake driver does the same) for the guest's
        vCPUs, NICs and disks, in the 2.48 shape.

        Raises:
            DriverError: unknown instance.
        """
        with self._lock:
            guest = self._get(uuid)
            spec = guest.spec
            vifs = [*(spec.get("network_info") or []), *guest.nics.values()]
            disks = 1 + len(guest.volumes) + len(guest.local_disks)
            memory = int(spec.get("memory_mb") or 0)
            return {
                "state": DIAGNOSTICS_STATES.get(guest.state, "pending"),
                # Nova's API allows only its drivers' names; its own fake says libvirt too
                "driver": "libvirt",
                "hypervisor": "fake",
                "hypervisor_os": "fake-os",
                "uptime": int(time.monotonic() - guest.started),
                "config_drive": bool(spec.get("config_drive")),
                "num_cpus": int(spec.get("vcpus") or 1),
                "num_nics": len(vifs),
                "num_disks": disks,
                "memory_details": {"maximum": memory, "used": memory // 2},
                "cpu_details": [
                    {"id": i, "time": 17300000000, "utilisation": 15}
                    for i in range(int(spec.get("vcpus") or 1))
                ],
                "nic_details": [
                    {
                        "mac_address": str(v["mac_address"]),
                        "rx_octets": 2070139,
                        "rx_errors": 0,
                        "rx_drop": 0,
                        "rx_packets": 26701,
                        "rx_rate": None,
                        "tx_octets": 140208,
                        "tx_errors": 0,
                        "tx_drop": 0,
                        "tx_packets": 662,
                        "tx_rate": None,
                    }
                    for v in vifs
                ],
                "disk_details": [
                    {
                        "read_bytes": 262144,
                        "read_requests": 112,
                        "write_bytes": 5778432,
                        "write_requests": 488,
                        "errors_count": 0,
                    }
                    for _ in range(disks)
                ],
            }

    def attached_volumes(self, uuid: str) -> list[str]:
        """The volume ids recorded on the guest (``[]`` for an unknown one)."""
        with self._lock:
            guest = self._guests.get(uuid)
            return sorted(guest.volumes) if guest else []

    def volume_size(self, uuid: str, volume_id: str) -> int:
        """The size (bytes) the guest sees of a volume (0 until extended)."""
        with self._lock:
            return self._get(uuid).volumes[volume_id][1]

    def local_disks(self, uuid: str) -> dict[str, int]:
        """The guest's local ephemeral/swap disks: ``{"disk.eph0"|"disk.swap": bytes}``."""
        with self._lock:
            return dict(self._get(uuid).local_disks)

    def _get(self, uuid: str) -> _FakeGuest:
        guest = self._guests.get(uuid)
        if guest is None:
            raise DriverError(f"instance {uuid} not found on this host")
        return guest


def _stamp(text: str) -> str:
    return f"[{time.monotonic() % 10000:10.6f}] {text}"


def _boot_log(spec: InstanceSpec) -> list[str]:
    """A plausible serial log: kernel banner, config drive, keys, network, ready line."""
    hostname = spec.get("hostname") or spec.get("name") or spec["uuid"]
    lines = [
        _stamp("Linux version 6.1.0-fake (pocketstack fake hypervisor)"),
        _stamp(
            f"Command line: console=ttyS0 root=/dev/vda1 ({spec.get('vcpus', 1)} vCPU, "
            f"{spec.get('memory_mb', 0)} MB)"
        ),
        "pocketstack: mounted config drive config-2",
        f"pocketstack: hostname {hostname}",
    ]
    for name, key in sorted((spec.get("public_keys") or {}).items()):
        lines.append(f"pocketstack: installed key {name}: {key[:40]}")
    for vif in spec.get("network_info") or []:
        for ip in vif.get("fixed_ips") or []:
            lines.append(f"pocketstack: eth0 {vif.get('mac_address')} {ip.get('ip_address')}")
    lines.append(f"pocketstack guest {hostname} ready")
    return lines
