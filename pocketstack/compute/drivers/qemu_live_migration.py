"""Live migration of the QEMU driver (a base of ``QemuDriver``; the contract is in
``compute.live_migration_agent``).

- Destination (``live_migration_prepare``): the instance directory made with the root disk
  as a new qcow2 overlay on this host's copy of the same image (``create_root_disk``), the
  config drive and local disks, then QEMU started with the source's command line (the same
  ``build_command`` of the same spec) plus ``-incoming tcp:<address>:<port>``; in a lab,
  inside the host's network namespace, listening on its management (underlay) address. A
  file ``incoming`` marks the directory until ``live_migration_finish``: until then the
  guest is not in ``list_instances`` (the orphan check leaves it alone).
- Source (``live_migration``): QMP ``migrate-set-capabilities`` / ``-parameters``, then
  ``migrate`` to the destination's uri, ``query-migrate`` polled every 0.5 s for progress.
  Block migration uses QEMU's ``block`` migration capability (``migration/block.c``) with
  ``block-incremental``: only the clusters of the overlay go over the wire, since the
  destination's overlay sits on the same image (the NBD + ``drive-mirror`` way Nova's
  libvirt driver takes moves the same data; this is shorter and QEMU 7.2 has it).
  ``max-bandwidth`` is raised from QEMU's 32 MiB/s default (libvirt does the same).
- ``live_migration_abort``: ``migrate_cancel`` (the source keeps running);
  ``live_migration_force_complete``: ``stop`` (the guest paused, so the copy converges;
  ``live_migration_finish`` lets it run on the destination).

Shared instance storage (``[compute] instances_shared_storage``, the destination's
directory already holds the disk: memory only, ``block_migration`` False): the destination's
QEMU opens the same disks (QEMU keeps an incoming guest's images inactive until the
switch-over, so the two processes never write them together) and keeps its pid file and
sockets in ``<uuid>/incoming.d/`` (``InstancePaths.run``), with the ``incoming`` mark there;
the directory stays the source's (``qemu_shared``) until the end. The source's cleanup ends
its QEMU and removes its runtime files only; ``live_migration_finish`` moves the
destination's into the directory (a renamed unix socket still reaches its listener) and
claims it; a rollback ends the incoming QEMU and removes ``incoming.d`` only.
"""

from __future__ import annotations

import logging
import random
import shutil
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pocketstack.compute.configdrive import build_config_drive
from pocketstack.compute.drivers import qemu_process as qp
from pocketstack.compute.drivers import qemu_shared as qsh
from pocketstack.compute.drivers.base import DriverError
from pocketstack.compute.drivers.qmp import QMPError

LOG = logging.getLogger(__name__)

#: the file that marks an incoming guest's directory
INCOMING = "incoming"
#: the runtime directory of a guest received on shared storage, inside its directory
INCOMING_RUN = "incoming.d"
#: bytes/s a migration may use (QEMU's default is 32 MiB/s)
MAX_BANDWIDTH = 8 * 1024**3
#: seconds between two ``query-migrate``
POLL = 0.5
#: seconds the destination waits for the guest to leave ``inmigrate`` at the end
FINISH_TIMEOUT = 60.0
#: seconds after which a copy still running is cancelled (Nova's
#: ``live_migration_completion_timeout`` with its default action, abort)
COMPLETION_TIMEOUT = 800.0


class LiveMigrationRefused(DriverError):
    """400: the request does not fit this host's instance storage."""

    status = 400


def is_incoming(instance_dir: Path) -> bool:
    """Whether the directory is a guest being received (``live_migration_prepare``)."""
    return (instance_dir / INCOMING).exists()


def _free_port(address: str) -> int:
    """A TCP port free on ``address`` (a random high one when the address is not local to
    this process, e.g. a lab namespace's: QEMU then says if it is taken)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((address, 0))
            return int(sock.getsockname()[1])
    except OSError:
        return random.randint(49152, 60999)


def _stats(info: dict[str, Any]) -> dict[str, Any]:
    ram = info.get("ram") or {}
    disk = info.get("disk") or {}
    return {
        "memory_total": ram.get("total"),
        "memory_processed": ram.get("transferred"),
        "memory_remaining": ram.get("remaining"),
        "disk_total": disk.get("total"),
        "disk_processed": disk.get("transferred"),
        "disk_remaining": disk.get("remaining"),
    }


class QemuLiveMigration:
    """The live-migration operations of ``QemuDriver``."""

    # provided by QemuDriver
    netns: str | None
    _paths: Callable[[str], qp.InstancePaths]
    _lock: Callable[[str], threading.RLock]
    _qmp: Callable[..., Any]
    _start: Callable[..., None]
    _remove: Callable[[str, qp.InstancePaths], None]
    _unplug: Callable[[qp.InstancePaths], None]
    destroy: Callable[..., None]
    shared_storage: bool
    host: str

    def live_migration_prepare(
        self, spec: dict[str, Any], block_migration: bool | None, address: str
    ) -> dict[str, Any]:
        """Make the disks and start QEMU listening on ``address``.

        Raises:
            LiveMigrationRefused (400): shared storage found, memory only asked for with
                local storage, or a block migration of a guest with volumes attached;
                DriverError: any step failed (nothing left behind).
        """
        uuid = spec["uuid"]
        paths = self._paths(uuid)
        if self.shared_storage and paths.dir.is_dir():
            return self._prepare_shared(spec, paths, block_migration, address)
        if paths.disk.exists() or paths.dir.exists():
            raise LiveMigrationRefused(
                f"Instance {uuid}'s directory exists on the destination (shared instance "
                "storage): live migration on shared storage is not supported by the QEMU "
                "driver yet."
            )
        # a server whose disks are all volumes moves memory only: the destination's QEMU
        # opens the volumes itself (the config drive is made again)
        volume_only = bool(spec.get("boot_from_volume")) and not (
            spec.get("ephemeral_gb") or spec.get("swap_mb")
        )
        if block_migration is False and not volume_only:
            raise LiveMigrationRefused(
                "Live migration without block migration needs shared instance storage; "
                "this host's is local."
            )
        if block_migration is not False and not volume_only and spec.get("block_devices"):
            # QEMU's ``block`` capability copies every writable disk: the volumes would be
            # copied into themselves while the source still writes them (Nova's libvirt
            # driver mirrors only the local disks; this driver cannot yet)
            raise LiveMigrationRefused(
                f"Cannot block migrate instance {uuid} with mapped volumes: the QEMU driver "
                "copies every disk in a block migration. Detach the volumes, or use shared "
                "instance storage."
            )
        port = _free_port(address)
        uri = f"tcp:{address}:{port}"
        with self._lock(uuid):
            paths.dir.mkdir(parents=True)
            try:
                (paths.dir / INCOMING).write_text(uri)
                if not spec.get("boot_from_volume"):
                    qp.create_root_disk(spec, paths)
                build_config_drive(spec, paths.config)
                self._start(spec, paths, ["-incoming", uri])
            except BaseException as exc:
                self._remove(uuid, paths)
                if isinstance(exc, Exception) and not isinstance(exc, DriverError):
                    raise DriverError(f"preparing the live migration failed: {exc}") from exc
                raise
        LOG.info("instance %s: incoming live migration on %s", uuid, uri)
        return {"uri": uri, "block_migration": block_migration is not False, "shared": False}

    def _prepare_shared(
        self,
        spec: dict[str, Any],
        paths: qp.InstancePaths,
        block_migration: bool | None,
        address: str,
    ) -> dict[str, Any]:
        """Shared storage: QEMU started on the directory's disks, its own files in
        ``incoming.d`` (see the module doc)."""
        uuid = spec["uuid"]
        if block_migration:
            raise LiveMigrationRefused(
                f"{self.host} is not on local storage: Block migration can not be used with "
                "shared storage."
            )
        if not spec.get("boot_from_volume") and not paths.disk.is_file():
            raise LiveMigrationRefused(f"Instance {uuid} has no disk in {paths.dir}.")
        run = paths.dir / INCOMING_RUN
        incoming = qp.InstancePaths(paths.dir, run=run)
        port = _free_port(address)
        uri = f"tcp:{address}:{port}"
        with self._lock(uuid):
            run.mkdir()
            try:
                (run / INCOMING).write_text(uri)
                self._start(spec, incoming, ["-incoming", uri], claim=False)
            except BaseException as exc:
                self._end_incoming(uuid, incoming)
                if isinstance(exc, Exception) and not isinstance(exc, DriverError):
                    raise DriverError(f"preparing the live migration failed: {exc}") from exc
                raise
        LOG.info("instance %s: incoming live migration on %s (shared storage)", uuid, uri)
        return {"uri": uri, "block_migration": False, "shared": True}

    def _end_incoming(self, uuid: str, incoming: qp.InstancePaths) -> None:
        """End a shared-storage incoming QEMU and remove ``incoming.d`` (never the disks)."""
        pid = qp.find_pid(incoming, uuid)
        if pid is not None:
            qp.kill(pid)
        self._unplug(incoming)
        shutil.rmtree(incoming.runtime, ignore_errors=True)

    def live_migration(
        self,
        uuid: str,
        migrate_data: dict[str, Any],
        progress: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any]:
        """Migrate to ``migrate_data["uri"]`` and wait for the end (see the module doc).

        Returns:
            the last ``query-migrate`` figures with ``status`` (``completed`` or
            ``cancelled``), ``downtime_ms``, ``total_time_ms``, ``setup_time_ms``.

        Raises:
            DriverError: QEMU failed the migration (the guest keeps running here).
        """
        block = bool(migrate_data.get("block_migration"))
        self._qmp(
            uuid,
            "migrate-set-capabilities",
            capabilities=[{"capability": "block", "state": block}],
        )
        params: dict[str, Any] = {"max-bandwidth": MAX_BANDWIDTH}
        if block:
            params["block-incremental"] = True
        self._qmp(uuid, "migrate-set-parameters", **params)
        self._qmp(uuid, "migrate", uri=str(migrate_data["uri"]))
        deadline = time.monotonic() + COMPLETION_TIMEOUT
        while True:
            time.sleep(POLL)
            if time.monotonic() > deadline:
                LOG.warning(
                    "live migration of %s: not done in %d s, cancelled", uuid, COMPLETION_TIMEOUT
                )
                deadline = float("inf")
                self._qmp(uuid, "migrate_cancel")
            try:
                info = self._qmp(uuid, "query-migrate") or {}
            except QMPError as exc:
                raise DriverError(f"live migration of {uuid}: QEMU went away ({exc})") from exc
            status = info.get("status")
            stats = _stats(info)
            if status == "completed":
                return {
                    "status": "completed",
                    "downtime_ms": info.get("downtime"),
                    "total_time_ms": info.get("total-time"),
                    "setup_time_ms": info.get("setup-time"),
                    **stats,
                }
            if status in ("cancelled", "cancelling"):
                if status == "cancelled":
                    self._resume_if_paused(uuid)
                    return {"status": "cancelled", **stats}
                continue
            if status == "failed":
                self._resume_if_paused(uuid)
                raise DriverError(
                    f"live migration of {uuid} failed: {info.get('error-desc', 'unknown')}"
                )
            progress(stats)

    def _resume_if_paused(self, uuid: str) -> None:
        """After a failed or cancelled migration: a guest a forced completion paused runs
        again on the source."""
        paths = self._paths(uuid)
        if (paths.dir / "force-paused").exists():
            try:
                self._qmp(uuid, "cont")
            except QMPError as exc:
                LOG.warning("instance %s: cont after the migration failed: %s", uuid, exc)
            (paths.dir / "force-paused").unlink(missing_ok=True)

    def live_migration_abort(self, uuid: str) -> None:
        """``migrate_cancel``; ``live_migration`` then returns ``cancelled``."""
        status = (self._qmp(uuid, "query-migrate") or {}).get("status")
        if status not in ("setup", "active", "pre-switchover", "device"):
            raise LiveMigrationRefused(f"No live migration of {uuid} runs on this host.")
        self._qmp(uuid, "migrate_cancel")

    def live_migration_completed(self, uuid: str) -> bool:
        """Whether QEMU finished copying ``uuid`` to its destination (``query-migrate`` says
        ``completed``: the guest runs there, this QEMU stays paused in ``postmigrate``).
        False when no copy ended so, or QEMU is gone. Asked by an agent that restarts while
        its server is migrating (``live_migration_recovery``): the copy goes on in QEMU
        while the agent is away."""
        try:
            return (self._qmp(uuid, "query-migrate") or {}).get("status") == "completed"
        except (QMPError, DriverError):
            return False

    def live_migration_force_complete(self, uuid: str) -> None:
        """Pause the guest (QMP ``stop``) so that the remaining memory is copied at once."""
        status = (self._qmp(uuid, "query-migrate") or {}).get("status")
        if status not in ("setup", "active"):
            raise LiveMigrationRefused(f"No live migration of {uuid} runs on this host.")
        (self._paths(uuid).dir / "force-paused").touch()
        self._qmp(uuid, "stop")

    def live_migration_cleanup_source(self, uuid: str, shared: bool) -> None:
        """End the source's QEMU (paused after the migration), taps and files; on shared
        storage its pid file and sockets only (the disks are the destination's now)."""
        if not shared:
            self.destroy(uuid)
            return
        self.destroy(uuid, destroy_disks=False)
        paths = self._paths(uuid)
        for name in qsh.RUNTIME_FILES:
            (paths.dir / name).unlink(missing_ok=True)

    def live_migration_finish(self, spec: dict[str, Any], running: bool) -> None:
        """Wait until the guest left ``inmigrate``, let it run (``cont`` when a forced
        completion paused it), unmark the directory.

        Raises:
            DriverError: the guest did not arrive (QEMU gone or still receiving).
        """
        uuid = spec["uuid"]
        paths = self._paths(uuid)
        if (paths.dir / INCOMING_RUN).is_dir():
            self._adopt_incoming(uuid, paths)
        deadline = time.monotonic() + FINISH_TIMEOUT
        status = ""
        while time.monotonic() < deadline:
            try:
                status = str((self._qmp(uuid, "query-status") or {}).get("status", ""))
            except QMPError as exc:
                raise DriverError(f"instance {uuid}: QEMU is gone on arrival ({exc})") from exc
            if status != "inmigrate":
                break
            time.sleep(0.05)
        if status == "inmigrate":
            raise DriverError(f"instance {uuid}: the guest did not arrive")
        if running and status in ("paused", "postmigrate", "prelaunch"):
            self._qmp(uuid, "cont")
        (paths.dir / INCOMING).unlink(missing_ok=True)

    def _adopt_incoming(self, uuid: str, paths: qp.InstancePaths) -> None:
        """Shared storage, the source's QEMU gone: the incoming QEMU's files move from
        ``incoming.d`` into the directory, which becomes this host's."""
        run = paths.dir / INCOMING_RUN
        with self._lock(uuid):
            for name in qsh.RUNTIME_FILES:
                if (run / name).exists():
                    (run / name).replace(paths.dir / name)
            qsh.claim(paths.dir, self.host)
            shutil.rmtree(run, ignore_errors=True)

    def live_migration_rollback_dest(self, uuid: str, shared: bool) -> None:
        """End the incoming QEMU and remove its directory; a guest of this host (no
        ``incoming`` mark) is never touched; on shared storage only ``incoming.d`` goes."""
        paths = self._paths(uuid)
        if not paths.dir.exists():
            return
        run = paths.dir / INCOMING_RUN
        if run.is_dir():
            with self._lock(uuid):
                self._end_incoming(uuid, qp.InstancePaths(paths.dir, run=run))
            return
        if not is_incoming(paths.dir):
            LOG.warning("instance %s is no incoming guest here: not rolled back", uuid)
            return
        with self._lock(uuid):
            self._remove(uuid, paths)
