"""The volume agent's convergence: what the controller says the host holds against what the
driver has (docs/block-storage.md, "Recovery" and "Result casts").

``Journal``: one file per running operation in ``<pool>/.ops/`` (``<op>-<id>``), written
before the driver is called and removed once it returned (before the result is cast). An
entry left by another process is an operation a killed agent did not finish; no entry but
the file there means "finished, result lost"; neither means "never started".

``VolumeSync.run`` (at agent start and every ``volume_sync_interval`` s, one at a time):

1. volumes: ``creating`` interrupted -> partial file removed, ``volume_created`` error;
   finished -> ``available`` again; never started (at start only) -> error. ``deleting`` ->
   deleted again (at start, or interrupted). ``extending`` (at start, or interrupted) ->
   ``volume_extended`` ``available`` with the size the file has.
2. snapshots likewise (``snapshot_created``/``snapshot_deleted``).
3. backups ``creating``/``restoring`` interrupted (or at start) -> ``backup_finished`` error.
4. exports: an attachment ``attaching``/``attached``/``detaching`` whose export is gone is
   exported again from its stored ``connection_info`` (same CHAP secret); accesses of no such
   attachment are removed, and exports of volumes the controller does not list.
5. files of no volume or snapshot, older than the agent's start, are removed.

Nothing is done when ``get_host_state`` fails (no controller): the next round retries.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pocketstack.common.auth import RequestContext
from pocketstack.volume.targets import chap_user

if TYPE_CHECKING:
    from pocketstack.volume.agent import VolumeAgent

LOG = logging.getLogger(__name__)

INTERRUPTED = "Interrupted by a volume agent restart."
#: ``(operation, id)`` of a journal entry
Ops = tuple[str, str]
#: attachment states whose export is kept (``reserved``: initialize_connection may be running)
LIVE_ATTACHMENTS = ("reserved", "attaching", "attached", "detaching")


class Journal:
    """The running operations of one agent, as files in ``folder``."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._running: set[str] = set()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def entry(self, op: str, key: str) -> Iterator[None]:
        """Record ``op`` on ``key`` while the block runs (removed however it ends)."""
        name = f"{op}-{key}"
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._running.add(name)
        path = self.folder / name
        path.write_text(json.dumps({"op": op, "key": key, "pid": os.getpid()}))
        try:
            yield
        finally:
            path.unlink(missing_ok=True)
            with self._lock:
                self._running.discard(name)

    def interrupted(self) -> set[tuple[str, str]]:
        """``(op, key)`` of entries no operation of this process runs."""
        found = set()
        with self._lock:
            running = set(self._running)
        for path in self.folder.glob("*"):
            if path.name in running:
                continue
            with contextlib.suppress(OSError, ValueError, KeyError):
                doc = json.loads(path.read_text())
                found.add((doc["op"], doc["key"]))
        return found

    def running(self, key: str) -> bool:
        """Whether an operation of this process runs on ``key``."""
        with self._lock:
            return any(name.endswith(f"-{key}") for name in self._running)

    def drop(self, op: str, key: str) -> None:
        """Forget an interrupted entry (it was settled)."""
        (self.folder / f"{op}-{key}").unlink(missing_ok=True)


class VolumeSync:
    """The convergence rounds of ``agent`` (see the module docstring)."""

    def __init__(self, agent: VolumeAgent):
        self.agent = agent
        self.rounds = 0
        self.last_error: str | None = None
        #: when the last round asked for the host state (``time.monotonic``)
        self.fetched_at = 0.0
        self._lock = threading.Lock()

    def run(self, at_start: bool = False) -> bool:
        """One round; False when it could not run (no host state, or a round runs). Never
        raises: a part that fails is logged and the next round retries."""
        if not self._lock.acquire(timeout=0 if not at_start else 60):
            return False
        try:
            self.fetched_at = time.monotonic()
            try:
                state = self.agent.server.get_host_state(RequestContext.system(), self.agent.host)
            except Exception as exc:  # no controller answered: the next round asks again
                self.last_error = str(exc)
                LOG.warning("volume agent %s: no host state: %s", self.agent.host, exc)
                return False
            interrupted = self.agent.journal.interrupted()
            for part in (self._volumes, self._snapshots, self._backups, self._exports):
                try:
                    part(state, interrupted, at_start)
                except Exception:  # the other parts still run; the next round retries
                    LOG.exception("volume agent %s: %s failed", self.agent.host, part.__name__)
            try:
                self._orphans(state)
            except Exception:  # logged; retried next round
                LOG.exception("volume agent %s: orphan files", self.agent.host)
            self.rounds += 1
            self.last_error = None
            return True
        finally:
            self._lock.release()

    # ------------------------------------------------------------------ volumes

    def _volumes(self, state: dict[str, Any], interrupted: set[Ops], start: bool) -> None:
        agent, driver = self.agent, self.agent.driver
        for volume in state.get("volumes") or []:
            vid, status = volume["id"], volume.get("status")
            if agent.journal.running(vid):
                continue
            with agent.locked(vid):
                have = driver.list_volumes()
                if status == "creating":
                    self._settle_create(volume, have, interrupted, start)
                elif status == "deleting" and (start or ("delete_volume", vid) in interrupted):
                    driver.delete_volume(vid)
                    agent.result("volume_deleted", volume_id=vid, status="deleted")
                elif status == "extending" and (start or ("extend_volume", vid) in interrupted):
                    size = have.get(vid, volume.get("size"))
                    agent.result(
                        "volume_extended",
                        volume_id=vid,
                        status="available",
                        new_size=size,
                        fault=INTERRUPTED,
                    )
            for op in ("create_volume", "delete_volume", "extend_volume"):
                if (op, vid) in interrupted:
                    agent.journal.drop(op, vid)

    def _settle_create(
        self,
        volume: dict[str, Any],
        have: dict[str, int],
        interrupted: set[Ops],
        start: bool,
    ) -> None:
        agent, vid = self.agent, volume["id"]
        if ("create_volume", vid) in interrupted:
            agent.driver.delete_volume(vid)
            agent.result("volume_created", volume_id=vid, status="error", fault=INTERRUPTED)
        elif vid in have:
            agent.result(
                "volume_created",
                volume_id=vid,
                status="available",
                size=have[vid],
                bootable=bool(volume.get("bootable")),
                provider_location=f"volume-{vid}",
            )
        elif start:
            agent.result("volume_created", volume_id=vid, status="error", fault=INTERRUPTED)

    def _snapshots(self, state: dict[str, Any], interrupted: set[Ops], start: bool) -> None:
        agent, driver = self.agent, self.agent.driver
        for snap in state.get("snapshots") or []:
            sid, vid, status = snap["id"], snap.get("volume_id"), snap.get("status")
            if agent.journal.running(sid):
                continue
            ids = {"snapshot_id": sid, "volume_id": vid}
            if status == "creating":
                if ("create_snapshot", sid) in interrupted:
                    driver.delete_snapshot(sid, vid)
                    agent.result("snapshot_created", **ids, status="error", fault=INTERRUPTED)
                elif sid in driver.list_snapshots():
                    agent.result("snapshot_created", **ids, status="available")
                elif start:
                    agent.result("snapshot_created", **ids, status="error", fault=INTERRUPTED)
            elif status == "deleting" and (start or ("delete_snapshot", sid) in interrupted):
                driver.delete_snapshot(sid, vid)
                agent.result("snapshot_deleted", **ids, status="deleted")
            for op in ("create_snapshot", "delete_snapshot"):
                if (op, sid) in interrupted:
                    agent.journal.drop(op, sid)

    def _backups(self, state: dict[str, Any], interrupted: set[Ops], start: bool) -> None:
        agent = self.agent
        ops = {"creating": "create", "restoring": "restore"}
        for backup in state.get("backups") or []:
            operation = ops.get(backup.get("status", ""))
            vid = backup.get("volume_id")
            key = vid or backup["id"]
            if operation is None or agent.journal.running(key):
                continue
            if start or (f"{operation}_backup", key) in interrupted:
                agent.result(
                    "backup_finished",
                    backup_id=backup["id"],
                    volume_id=vid,
                    operation=operation,
                    status="error",
                    result={},
                    fault=INTERRUPTED,
                )
                agent.journal.drop(f"{operation}_backup", key)

    # ------------------------------------------------------------------ exports, files

    def _exports(self, state: dict[str, Any], interrupted: set[Ops], start: bool) -> None:
        driver = self.agent.driver
        volumes = {v["id"] for v in state.get("volumes") or []}
        live: dict[str, list[dict[str, Any]]] = {}
        for att in state.get("attachments") or []:
            if att.get("attach_status") in LIVE_ATTACHMENTS and att.get("volume_id") in volumes:
                live.setdefault(att["volume_id"], []).append(att)
        exports = driver.list_exports()
        for vid, accesses in exports.items():
            if self.agent.journal.running(vid):
                continue
            wanted = {a["id"] for a in live.get(vid, [])}
            wanted |= {chap_user(a) for a in wanted}
            with self.agent.locked(vid):
                if vid not in volumes:
                    driver.remove_export(vid)
                    continue
                for access in accesses:
                    if access not in wanted and not self.agent.exported_since(
                        vid, access, self.fetched_at
                    ):
                        driver.terminate_connection(vid, access.removeprefix("att-"))
        for vid, atts in live.items():
            for att in atts:
                self._restore_export(att, exports.get(vid, []))

    def _restore_export(self, att: dict[str, Any], accesses: list[str]) -> None:
        vid, aid = att["volume_id"], att["id"]
        if aid in accesses or chap_user(aid) in accesses:
            return
        info = att.get("connection_info") or {}
        data = info.get("data") or {}
        if not info or vid not in self.agent.driver.list_volumes():
            return
        with self.agent.locked(vid):
            self.agent.driver.initialize_connection(
                vid, aid, att.get("connector") or {}, auth_password=data.get("auth_password")
            )
        LOG.info("volume agent %s: export of %s restored for %s", self.agent.host, vid, aid)

    def _orphans(self, state: dict[str, Any]) -> None:
        """Files of no volume/snapshot the controller lists, made before the agent started."""
        driver, journal = self.agent.driver, self.agent.journal
        volumes = {v["id"] for v in state.get("volumes") or []}
        snapshots = {s["id"] for s in state.get("snapshots") or []}
        before = self.agent.started_at
        for vid in set(driver.list_volumes()) - volumes:
            if not journal.running(vid) and self._older(driver.volume_path(vid), before):
                LOG.info("volume agent %s: removing orphan volume %s", self.agent.host, vid)
                with self.agent.locked(vid):
                    driver.delete_volume(vid)
        for sid in set(driver.list_snapshots()) - snapshots:
            path = Path(driver.pool_dir) / f"snapshot-{sid}"
            if not journal.running(sid) and self._older(str(path), before):
                LOG.info("volume agent %s: removing orphan snapshot %s", self.agent.host, sid)
                driver.delete_snapshot(sid)

    @staticmethod
    def _older(path: str, before: float) -> bool:
        try:
            return os.stat(path).st_mtime < before
        except OSError:  # no file (fake driver): its age is unknown, keep it
            return False
