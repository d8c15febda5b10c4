"""Resize and cold migration on the compute agents (docs/server-actions.md, "Resize and cold
migration"): the source and destination halves of ``compute.resize_conductor``'s workflow.

``AgentMigrations`` is part of the ``ComputeAgent`` (a base class). Its bus messages
(``rpcapi.AGENT_MESSAGES``):

- ``resize_instance`` (source, task ``resize_migrating``, step ``compute_resize_instance``):
  the guest is powered off and parked (``driver.park_instance``: kept for a revert), the
  destination agent is asked for its instance directory (``prepare_resize_target``, a
  call) and the disks are copied there; then ``resize_migrated`` to the conductor. On
  failure the destination's directory is removed, the guest unparked (and started when it
  ran) and the fault reported: the server stays where it was.
- ``prepare_resize_target`` / ``cleanup_resize_target`` (destination, calls): make / remove
  the directory the disks are copied into.
- ``finish_resize`` (destination, task ``resize_finish``, step ``compute_finish_resize``):
  grow the root disk to the new flavor and start the guest with its vCPUs and RAM
  (``driver.finish_migration``); then ``resize_finished``.
- ``confirm_resize`` (source, step ``compute_confirm_resize``): delete the parked guest;
  then ``resize_confirmed``.
- ``revert_resize`` (destination, task ``resize_reverting``, step ``compute_revert_resize``):
  destroy the new guest and its files; then ``resize_dest_reverted``.
- ``finish_revert_resize`` (source, tasks ``resize_reverting`` or ``resize_finish`` (the
  rollback of a failed finish), step ``compute_finish_revert_resize``): unpark the guest
  with its old flavor and start it when it ran; then ``resize_reverted``.

Restarts (``settle_migrations``, run by ``reconcile`` before the agent serves its queue):
a move a killed agent left is ended so that the guest runs on one host only: mid-copy on
the source -> the destination's copy removed, the guest unparked, the move failed (the
server back where it was); mid-finish on the destination -> the new guest destroyed, the
move failed (the conductor brings the server back on its source); a confirm or revert step
is done again (both are idempotent). Parked guests of no move in progress are deleted
(``remove_stale_parked``, also periodic).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pocketstack.common.auth import RequestContext
from pocketstack.compute import faults, states
from pocketstack.compute.drivers.base import PowerState

if TYPE_CHECKING:
    from collections.abc import Callable

    from pocketstack.common.bus import Bus
    from pocketstack.compute.drivers.base import ComputeDriver
    from pocketstack.compute.rpcapi import ConductorClient

LOG = logging.getLogger(__name__)

EV_RESIZE = "compute_resize_instance"
EV_FINISH_RESIZE = "compute_finish_resize"
EV_CONFIRM_RESIZE = "compute_confirm_resize"
EV_REVERT_RESIZE = "compute_revert_resize"
EV_FINISH_REVERT = "compute_finish_revert_resize"
RESIZE_INTERRUPTED = "Resize interrupted by a compute restart"


class AgentMigrations:
    """The resize/migrate half of the ``ComputeAgent`` (see the module docstring)."""

    host: str
    bus: Bus
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

    # ------------------------------------------------------------------ bus helpers

    def _to_conductor(self, ctx: RequestContext, method: str, **args: Any) -> Any:
        """``ConductorClient.<method>`` (``resize_rpc``)."""
        return getattr(self.conductor, method)(ctx, **args)

    def _to_agent(self, ctx: RequestContext, host: str, method: str, **args: Any) -> Any:
        """``ComputeAgentClient.<method>`` to ``host``'s agent (``resize_rpc``)."""
        from pocketstack.compute.rpcapi import ComputeAgentClient

        return getattr(ComputeAgentClient(self.bus), method)(ctx, host, **args)

    def _report(self, ctx: RequestContext, uuid: str, task: str, method: str, **args: Any) -> None:
        self._outcome(uuid, task, lambda: self._to_conductor(ctx, method, **args))

    # ------------------------------------------------------------------ destination

    def prepare_resize_target(self, ctx: RequestContext, instance_uuid: str) -> str:
        """The empty directory the source copies the guest's disks into ("" for a driver
        without files). Raises DriverError when the guest exists here."""
        return self.driver.resize_target_dir(instance_uuid)

    def cleanup_resize_target(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Remove what a failed copy left in this host's directory of the guest (never a
        running guest: that is the source's, on a same-host resize)."""
        if self.driver.get_power_state(instance_uuid) == PowerState.RUNNING:
            return
        with self._serialized(instance_uuid):
            self.driver.destroy(instance_uuid)

    def finish_resize(
        self, ctx: RequestContext, instance_uuid: str, spec: dict[str, Any], power_on: bool
    ) -> None:
        """Start the copied guest with the new flavor (``spec``); report ``resize_finished``."""
        uuid = instance_uuid
        with self._serialized(uuid):
            if self._begin(ctx, uuid, EV_FINISH_RESIZE, [states.RESIZE_FINISH]) is None:
                return
            fault = None
            try:
                self.driver.finish_migration(spec, power_on)
            except Exception as exc:
                fault = faults.fault(exc, "finish_resize", uuid)
                self._destroy_quietly(uuid)
            power = int(self.driver.get_power_state(uuid))
            self._report(
                ctx,
                uuid,
                states.RESIZE_FINISH,
                "resize_finished",
                instance_uuid=uuid,
                host=self.host,
                power_state=power,
                fault=fault,
            )

    def revert_resize(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Destroy the new guest and its files; report ``resize_dest_reverted``."""
        uuid = instance_uuid
        with self._serialized(uuid):
            if self._begin(ctx, uuid, EV_REVERT_RESIZE, [states.RESIZE_REVERTING]) is None:
                return
            fault = None
            try:
                self.driver.destroy(uuid)
            except Exception as exc:
                fault = faults.fault(exc, "revert_resize", uuid)
            self._report(
                ctx,
                uuid,
                states.RESIZE_REVERTING,
                "resize_dest_reverted",
                instance_uuid=uuid,
                host=self.host,
                fault=fault,
            )

    # ------------------------------------------------------------------ source

    def resize_instance(
        self, ctx: RequestContext, instance_uuid: str, dest_host: str, power_on: bool
    ) -> None:
        """Power off and park the guest, copy its disks to ``dest_host``; report
        ``resize_migrated`` (with a fault the guest is back as it was)."""
        uuid = instance_uuid
        with self._serialized(uuid):
            inst = self._begin(ctx, uuid, EV_RESIZE, [states.RESIZE_MIGRATING])
            if inst is None:
                return
            fault = None
            try:
                self._copy_out(ctx, uuid, dest_host)
            except Exception as exc:
                fault = faults.fault(exc, "resize", uuid)
                self._undo_copy(ctx, uuid, dest_host, dict(inst.get("spec") or {}), power_on)
            self._report(
                ctx,
                uuid,
                states.RESIZE_MIGRATING,
                "resize_migrated",
                instance_uuid=uuid,
                host=self.host,
                fault=fault,
            )

    def _copy_out(self, ctx: RequestContext, uuid: str, dest_host: str) -> None:
        self.driver.park_instance(uuid)
        dest_dir = self._to_agent(ctx, dest_host, "prepare_resize_target", instance_uuid=uuid)
        self.driver.copy_parked_disks(uuid, str(dest_dir or ""))

    def _undo_copy(
        self,
        ctx: RequestContext,
        uuid: str,
        dest_host: str,
        spec: dict[str, Any],
        power_on: bool,
    ) -> None:
        """After a failed copy: the destination's directory removed, then the guest
        unparked (started when it ran). Failures are logged: the fault is the copy's."""
        try:
            self._to_agent(ctx, dest_host, "cleanup_resize_target", instance_uuid=uuid)
        except Exception:  # the destination sweeps it at its next start; logged
            LOG.exception("cleaning the copy of %s on %s failed", uuid, dest_host)
        try:
            if uuid in self.driver.parked_instances():
                self.driver.finish_revert_migration(spec, power_on)
            elif power_on and uuid in self.driver.list_instances():
                self.driver.power_on(spec)
        except Exception:  # reported as the fault's consequence: the server goes ERROR
            LOG.exception("restoring the guest of %s after a failed resize failed", uuid)

    def confirm_resize(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Delete the parked guest; report ``resize_confirmed``."""
        uuid = instance_uuid
        with self._serialized(uuid):
            self._begin(ctx, uuid, EV_CONFIRM_RESIZE, None)  # the server is on the dest
            fault = None
            try:
                self.driver.confirm_migration(uuid)
            except Exception as exc:
                fault = faults.fault(exc, "confirm_resize", uuid)
            self._to_conductor(
                ctx, "resize_confirmed", instance_uuid=uuid, host=self.host, fault=fault
            )

    def finish_revert_resize(
        self, ctx: RequestContext, instance_uuid: str, spec: dict[str, Any], power_on: bool
    ) -> None:
        """Unpark the guest with its old flavor (``spec``), start it when it ran; report
        ``resize_reverted``."""
        uuid = instance_uuid
        with self._serialized(uuid):
            expected: list[str | None] = [states.RESIZE_REVERTING, states.RESIZE_FINISH]
            inst = self._begin(ctx, uuid, EV_FINISH_REVERT, expected)
            if inst is None:
                return
            fault = None
            try:
                if uuid in self.driver.parked_instances():
                    self.driver.finish_revert_migration(spec, power_on)
                elif power_on:
                    self.driver.power_on(spec)
            except Exception as exc:
                fault = faults.fault(exc, "finish_revert_resize", uuid)
            power = int(self.driver.get_power_state(uuid))
            self._report(
                ctx,
                uuid,
                str(inst["task_state"]),
                "resize_reverted",
                instance_uuid=uuid,
                host=self.host,
                power_state=power,
                fault=fault,
            )

    def _destroy_quietly(self, uuid: str) -> None:
        try:
            self.driver.destroy(uuid)
        except Exception:  # the periodic orphan sweep tries again; logged
            LOG.exception("destroying the new guest of %s failed", uuid)

    # ------------------------------------------------------------------ restarts

    def settle_migrations(self, mine: list[dict[str, Any]]) -> dict[str, str]:
        """End the moves a killed agent left (module docstring); ``mine``: this host's
        servers (``instances_on_host``, with the moves touching this host). Returns
        ``{uuid: task}`` of the servers reported, for ``reconcile``'s wait."""
        settled = {}
        for inst in mine:
            try:
                if self._settle_move(inst):
                    settled[inst["uuid"]] = inst["task_state"]
            except Exception:  # start-up: the other servers still settle; logged
                LOG.exception("settling the move of %s failed", inst["uuid"])
        self.remove_stale_parked(mine)
        return settled

    def _settle_move(self, inst: dict[str, Any]) -> bool:
        uuid, task = inst["uuid"], inst["task_state"]
        move = inst.get("migration") or {}
        ctx = RequestContext.system(inst.get("request_id"))
        spec = dict((inst.get("spec") or {}).get("resize", {}).get("old_spec") or {})
        power_on = (inst.get("spec") or {}).get("resize", {}).get("old_vm_state") == (states.ACTIVE)
        fault = {"message": RESIZE_INTERRUPTED, "code": 500, "traceback": None}
        if task == states.RESIZE_MIGRATING and inst["host"] == self.host:
            LOG.warning("resize of %s was interrupted on its source; undoing it", uuid)
            self._undo_copy(ctx, uuid, str(move.get("dest_compute") or self.host), spec, power_on)
            self._report(
                ctx, uuid, task, "resize_migrated", instance_uuid=uuid, host=self.host, fault=fault
            )
        elif task == states.RESIZE_FINISH and inst["host"] == self.host:
            LOG.warning("resize of %s was interrupted on its destination; undoing it", uuid)
            self._destroy_quietly(uuid)
            self._report(
                ctx,
                uuid,
                task,
                "resize_finished",
                instance_uuid=uuid,
                host=self.host,
                power_state=0,
                fault=fault,
            )
        elif task == states.RESIZE_REVERTING and inst["host"] == self.host:
            if move.get("dest_compute") == self.host and move.get("status") == "reverting":
                self.revert_resize(ctx, uuid)
            else:
                self.finish_revert_resize(ctx, uuid, spec, power_on)
        else:
            return False
        return True

    def remove_stale_parked(self, mine: list[dict[str, Any]]) -> list[str]:
        """Delete the parked guests of no move in progress from this host (a confirm that
        was lost, a move ended while this agent was away); returns their uuids."""
        keep = {
            i["uuid"] for i in mine if (i.get("migration") or {}).get("source_compute") == self.host
        }
        stale = [u for u in self.driver.parked_instances() if u not in keep]
        for uuid in stale:
            LOG.warning("deleting the parked guest of %s: no move of it is in progress", uuid)
            with self._serialized(uuid):
                self.driver.confirm_migration(uuid)
        return stale
