"""The compute agent's half of a rebuild (``compute.rebuild`` has the workflow): destroy the
guest and its disks, spawn it again from the new image on the same host, keep it off if it
was off. An evacuation onto shared instance storage (``keeps_disks``) keeps the disks and
boots them instead. ``RebuildAgent`` is a base class of ``ComputeAgent``; it reaches the
conductor only through the bus (``rebuild_task_changed``, a call, and ``instance_rebuilt``,
a cast kept until written)."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from pocketstack.common.auth import RequestContext
from pocketstack.compute import faults, states
from pocketstack.compute.drivers.base import PowerState
from pocketstack.compute.rpcapi import ConductorClient

if TYPE_CHECKING:
    from collections.abc import Callable

    from pocketstack.compute.drivers.base import ComputeDriver

LOG = logging.getLogger(__name__)

REBUILDING = states.REBUILDING
REBUILD_BLOCK_DEVICE_MAPPING = states.REBUILD_BLOCK_DEVICE_MAPPING
REBUILD_SPAWNING = states.REBUILD_SPAWNING
REBUILD_TASKS = states.REBUILD_TASKS
EV_REBUILD = "compute_rebuild_instance"
REBUILD_INTERRUPTED = "Rebuild interrupted by a compute restart"


def keeps_disks(spec: dict[str, Any]) -> bool:
    """Whether the rebuild described by ``spec`` is an evacuation onto a host sharing the
    instance storage with the dead one (``spec["rebuild"]``, written by the conductor's
    ``evacuate``): the guest's disks are then booted as they are (Nova's
    ``rebuild_instance`` with ``on_shared_storage``), never deleted nor made from the
    image."""
    rebuild = spec.get("rebuild") or {}
    return bool(rebuild.get("evacuate") and rebuild.get("shared_storage"))


class RebuildAgent:
    """``rebuild_instance`` of the ``ComputeAgent`` (see the module docstring)."""

    host: str
    driver: ComputeDriver
    conductor: ConductorClient

    # provided by ComputeAgent
    def _serialized(self, uuid: str) -> Any:  # pragma: no cover - ComputeAgent's
        raise NotImplementedError

    def _begin(
        self, ctx: RequestContext, uuid: str, event: str, expected: list[str | None] | None
    ) -> dict[str, Any] | None:  # pragma: no cover - ComputeAgent's
        raise NotImplementedError

    def _outcome(self, uuid: str, task: str, send: Callable[[], None]) -> None:
        raise NotImplementedError  # pragma: no cover - ComputeAgent's

    def _ensure_image(self, spec: dict[str, Any]) -> None:
        raise NotImplementedError  # pragma: no cover - ComputeAgent's

    def _move(self, ctx: RequestContext, uuid: str, from_task: str, to_task: str) -> None:
        if not self.conductor.rebuild_task_changed(ctx, uuid, from_task, to_task):
            raise RuntimeError(f"the server left {from_task} (deleted?)")

    def rebuild_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Rebuild the guest from the stored spec (its ``image`` is the new one): the guest
        and its disks are destroyed (``rebuild_block_device_mapping``), then spawned again
        (``rebuild_spawning``) and powered off when ``spec["rebuild"]["power_off"]``; then
        ``instance_rebuilt`` with its power state, or the fault."""

        uuid = instance_uuid
        with self._serialized(uuid):
            inst = self._begin(ctx, uuid, EV_REBUILD, [REBUILDING])
            if inst is None:
                LOG.info("not rebuilding %s: state changed", uuid)
                return
            spec = dict(inst["spec"] or {"uuid": uuid})
            keep = keeps_disks(spec)
            task, fault = REBUILDING, None
            try:
                self._move(ctx, uuid, task, REBUILD_BLOCK_DEVICE_MAPPING)
                task = REBUILD_BLOCK_DEVICE_MAPPING
                self.driver.destroy(uuid, destroy_disks=not keep)
                self._move(ctx, uuid, task, REBUILD_SPAWNING)
                task = REBUILD_SPAWNING
                if keep:  # the disk is the one the dead host ran: no image to fetch
                    spec["keep_disks"] = True
                else:
                    self._ensure_image(spec)
                self.driver.spawn(spec)
                if (spec.get("rebuild") or {}).get("power_off"):
                    self.driver.power_off(uuid)
            except Exception as exc:
                fault = faults.fault(exc, "rebuild", uuid)
                if task == REBUILD_SPAWNING:
                    with contextlib.suppress(Exception):
                        self.driver.destroy(uuid, destroy_disks=not keep)
            power = int(self.driver.get_power_state(uuid) if fault is None else PowerState.NOSTATE)
            self._outcome(
                uuid,
                task,
                lambda: self.conductor.instance_rebuilt(ctx, uuid, task, power, fault),
            )

    def settle_rebuild(self, inst: dict[str, Any]) -> None:
        """At start-up, a rebuild a killed agent left (``inst``: the server as the conductor
        lists it): one still ``rebuilding`` (nothing done yet, or its message was queued) is
        carried out; one further on lost its guest half-made: destroyed, ERROR with the fault
        ``REBUILD_INTERRUPTED`` (a rebuild of the ERROR server brings it back)."""
        uuid, task = inst["uuid"], inst["task_state"]
        request_ctx = RequestContext.system(inst.get("request_id"))
        if task == REBUILDING:
            LOG.warning("rebuild of %s was pending or interrupted; carrying it out", uuid)
            self.rebuild_instance(request_ctx, uuid)
            return
        LOG.warning("rebuild of %s was interrupted in %s; setting ERROR", uuid, task)
        with contextlib.suppress(Exception):
            self.driver.destroy(uuid, destroy_disks=not keeps_disks(inst.get("spec") or {}))
        fault = {"message": REBUILD_INTERRUPTED, "code": 500, "traceback": None}
        self._outcome(
            uuid,
            task,
            lambda: self.conductor.instance_rebuilt(
                request_ctx, uuid, task, int(PowerState.NOSTATE), fault
            ),
        )
