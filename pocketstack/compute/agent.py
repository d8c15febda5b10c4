"""The compute agent of one host: runs guests through the hypervisor driver.

Served on the bus as ``compute.<hostname>``: only the messages of ``rpcapi.AGENT_MESSAGES``
reach it (its other public methods are not bus operations). It writes only the compute tables
(its servers' states, faults, action events) and reaches other services through the conductor
(``instance_build_failed``, ``terminate_finished``).

Operations on one server run one at a time (a per-server lock), so a delete that arrives
during a spawn waits for it and then destroys the guest.

Periodic tasks (every ``conf.periodic_interval`` s): heartbeat and host resources, power-state
sync (a guest that died turns its server SHUTOFF; a stopped server found running is powered
off), and reconciliation (guests the database does not want on this host are destroyed).
Start-up runs the same reconciliation and also settles what a killed agent left mid-way:
spawning -> ERROR ("Build interrupted by a compute restart"), deleting -> finished,
powering-off/powering-on/rebooting -> the action is carried out (as Nova's ``_init_instance``
does; a cast sent while the agent was down waits in its queue and is then ignored). A
restart after ``kill -9`` converges by this path; guests left running by a stop without
``shutdown_instances`` are re-adopted (drivers without real guests, like ``fake``, get
theirs re-created from the stored specs).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import Bus
from pocketstack.common.config import Config
from pocketstack.common.db import Database, utcnow
from pocketstack.common.periodic import PeriodicTasks
from pocketstack.compute import actions, states
from pocketstack.compute.drivers.base import ComputeDriver, DriverError, PowerState
from pocketstack.compute.exceptions import ConsoleNotAvailable
from pocketstack.compute.image_cache import ensure_image
from pocketstack.compute.liveness import report_service
from pocketstack.compute.models import Instance
from pocketstack.compute.rpcapi import AGENT_MESSAGES, ConductorClient
from pocketstack.compute.scheduler.host_manager import report_compute_node

LOG = logging.getLogger(__name__)

COMPUTE_INTERRUPTED = "Build interrupted by a compute restart"
_POWER_TASKS = (states.POWERING_OFF, states.POWERING_ON, states.REBOOTING, states.REBOOTING_HARD)


def _fault_message(exc: BaseException, what: str, uuid: str) -> str:
    """The fault a failed guest operation leaves on its server.

    A guest operation catches every exception so that its server never stays stuck in a task
    (it goes ERROR, or back to its state, with a fault). A ``PocketError`` (``DriverError``...)
    is an expected failure: its message is the fault. Anything else is a bug: logged here with
    its traceback, and the fault names its class.
    """
    if isinstance(exc, errors.PocketError):
        return exc.message
    LOG.error("%s of %s failed unexpectedly", what, uuid, exc_info=exc)
    return f"{type(exc).__name__}: {exc}"


class ComputeAgent:
    """The agent of host ``conf.hostname`` driving ``driver``.

    Args:
        conf: ``Config`` (hostname, availability_zone, periodic_interval, state_dir,
            shutdown_instances).
        db: the ``Database``; bus: the ``Bus``; driver: a ``ComputeDriver``.
    """

    def __init__(self, conf: Config, db: Database, bus: Bus, driver: ComputeDriver):
        self.conf = conf
        self.db = db
        self.bus = bus
        self.driver = driver
        self.host: str = conf.hostname
        self.target = f"compute.{self.host}"
        self.conductor = ConductorClient(bus)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._periodic = PeriodicTasks(
            f"compute-{self.host}",
            conf.periodic_interval,
            [self.report, self.sync_power_states, self.remove_orphans],
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Prepare the host, settle leftovers, report, serve on the bus, start periodics."""
        self.driver.init_host(self.host)
        self.reconcile()
        self.report()
        self.bus.serve(self.target, self, AGENT_MESSAGES)
        self._periodic.start()

    def stop(self) -> None:
        """Stop periodics and serving; power guests off only if ``conf.shutdown_instances``."""
        self._periodic.stop()
        self.bus.unserve(self.target)
        if not getattr(self.conf, "shutdown_instances", False):
            return
        for uuid in self.driver.list_instances():
            if self.driver.get_power_state(uuid) == PowerState.RUNNING:
                try:
                    self.driver.power_off(uuid)
                    actions.update_instance(
                        self.db,
                        uuid,
                        {"vm_state": states.ACTIVE},
                        vm_state=states.STOPPED,
                        power_state=int(PowerState.SHUTDOWN),
                    )
                except Exception:  # shutting down: power off the others all the same; logged
                    LOG.exception("powering off %s failed", uuid)

    @contextlib.contextmanager
    def _serialized(self, uuid: str) -> Iterator[None]:
        with self._locks_guard:
            lock = self._locks.setdefault(uuid, threading.Lock())
        with lock:
            yield

    # ------------------------------------------------------------------ build, delete

    def build_and_run_instance(self, ctx: RequestContext, spec: dict[str, Any]) -> None:
        """Spawn the guest of ``spec`` (see ``conductor.build_spec``) and make it ACTIVE.

        On failure the driver has cleaned up; the server goes to ERROR with a fault and the
        conductor releases its claim and ports.
        """
        uuid = spec["uuid"]
        token = spec.pop("auth_token", None)
        with self._serialized(uuid):
            inst = actions.load_instance(self.db, uuid)
            if (
                inst is None
                or inst.deleted
                or inst.task_state != states.SPAWNING
                or inst.host != self.host
            ):
                LOG.info("not spawning %s: it is no longer waiting for this host", uuid)
                return
            try:
                with actions.event(self.db, ctx, uuid, actions.EV_SPAWN, host=self.host):
                    spec["image"]["path"] = ensure_image(self.conf, spec["image"], token)
                    self.driver.spawn(spec)
            except Exception as exc:
                self._spawn_failed(ctx, uuid, _fault_message(exc, "spawn", uuid))
                return
            power = self.driver.get_power_state(uuid)
            with self.db.transaction() as s:  # ACTIVE and the finished action together
                active = actions.update_instance(
                    s,
                    uuid,
                    {"task_state": states.SPAWNING},
                    vm_state=states.ACTIVE,
                    task_state=None,
                    power_state=int(power),
                    launched_at=utcnow(),
                    spec=spec,
                )
                if active:
                    actions.finish_action(s, ctx, uuid)
            if not active:
                LOG.info("%s was deleted while spawning; destroying the guest", uuid)
                self.driver.destroy(uuid)

    def _spawn_failed(self, ctx: RequestContext, uuid: str, message: str) -> None:
        LOG.warning("spawn of %s failed: %s", uuid, message)
        with self.db.transaction() as s:  # ERROR and its fault become visible together
            if actions.update_instance(
                s,
                uuid,
                {"task_state": states.SPAWNING},
                vm_state=states.ERROR,
                task_state=None,
                power_state=0,
            ):
                actions.add_fault(s, uuid, message, 500)
                actions.finish_action(s, ctx, uuid, error=True)
        self.conductor.instance_build_failed(ctx, uuid, message)

    def terminate_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Destroy the guest, then ask the conductor to finish the delete.

        A destroy that fails leaves the server ERROR with a fault (delete it again).
        """
        with self._serialized(instance_uuid):
            try:
                with actions.event(
                    self.db, ctx, instance_uuid, actions.EV_TERMINATE, host=self.host
                ):
                    self.driver.destroy(instance_uuid)
            except Exception as exc:
                with self.db.transaction() as s:  # ERROR and its fault become visible together
                    actions.update_instance(
                        s, instance_uuid, None, vm_state=states.ERROR, task_state=None
                    )
                    message = _fault_message(exc, "destroy", instance_uuid)
                    actions.add_fault(s, instance_uuid, message, 500)
                    actions.finish_action(s, ctx, instance_uuid, error=True)
                return
        with self._locks_guard:
            self._locks.pop(instance_uuid, None)
        self.conductor.terminate_finished(ctx, instance_uuid)

    # ------------------------------------------------------------------ power actions

    def stop_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Power the guest off -> SHUTOFF."""
        self._power(
            ctx,
            instance_uuid,
            actions.EV_STOP,
            states.POWERING_OFF,
            lambda spec: self.driver.power_off(instance_uuid),
        )

    def start_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Power the guest on -> ACTIVE (re-created from its spec if the driver lost it)."""
        self._power(ctx, instance_uuid, actions.EV_START, states.POWERING_ON, self._power_on)

    def reboot_instance(self, ctx: RequestContext, instance_uuid: str, hard: bool) -> None:
        """Reboot the guest (soft: ACPI then reset; hard: reset) -> ACTIVE."""
        task = states.REBOOTING_HARD if hard else states.REBOOTING
        self._power(
            ctx,
            instance_uuid,
            actions.EV_REBOOT,
            task,
            lambda spec: self.driver.reboot(spec, hard=hard),
        )

    def _power_on(self, spec: dict[str, Any]) -> None:
        if spec["uuid"] in self.driver.list_instances():
            self.driver.power_on(spec)
            return
        LOG.warning("guest %s is unknown to the driver; creating it again", spec["uuid"])
        spec["image"]["path"] = ensure_image(self.conf, spec["image"], None)
        self.driver.spawn(spec)

    def _power(
        self,
        ctx: RequestContext,
        uuid: str,
        event: str,
        task: str,
        operation: Callable[[dict[str, Any]], None],
    ) -> None:
        with self._serialized(uuid):
            inst = actions.load_instance(self.db, uuid)
            if inst is None or inst.deleted or inst.task_state != task:
                LOG.info("not running %s on %s: state changed", event, uuid)
                return
            try:
                with actions.event(self.db, ctx, uuid, event, host=self.host):
                    operation(dict(inst.spec or {"uuid": uuid}))
            except Exception as exc:
                power = self.driver.get_power_state(uuid)
                with self.db.transaction() as s:  # the task ends with its fault visible
                    actions.update_instance(
                        s, uuid, {"task_state": task}, task_state=None, power_state=int(power)
                    )
                    message = _fault_message(exc, event, uuid)
                    actions.add_fault(s, uuid, message, getattr(exc, "status", 500))
                    actions.finish_action(s, ctx, uuid, error=True)
                return
            power = self.driver.get_power_state(uuid)
            vm_state = states.ACTIVE if power == PowerState.RUNNING else states.STOPPED
            with self.db.transaction() as s:  # the new state and the finished action together
                actions.update_instance(
                    s,
                    uuid,
                    {"task_state": task},
                    vm_state=vm_state,
                    task_state=None,
                    power_state=int(power),
                )
                actions.finish_action(s, ctx, uuid)

    def get_console_output(
        self, ctx: RequestContext, instance_uuid: str, length: int | None = None
    ) -> str:
        """The guest's console log (last ``length`` lines).

        Raises:
            ConsoleNotAvailable: the driver has no log for it.
        """
        try:
            return self.driver.get_console_output(instance_uuid, length)
        except DriverError as exc:
            raise ConsoleNotAvailable() from exc

    # ------------------------------------------------------------------ periodic tasks

    def report(self) -> None:
        """Heartbeat of the service and the host's resources (also repairs usage drift)."""
        report_service(self.db, self.host, availability_zone=self.conf.availability_zone)
        report_compute_node(self.db, self.conf, self.host, self.driver.get_host_resources())

    def _my_instances(self) -> list[Instance]:
        with self.db.reader() as s:
            return list(
                s.scalars(
                    sa.select(Instance).where(
                        Instance.host == self.host, Instance.deleted.is_(False)
                    )
                )
            )

    def remove_orphans(self) -> list[str]:
        """Destroy guests the database does not want on this host; returns their uuids."""
        present = set(self.driver.list_instances())  # before the DB read: no spawn race
        wanted = {i.uuid for i in self._my_instances()}
        orphans = sorted(present - wanted)
        for uuid in orphans:
            LOG.warning("destroying orphaned guest %s", uuid)
            with self._serialized(uuid):
                self.driver.destroy(uuid)
        return orphans

    def sync_power_states(self) -> None:
        """Make the servers of this host follow what the driver reports."""
        for inst in self._my_instances():
            if inst.task_state is not None:
                continue
            try:
                self._sync_one(inst)
            except Exception:  # a periodic task: the other servers still sync; logged
                LOG.exception("power-state sync of %s failed", inst.uuid)

    def _sync_one(self, inst: Instance) -> None:
        power = self.driver.get_power_state(inst.uuid)
        guard = {"vm_state": inst.vm_state, "task_state": None}
        if inst.vm_state == states.ACTIVE and power not in (PowerState.RUNNING, PowerState.PAUSED):
            LOG.warning("guest of %s is not running (%s): server stopped", inst.uuid, power.name)
            new = PowerState.SHUTDOWN if power == PowerState.NOSTATE else power
            actions.update_instance(
                self.db, inst.uuid, guard, vm_state=states.STOPPED, power_state=int(new)
            )
        elif inst.vm_state == states.STOPPED and power == PowerState.RUNNING:
            LOG.warning("stopped server %s found running: powering it off", inst.uuid)
            with self._serialized(inst.uuid):
                self.driver.power_off(inst.uuid)
            actions.update_instance(self.db, inst.uuid, guard, power_state=int(PowerState.SHUTDOWN))
        elif int(power) != inst.power_state and inst.vm_state != states.BUILDING:
            actions.update_instance(self.db, inst.uuid, guard, power_state=int(power))

    def reconcile(self) -> None:
        """Start-up convergence: orphans, interrupted spawns/deletes/power actions, sync."""
        ctx = RequestContext.system()
        self.remove_orphans()
        if not self.driver.capabilities.get("real_guests", True):
            self._recreate_lost_guests()
        for inst in self._my_instances():
            try:
                self._settle(ctx, inst)
            except Exception:  # start-up: one server must not keep the host down; logged
                LOG.exception("settling %s failed", inst.uuid)
        self.sync_power_states()

    def _recreate_lost_guests(self) -> None:
        """A driver without real guests (``fake``) forgets them when the process ends: make
        them again from their specs so servers keep their state across restarts."""
        present = set(self.driver.list_instances())
        for inst in self._my_instances():
            if (
                inst.uuid in present
                or not inst.spec
                or inst.task_state not in (None, *_POWER_TASKS)
                or inst.vm_state not in (states.ACTIVE, states.STOPPED)
            ):
                continue
            try:
                self.driver.spawn(dict(inst.spec))
                if inst.vm_state == states.STOPPED:
                    self.driver.power_off(inst.uuid)
            except Exception:  # start-up: the other guests are re-created; logged
                LOG.exception("re-creating the guest of %s failed", inst.uuid)

    def _settle(self, ctx: RequestContext, inst: Instance) -> None:
        if inst.task_state == states.SPAWNING:
            LOG.warning("spawn of %s was interrupted; setting ERROR", inst.uuid)
            self.driver.destroy(inst.uuid)
            self._spawn_failed(ctx, inst.uuid, COMPUTE_INTERRUPTED)
        elif inst.task_state == states.DELETING:
            self.terminate_instance(ctx, inst.uuid)
        elif inst.task_state in _POWER_TASKS:
            self._resume_power_task(inst)

    def _resume_power_task(self, inst: Instance) -> None:
        """Carry out a stop/start/reboot that a killed agent left running or that was cast
        while the agent was away (its message, still queued, then finds the task done and
        is ignored), under the request id of the user's action so it gets finished."""
        LOG.warning(
            "%s of %s was pending or interrupted; carrying it out", inst.task_state, inst.uuid
        )
        ctx = RequestContext.system(actions.pending_request_id(self.db, inst.uuid))
        if inst.task_state == states.POWERING_OFF:
            self.stop_instance(ctx, inst.uuid)
        elif inst.task_state == states.POWERING_ON:
            self.start_instance(ctx, inst.uuid)
        else:
            self.reboot_instance(ctx, inst.uuid, hard=inst.task_state == states.REBOOTING_HARD)
