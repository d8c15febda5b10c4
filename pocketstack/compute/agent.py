"""The compute agent of one host: runs guests through the hypervisor driver.

Served on the bus as ``compute.<hostname>``: only the messages of ``rpcapi.AGENT_MESSAGES``
reach it (its other public methods are not bus operations).

The agent holds no database credentials and no ``Database`` (ARCHITECTURE.md; as
``nova-compute`` reaches the database only through the conductor). What it needs it learns
from the messages (the spec of a build) and from calls to the conductor
(``instances_on_host``; ``action_event_start``, which also tells whether the server still
waits for the step); every change it reports to the conductor (``agent_reports``):
``instance_spawned``/``instance_spawn_failed``, ``instance_power_action_finished``,
``instance_terminate_failed``/``terminate_finished``, ``instance_power_state_changed``,
``report_service``/``report_compute_node``. Outcomes are casts: they wait in the
conductor's queue while no controller runs, so a controller restart loses none. Images are
fetched with the compute service user's token (``service_auth``), never the user's.

Operations on one server run one at a time (a per-server lock), so a delete that arrives
during a spawn waits for it and then destroys the guest.

Volumes: the controller runs the attach and detach flows (``compute.volumes``) and calls
this agent for the host's connector (``get_volume_connector``) and the hot-plug
(``attach_volume``/``detach_volume``, under the server's lock); ``extend_volume`` (a cast)
resizes an attached volume's disk for the guest.

Periodic tasks, each at its own interval (as Nova's) and each host's first run at a random
point of it, so a fleet started together spreads its reports: heartbeat
(``report_interval``, 10 s), host resources (``update_resources_interval``, 60 s; Placement's
inventory is written only when it changed), and every ``sync_power_state_interval`` (600 s)
one round of power-state sync (a guest that died turns its server SHUTOFF; a stopped
server found running is powered off), reconciliation (guests the conductor does not list
on this host are destroyed), and outcomes sent again when the conductor has not written
them (the bus delivers at most once: a controller killed after it took a report loses it;
checked every ``periodic_interval``).
Start-up waits for a conductor (``CONDUCTOR_WAIT`` s at most), then runs the same
reconciliation and also settles what a killed agent left mid-way: spawning -> ERROR ("Build
interrupted by a compute restart"), deleting -> finished, a snapshot (image_snapshot,
image_pending_upload, image_uploading) -> ended with a fault and its image deleted,
powering-off/powering-on/rebooting and the state actions' tasks (pausing, suspending,
rescuing...) -> the action is carried out (as Nova's ``_init_instance`` does; a cast
sent while the agent was down waits in its queue and is then ignored). A restart after
``kill -9`` converges by this path; guests left running by a stop without
``shutdown_instances`` are re-adopted (drivers without real guests, like ``fake``, get theirs
re-created from the stored specs).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import Bus
from pocketstack.common.config import Config
from pocketstack.common.periodic import PeriodicTasks, SpacedTask
from pocketstack.compute import actions, faults, instance_storage, states
from pocketstack.compute.agent_migrations import AgentMigrations
from pocketstack.compute.drivers.base import (
    ComputeDriver,
    DriverError,
    InstanceNotRunning,
    PowerState,
)
from pocketstack.compute.exceptions import (
    ConsoleNotAvailable,
    ConsoleTypeUnavailable,
    InstanceNotReady,
)
from pocketstack.compute.image_cache import TokenSource, ensure_image
from pocketstack.compute.image_upload import upload_image
from pocketstack.compute.live_migration_agent import LiveMigrationAgent
from pocketstack.compute.liveness import COMPUTE_BINARY
from pocketstack.compute.rebuild_agent import REBUILD_TASKS, RebuildAgent
from pocketstack.compute.rpcapi import AGENT_MESSAGES, ALLOCATION_KEYS, ConductorClient
from pocketstack.compute.service_auth import ServiceAuth

LOG = logging.getLogger(__name__)

COMPUTE_INTERRUPTED = "Build interrupted by a compute restart"
SNAPSHOT_INTERRUPTED = "Snapshot interrupted by a compute restart"
SHELVE_INTERRUPTED = "Shelve interrupted by a compute restart"
UNSHELVE_INTERRUPTED = "Unshelve interrupted by a compute restart"
_POWER_TASKS = (states.POWERING_OFF, states.POWERING_ON, states.REBOOTING, states.REBOOTING_HARD)
#: the state actions' tasks -> the agent method carrying them out (``_resume_state_task``)
_STATE_TASKS = {
    states.PAUSING: "pause_instance",
    states.UNPAUSING: "unpause_instance",
    states.SUSPENDING: "suspend_instance",
    states.RESUMING: "resume_instance",
    states.RESCUING: "rescue_instance",
    states.UNRESCUING: "unrescue_instance",
    states.SHELVING_OFFLOADING: "shelve_offload_instance",
    states.UNSHELVING: "unshelve_instance",
}
#: vm_states whose guests a driver without real guests re-creates at start-up
_RECREATED = (
    states.ACTIVE,
    states.STOPPED,
    states.PAUSED,
    states.SUSPENDED,
    states.RESCUED,
    states.SHELVED,
)
#: seconds ``start()`` waits for a conductor to answer before it gives up
CONDUCTOR_WAIT = 300.0
#: seconds ``start()`` waits for the conductor to write what the start-up reconciliation
#: reported before the agent serves its queue anyway
SETTLE_WAIT = 30.0


def task_interval(conf: Any, name: str) -> float:
    """Seconds between runs of the periodic task whose interval option is ``name``
    (``report_interval``, ``update_resources_interval``, ``sync_power_state_interval``):
    the option, or ``periodic_interval`` when it is 0 (or unset)."""
    value = float(getattr(conf, name, 0) or 0)
    return value if value > 0 else float(conf.periodic_interval)


class ComputeAgent(AgentMigrations, RebuildAgent, LiveMigrationAgent):
    """The agent of host ``conf.hostname`` driving ``driver``; it has no database.

    Args:
        conf: ``Config`` (hostname, availability_zone, periodic_interval, state_dir,
            shutdown_instances, the allocation ratios it reports, ``[service_user]``).
        bus: the ``Bus`` to the conductor; driver: a ``ComputeDriver``.
        images_auth: the token source of image downloads (default: a ``ServiceAuth`` of
            ``conf``'s service user).
    """

    def __init__(
        self,
        conf: Config,
        bus: Bus,
        driver: ComputeDriver,
        images_auth: TokenSource | None = None,
    ):
        self.conf = conf
        self.bus = bus
        self.driver = driver
        self.host: str = conf.hostname
        self.target = f"compute.{self.host}"
        self.conductor = ConductorClient(bus)
        self.images_auth: TokenSource = images_auth or ServiceAuth(conf)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        #: uuid -> (the task an outcome ended, when it was sent, how to send it again)
        self._outcomes: dict[str, tuple[str, float, Callable[[], None]]] = {}
        # the heartbeat runs apart, so that a call to a dead controller in the other tasks
        # (30 s until it times out) never makes a live host look down; a fake fleet sends
        # its hosts' heartbeats together instead (``heartbeat=False``)
        self.report_interval = task_interval(conf, "report_interval")
        self._heartbeat = PeriodicTasks(
            f"compute-{self.host}-heartbeat",
            self.report_interval,
            [self.report_heartbeat],
            stagger=True,
        )
        self.heartbeat = True
        # one thread ticks; each task runs when due (Nova's periodic task spacing), the
        # first run of each at a random point of its interval
        self.resources_task = SpacedTask(
            self.update_resources, task_interval(conf, "update_resources_interval")
        )
        self.sync_task = SpacedTask(
            self.run_sync_round, task_interval(conf, "sync_power_state_interval")
        )
        tick = min(
            float(conf.periodic_interval), self.resources_task.spacing, self.sync_task.spacing
        )
        self._periodic = PeriodicTasks(
            f"compute-{self.host}",
            tick,
            [self.resources_task, self.sync_task, self.resend_lost_outcomes],
            stagger=True,
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Prepare the host, wait for a conductor, settle leftovers, serve on the bus, then
        report the host (so the scheduler never picks a host whose queue does not exist
        yet: a cast to it would be dropped), start periodics.

        Raises:
            MessagingTimeout: no conductor answered within ``CONDUCTOR_WAIT`` s.
        """
        self.driver.init_host(self.host)
        self._wait_for_conductor()
        self.reconcile()
        self.bus.serve(self.target, self, AGENT_MESSAGES)
        self.report()
        if self.heartbeat:
            self._heartbeat.start()
        self._periodic.start()

    def _wait_for_conductor(self) -> None:
        """Ask for this host's servers until a conductor answers (as nova-compute waits
        for nova-conductor at start-up), logging while it waits."""
        deadline = time.monotonic() + CONDUCTOR_WAIT
        while True:
            try:
                self._my_instances()
                return
            except errors.ServiceUnavailable as exc:  # MessagingTimeout: none answered yet
                if time.monotonic() >= deadline:
                    raise
                LOG.warning("waiting for a conductor: %s", exc.message)
                time.sleep(1.0)

    def stop(self) -> None:
        """Stop periodics and serving; power guests off only if ``conf.shutdown_instances``
        (reporting each server SHUTOFF)."""
        self._periodic.stop()
        self._heartbeat.stop()
        self.bus.unserve(self.target)
        if not getattr(self.conf, "shutdown_instances", False):
            return
        ctx = RequestContext.system()
        for uuid in self.driver.list_instances():
            if self.driver.get_power_state(uuid) == PowerState.RUNNING:
                try:
                    self.driver.power_off(uuid)
                    self.conductor.instance_power_state_changed(
                        ctx, uuid, states.ACTIVE, int(PowerState.SHUTDOWN), states.STOPPED
                    )
                except Exception:  # shutting down: power off the others all the same; logged
                    LOG.exception("powering off %s failed", uuid)

    @contextlib.contextmanager
    def _serialized(self, uuid: str) -> Iterator[None]:
        with self._locks_guard:
            lock = self._locks.setdefault(uuid, threading.Lock())
        with lock:
            yield

    def _begin(
        self,
        ctx: RequestContext,
        uuid: str,
        event: str,
        expected_task_states: list[str | None] | None,
    ) -> dict[str, Any] | None:
        """Start the step ``event`` with the conductor (``action_event_start``): the server
        as a dict while it still waits for the step, else None. A conductor that does not
        answer is asked again for up to ``CONDUCTOR_WAIT`` s (the call is idempotent), then
        gives None (the step is not run; the agent's next start settles it)."""
        deadline = time.monotonic() + CONDUCTOR_WAIT
        while True:
            try:
                return self.conductor.action_event_start(
                    ctx, uuid, event, self.host, expected_task_states
                )
            except errors.ServiceUnavailable as exc:
                # no answer: the conductor may have recorded the step and died before it
                # replied, and its successor's recovery then leaves the step to us; the
                # call is idempotent, so ask again (the next controller answers)
                if time.monotonic() >= deadline:
                    LOG.warning("%s of %s not started: %s", event, uuid, exc.message)
                    return None
                LOG.warning("%s of %s: no answer from a conductor, asking again", event, uuid)
            except errors.PocketError as exc:
                LOG.warning("%s of %s not started: %s", event, uuid, exc.message)
                return None

    # ------------------------------------------------------------------ build, delete

    def build_and_run_instance(self, ctx: RequestContext, spec: dict[str, Any]) -> None:
        """Spawn the guest of ``spec`` (see ``instance_spec.build_spec``) and report it running.

        Runs only while the server waits for this host's spawn (a duplicate or late message
        is ignored). On failure the driver has cleaned up and the conductor puts the server
        in ERROR with a fault and releases its claim and ports (``instance_spawn_failed``).
        The image comes from the local store or is downloaded with the service user's token.
        """
        uuid = spec["uuid"]
        with self._serialized(uuid):
            if self._begin(ctx, uuid, actions.EV_SPAWN, [states.SPAWNING]) is None:
                LOG.info("not spawning %s: it is no longer waiting for this host", uuid)
                return
            if uuid in self.driver.list_instances():
                # a duplicate spawn (a recovering conductor sent it again) that ran before
                # the conductor wrote our first report: the guest exists, report it again
                LOG.info("not spawning %s again: its guest exists", uuid)
                self._spawned(ctx, uuid)
                return
            try:
                self._ensure_image(spec)
                self.driver.spawn(spec)
            except Exception as exc:
                self._spawn_failed(ctx, uuid, faults.fault(exc, "spawn", uuid))
                return
            self._spawned(ctx, uuid)

    def _spawned(self, ctx: RequestContext, uuid: str) -> None:
        power = int(self.driver.get_power_state(uuid))
        self._outcome(
            uuid,
            states.SPAWNING,
            lambda: self.conductor.instance_spawned(ctx, uuid, self.host, power),
        )

    def _spawn_failed(self, ctx: RequestContext, uuid: str, fault: dict[str, Any]) -> None:
        LOG.warning("spawn of %s failed: %s", uuid, fault["message"])
        self._outcome(
            uuid,
            states.SPAWNING,
            lambda: self.conductor.instance_spawn_failed(ctx, uuid, self.host, fault),
        )

    def _outcome(self, uuid: str, task: str, send: Callable[[], None]) -> None:
        """Send the outcome of ``task`` on ``uuid`` (a cast to the conductor) and keep it
        until the conductor has written it: the bus delivers at most once, so a controller
        killed after it took the message loses it (``resend_lost_outcomes``)."""
        with self._locks_guard:
            self._outcomes[uuid] = (task, time.monotonic(), send)
        send()

    def terminate_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Destroy the guest, then ask the conductor to finish the delete.

        A destroy that fails leaves the server ERROR with a fault (delete it again).
        """
        with self._serialized(instance_uuid):
            self._begin(ctx, instance_uuid, actions.EV_TERMINATE, None)  # destroys in any case
            try:
                self.driver.destroy(instance_uuid)
            except Exception as exc:
                fault = faults.fault(exc, "destroy", instance_uuid)
                self._outcome(
                    instance_uuid,
                    states.DELETING,
                    lambda: self.conductor.instance_terminate_failed(ctx, instance_uuid, fault),
                )
                return
            self.conductor.action_event_finish(ctx, instance_uuid, actions.EV_TERMINATE, None)
        with self._locks_guard:
            self._locks.pop(instance_uuid, None)
        self._outcome(
            instance_uuid,
            states.DELETING,
            lambda: self.conductor.terminate_finished(ctx, instance_uuid),
        )

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
        self._ensure_image(spec)
        self.driver.spawn(spec)

    def _ensure_image(self, spec: dict[str, Any]) -> None:
        """The image file of the guest's local root disk (none when it boots from a volume)."""
        if not spec.get("boot_from_volume"):
            spec["image"]["path"] = ensure_image(self.conf, spec["image"], self.images_auth)

    def _power(
        self,
        ctx: RequestContext,
        uuid: str,
        event: str,
        task: str,
        operation: Callable[[dict[str, Any]], None],
    ) -> None:
        """Run ``operation`` on the stored spec while the server is in ``task``, then report
        the guest's power state (and the fault, if it failed) to the conductor."""
        with self._serialized(uuid):
            inst = self._begin(ctx, uuid, event, [task])
            if inst is None:
                LOG.info("not running %s on %s: state changed", event, uuid)
                return
            fault = None
            try:
                operation(dict(inst["spec"] or {"uuid": uuid}))
            except Exception as exc:
                fault = faults.fault(exc, event, uuid, getattr(exc, "status", 500))
            power = int(self.driver.get_power_state(uuid))
            self._outcome(
                uuid,
                task,
                lambda: self.conductor.instance_power_action_finished(
                    ctx, uuid, event, task, power, fault
                ),
            )

    # ------------------------------------------------------------------ state actions
    # (``server_actions``): casts run like the power actions above, under the server's
    # lock, ending in ``instance_power_action_finished``; the conductor ends the task in
    # ``states.TASK_RESULTS`` (or where it began, with the fault).

    def pause_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Freeze the guest (driver ``pause``) -> PAUSED."""
        self._power(
            ctx,
            instance_uuid,
            actions.EV_PAUSE,
            states.PAUSING,
            lambda spec: self.driver.pause(instance_uuid),
        )

    def unpause_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Let the paused guest run (driver ``unpause``) -> ACTIVE."""
        self._power(
            ctx,
            instance_uuid,
            actions.EV_UNPAUSE,
            states.UNPAUSING,
            lambda spec: self.driver.unpause(instance_uuid),
        )

    def suspend_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Save the guest's memory to disk and end it (driver ``suspend``) -> SUSPENDED."""
        self._power(
            ctx,
            instance_uuid,
            actions.EV_SUSPEND,
            states.SUSPENDING,
            lambda spec: self.driver.suspend(instance_uuid),
        )

    def resume_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Restore the suspended guest (driver ``resume``) -> ACTIVE."""
        self._power(ctx, instance_uuid, actions.EV_RESUME, states.RESUMING, self.driver.resume)

    def rescue_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Boot the rescue image of the stored spec (``rescue_image``, fetched like a
        build's image) with the root disk attached (driver ``rescue``) -> RESCUED."""
        self._power(ctx, instance_uuid, actions.EV_RESCUE, states.RESCUING, self._rescue)

    def unrescue_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Boot from the root disk again (driver ``unrescue``) -> ACTIVE."""
        self._power(
            ctx, instance_uuid, actions.EV_UNRESCUE, states.UNRESCUING, self.driver.unrescue
        )

    def _rescue(self, spec: dict[str, Any]) -> None:
        image = dict(spec.get("rescue_image") or spec["image"])
        image["path"] = ensure_image(self.conf, image, self.images_auth)
        self.driver.rescue(spec, image)

    def snapshot_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """``createImage``: a consistent qcow2 copy of the root disk (driver ``snapshot``,
        quiesced when the stored spec's ``snapshot.quiesce`` and the guest agent answers)
        in a temporary directory under ``<state_dir>/snapshots``, uploaded into the queued
        image ``snapshot.image_id`` at ``snapshot.upload_url`` with the service user's token
        (``image_upload``). The task moves image_snapshot -> image_pending_upload (the copy
        is made, the guest runs on) -> image_uploading; ``instance_snapshot_finished`` ends
        it, with the driver's words as the step's details, or the fault (the conductor then
        deletes the image). The temporary copy is removed whatever happens."""
        self._snapshot(ctx, instance_uuid, actions.EV_SNAPSHOT, states.IMAGE_SNAPSHOT)

    def backup_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """``createBackup``: as ``snapshot_instance``, from the task ``image_backup`` and as
        the step ``compute_backup_instance``; the conductor rotates the server's backups
        when it is told the upload ended (``instance_snapshot_finished``)."""
        self._snapshot(ctx, instance_uuid, actions.EV_BACKUP, states.IMAGE_BACKUP)

    def _snapshot(self, ctx: RequestContext, uuid: str, event: str, first_task: str) -> None:
        with self._serialized(uuid):
            inst = self._begin(ctx, uuid, event, [first_task])
            if inst is None:
                LOG.info("not snapshotting %s: state changed", uuid)
                return
            snap = dict((inst["spec"] or {}).get("snapshot") or {})
            task, details, fault = first_task, None, None
            task, details, fault = self._copy_and_upload(
                ctx, uuid, snap, first_task, (states.IMAGE_PENDING_UPLOAD, states.IMAGE_UPLOADING)
            )
            image_id = snap.get("image_id")
            self._outcome(
                uuid,
                task,
                lambda: self.conductor.instance_snapshot_finished(
                    ctx, uuid, image_id, details, fault
                ),
            )

    def _copy_and_upload(
        self,
        ctx: RequestContext,
        uuid: str,
        snap: dict[str, Any],
        task: str,
        moves: tuple[str, str],
    ) -> tuple[str, str | None, dict[str, Any] | None]:
        """The driver's consistent copy of the root disk in a temporary directory under
        ``<state_dir>/snapshots`` (removed whatever happens), the task moved on through
        ``moves`` (the copy made; the upload begins), then uploaded to ``snap.upload_url``.
        Returns the task reached, the driver's details and the fault (None: it worked)."""
        details, fault = None, None
        workdir = Path(self.conf.state_dir, "snapshots")
        workdir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=workdir, prefix=f"{uuid}-"))
        try:
            dest = tmp / "snapshot.qcow2"
            details = self.driver.snapshot(uuid, str(dest), bool(snap.get("quiesce")))
            for new in moves:
                if not self.conductor.snapshot_task_changed(ctx, uuid, task, new):
                    raise DriverError(f"instance {uuid} left its snapshot task")
                task = new
            upload_image(str(snap["upload_url"]), dest, self.images_auth)
        except Exception as exc:
            fault = faults.fault(exc, "snapshot", uuid, getattr(exc, "status", 500))
            LOG.warning("snapshot of %s failed: %s", uuid, fault["message"])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return task, details, fault

    # ------------------------------------------------------------------ shelve

    def shelve_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """``shelve``: power the guest off (Nova's clean shutdown), then copy and upload its
        root disk into the image of the stored spec's ``shelve`` as a snapshot does, the task
        moving shelving -> shelving_image_pending_upload -> shelving_image_uploading; then
        ``instance_shelved`` (SHELVED, or on to the offload; with a fault the server stays
        where it was and the image is deleted)."""
        uuid = instance_uuid
        with self._serialized(uuid):
            inst = self._begin(ctx, uuid, actions.EV_SHELVE, [states.SHELVING])
            if inst is None:
                LOG.info("not shelving %s: state changed", uuid)
                return
            snap = dict((inst["spec"] or {}).get("shelve") or {})
            task, fault = states.SHELVING, None
            try:
                self.driver.power_off(uuid)
            except Exception as exc:
                fault = faults.fault(exc, "power off", uuid, getattr(exc, "status", 500))
            if fault is None:
                task, _details, fault = self._copy_and_upload(
                    ctx,
                    uuid,
                    snap,
                    task,
                    (states.SHELVING_IMAGE_PENDING_UPLOAD, states.SHELVING_IMAGE_UPLOADING),
                )
            if fault is not None:
                self._power_on_again(inst)
            power = int(self.driver.get_power_state(uuid))
            image_id = snap.get("image_id")
            self._outcome(
                uuid,
                task,
                lambda: self.conductor.instance_shelved(ctx, uuid, image_id, power, fault),
            )

    def _power_on_again(self, inst: dict[str, Any]) -> None:
        """A shelve that failed or was interrupted after the guest was powered off: start
        it again when the server was ACTIVE, so that it stays ACTIVE where it was (the power
        sync would stop it otherwise). A failure is logged (the sync then says SHUTOFF)."""
        uuid = inst["uuid"]
        if inst.get("vm_state") != states.ACTIVE or not inst.get("spec"):
            return
        try:
            if self.driver.get_power_state(uuid) != PowerState.RUNNING:
                self.driver.power_on(dict(inst["spec"]))
        except Exception:  # the server is then stopped by the power sync; logged
            LOG.exception("starting the guest of %s again after its shelve failed", uuid)

    def shelve_offload_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """``shelveOffload`` (or a shelve with ``shelved_offload_time`` 0): destroy the guest
        (its QEMU process and instance directory), then ``instance_offloaded`` (the
        conductor frees the claim, unbinds the ports and clears the host)."""
        uuid = instance_uuid
        with self._serialized(uuid):
            inst = self._begin(ctx, uuid, actions.EV_SHELVE_OFFLOAD, [states.SHELVING_OFFLOADING])
            if inst is None:
                LOG.info("not offloading %s: state changed", uuid)
                return
            fault = None
            try:
                self.driver.destroy(uuid)
            except Exception as exc:
                fault = faults.fault(exc, "destroy", uuid, getattr(exc, "status", 500))
            self._outcome(
                uuid,
                states.SHELVING_OFFLOADING,
                lambda: self.conductor.instance_offloaded(ctx, uuid, self.host, fault),
            )

    def unshelve_instance(
        self, ctx: RequestContext, instance_uuid: str, spec: dict[str, Any] | None = None
    ) -> None:
        """``unshelve``. Without ``spec`` (a SHELVED server, task unshelving): power the guest
        on again. With ``spec`` (an offloaded server the conductor placed here, task
        spawning): spawn it from ``spec``'s image (the shelve image). Then
        ``instance_unshelved`` (ACTIVE, the shelve image deleted; with a fault the server
        stays SHELVED, or SHELVED_OFFLOADED with its claim freed)."""
        uuid = instance_uuid
        expected = states.SPAWNING if spec is not None else states.UNSHELVING
        with self._serialized(uuid):
            inst = self._begin(ctx, uuid, actions.EV_UNSHELVE, [expected])
            if inst is None:
                LOG.info("not unshelving %s: state changed", uuid)
                return
            fault = None
            try:
                if spec is not None:
                    if uuid not in self.driver.list_instances():
                        self._ensure_image(spec)
                        self.driver.spawn(spec)
                else:
                    self.driver.power_on(dict(inst["spec"] or {"uuid": uuid}))
            except Exception as exc:
                fault = faults.fault(exc, "unshelve", uuid, getattr(exc, "status", 500))
                if spec is not None:
                    with contextlib.suppress(Exception):
                        self.driver.destroy(uuid)
            power = int(self.driver.get_power_state(uuid)) if fault is None else 0
            self._outcome(
                uuid,
                expected,
                lambda: self.conductor.instance_unshelved(ctx, uuid, self.host, power, fault),
            )

    def set_admin_password(
        self, ctx: RequestContext, instance_uuid: str, user: str, password: str
    ) -> None:
        """Set ``user``'s password in the guest (driver ``set_admin_password``); a call:
        the driver's ``GuestAgentError`` (409) goes back to the API."""
        with self._serialized(instance_uuid):
            self.driver.set_admin_password(instance_uuid, user, password)

    def trigger_crash_dump(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Inject an NMI (driver ``inject_nmi``); a call."""
        with self._serialized(instance_uuid):
            self.driver.inject_nmi(instance_uuid)

    def reset_network(self, ctx: RequestContext, instance_uuid: str, spec: dict[str, Any]) -> None:
        """Plug the VIFs of ``spec`` (the stored spec) again (driver ``reset_network``)."""
        with self._serialized(instance_uuid):
            self.driver.reset_network(spec)

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

    # ------------------------------------------------------------------ volumes
    # Called by the controller's attach/detach flow (``compute.volumes``), which records
    # the steps; errors go back to it as the call's answer.

    def get_volume_connector(self, ctx: RequestContext) -> dict[str, Any]:
        """This host's connector (``ComputeDriver.get_volume_connector``)."""
        return self.driver.get_volume_connector(self.host)

    def attach_volume(
        self, ctx: RequestContext, instance_uuid: str, block_device: dict[str, Any]
    ) -> None:
        """Hot-plug ``block_device`` into the guest (``ComputeDriver.attach_volume``)."""
        with self._serialized(instance_uuid):
            self.driver.attach_volume(instance_uuid, block_device)

    def detach_volume(self, ctx: RequestContext, instance_uuid: str, volume_id: str) -> None:
        """Unplug the volume from the guest (``ComputeDriver.detach_volume``)."""
        with self._serialized(instance_uuid):
            self.driver.detach_volume(instance_uuid, volume_id)

    # ------------------------------------------------------------------ interfaces
    # Called by the controller's os-interface flow (``compute.interfaces``), which made or
    # bound the port; errors go back to it as the call's answer.

    def attach_interface(
        self, ctx: RequestContext, instance_uuid: str, vif: dict[str, Any]
    ) -> None:
        """Hot-plug the port's NIC (``ComputeDriver.attach_interface``)."""
        with self._serialized(instance_uuid):
            self.driver.attach_interface(instance_uuid, vif)

    def detach_interface(self, ctx: RequestContext, instance_uuid: str, port_id: str) -> None:
        """Unplug the port's NIC (``ComputeDriver.detach_interface``)."""
        with self._serialized(instance_uuid):
            self.driver.detach_interface(instance_uuid, port_id)

    def get_diagnostics(self, ctx: RequestContext, instance_uuid: str) -> dict[str, Any]:
        """The guest's diagnostics (``ComputeDriver.get_diagnostics``)."""
        return self.driver.get_diagnostics(instance_uuid)

    def get_console(self, ctx: RequestContext, instance_uuid: str, kind: str) -> dict[str, Any]:
        """Where the console proxy reaches the guest's ``kind`` console
        (``ComputeDriver.get_console``).

        Raises:
            InstanceNotReady: the guest does not run (409); ConsoleTypeUnavailable: the
                driver or guest has no such console (400, Nova's "Unavailable console type").
        """
        try:
            return self.driver.get_console(instance_uuid, kind)
        except InstanceNotRunning as exc:
            raise InstanceNotReady(f"Instance {instance_uuid} is not ready yet.") from exc
        except DriverError as exc:
            LOG.info("no %s console for %s: %s", kind, instance_uuid, exc)
            raise ConsoleTypeUnavailable.for_type(kind) from exc

    def extend_volume(
        self, ctx: RequestContext, instance_uuid: str, volume_id: str, new_size: int
    ) -> None:
        """Let the guest see the volume's new size (a cast: a failure is logged; the guest
        sees the size after its next start)."""
        with self._serialized(instance_uuid):
            try:
                self.driver.extend_volume(instance_uuid, volume_id, new_size)
            except errors.PocketError as exc:
                LOG.warning("extending %s of %s failed: %s", volume_id, instance_uuid, exc)

    # ------------------------------------------------------------------ periodic tasks

    def report(self) -> None:
        """Heartbeat of the service and the host's resources: ``report_heartbeat`` then
        ``update_resources`` (at start-up)."""
        self.report_heartbeat()
        self.update_resources()

    def report_heartbeat(self) -> None:
        """Heartbeat of the service (every ``report_interval`` s), a cast to the conductor:
        a heartbeat never waits, and those sent while no controller runs are written when
        one comes back."""
        self.conductor.report_service(
            RequestContext.system(),
            self.host,
            COMPUTE_BINARY,
            "compute",
            self.conf.availability_zone,
        )

    def update_resources(self) -> None:
        """The host's resources (every ``update_resources_interval`` s; Nova's
        ``update_available_resource``), a cast: the conductor records the compute node,
        repairs usage drift, and writes the Placement inventory only when it changed."""
        ctx = RequestContext.system()
        allocation = {key: getattr(self.conf, key) for key in ALLOCATION_KEYS}
        resources = self.driver.get_host_resources()
        # the hypervisor's host_ip is the host's own address, as Nova's [DEFAULT] my_ip:
        # here its data-plane address ([network] local_ip, a lab host's underlay address)
        if getattr(self.conf, "local_ip", ""):
            resources.setdefault("host_ip", self.conf.local_ip)
        resources.update(instance_storage.report(self.conf))
        self.conductor.report_compute_node(ctx, self.host, resources, allocation)

    def _my_instances(self) -> list[dict[str, Any]]:
        """This host's live servers, from the conductor (``instances_on_host``)."""
        return self.conductor.instances_on_host(RequestContext.system(), self.host)

    def run_periodic_round(self) -> None:
        """Every periodic task once, now: ``update_resources`` then ``run_sync_round``."""
        self.update_resources()
        self.run_sync_round()

    def run_sync_round(self) -> None:
        """One sync round (every ``sync_power_state_interval`` s) on a single read of this
        host's servers (``instances_on_host``): ``sync_power_states``, ``remove_orphans``,
        ``resend_lost_outcomes``, ``remove_stale_parked``. A task that fails is logged and
        the others still run."""
        present = set(self.driver.list_instances())  # before the read: no spawn race
        mine = self._my_instances()
        for task in (
            lambda: self.sync_power_states(mine),
            lambda: self.remove_orphans(present, mine),
            lambda: self.resend_lost_outcomes(mine),
            lambda: self.remove_stale_parked(mine),
        ):
            try:
                task()
            except Exception:  # a periodic task: the others still run; logged
                LOG.exception("periodic task of %s failed", self.host)

    def remove_orphans(
        self, present: set[str] | None = None, mine: list[dict[str, Any]] | None = None
    ) -> list[str]:
        """Destroy guests the conductor does not list on this host; returns their uuids.
        On shared instance storage a guest the database places on another host is
        destroyed with ``destroy_disks=False``: its disks are that host's now (Nova's
        ``_destroy_evacuated_instances`` keeps shared disks the same way).

        ``present`` (the driver's guests) and ``mine`` (``instances_on_host``) are read here
        unless given; ``present`` must be listed before ``mine`` was read, so a guest spawned
        in between is never taken for an orphan.
        """
        if present is None or mine is None:
            present = set(self.driver.list_instances())  # before the read: no spawn race
            mine = self._my_instances()
        wanted = {i["uuid"] for i in mine}
        orphans = sorted(present - wanted)
        elsewhere: set[str] = set()
        if orphans and getattr(self.conf, "instances_shared_storage", False):
            elsewhere = self._placed_elsewhere(orphans)
        for uuid in orphans:
            LOG.warning(
                "destroying orphaned guest %s%s",
                uuid,
                " (its disks stay: shared storage, another host's)" if uuid in elsewhere else "",
            )
            with self._serialized(uuid):
                self.driver.destroy(uuid, destroy_disks=uuid not in elsewhere)
        return orphans

    def _placed_elsewhere(self, orphans: list[str]) -> set[str]:
        """On shared instance storage, the orphans the database places on another host
        (evacuated or live-migrated away): their disks are that host's now."""
        hosts = self.conductor.instance_hosts(RequestContext.system(), orphans)
        return {u for u, h in hosts.items() if h and h != self.host}

    def resend_lost_outcomes(self, mine: list[dict[str, Any]] | None = None) -> None:
        """Send again the outcomes the conductor has not written (periodic task); ``mine``:
        this host's servers (``instances_on_host``), read here unless given.

        An outcome sent at least ``periodic_interval`` s ago whose server is still in the
        task it ended (and that no operation of this agent is working on) was lost with a
        controller killed after it took the message; the conductor's handlers change a
        server only from the state the outcome ended, so a late duplicate changes nothing.
        Outcomes of servers that left the task (or are gone) are forgotten.
        """
        with self._locks_guard:
            if not self._outcomes:
                return
        if mine is None:
            mine = self._my_instances()
        current = {i["uuid"]: i["task_state"] for i in mine}
        now = time.monotonic()
        with self._locks_guard:
            pending = list(self._outcomes.items())
        for uuid, (task, sent, send) in pending:
            if current.get(uuid) != task:
                with self._locks_guard:
                    if self._outcomes.get(uuid, (None, 0.0))[1] == sent:
                        del self._outcomes[uuid]
                continue
            lock = self._locks.get(uuid)
            if now - sent < self.conf.periodic_interval or (lock is not None and lock.locked()):
                continue
            LOG.warning("the outcome of %s on %s was not written; sending it again", task, uuid)
            with self._locks_guard:
                self._outcomes[uuid] = (task, now, send)
            send()

    def sync_power_states(self, mine: list[dict[str, Any]] | None = None) -> None:
        """Make the servers of this host follow what the driver reports; ``mine``: this
        host's servers (``instances_on_host``), read here unless given."""
        for inst in self._my_instances() if mine is None else mine:
            if inst["task_state"] is not None or inst.get("elsewhere"):  # (a move's other host)
                continue
            try:
                self._sync_one(inst)
            except Exception:  # a periodic task: the other servers still sync; logged
                LOG.exception("power-state sync of %s failed", inst["uuid"])

    def _sync_one(self, inst: dict[str, Any]) -> None:
        uuid, vm_state = inst["uuid"], inst["vm_state"]
        power = self.driver.get_power_state(uuid)
        ctx = RequestContext.system()
        if vm_state == states.ACTIVE and power not in (PowerState.RUNNING, PowerState.PAUSED):
            LOG.warning("guest of %s is not running (%s): server stopped", uuid, power.name)
            new = PowerState.SHUTDOWN if power == PowerState.NOSTATE else power
            self.conductor.instance_power_state_changed(
                ctx, uuid, vm_state, int(new), states.STOPPED
            )
        elif vm_state == states.STOPPED and power == PowerState.RUNNING:
            LOG.warning("stopped server %s found running: powering it off", uuid)
            with self._serialized(uuid):
                self.driver.power_off(uuid)
            self.conductor.instance_power_state_changed(
                ctx, uuid, vm_state, int(PowerState.SHUTDOWN), None
            )
        elif vm_state == states.PAUSED and power in (PowerState.SHUTDOWN, PowerState.NOSTATE):
            LOG.warning("guest of paused %s is gone: server stopped", uuid)
            self.conductor.instance_power_state_changed(
                ctx, uuid, vm_state, int(PowerState.SHUTDOWN), states.STOPPED
            )
        elif int(power) != inst["power_state"] and vm_state != states.BUILDING:
            self.conductor.instance_power_state_changed(ctx, uuid, vm_state, int(power), None)

    def reconcile(self) -> None:
        """Start-up convergence: orphans, interrupted spawns/deletes/power actions, sync."""
        ctx = RequestContext.system()
        present = set(self.driver.list_instances())  # before the read: no spawn race
        mine = self._my_instances()
        self.remove_orphans(present, mine)
        if not self.driver.capabilities.get("real_guests", True):
            self._recreate_lost_guests(present, mine)
        settled = self.settle_migrations(mine)
        # live migrations from or to this host: the conductor ends them (it calls back
        # once this agent serves; ``live_migration_recovery``), told which copies QEMU
        # completed while this agent was away
        completed = getattr(self.driver, "live_migration_completed", None)
        copied = [
            i["uuid"]
            for i in mine
            if i["task_state"] == states.MIGRATING
            and i["host"] == self.host
            and completed
            and completed(i["uuid"])
        ]
        self.conductor.live_migrations_interrupted(ctx, self.host, copied)
        for inst in mine:
            try:
                if inst["uuid"] not in settled and self._settle(ctx, inst):
                    settled[inst["uuid"]] = inst["task_state"]
            except Exception:  # start-up: one server must not keep the host down; logged
                LOG.exception("settling %s failed", inst["uuid"])
        self._wait_settled(settled)
        self.sync_power_states()

    def _wait_settled(self, settled: dict[str, str]) -> None:
        """Wait (``SETTLE_WAIT`` s at most) until the conductor has written what
        ``reconcile`` reported (casts): no server of ``settled`` (uuid -> the task it was
        settled from) still in that task. Only then does the agent serve its queue, so a
        build or stop that waited there finds the server settled and is ignored."""
        deadline = time.monotonic() + SETTLE_WAIT
        while settled:
            current = {i["uuid"]: i["task_state"] for i in self._my_instances()}
            settled = {u: t for u, t in settled.items() if current.get(u) == t}
            if not settled:
                return
            if time.monotonic() >= deadline:
                LOG.warning("the conductor has not settled %s yet; serving all the same", settled)
                return
            time.sleep(0.2)

    def _recreate_lost_guests(self, present: set[str], mine: list[dict[str, Any]]) -> None:
        """A driver without real guests (``fake``) forgets them when the process ends: make
        them again from their specs so servers keep their state across restarts (``present``:
        the driver's guests; ``mine``: this host's servers)."""
        for inst in mine:
            if (
                inst["uuid"] in present
                or inst.get("elsewhere")
                or not inst["spec"]
                or inst["task_state"]
                not in (
                    None,
                    *_POWER_TASKS,
                    *_STATE_TASKS,
                    *states.SNAPSHOT_TASKS,
                    *states.SHELVE_TASKS,
                )
                or inst["vm_state"] not in _RECREATED
            ):
                continue
            try:
                self._recreate(dict(inst["spec"]), inst["vm_state"])
            except Exception:  # start-up: the other guests are re-created; logged
                LOG.exception("re-creating the guest of %s failed", inst["uuid"])

    def _recreate(self, spec: dict[str, Any], vm_state: str) -> None:
        """Make a lost guest again in the state its server is in (``_recreate_lost_guests``)."""
        uuid = spec["uuid"]
        self.driver.spawn(spec)
        if vm_state in (states.STOPPED, states.SHELVED):
            self.driver.power_off(uuid)
        elif vm_state == states.PAUSED:
            self.driver.pause(uuid)
        elif vm_state == states.SUSPENDED:
            self.driver.suspend(uuid)
        elif vm_state == states.RESCUED:
            self.driver.rescue(spec, dict(spec.get("rescue_image") or spec["image"]))

    def _settle(self, ctx: RequestContext, inst: dict[str, Any]) -> bool:
        """Settle a server a killed agent left in a task; whether there was one."""
        uuid, task = inst["uuid"], inst["task_state"]
        if task == states.SPAWNING and inst.get("vm_state") == states.SHELVED_OFFLOADED:
            LOG.warning("unshelve of %s was interrupted; offloaded again", uuid)
            self.driver.destroy(uuid)
            fault = {"message": UNSHELVE_INTERRUPTED, "code": 500, "traceback": None}
            request_ctx = RequestContext.system(inst.get("request_id"))
            self._outcome(
                uuid,
                task,
                lambda: self.conductor.instance_unshelved(request_ctx, uuid, self.host, 0, fault),
            )
        elif task == states.SPAWNING:
            LOG.warning("spawn of %s was interrupted; setting ERROR", uuid)
            self.driver.destroy(uuid)
            fault = {"message": COMPUTE_INTERRUPTED, "code": 500, "traceback": None}
            self._spawn_failed(ctx, uuid, fault)
        elif task == states.DELETING:
            self.terminate_instance(ctx, uuid)
        elif task in _POWER_TASKS:
            self._resume_power_task(inst)
        elif task in states.SNAPSHOT_TASKS:
            # a snapshot a killed agent left: its copy is gone; the task ends, the image
            # is deleted (the user snapshots again)
            LOG.warning("snapshot of %s was interrupted; ending it", uuid)
            fault = {"message": SNAPSHOT_INTERRUPTED, "code": 500, "traceback": None}
            image_id = ((inst.get("spec") or {}).get("snapshot") or {}).get("image_id")
            request_ctx = RequestContext.system(inst.get("request_id"))
            self._outcome(
                uuid,
                task,
                lambda: self.conductor.instance_snapshot_finished(
                    request_ctx, uuid, image_id, None, fault
                ),
            )
        elif task in states.SHELVE_TASKS:
            # as a snapshot: the copy is gone; the shelve ends, its image is deleted
            LOG.warning("shelve of %s was interrupted; ending it", uuid)
            fault = {"message": SHELVE_INTERRUPTED, "code": 500, "traceback": None}
            image_id = ((inst.get("spec") or {}).get("shelve") or {}).get("image_id")
            self._power_on_again(inst)
            power = int(self.driver.get_power_state(uuid))
            request_ctx = RequestContext.system(inst.get("request_id"))
            self._outcome(
                uuid,
                task,
                lambda: self.conductor.instance_shelved(request_ctx, uuid, image_id, power, fault),
            )
        elif task in REBUILD_TASKS:
            self.settle_rebuild(inst)
        elif task in _STATE_TASKS:
            LOG.warning("%s of %s was pending or interrupted; carrying it out", task, uuid)
            request_ctx = RequestContext.system(inst.get("request_id"))
            getattr(self, _STATE_TASKS[task])(request_ctx, uuid)
        else:
            return False
        return True

    def _resume_power_task(self, inst: dict[str, Any]) -> None:
        """Carry out a stop/start/reboot that a killed agent left running or that was cast
        while the agent was away (its message, still queued, then finds the task done and
        is ignored), under the request id of the user's action so it gets finished."""
        uuid, task = inst["uuid"], inst["task_state"]
        LOG.warning("%s of %s was pending or interrupted; carrying it out", task, uuid)
        ctx = RequestContext.system(inst.get("request_id"))
        if task == states.POWERING_OFF:
            self.stop_instance(ctx, uuid)
        elif task == states.POWERING_ON:
            self.start_instance(ctx, uuid)
        else:
            self.reboot_instance(ctx, uuid, hard=task == states.REBOOTING_HARD)
