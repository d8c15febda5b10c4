"""The qemu hypervisor driver: one real ``qemu-system-x86_64`` process per instance.

Files of an instance, in ``<instances_path>/<uuid>/`` (``[compute] instances_path``, default
``<state_dir>/instances``; on shared instance storage see ``qemu_shared``, which adds the
owner file ``host``):

- ``disk``: qcow2 overlay on the image (copy-on-write root disk; for ISO images a blank disk)
- ``disk.eph0``, ``disk.swap``: the flavor's ephemeral (ext4) and swap disks
  (``local_disks``), made when missing, attached after the root disk
- ``disk.config``: the config drive (ISO9660, label ``config-2``), a read-only virtio disk
- ``console.log``: the serial console, appended to across power cycles
- ``volumes.json``: the volumes plugged into the guest (``qemu_volumes``)
- ``qmp.sock``: the QMP socket (power actions, status)
- ``memory.save``: the saved state of a suspended guest; ``disk.rescue``: the root disk of
  a rescued guest (its own ``disk`` is then attached too); ``qga.sock``: the guest agent
  of images with ``hw_qemu_guest_agent=yes`` (``qemu_state``)
- ``pid``: the QEMU pid

Decisions:

- QEMU runs with ``-daemonize``: it detaches (new session, reparented to init, so never a
  zombie of the agent and unaffected by the agent's exit), and its parent returns only when
  the machine is initialised or failed, so spawn errors are known at once with QEMU's own
  message. The process is found again through the pidfile checked against /proc (see
  ``qemu_process``), which is how a restarted agent re-adopts its running guests.
- ``-no-shutdown``: a guest that powers off leaves QEMU alive in status ``shutdown``. That
  makes a graceful soft reboot possible (ACPI power button, wait for the guest to shut down,
  then ``system_reset`` + ``cont``); if the guest ignores ACPI for ``soft_reboot_timeout`` s it
  is reset anyway. ``power_off`` ends the process once the guest is down.
- KVM only when ``accel`` allows it and a probe shows guests really run (``choose_accel``).
- VIFs of type ``bridge`` (and ``tap``) get a persistent tap ``tap<port_id[:11]>`` at the
  port's MTU before QEMU starts (the L2 agent enslaves it to the network's bridge); their
  names go in ``taps.json`` and they are deleted with the guest. With ``conf.netns`` set (a
  lab host) the taps are made in that namespace and QEMU runs inside it (``ip netns
  exec``), and ``init_host`` deletes the ``tap*`` devices there that no guest of this
  driver recorded (left by a crash between making a tap and recording it). Outside a lab
  the root namespace's taps are never swept: they may be someone else's.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from pocketstack.compute import instance_storage
from pocketstack.compute.configdrive import build_config_drive
from pocketstack.compute.drivers import local_disks
from pocketstack.compute.drivers import qemu_interfaces as qi
from pocketstack.compute.drivers import qemu_process as qp
from pocketstack.compute.drivers import qemu_shared as qsh
from pocketstack.compute.drivers import qemu_snapshot as qsnap
from pocketstack.compute.drivers import qemu_state as qs
from pocketstack.compute.drivers import qemu_volumes as qv
from pocketstack.compute.drivers.base import (
    INITIATOR_PREFIX,
    BlockDevice,
    ComputeDriver,
    DriverError,
    GuestAgentError,
    InstanceNotRunning,
    InstanceSpec,
    PowerState,
)
from pocketstack.compute.drivers.qemu_live_migration import QemuLiveMigration, is_incoming
from pocketstack.compute.drivers.qemu_resize import QemuResize
from pocketstack.compute.drivers.qmp import QMPClient, QMPError
from pocketstack.network.drivers import ip_lib
from pocketstack.network.drivers.base import NetworkDriverError

LOG = logging.getLogger(__name__)

_STATUS = {
    "running": PowerState.RUNNING,
    "paused": PowerState.PAUSED,
    "suspended": PowerState.SUSPENDED,
    "shutdown": PowerState.SHUTDOWN,
    "guest-panicked": PowerState.CRASHED,
    "internal-error": PowerState.CRASHED,
    "io-error": PowerState.CRASHED,
}

# Terminal control sequences (SeaBIOS and getty clear the screen): CSI sequences and 2-byte
# escapes such as ESC c (reset), which would reset the terminal of `console log show`.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_a-z])")


class QemuDriver(QemuResize, QemuLiveMigration, ComputeDriver):
    """Real guests under QEMU (TCG, or KVM where it works). See the module docstring."""

    name = "qemu"
    capabilities = {"console_log": True, "real_guests": True, "config_drive": True}
    soft_reboot_timeout = 30.0

    def __init__(self, conf: Any):
        super().__init__(conf)
        self.instances_dir = Path(instance_storage.instances_path(conf))
        self.shared_storage = bool(getattr(conf, "instances_shared_storage", False))
        self._locks: dict[str, threading.RLock] = {}
        self._qmp_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self.netns: str | None = getattr(conf, "netns", "") or None
        self.host: str = getattr(conf, "hostname", "") or "localhost"

    def init_host(self, host: str) -> None:
        """Create ``instances/``, probe the accelerator and QEMU's version, and in a lab
        host's namespace delete the taps no guest recorded."""
        self.host = host
        self.instances_dir.mkdir(parents=True, exist_ok=True)
        qp.qemu_version()
        self.accel()
        if self.netns:
            self._sweep_taps()

    def accel(self) -> str:
        """``kvm`` or ``tcg`` (see ``qemu_process.choose_accel``)."""
        return qp.choose_accel(getattr(self.conf, "accel", "auto"))

    # ------------------------------------------------------------ lifecycle

    def spawn(self, spec: InstanceSpec) -> None:
        """Create the disks and config drive and start QEMU. With ``spec["keep_disks"]`` (an
        evacuation onto shared instance storage) the directory's existing disks are booted
        instead (``qemu_shared.prepare_kept``) and a failure keeps them.

        Raises:
            DriverError: the instance exists, or any step failed (nothing is left behind).
        """
        uuid = spec["uuid"]
        paths = self._paths(uuid)
        if spec.get("keep_disks"):
            self._spawn_kept(spec, paths)
            return
        with self._lock(uuid):
            self.instances_dir.mkdir(parents=True, exist_ok=True)
            try:
                paths.dir.mkdir()
            except FileExistsError:
                raise DriverError(f"instance {uuid} already exists on this host") from None
            try:
                if not spec.get("boot_from_volume"):
                    qp.create_root_disk(spec, paths)
                build_config_drive(spec, paths.config)
                self._start(spec, paths)
            except BaseException as exc:
                self._remove(uuid, paths)
                if isinstance(exc, DriverError):
                    raise
                if isinstance(exc, Exception):
                    raise DriverError(f"spawn failed: {exc}") from exc
                raise

    def _spawn_kept(self, spec: InstanceSpec, paths: qp.InstancePaths) -> None:
        uuid = spec["uuid"]
        with self._lock(uuid):
            qsh.prepare_kept(paths, uuid, bool(spec.get("boot_from_volume")))
            try:
                build_config_drive(spec, paths.config)
                self._start(spec, paths)
            except BaseException as exc:
                self.destroy(uuid, destroy_disks=False)
                if isinstance(exc, Exception) and not isinstance(exc, DriverError):
                    raise DriverError(f"spawn failed: {exc}") from exc
                raise

    def destroy(self, uuid: str, destroy_disks: bool = True) -> None:
        """Kill QEMU (SIGKILL, waited for) and delete the instance directory; idempotent.
        ``destroy_disks=False`` (Nova's argument of the same name): the process and taps
        go, the directory and its disks stay (shared storage another host boots from);
        on shared storage a directory another host owns (``qemu_shared``) keeps its files
        (the pid file and sockets are that host's QEMU's): only a QEMU this host started,
        still running (an agent that died while its QEMU went on, a live migration whose
        source cleanup failed), is ended, found in /proc by the host it names."""
        with self._lock(uuid):
            paths = self._paths(uuid)
            if destroy_disks:
                self._remove(uuid, paths)
                return
            if self.shared_storage and not qsh.owned_by(paths.dir, self.host):
                pid = qp.scan_processes(self.instances_dir, self.host).get(uuid)
                if pid is not None:
                    LOG.warning(
                        "instance %s is %s's: ending this host's stale QEMU %d",
                        uuid,
                        qsh.owner(paths.dir),
                        pid,
                    )
                    qp.kill(pid)
                    self._unplug(paths)  # the taps of this host's namespace
                return
            pid = qp.find_pid(paths, uuid)
            if pid is not None:
                qp.kill(pid)
            self._unplug(paths)

    def power_off(self, uuid: str, timeout: float = 30.0) -> None:
        """ACPI power button, wait up to ``timeout`` s for the guest to shut down, then end
        the process (SIGKILL after the timeout). Succeeds if already off.

        Raises:
            DriverError: unknown instance.
        """
        with self._lock(uuid):
            paths = self._existing(uuid)
            pid = qp.find_pid(paths, uuid)
            if pid is None:
                return
            self._powerdown_and_wait(uuid, pid, timeout)
            qp.kill(pid)

    def power_on(self, spec: InstanceSpec) -> None:
        """Start QEMU again on the existing disks; a no-op when the guest runs.

        Raises:
            DriverError: unknown instance, or QEMU failed to start.
        """
        uuid = spec["uuid"]
        with self._lock(uuid):
            paths = self._existing(uuid)
            pid = qp.find_pid(paths, uuid)
            if pid is not None and self.get_power_state(uuid) == PowerState.RUNNING:
                return
            if pid is not None:
                qp.kill(pid)  # left in status "shutdown" by -no-shutdown
            qs.save_file(paths.dir).unlink(missing_ok=True)
            self._start(spec, paths)

    def reboot(self, spec: InstanceSpec, hard: bool = False) -> None:
        """Hard: kill and start again (starts a stopped guest). Soft: ACPI shutdown of the
        guest (kept alive by ``-no-shutdown``), then ``system_reset`` + ``cont``; a guest that
        ignores ACPI for ``soft_reboot_timeout`` s is reset anyway.

        Raises:
            InstanceNotRunning: soft reboot of a guest that is not running.
            DriverError: unknown instance or QEMU failure.
        """
        uuid = spec["uuid"]
        with self._lock(uuid):
            paths = self._existing(uuid)
            pid = qp.find_pid(paths, uuid)
            if hard:
                if pid is not None:
                    qp.kill(pid)
                qs.save_file(paths.dir).unlink(missing_ok=True)  # a suspended guest boots
                self._start(spec, paths)
                return
            if pid is None or self.get_power_state(uuid) != PowerState.RUNNING:
                raise InstanceNotRunning(f"instance {uuid} is not running")
            self._powerdown_and_wait(uuid, pid, self.soft_reboot_timeout)
            self._qmp(uuid, "system_reset")
            if self._qmp(uuid, "query-status").get("status") != "running":
                self._qmp(uuid, "cont")

    # ------------------------------------------------------------ state actions
    # (``qemu_state``: saved memory, rescue disk, guest agent)

    def pause(self, uuid: str) -> None:
        """QMP ``stop`` of the running guest (a paused one stays paused).

        Raises:
            InstanceNotRunning: no guest process, or it is not running.
        """
        with self._lock(uuid):
            state = self._live_state(uuid)
            if state == PowerState.PAUSED:
                return
            if state != PowerState.RUNNING:
                raise InstanceNotRunning(f"instance {uuid} is not running")
            self._qmp_call(uuid)("stop")

    def unpause(self, uuid: str) -> None:
        """QMP ``cont`` of the paused guest (a running one is left alone).

        Raises:
            InstanceNotRunning: no guest process.
        """
        with self._lock(uuid):
            if self._live_state(uuid) != PowerState.RUNNING:
                self._qmp_call(uuid)("cont")

    def suspend(self, uuid: str) -> None:
        """Save the guest's state to ``memory.save`` and end QEMU (``qemu_state``); a
        guest already saved is left so.

        Raises:
            InstanceNotRunning: no guest process; DriverError: the save failed (the guest
                runs on).
        """
        with self._lock(uuid):
            paths = self._existing(uuid)
            pid = qp.find_pid(paths, uuid)
            if pid is None and qs.save_file(paths.dir).is_file():
                return
            if pid is None:
                raise InstanceNotRunning(f"instance {uuid} is not running")
            qs.save_memory(self._qmp_call(uuid), paths.dir)
            qp.kill(pid)

    def resume(self, spec: InstanceSpec) -> None:
        """Start QEMU restoring ``memory.save``, continue the guest, delete the file; a
        guest that runs with no saved state is left alone.

        Raises:
            DriverError: no saved state, or the restore failed (QEMU is ended, the file
                kept for another try).
        """
        uuid = spec["uuid"]
        with self._lock(uuid):
            paths = self._existing(uuid)
            pid = qp.find_pid(paths, uuid)
            if pid is not None and not qs.save_file(paths.dir).is_file():
                return
            if pid is not None:
                qp.kill(pid)
            self._start(spec, paths, qs.incoming_args(paths.dir))
            try:
                qs.finish_restore(self._qmp_call(uuid), paths.dir)
            except BaseException:
                self._kill_if_running(paths, uuid)
                raise

    def rescue(self, spec: InstanceSpec, rescue_image: dict[str, Any]) -> None:
        """End the guest's QEMU and boot ``disk.rescue`` (a new overlay on
        ``rescue_image``) with the guest's own disk attached (plugged before the rescue
        disk, see ``qemu_process._disk_args``); no volumes, ephemeral or swap disks while
        rescued, as Nova's rescue.

        Raises:
            DriverError: unknown instance, an ISO rescue image, or QEMU failed (the rescue
                disk is removed; the guest stays off).
        """
        uuid = spec["uuid"]
        if rescue_image.get("disk_format") == "iso":
            raise DriverError("an ISO image cannot be a rescue image")
        with self._lock(uuid):
            paths = self._existing(uuid)
            self._kill_if_running(paths, uuid)
            qs.save_file(paths.dir).unlink(missing_ok=True)
            rescue_paths = qp.RescuePaths(paths.dir)
            rescue_paths.disk.unlink(missing_ok=True)
            rescue_spec = {
                **spec,
                "image": rescue_image,
                "root_gb": 0,
                "ephemeral_gb": 0,
                "swap_mb": 0,
                "block_devices": [],
                "boot_from_volume": False,
            }
            try:
                qp.create_root_disk(rescue_spec, rescue_paths)
                self._start(rescue_spec, rescue_paths)
            except BaseException:
                self._kill_if_running(paths, uuid)
                rescue_paths.disk.unlink(missing_ok=True)
                raise

    def unrescue(self, spec: InstanceSpec) -> None:
        """End the rescue QEMU, delete ``disk.rescue``, start from the guest's own disk.

        Raises:
            DriverError: unknown instance, or QEMU failed to start.
        """
        uuid = spec["uuid"]
        with self._lock(uuid):
            paths = self._existing(uuid)
            self._kill_if_running(paths, uuid)
            qp.RescuePaths(paths.dir).disk.unlink(missing_ok=True)
            self._start(spec, paths)

    def set_admin_password(self, uuid: str, user: str, password: str) -> None:
        """``guest-set-user-password`` through the guest agent (``qemu_state.guest_agent``).

        Raises:
            GuestAgentError: the guest has no agent channel, or its agent failed or did
                not answer.
        """
        paths = self._existing(uuid)
        sock = paths.runtime / qp.GUEST_AGENT_SOCKET
        if qp.find_pid(paths, uuid) is None or not sock.exists():
            raise GuestAgentError("QEMU guest agent is not enabled")
        encoded = base64.b64encode(password.encode()).decode()
        qs.guest_agent(
            sock,
            "guest-set-user-password",
            {"username": user, "password": encoded, "crypted": False},
        )

    def snapshot(self, uuid: str, dest: str, quiesce: bool) -> str:
        """A consistent qcow2 copy of the root ``disk`` at ``dest`` (``qemu_snapshot``):
        ``qemu-img convert`` of a guest without process; a running or paused one is frozen
        through its guest agent when ``quiesce`` and an agent answers, stopped (QMP
        ``stop``) while ``qemu-img convert -U`` copies, then continued.

        Raises:
            DriverError: unknown instance, QMP or qemu-img failed.
        """
        with self._lock(uuid):
            paths = self._existing(uuid)
            if qp.find_pid(paths, uuid) is None:
                qsnap.convert(paths.disk, Path(dest), shared=False)
                return "Snapshot of the stopped guest's disk (no process: nothing to quiesce)."
            sock = paths.runtime / qp.GUEST_AGENT_SOCKET
            return qsnap.snapshot_running(
                self._qmp_call(uuid), paths.disk, Path(dest), sock, quiesce
            )

    def inject_nmi(self, uuid: str) -> None:
        """QMP ``inject-nmi``.

        Raises:
            InstanceNotRunning: no guest process.
        """
        with self._lock(uuid):
            self._live_state(uuid)
            self._qmp_call(uuid)("inject-nmi")

    def reset_network(self, spec: InstanceSpec) -> None:
        """Make the guest's taps again where missing (at their MTU, in ``self.netns``).

        Raises:
            DriverError: unknown instance, or a tap could not be made.
        """
        self._existing(spec["uuid"])
        try:
            for name, mtu in qp.tap_devices(spec):
                ip_lib.ensure_tap(name, mtu, self.netns)
        except NetworkDriverError as exc:
            raise DriverError(f"cannot plug the guest's tap device: {exc}") from exc

    def _live_state(self, uuid: str) -> PowerState:
        """The power state of a guest that has a process.

        Raises:
            InstanceNotRunning: no process (off or suspended); DriverError: unknown.
        """
        paths = self._existing(uuid)
        if qp.find_pid(paths, uuid) is None:
            raise InstanceNotRunning(f"instance {uuid} is not running")
        return self.get_power_state(uuid)

    def _kill_if_running(self, paths: qp.InstancePaths, uuid: str) -> None:
        pid = qp.find_pid(paths, uuid)
        if pid is not None:
            qp.kill(pid)

    # ------------------------------------------------------------ volumes

    def attach_volume(self, uuid: str, block_device: BlockDevice) -> None:
        """Hot-plug the volume into the running guest (``qemu_volumes.hot_plug``); a guest
        that is not running gets it from its spec when started.

        Raises:
            DriverError: unknown instance, or QEMU refused (nothing is left plugged).
        """
        with self._lock(uuid):
            paths = self._existing(uuid)
            if qp.find_pid(paths, uuid) is None:
                return
            qv.hot_plug(
                self._qmp_call(uuid),
                paths.dir,
                self._machine(uuid),
                block_device,
                INITIATOR_PREFIX + self.host,
            )

    def detach_volume(self, uuid: str, volume_id: str) -> None:
        """Unplug the volume (``qemu_volumes.hot_unplug``); not attached, or the guest
        unknown or not running: nothing to unplug.

        Raises:
            DriverError: the guest did not release the disk within
                ``qemu_volumes.DETACH_TIMEOUT`` s.
        """
        with self._lock(uuid):
            paths = self._paths(uuid)
            if not paths.dir.is_dir():
                return
            if qp.find_pid(paths, uuid) is None:
                qv.forget(paths.dir, volume_id)
                return
            qv.hot_unplug(self._qmp_call(uuid), paths.dir, volume_id, qv.DETACH_TIMEOUT)

    def extend_volume(self, uuid: str, volume_id: str, new_size: int) -> None:
        """QMP ``block_resize`` of the volume's node (a stopped guest sees the new size
        when started).

        Raises:
            DriverError: unknown instance, volume not attached, or QEMU refused.
        """
        with self._lock(uuid):
            paths = self._existing(uuid)
            if qp.find_pid(paths, uuid) is not None:
                qv.resize(self._qmp_call(uuid), paths.dir, volume_id, new_size)

    def attached_volumes(self, uuid: str) -> list[str]:
        """The volume ids recorded as plugged into the guest."""
        return sorted(qv.read_record(self._paths(uuid).dir))

    # ------------------------------------------------------------ interfaces

    def attach_interface(self, uuid: str, vif: dict[str, Any]) -> None:
        """Hot-plug a virtio-net NIC for ``vif`` into the running guest
        (``qemu_interfaces.hot_plug``), on the port's tap (made here, recorded with the
        guest's taps) for tap VIFs; a guest that is not running gets it from its spec when
        started.

        Raises:
            DriverError: unknown instance, no root port free, or QEMU refused (nothing is
                left plugged).
        """
        with self._lock(uuid):
            paths = self._existing(uuid)
            if qp.find_pid(paths, uuid) is None:
                return
            tap = None
            if (vif.get("vif_type") or "noop") in qp.TAP_VIF_TYPES:
                tap = str(vif["devname"])
                recorded = self._recorded_taps(paths)
                paths.taps.write_text(json.dumps(sorted({*recorded, tap})))
                try:
                    mtu = int(vif["mtu"]) if vif.get("mtu") else None
                    ip_lib.ensure_tap(tap, mtu, self.netns)
                except NetworkDriverError as exc:
                    raise DriverError(f"cannot create the port's tap device: {exc}") from exc
            try:
                qi.hot_plug(self._qmp_call(uuid), paths.dir, self._machine(uuid), vif, tap)
            except DriverError:
                if tap:
                    self._delete_tap(paths, tap)
                raise

    def detach_interface(self, uuid: str, port_id: str) -> None:
        """Unplug the port's hot-plugged NIC (``qemu_interfaces.hot_unplug``) or the one the
        guest booted with (``qemu_interfaces.unplug_boot_nic``) and delete its tap; a guest
        that is not running loses it from its spec. A guest started before boot NICs had
        their own root port has its NICs on the root bus, which QEMU cannot unplug from.

        Raises:
            DriverError: the guest did not release the NIC in time, or it is one the
                running guest booted with.
        """
        with self._lock(uuid):
            paths = self._paths(uuid)
            if not paths.dir.is_dir():
                return
            if qp.find_pid(paths, uuid) is None:
                qi.forget_all(paths.dir)
                self._delete_tap(paths, ip_lib.tap_name(port_id))
                return
            if port_id not in qi.read_record(paths.dir):
                argv = qp.cmdline(qp.find_pid(paths, uuid) or 0)
                found, tap = qi.unplug_boot_nic(
                    self._qmp_call(uuid), argv, qp.boot_nic_id(port_id), qv.DETACH_TIMEOUT
                )
                if found:
                    if tap:
                        self._delete_tap(paths, tap)
                    return
                if ip_lib.tap_name(port_id) in self._recorded_taps(paths) or any(
                    port_id[:11] in arg for arg in qp.cmdline(qp.find_pid(paths, uuid) or 0)
                ):
                    raise DriverError(
                        f"port {port_id} was plugged when the guest started: its NIC is on "
                        "the root bus, which cannot be unplugged; stop the server first"
                    )
                return
            tap = qi.hot_unplug(self._qmp_call(uuid), paths.dir, port_id, qv.DETACH_TIMEOUT)
            if tap:
                self._delete_tap(paths, tap)

    def _delete_tap(self, paths: qp.InstancePaths, tap: str) -> None:
        """Delete ``tap`` and its entry in the guest's recorded taps (gone is fine)."""
        try:
            if ip_lib.link_exists(tap, self.netns):
                ip_lib.delete_link(tap, self.netns)
        except NetworkDriverError as exc:
            raise DriverError(f"cannot delete tap {tap}: {exc}") from exc
        recorded = self._recorded_taps(paths)
        if tap in recorded:
            paths.taps.write_text(json.dumps([n for n in recorded if n != tap]))

    def get_diagnostics(self, uuid: str) -> dict[str, Any]:
        """The running guest's figures (``qemu_interfaces.diagnostics``): its NICs are those
        of its argv (``-netdev``/``-device virtio-net-pci``) and the hot-plugged ones.

        Raises:
            InstanceNotRunning: no guest process; DriverError: unknown instance.
        """
        paths = self._existing(uuid)
        pid = qp.find_pid(paths, uuid)
        if pid is None:
            raise InstanceNotRunning(f"instance {uuid} is not running")
        argv = qp.cmdline(pid)
        taps: dict[str, str] = {}
        vifs: list[dict[str, Any]] = []
        for flag, value in zip(argv, argv[1:], strict=False):
            opts = dict(p.split("=", 1) for p in value.split(",") if "=" in p)
            if flag == "-netdev" and value.startswith("tap,"):
                taps[opts.get("id", "")] = opts.get("ifname", "")
            if flag == "-device" and value.startswith("virtio-net-pci,"):
                tap = taps.get(opts.get("netdev", ""))
                vifs.append({"mac_address": opts.get("mac"), "tap": tap})
        for entry in qi.read_record(paths.dir).values():
            vifs.append({"mac_address": entry.get("mac"), "tap": entry.get("tap")})
        hypervisor = "kvm" if any(a.startswith("kvm") for a in argv) else "qemu"
        return qi.diagnostics(self._qmp_call(uuid), pid, vifs, paths.config.exists(), hypervisor)

    def get_console(self, uuid: str, kind: str) -> dict[str, Any]:
        """``{"unix": <instance dir>/vnc.sock|serial.sock}`` of the running guest (QEMU's
        ``-vnc unix:`` server and its serial chardev socket, ``qemu_process.build_command``).

        Raises:
            InstanceNotRunning: no guest process; DriverError: unknown instance, or a guest
                started before its command line had that socket.
        """
        paths = self._existing(uuid)
        if qp.find_pid(paths, uuid) is None:
            raise InstanceNotRunning(f"instance {uuid} is not running")
        sock = {"vnc": paths.vnc, "serial": paths.serial}.get(kind)
        if sock is None or not sock.exists():
            raise DriverError(f"instance {uuid} has no {kind} console socket")
        return {"unix": str(sock)}

    def _qmp_call(self, uuid: str) -> qv.QMPCall:
        def call(command: str, **arguments: Any) -> Any:
            try:
                return self._qmp(uuid, command, **arguments)
            except QMPError as exc:
                raise DriverError(str(exc)) from exc

        return call

    def _machine(self, uuid: str) -> str:
        """The running guest's machine type, from its argv (``-M <type>,...``)."""
        pid = qp.find_pid(self._paths(uuid), uuid)
        argv = qp.cmdline(pid) if pid else []
        for flag, value in zip(argv, argv[1:], strict=False):
            if flag == "-M":
                return value.split(",")[0]
        return "q35"

    # ------------------------------------------------------------ queries

    def get_power_state(self, uuid: str) -> PowerState:
        """From the live process and QMP ``query-status``; no process: SHUTDOWN when the
        instance directory exists, else NOSTATE."""
        paths = self._paths(uuid)
        if qp.find_pid(paths, uuid) is None:
            if qs.save_file(paths.dir).is_file():
                return PowerState.SUSPENDED
            return PowerState.SHUTDOWN if paths.dir.is_dir() else PowerState.NOSTATE
        try:
            status = self._qmp(uuid, "query-status").get("status")
        except QMPError:
            return PowerState.RUNNING if qp.find_pid(paths, uuid) else PowerState.SHUTDOWN
        return _STATUS.get(status, PowerState.RUNNING)

    def list_instances(self) -> list[str]:
        """Uuids with a directory under the instances directory plus orphan QEMU processes
        of it whose directory is gone; on shared storage only the directories this host
        owns (``qemu_shared``) and the guests whose QEMU this host started and still runs,
        whoever owns their directory now (so the orphan sweep ends a QEMU left behind by
        an evacuation or a live migration)."""
        uuids = set(qp.scan_processes(self.instances_dir))
        if self.instances_dir.is_dir():
            uuids.update(p.name for p in self.instances_dir.iterdir() if p.is_dir())
        if self.shared_storage:  # only this host's guests (``qemu_shared``)
            uuids = {u for u in uuids if qsh.owned_by(self.instances_dir / u, self.host)}
            uuids.update(qp.scan_processes(self.instances_dir, self.host))
        # a guest still being received by a live migration is not this host's yet
        return sorted(u for u in uuids if not is_incoming(self.instances_dir / u))

    def get_console_output(self, uuid: str, length: int | None = None) -> str:
        """``console.log`` as text (``\\r\\n`` made ``\\n``, terminal escapes removed), the
        last ``length`` lines.

        Raises:
            DriverError: no console log for that instance.
        """
        try:
            raw = self._paths(uuid).console.read_bytes()
        except OSError:
            raise DriverError(f"no console log for instance {uuid}") from None
        text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n")
        text = _ESCAPES.sub("", text)
        if length is None:
            return text
        lines = text.splitlines(keepends=True)
        return "".join(lines[-length:]) if length > 0 else ""

    def get_host_resources(self) -> dict[str, Any]:
        """CPUs, MemTotal and free GiB of the state directory, unless ``conf.compute_*``."""
        conf = self.conf
        version, banner = qp.qemu_version()
        return {
            "vcpus": getattr(conf, "compute_vcpus", 0) or os.cpu_count() or 1,
            "memory_mb": getattr(conf, "compute_memory_mb", 0) or _mem_total_mb(),
            "local_gb": getattr(conf, "compute_disk_gb", 0) or self._free_gb(),
            "hypervisor_type": "QEMU",
            "hypervisor_version": version,
            "cpu_info": f"x86_64 ({banner})",
        }

    # ------------------------------------------------------------ helpers

    def _start(
        self,
        spec: InstanceSpec,
        paths: qp.InstancePaths,
        extra: list[str] | None = None,
        claim: bool = True,
    ) -> None:
        """Make the guest's taps (recorded first, so a failure still deletes them), then
        start QEMU, in ``self.netns`` when set; ``extra``: more QEMU arguments (a restore's
        ``-incoming``); ``claim``: on shared storage, mark the directory this host's
        (not for a guest still being received)."""
        devices = qp.tap_devices(spec)
        recorded = set(self._recorded_taps(paths))
        names = sorted(recorded | {name for name, _mtu in devices})
        if names:
            paths.taps.write_text(json.dumps(names))
        try:
            for name, mtu in devices:
                ip_lib.ensure_tap(name, mtu, self.netns)
        except NetworkDriverError as exc:
            raise DriverError(f"cannot create the guest's tap device: {exc}") from exc
        if self.shared_storage and claim:
            qsh.claim(paths.dir, self.host)
        local_disks.ensure(spec, paths.dir)  # made only when missing
        machine = qp.machine_type(spec)
        volume_args, secret_files = qv.spawn_args(
            spec, paths.dir, machine, INITIATOR_PREFIX + self.host
        )
        qi.forget_all(paths.dir)  # a NIC plugged before is in the spec now
        try:
            cmd = qp.build_command(spec, paths, self.accel(), self.netns, volume_args)
            cmd += qp.host_args(self.host) + (extra or [])
            qp.start(cmd, paths, spec["uuid"])
        finally:  # QEMU has read the CHAP secrets (or failed): none stays on disk
            for path in secret_files:
                path.unlink(missing_ok=True)

    @staticmethod
    def _recorded_taps(paths: qp.InstancePaths) -> list[str]:
        try:
            names = json.loads(paths.taps.read_text())
        except (OSError, ValueError):
            return []
        return [str(n) for n in names] if isinstance(names, list) else []

    def _unplug(self, paths: qp.InstancePaths) -> None:
        """Delete the taps recorded for the guest (QEMU is gone: nothing holds them)."""
        for name in self._recorded_taps(paths):
            try:
                ip_lib.delete_link(name, self.netns)
            except NetworkDriverError as exc:
                raise DriverError(f"cannot delete tap {name}: {exc}") from exc

    def _sweep_taps(self) -> None:
        """Delete the ``tap*`` devices of ``self.netns`` no instance directory records."""
        known: set[str] = set()
        if self.instances_dir.is_dir():
            for entry in self.instances_dir.iterdir():
                known.update(self._recorded_taps(qp.InstancePaths(entry)))
        try:
            for name in sorted(set(ip_lib.taps(self.netns)) - known):
                LOG.warning("deleting orphaned tap %s in %s", name, self.netns)
                ip_lib.delete_link(name, self.netns)
        except NetworkDriverError as exc:
            LOG.warning("could not sweep the taps of %s: %s", self.netns, exc)

    def _paths(self, uuid: str) -> qp.InstancePaths:
        if not uuid or "/" in uuid or uuid in (".", ".."):
            raise DriverError(f"invalid instance uuid {uuid!r}")
        return qp.InstancePaths(self.instances_dir / uuid)

    def _existing(self, uuid: str) -> qp.InstancePaths:
        paths = self._paths(uuid)
        if not paths.dir.is_dir():
            raise DriverError(f"instance {uuid} not found on this host")
        return paths

    def _lock(self, uuid: str) -> threading.RLock:
        with self._locks_lock:
            return self._locks.setdefault(uuid, threading.RLock())

    def _qmp(self, uuid: str, command: str, **arguments: Any) -> Any:
        """One QMP command; sessions to a guest are serialised (QMP serves one client)."""
        with self._locks_lock:
            lock = self._qmp_locks.setdefault(uuid, threading.Lock())
        with lock, QMPClient(self._paths(uuid).qmp) as client:
            return client.execute(command, arguments or None)

    def _powerdown_and_wait(self, uuid: str, pid: int, timeout: float) -> bool:
        """Press the ACPI power button; True when the guest shut down within ``timeout``."""
        try:
            self._qmp(uuid, "system_powerdown")
        except QMPError:
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self._qmp(uuid, "query-status").get("status") == "shutdown":
                    return True
            except QMPError:
                return qp.wait_gone(pid, 0)
            time.sleep(0.2)
        return False

    def _remove(self, uuid: str, paths: qp.InstancePaths) -> None:
        pid = qp.find_pid(paths, uuid) or qp.scan_processes(self.instances_dir).get(uuid)
        if pid is not None:
            qp.kill(pid)
        self._unplug(paths)
        shutil.rmtree(paths.dir, ignore_errors=True)
        if paths.dir.exists():
            raise DriverError(f"cannot remove {paths.dir}")

    def _free_gb(self) -> int:
        path = self.instances_dir if self.instances_dir.is_dir() else Path(self.conf.state_dir)
        while not path.exists():
            path = path.parent
        return shutil.disk_usage(path).free // 1024**3


def _mem_total_mb() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 0
