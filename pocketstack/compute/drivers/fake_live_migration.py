"""Live migration of the fake driver (a base of ``FakeDriver``): the reference of the
contract in ``compute.live_migration_agent``. Instant by default.

Knobs for tests, read from the server's image properties (``spec["image"]["properties"]``):

- ``fake_live_migration_error``: ``live_migration_prepare`` raises ``DriverError`` with it
  (the destination refuses: the workflow rolls back);
- ``fake_live_migration_seconds``: the copy takes that long (progress every 0.2 s over a
  "memory" of the flavor's size), so that abort and force-complete can be seen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from pocketstack.compute.drivers.base import DriverError

STEP = 0.2


class LiveMigrationNotRunning(DriverError):
    """400: abort or force-complete of a copy that does not run (any more)."""

    status = 400


class FakeLiveMigration:
    """The live-migration operations of ``FakeDriver``."""

    _lock: threading.Lock
    _guests: dict[str, Any]
    # provided by FakeDriver
    destroy: Callable[..., None]
    spawn: Callable[[Any], None]
    list_instances: Callable[[], list[str]]

    def _lm_state(self) -> dict[str, Any]:
        state = self.__dict__.get("_lm")
        if state is None:
            state = self.__dict__.setdefault(
                "_lm", {"incoming": {}, "cancel": {}, "force": {}, "copied": set()}
            )
        return state

    def live_migration_prepare(
        self, spec: dict[str, Any], block_migration: bool | None, address: str
    ) -> dict[str, Any]:
        """Record the incoming guest (not listed until ``live_migration_finish``)."""
        props = (spec.get("image") or {}).get("properties") or {}
        if props.get("fake_live_migration_error"):
            raise DriverError(str(props["fake_live_migration_error"]))
        with self._lock:
            if spec["uuid"] in self._guests:
                raise DriverError(f"instance {spec['uuid']} already exists on this host")
            self._lm_state()["incoming"][spec["uuid"]] = dict(spec)
        block = block_migration is not False
        return {"uri": f"fake:{address}", "block_migration": block, "shared": not block}

    def live_migration(
        self,
        uuid: str,
        migrate_data: dict[str, Any],
        progress: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any]:
        """Copy (instantly, or over ``fake_live_migration_seconds``)."""
        with self._lock:
            guest = self._guests.get(uuid)
            if guest is None:
                raise DriverError(f"instance {uuid} is not on this host")
            props = (guest.spec.get("image") or {}).get("properties") or {}
            cancel = self._lm_state()["cancel"].setdefault(uuid, threading.Event())
            force = self._lm_state()["force"].setdefault(uuid, threading.Event())
            cancel.clear()
            force.clear()
            self._lm_state()["copied"].discard(uuid)
        total = int(guest.spec.get("memory_mb") or 0) * 1024 * 1024
        seconds = float(props.get("fake_live_migration_seconds") or 0)
        began = time.monotonic()
        try:
            while time.monotonic() - began < seconds and not force.is_set():
                if cancel.is_set():
                    return {"status": "cancelled"}
                done = min(1.0, (time.monotonic() - began) / seconds)
                progress(_stats(total, int(total * done)))
                time.sleep(STEP)
            if cancel.is_set():
                return {"status": "cancelled"}
        finally:
            with self._lock:
                self._lm_state()["cancel"].pop(uuid, None)
                self._lm_state()["force"].pop(uuid, None)
        elapsed = int((time.monotonic() - began) * 1000)
        with self._lock:
            self._lm_state()["copied"].add(uuid)
        return {"status": "completed", "downtime_ms": 0, "total_time_ms": elapsed} | _stats(
            total, total
        )

    def live_migration_abort(self, uuid: str) -> None:
        """Cancel the running copy.

        Raises:
            DriverError (400): no copy of ``uuid`` runs here."""
        with self._lock:
            event = self._lm_state()["cancel"].get(uuid)
        if event is None:
            raise LiveMigrationNotRunning(f"No live migration of {uuid} runs on this host.")
        event.set()

    def live_migration_force_complete(self, uuid: str) -> None:
        """End the running copy at once (as pausing the guest would)."""
        with self._lock:
            event = self._lm_state()["force"].get(uuid)
        if event is None:
            raise LiveMigrationNotRunning(f"No live migration of {uuid} runs on this host.")
        event.set()

    def live_migration_completed(self, uuid: str) -> bool:
        """Whether a copy of ``uuid`` from here completed and its guest was not cleaned up
        since (as QEMU's ``query-migrate`` says ``completed``)."""
        with self._lock:
            return uuid in self._lm_state()["copied"]

    def live_migration_cleanup_source(self, uuid: str, shared: bool) -> None:
        """Forget the source's guest; its disk stays when ``shared`` (the destination's)."""
        with self._lock:
            self._lm_state()["copied"].discard(uuid)
        self.destroy(uuid, destroy_disks=not shared)

    def live_migration_finish(self, spec: dict[str, Any], running: bool) -> None:
        """The incoming guest becomes this host's (a guest, RUNNING)."""
        with self._lock:
            incoming = self._lm_state()["incoming"].pop(spec["uuid"], None)
        if spec["uuid"] in self.list_instances():
            return  # finished already (the call repeated)
        if incoming is None:
            raise DriverError(f"no incoming live migration of {spec['uuid']} on this host")
        self.spawn(spec)

    def live_migration_rollback_dest(self, uuid: str, shared: bool) -> None:
        """Forget the incoming guest; succeeds when there is none."""
        with self._lock:
            self._lm_state()["incoming"].pop(uuid, None)


def _stats(total: int, processed: int) -> dict[str, int]:
    return {
        "memory_total": total,
        "memory_processed": processed,
        "memory_remaining": total - processed,
        "disk_total": 0,
        "disk_processed": 0,
        "disk_remaining": 0,
    }
