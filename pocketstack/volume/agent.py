"""The volume agent of one storage host (Cinder's ``cinder-volume``): runs volume operations
through the backend driver and reports their outcome; it has no database.

Served on the bus as ``volume.<host>`` (``rpcapi.AGENT_MESSAGES``; the fanout ``sync``
reaches every agent). Every operation cast (``create_volume``, ``extend_volume``...) ends
in one result cast to ``volume_server`` (``VolumeServerClient.result``: ``volume_created``
with ``status`` ``available``/``error`` and a ``fault``...; docs/block-storage.md,
"Result casts"); ``initialize_connection``/``terminate_connection`` are calls that answer
directly. Operations on one volume run one at a time (a per-volume lock).

Level-triggered recovery (docs/block-storage.md, "Recovery"): at start and every
``volume_sync_interval`` s the agent pulls ``get_host_state`` (everything the controller says
this host holds) and converges (``VolumeSync``, ``agent_sync.py``): operations a killed agent
left mid-way are settled (it keeps a journal of running operations in ``<pool>/.ops/``, so
"interrupted" is told from "never started" and from "finished, result lost"), exports of no
live attachment are removed, exports of live attachments restored, files of no volume
removed. The heartbeat (``report_state`` with the driver's capacity) runs in its own thread
every ``periodic_interval`` s.

Images are fetched (volume from image) and uploaded (volume to image) with the service
user's token (``compute.service_auth.ServiceAuth``), never the user's. Backups run through
``pocketstack.volume.backup.BackupService``.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import Bus
from pocketstack.common.periodic import PeriodicTasks
from pocketstack.volume.agent_sync import Journal, VolumeSync
from pocketstack.volume.drivers.base import VolumeDriver, VolumeDriverError
from pocketstack.volume.rpcapi import AGENT_MESSAGES, VolumeServerClient, agent_target
from pocketstack.volume.targets import chap_user

LOG = logging.getLogger(__name__)

#: Cinder's backend binary name, shown in ``volume_services``
BINARY = "cinder-volume"


def fault_message(exc: BaseException, what: str) -> str:
    """The fault of a failed operation: a ``PocketError``'s message (an expected failure),
    else the class and text of a bug (logged with its traceback here)."""
    if isinstance(exc, errors.PocketError):
        return exc.message
    LOG.error("%s failed unexpectedly", what, exc_info=exc)
    return f"{type(exc).__name__}: {exc}"


class VolumeAgent:
    """The agent of storage host ``host`` (default ``conf.hostname``) with ``driver``.

    Args:
        conf: ``Config`` (``periodic_interval``, ``volume_sync_interval``,
            ``storage_availability_zone``, ``[service_user]``, ``state_dir``).
        bus: the bus to the controllers.
        driver: a ``VolumeDriver`` (its ``pool_dir`` also holds the journal).
        host: the host it serves (a lab host's name).
        images_auth: token source of image downloads/uploads (default ``ServiceAuth``).
        backups: a ``BackupService``-like object (default: built on first use).
    """

    def __init__(
        self,
        conf: Any,
        bus: Bus,
        driver: VolumeDriver,
        *,
        host: str | None = None,
        images_auth: Any = None,
        backups: Any = None,
    ):
        self.conf, self.bus, self.driver = conf, bus, driver
        self.host: str = host or conf.hostname
        self.target = agent_target(self.host)
        self.server = VolumeServerClient(bus)
        self._images_auth = images_auth
        self._backups = backups
        self.journal = Journal(Path(driver.pool_dir) / ".ops")
        self.started_at = time.time()
        self.syncer = VolumeSync(self)
        self._start_flag = True
        self._locks: dict[str, threading.Lock] = {}
        #: (volume id, attachment id) -> when this process exported it (monotonic)
        self._exported: dict[tuple[str, str], float] = {}
        self._locks_guard = threading.Lock()
        self._heartbeat = PeriodicTasks(
            f"volume-{self.host}-heartbeat",
            float(getattr(conf, "periodic_interval", 10.0)),
            [self.report_state],
        )
        self._sync_loop = PeriodicTasks(
            f"volume-{self.host}-sync",
            float(getattr(conf, "volume_sync_interval", 60.0)),
            [self.run_sync],
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Converge once (``at_start``: what a killed agent left is settled before any
        queued message runs; no controller yet: the sync loop retries), serve
        ``volume.<host>``, then report the service (``start_flag``: the scheduler never
        places a volume on a host whose queue does not exist yet, where its cast would be
        dropped), start the heartbeat and sync threads."""
        self.started_at = time.time()
        self.syncer.run(at_start=True)
        self.bus.serve(self.target, self, AGENT_MESSAGES)
        with contextlib.suppress(errors.PocketError):  # no controller yet: the loop retries
            self.report_state()
        self._heartbeat.start()
        self._sync_loop.start()

    def stop(self, stop_exports: bool = False) -> None:
        """Stop serving and the periodic threads; the export daemons (tgtd) keep running
        so attached guests keep their disks, unless ``stop_exports``."""
        self.bus.unserve(self.target)
        self._sync_loop.stop()
        self._heartbeat.stop()
        if stop_exports:
            self.driver.stop()

    def report_state(self) -> None:
        """Heartbeat with the driver's capacity (a cast; the first carries ``start_flag``)."""
        capabilities = self.driver.capabilities()
        ratio = getattr(self.conf, "max_over_subscription_ratio", None)
        if ratio is not None:
            capabilities["max_over_subscription_ratio"] = float(ratio)
        service = {
            "host": self.host,
            "backend": f"{self.host}@{self.driver.backend_name}",
            "binary": BINARY,
            "availability_zone": getattr(self.conf, "storage_availability_zone", "nova"),
            "start_flag": self._start_flag,
            "capabilities": capabilities,
        }
        self.server.report_state(RequestContext.system(), service)
        self._start_flag = False

    def run_sync(self) -> None:
        """One convergence round (see ``agent_sync.VolumeSync``); never raises."""
        self.syncer.run(at_start=False)

    def sync(self, ctx: RequestContext) -> None:
        """The controller asks for a round now (fanout or cast): run in its own thread."""
        threading.Thread(
            target=self.run_sync, name=f"volume-{self.host}-sync-now", daemon=True
        ).start()

    # ------------------------------------------------------------------ helpers

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """Serialize the operations on one volume (``key``: its id)."""
        with self._locks_guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            yield

    def result(self, message: str, **args: Any) -> None:
        """Cast one outcome to ``volume_server`` (logged, never raised: the next sync after
        a lost cast reports it again)."""
        args.setdefault("fault", None)
        try:
            self.server.result(RequestContext.system(), message, **args)
        except Exception:  # no controller: the next sync settles it; logged
            LOG.exception("volume agent %s: %s could not be sent", self.host, message)

    def _operation(
        self,
        key: str,
        op: str,
        work: Callable[[], dict[str, Any]],
        message: str,
        failed: Callable[[str], dict[str, Any]],
    ) -> None:
        """Run ``work`` under the lock of ``key`` with a journal entry ``op``; cast
        ``message`` with what it returns, or with ``failed(fault)`` when it raises."""
        with self.locked(key):
            with self.journal.entry(op, key):
                try:
                    outcome = work()
                except Exception as exc:  # every failure becomes a result cast; logged
                    outcome = failed(fault_message(exc, f"{op} {key}"))
            self.result(message, **outcome)

    @property
    def images_auth(self) -> Any:
        """The service user's token source (built on first use)."""
        if self._images_auth is None:
            from pocketstack.compute.service_auth import ServiceAuth

            self._images_auth = ServiceAuth(self.conf)
        return self._images_auth

    @property
    def backups(self) -> Any:
        """The ``BackupService`` (built on first use).

        Raises:
            VolumeDriverError: the backup service is not installed or cannot run.
        """
        if self._backups is None:
            try:
                from pocketstack.volume.backup import BackupService
            except ImportError as exc:
                raise VolumeDriverError(f"The backup service is not available: {exc}") from exc
            self._backups = BackupService(self.driver, self.conf)
        return self._backups

    # ------------------------------------------------------------------ volumes

    def create_volume(self, ctx: RequestContext, volume: dict[str, Any], source: Any) -> None:
        """Make ``volume`` (``id``, ``size`` GiB) from ``source`` (docs/block-storage.md,
        "Bus"); casts ``volume_created``."""
        volume_id, size = volume["id"], int(volume["size"])
        source = source or {"type": "blank"}

        def work() -> dict[str, Any]:
            if volume_id not in self.driver.list_volumes():  # a repeated cast never overwrites
                self._create(volume_id, size, source)
            real = self.driver.list_volumes().get(volume_id, size)
            return {
                "volume_id": volume_id,
                "status": "available",
                "size": real,
                "bootable": source.get("type") == "image",
                "provider_location": f"volume-{volume_id}",
            }

        def failed(fault: str) -> dict[str, Any]:
            with contextlib.suppress(Exception):  # what the driver left: best effort
                self.driver.delete_volume(volume_id)
            return {"volume_id": volume_id, "status": "error", "fault": fault}

        self._operation(volume_id, "create_volume", work, "volume_created", failed)

    def _create(self, volume_id: str, size: int, source: dict[str, Any]) -> None:
        kind = source.get("type", "blank")
        if kind == "blank":
            self.driver.create_volume(volume_id, size)
        elif kind == "snapshot":
            self.driver.create_volume_from_snapshot(volume_id, source["snapshot_id"], size)
        elif kind == "volume":
            self.driver.clone_volume(volume_id, source["volume_id"], size)
        elif kind == "image":
            from pocketstack.compute.image_cache import ensure_image

            image = {"id": source["image_id"], "path": source.get("path"), "url": source.get("url")}
            path = ensure_image(self.conf, image, self.images_auth)
            fmt = source.get("disk_format") or "raw"
            self.driver.copy_image_to_volume(volume_id, path, fmt, size)
        elif kind == "backup":
            self.driver.create_volume(volume_id, size)
            with self.driver.raw_volume(volume_id, write=True) as path:
                self.backups.restore(source["backup"], path)
        else:
            raise VolumeDriverError(f"Unknown volume source {kind!r}.")

    def delete_volume(self, ctx: RequestContext, volume_id: str) -> None:
        """Remove the volume and its export; casts ``volume_deleted``."""

        def work() -> dict[str, Any]:
            self.driver.delete_volume(volume_id)
            return {"volume_id": volume_id, "status": "deleted"}

        def failed(fault: str) -> dict[str, Any]:
            return {"volume_id": volume_id, "status": "error_deleting", "fault": fault}

        self._operation(volume_id, "delete_volume", work, "volume_deleted", failed)

    def extend_volume(self, ctx: RequestContext, volume_id: str, new_size: int) -> None:
        """Grow the volume (its export too); casts ``volume_extended`` with the size the
        volume has afterwards."""

        def work() -> dict[str, Any]:
            self.driver.extend_volume(volume_id, int(new_size))
            return {"volume_id": volume_id, "status": "available", "new_size": int(new_size)}

        def failed(fault: str) -> dict[str, Any]:
            size = self.driver.list_volumes().get(volume_id)
            return {
                "volume_id": volume_id,
                "status": "error_extending",
                "new_size": size,
                "fault": fault,
            }

        self._operation(volume_id, "extend_volume", work, "volume_extended", failed)

    # ------------------------------------------------------------------ snapshots

    def create_snapshot(self, ctx: RequestContext, snapshot: dict[str, Any]) -> None:
        """Snapshot ``snapshot["volume_id"]``; casts ``snapshot_created``."""
        snapshot_id, volume_id = snapshot["id"], snapshot["volume_id"]
        ids = {"snapshot_id": snapshot_id, "volume_id": volume_id}

        def work() -> dict[str, Any]:
            self.driver.create_snapshot(snapshot_id, volume_id)
            return {**ids, "status": "available"}

        def failed(fault: str) -> dict[str, Any]:
            return {**ids, "status": "error", "fault": fault}

        with self.locked(volume_id):
            self._operation(snapshot_id, "create_snapshot", work, "snapshot_created", failed)

    def delete_snapshot(self, ctx: RequestContext, snapshot_id: str, volume_id: str) -> None:
        """Remove the snapshot (volumes made from it keep their data); casts
        ``snapshot_deleted``."""
        ids = {"snapshot_id": snapshot_id, "volume_id": volume_id}

        def work() -> dict[str, Any]:
            self.driver.delete_snapshot(snapshot_id, volume_id)
            return {**ids, "status": "deleted"}

        def failed(fault: str) -> dict[str, Any]:
            return {**ids, "status": "error_deleting", "fault": fault}

        with self.locked(volume_id):
            self._operation(snapshot_id, "delete_snapshot", work, "snapshot_deleted", failed)

    # ------------------------------------------------------------------ connections

    def initialize_connection(
        self,
        ctx: RequestContext,
        volume_id: str,
        attachment_id: str,
        connector: dict[str, Any],
    ) -> dict[str, Any]:
        """Export the volume for one attachment; returns Cinder's ``connection_info``.

        Raises:
            VolumeNotFound, VolumeDriverError: travel back to the caller.
        """
        with self.locked(volume_id):
            info = self.driver.initialize_connection(volume_id, attachment_id, connector or {})
            with self._locks_guard:
                self._exported[(volume_id, attachment_id)] = time.monotonic()
            return info

    def exported_since(self, volume_id: str, access: str, since: float) -> bool:
        """Whether this process exported ``volume_id`` to the attachment of ``access`` (an
        attachment id or its CHAP user) at or after ``since`` (``time.monotonic``): a sync
        round whose host state is older must keep that export."""
        with self._locks_guard:
            return any(
                vid == volume_id and at >= since and access in (aid, chap_user(aid))
                for (vid, aid), at in self._exported.items()
            )

    def terminate_connection(self, ctx: RequestContext, volume_id: str, attachment_id: str) -> None:
        """End one attachment's access (the export goes with its last one)."""
        with self.locked(volume_id):
            self.driver.terminate_connection(volume_id, attachment_id)

    # ------------------------------------------------------------------ backups

    def create_backup(
        self,
        ctx: RequestContext,
        backup: dict[str, Any],
        volume_id: str,
        parent: dict[str, Any] | None = None,
    ) -> None:
        """Back the volume up (``parent``: the incremental's parent); casts
        ``backup_finished`` (``operation`` ``create``)."""

        def work() -> dict[str, Any]:
            with self.driver.raw_volume(volume_id) as path:
                result = self.backups.create(backup, path, parent)
            return {"status": "available", "result": result}

        self._backup_op(backup, volume_id, "create", work)

    def restore_backup(
        self,
        ctx: RequestContext,
        backup: dict[str, Any],
        volume_id: str,
        parent: dict[str, Any] | None = None,
    ) -> None:
        """Write the backup's data into the volume; casts ``backup_finished`` (``restore``)."""

        def work() -> dict[str, Any]:
            with self.driver.raw_volume(volume_id, write=True) as path:
                result = self.backups.restore(backup, path)
            return {"status": "available", "result": result or {}}

        self._backup_op(backup, volume_id, "restore", work)

    def delete_backup(
        self,
        ctx: RequestContext,
        backup: dict[str, Any],
        volume_id: str | None = None,
        parent: dict[str, Any] | None = None,
    ) -> None:
        """Remove the backup's objects; casts ``backup_finished`` (``delete``)."""

        def work() -> dict[str, Any]:
            return {"status": "deleted", "result": self.backups.delete(backup) or {}}

        self._backup_op(backup, volume_id, "delete", work)

    def _backup_op(
        self,
        backup: dict[str, Any],
        volume_id: str | None,
        operation: str,
        work: Callable[[], dict[str, Any]],
    ) -> None:
        ids = {"backup_id": backup["id"], "volume_id": volume_id, "operation": operation}

        def done() -> dict[str, Any]:
            return {**ids, **work()}

        def failed(fault: str) -> dict[str, Any]:
            return {**ids, "status": "error", "result": {}, "fault": fault}

        key = volume_id or backup["id"]
        self._operation(key, f"{operation}_backup", done, "backup_finished", failed)

    # ------------------------------------------------------------------ images

    def copy_volume_to_image(
        self, ctx: RequestContext, volume_id: str, image: dict[str, Any]
    ) -> None:
        """Convert the volume to ``image["disk_format"]`` and upload it to ``image["url"]``
        (``PUT .../images/{id}/file``) with the service token; casts ``volume_uploaded``."""
        ids = {"volume_id": volume_id, "image_id": image.get("id")}
        tmp = Path(self.driver.pool_dir) / f".upload-{volume_id}"

        def work() -> dict[str, Any]:
            try:
                self.driver.copy_volume_to_image(volume_id, str(tmp), image["disk_format"])
                self._upload(tmp, image["url"])
            finally:
                tmp.unlink(missing_ok=True)
            return {**ids, "status": "available"}

        def failed(fault: str) -> dict[str, Any]:
            return {**ids, "status": "error", "fault": fault}

        self._operation(volume_id, "copy_volume_to_image", work, "volume_uploaded", failed)

    def _upload(self, path: Path, url: str) -> None:
        """PUT ``path`` to ``url`` with the service token (a 401 gets one retry with a new
        token). Raises VolumeDriverError."""
        for attempt in (1, 2):
            token = self.images_auth.token()
            size = path.stat().st_size
            with open(path, "rb") as body:
                request = urllib.request.Request(
                    url,
                    data=body,
                    method="PUT",
                    headers={
                        "X-Auth-Token": token,
                        "Content-Type": "application/octet-stream",
                        "Content-Length": str(size),
                    },
                )
                try:
                    with urllib.request.urlopen(request, timeout=600) as resp:
                        resp.read()
                    return
                except urllib.error.HTTPError as exc:
                    if exc.code == 401 and attempt == 1:
                        self.images_auth.invalidate()
                        continue
                    raise VolumeDriverError(f"Uploading the image to {url} failed: {exc}") from exc
                except (OSError, http.client.HTTPException) as exc:
                    raise VolumeDriverError(f"Uploading the image to {url} failed: {exc}") from exc


def pool_dir(conf: Any) -> Path:
    """The volume pool of ``conf``: ``volume_pool_dir`` or ``<state_dir>/volumes``."""
    configured = getattr(conf, "volume_pool_dir", "") or ""
    return Path(configured) if configured else Path(conf.state_dir) / "volumes"
