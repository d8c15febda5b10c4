"""The conductor: owns the build and delete workflows on the controller (seeds 002/004).

Each workflow is a ``tasks.Workflow``: steps with check, execute and rollback, each step an
event of the server's action. The build of one server (action ``create``)::

    compute__schedule_instances    scheduler: filters, weighers, atomic claim -> host
                                   (rollback: release the claim)
    compute__allocate_network      cloud.network.allocate_for_instance -> network_info
                                   (rollback: deallocate the ports)
    compute__prepare_block_device  check: root disk of the flavor vs the image (not for a
                                   volume-backed server); the volumes of its block device
                                   mappings created, waited for and attached to the host
                                   (``volumes.prepare_for_build``); the InstanceSpec of the
                                   agent (rollback: attachments and created volumes deleted)
    -> cast build_and_run_instance to compute.<host>  (the agent records compute__spawn)

A build request carries its request spec (``request_spec``): the image as the API looked it
up (once per request) and an admin's forced host. The user's token never travels on the bus
(an agent that downloads an image uses a service credential, ``image_cache``).

A failing step rolls back the completed ones (claim released, ports deallocated, each
recorded as ``<step>_rollback``) and leaves the server in ERROR with a fault. Every state
change is guarded by the task state the step expects (``actions.update_instance``), so a
delete that arrives mid-build wins: the step notices, undoes its own part, the completed
steps are rolled back and the build stops.

A delete (action ``delete``) ends in one place, ``Conductor.finish_delete``, whoever drives
it: the API calls ``delete_instance``, which casts ``terminate_instance`` to the server's
agent when its host is up (the agent records ``compute_terminate_instance`` and answers
``terminate_finished``) and otherwise finishes at once; the periodic sweep of deletes on
hosts that went down and the start-up recovery finish theirs the same way. Its steps::

    compute__detach_volumes        attachments deleted, delete_on_termination volumes too
    compute__deallocate_network    the server's ports
    compute__release_claim         the scheduler's claim
    (complete the deletion)        the server deleted and its action finished, together

A failing step leaves the server ERROR with a fault (delete it again: the steps are
idempotent).

The agent reaches other services only through the conductor: ``instance_spawn_failed`` and
``terminate_finished`` release claims and ports here.

Every build records the controller running it (``Instance.controller_id``, see
``controllers``) and every controller writes a heartbeat. Recovery on ``start()``: servers
left building in a controller step by this controller (the process died mid-way), by one
whose heartbeat is gone or by no recorded one go to ERROR with a fault and their
claims/ports are released; builds of another live controller are left alone. Servers left
deleting without a host are finished; servers handed to an agent (``spawning``) whose spawn
has not begun get their ``build_and_run_instance`` cast again (the process may have died
between recording the hand-over and sending it). A periodic task does the same for the builds
of controllers that died meanwhile (``recover_orphaned_builds``), so an orphan never waits
for some controller to restart.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.config import Config
from pocketstack.common.db import utcnow
from pocketstack.common.periodic import PeriodicTasks
from pocketstack.compute import (
    actions,
    controllers,
    provider_aggregates,
    scheduler_hints,
    states,
    tasks,
)
from pocketstack.compute.agent_reports import AgentReports
from pocketstack.compute.evacuate import EvacuateConductor
from pocketstack.compute.instance_spec import build_spec
from pocketstack.compute.live_migration import LiveMigrationReports
from pocketstack.compute.live_migration_recovery import LiveMigrationRecovery
from pocketstack.compute.liveness import COMPUTE_BINARY, service_is_up, zone_of_host
from pocketstack.compute.models import Instance, Service
from pocketstack.compute.rebuild import RebuildReports
from pocketstack.compute.request_spec import ImageMeta, RequestSpec, check_root_disk
from pocketstack.compute.resize_conductor import ResizeConductor
from pocketstack.compute.resize_recovery import ResizeRecovery
from pocketstack.compute.rpcapi import CONDUCTOR_MESSAGES, ComputeAgentClient
from pocketstack.compute.shelving import ShelveReports

if TYPE_CHECKING:
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)

CONTROLLER_INTERRUPTED = "Build interrupted by a controller restart"


class _BuildAborted(Exception):
    """The server left the build (deleted meanwhile): undo and stop quietly."""


@dataclasses.dataclass(kw_only=True)
class BuildTask(tasks.Task):
    """The state of one server's build (``Conductor.build``).

    Attributes:
        inst: the server as the API recorded it (detached row).
        request: the request spec (``request_spec.RequestSpec``).
        host, node, zone: where the scheduling step placed it.
        network_info: what the network step allocated (``[]`` without networks).
        spec: the ``InstanceSpec`` (``build_spec``) the block-device step made for the agent.
    """

    inst: Instance
    request: RequestSpec
    host: str | None = None
    node: str | None = None
    zone: str | None = None
    network_info: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    spec: dict[str, Any] | None = None


def release_resources(cloud: Cloud, ctx: RequestContext, instance_uuid: str) -> None:
    """Give back the server's claim, ports and block devices (the attachments and the
    volumes its build created; idempotent; failures are logged)."""
    from pocketstack.compute.scheduler.manager import SchedulerManager

    # Cleanup after a failure or a delete: a claim that could not be released must not keep
    # the ports; each failure is logged with its traceback (kept broad on purpose).
    try:
        SchedulerManager(cloud.conf, cloud.db).release(instance_uuid)
    except Exception:
        LOG.exception("releasing the claim of %s failed", instance_uuid)
    try:
        cloud.network.deallocate_for_instance(ctx.elevated(), instance_uuid)
    except Exception:
        LOG.exception("deallocating the ports of %s failed", instance_uuid)
    try:
        cloud.compute.volumes.release_for_build(ctx, instance_uuid)
    except Exception:
        LOG.exception("releasing the volumes of %s failed", instance_uuid)


def fail_build(
    cloud: Cloud,
    ctx: RequestContext,
    instance_uuid: str,
    message: str,
    details: str | None = None,
    expected: dict[str, Any] | None = None,
) -> None:
    """Put a server that was building into ERROR with a fault and release its resources.

    The state, the fault and the action's result commit together: a client that sees ERROR
    also sees the fault. The server must still be building (a delete that came meanwhile
    wins); ``expected``: more columns it must still hold (as ``actions.update_instance``),
    else nothing is done.
    """
    building = (*states.BUILD_TASKS, states.SPAWNING)
    with cloud.db.transaction() as s:
        failed = actions.update_instance(
            s,
            instance_uuid,
            {"vm_state": states.BUILDING, "task_state": building, **(expected or {})},
            vm_state=states.ERROR,
            task_state=None,
        )
        if failed:
            actions.add_fault(s, instance_uuid, message, 500, details)
            actions.finish_action(s, ctx, instance_uuid, error=True)
    if failed or not expected:
        release_resources(cloud, ctx, instance_uuid)


class Conductor(
    ResizeConductor,
    ShelveReports,
    RebuildReports,
    EvacuateConductor,
    LiveMigrationReports,
    LiveMigrationRecovery,
    ResizeRecovery,
    AgentReports,
):
    """The conductor of one controller, served on the bus as ``conductor``; it handles the
    compute agents' reports as the ``AgentReports`` it is, and shelving as the
    ``ShelveReports`` (``shelving``).

    Args:
        cloud: the ``pocketstack.service.Cloud`` (conf, db, bus and the other managers).
    """

    def __init__(self, cloud: Cloud):
        from pocketstack.compute.scheduler.manager import SchedulerManager

        super().__init__(cloud)  # self.cloud, self.db
        self.conf: Config = cloud.conf
        self.scheduler = SchedulerManager(cloud.conf, cloud.db)
        self.agents = ComputeAgentClient(cloud.bus)
        #: this controller's id, recorded on the builds it runs (``controllers``)
        self.controller_id = controllers.controller_id(cloud.conf)
        # the heartbeat has a thread of its own: a long recovery round never makes this
        # controller look dead to the others
        self._heartbeat = PeriodicTasks(
            "conductor-heartbeat", cloud.conf.periodic_interval, [self.report_controller]
        )
        self._periodic = PeriodicTasks(
            "conductor-periodic",
            cloud.conf.periodic_interval,
            [
                self.finish_deletes_on_down_hosts,
                self.recover_orphaned_builds,
                self.offload_shelved_instances,
                self.confirm_old_resizes,
            ],
        )
        #: the build of one server (``build_instances``), on a ``BuildTask``
        self.build: tasks.Workflow[BuildTask] = tasks.Workflow(
            "build",
            [
                tasks.Step(actions.EV_SCHEDULE, self._schedule, rollback=self._release_claim),
                tasks.Step(
                    actions.EV_NETWORK, self._allocate_network, rollback=self._deallocate_network
                ),
                tasks.Step(
                    actions.EV_BLOCK_DEVICE,
                    self._prepare_block_device,
                    check=self._check_root_disk,
                    rollback=self._release_block_devices,
                ),
                tasks.Step(None, self._cast_spawn),  # the agent records compute__spawn
            ],
        )
        #: the end of every delete (``finish_delete``), on a plain ``tasks.Task``
        self.delete: tasks.Workflow[tasks.Task] = tasks.Workflow(
            "delete",
            [
                tasks.Step(actions.EV_DETACH_VOLUMES, self._detach_volumes),
                tasks.Step(actions.EV_DEALLOCATE_NETWORK, self._deallocate_network),
                tasks.Step(actions.EV_RELEASE_CLAIM, self._release_claim),
                tasks.Step(None, self._complete_deletion),  # finishes the action with it
            ],
        )

    def start(self) -> None:
        """Report alive, recover interrupted work, serve on the bus, start the periodic
        tasks."""
        self.report_controller()
        self._heartbeat.start()
        self.recover()
        self.cloud.bus.serve("conductor", self, CONDUCTOR_MESSAGES)
        self._periodic.start()
        # live migrations are settled with calls to their agents, which may start after
        # this controller (``pocketstack up``): in the background, once serving
        threading.Thread(
            target=self._recover_live_migrations_logged, name="live-migration-recovery", daemon=True
        ).start()
        # host aggregates that never reached their hosts' providers (made before the copy
        # existed, a provider made later, a failed copy): Nova's ``nova-manage placement
        # sync_aggregates``, run at each start
        threading.Thread(target=self.sync_aggregates, name="aggregates-sync", daemon=True).start()

    def sync_aggregates(self) -> provider_aggregates.SyncResult | None:
        """Copy every compute host's aggregate memberships to its resource provider
        (``provider_aggregates.sync_all``); None when it failed (logged)."""
        try:
            return provider_aggregates.sync_all(self.cloud)
        except Exception:  # the hosts' reports copy them too; logged
            LOG.exception("copying the host aggregates to Placement failed")
            return None

    def _recover_live_migrations_logged(self) -> None:
        try:
            self.recover_live_migrations()
        except Exception:  # the agents' restarts settle what is left; logged
            LOG.exception("settling the interrupted live migrations failed")

    def stop(self) -> None:
        """Stop the periodic tasks and remove the heartbeat, so that the other controllers
        settle this one's unfinished builds at once (the bus is stopped by its owner)."""
        self._periodic.stop()
        self._heartbeat.stop()
        controllers.forget_controller(self.db, self.controller_id)
        self.cloud.bus.unserve("conductor")

    # ------------------------------------------------------------------ bus methods
    # (the only ones the bus reaches: ``rpcapi.CONDUCTOR_MESSAGES``)

    def build_instances(
        self, ctx: RequestContext, instance_uuids: list[str], request_spec: RequestSpec
    ) -> None:
        """Build each server of one request (``self.build``: schedule, network, block device,
        then cast to its agent), all with the request's ``request_spec``.

        Every server of the request is taken first (``_take``): should this controller die
        while building one, the others are recovered as its own too.
        """
        for uuid in instance_uuids:
            self._take(uuid)
        for uuid in instance_uuids:
            try:
                self._build_one(ctx, uuid, request_spec)
            except Exception:  # never leave the others unbuilt because of one; logged
                LOG.exception("build of %s failed unexpectedly", uuid)
                fail_build(self.cloud, ctx, uuid, "Unexpected error while building.")

    def terminate_finished(self, ctx: RequestContext, instance_uuid: str) -> None:
        """The agent destroyed the guest: finish the delete (``finish_delete``)."""
        self.finish_delete(ctx, instance_uuid)

    def delete_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Carry out a delete the API recorded (task state ``deleting``, action ``delete``).

        A server whose host's compute service is up is handed to that agent (cast
        ``terminate_instance``: it destroys the guest, then answers ``terminate_finished``);
        one without a host (not scheduled, or scheduling failed) or on a host that is down is
        finished at once (``finish_delete``; a down host's agent destroys the guest as an
        orphan when it comes back). Anything else (deleted meanwhile) is left alone.
        """
        inst = actions.load_instance(self.db, instance_uuid)
        if inst is None or inst.deleted or inst.task_state != states.DELETING:
            return
        if inst.host and self._host_is_up(inst.host):
            self.agents.terminate_instance(ctx, inst.host, instance_uuid)
            return
        self.finish_delete(ctx, instance_uuid)

    # ------------------------------------------------------------------ the delete

    def finish_delete(self, ctx: RequestContext, instance_uuid: str) -> None:
        """The one end of every delete (``self.delete``): the ports deallocated, the claim
        released, then the server deleted (``vm_state`` deleted) with its action finished.

        The steps are events of the action of ``ctx.request_id`` (the user's ``delete``;
        periodic callers pass ``actions.pending_request_id``). Only a server being deleted
        (task state ``deleting``) is finished; any other (deleted already, or its destroy
        failed) is left alone. A failing step leaves the server ERROR with a fault and the
        action ``Error`` (delete it again: the steps are idempotent).
        """
        inst = actions.load_instance(self.db, instance_uuid)
        if inst is None or inst.deleted or inst.task_state != states.DELETING:
            LOG.info("not finishing the delete of %s: it is no longer being deleted", instance_uuid)
            return
        try:
            self.delete.run(tasks.Task(db=self.db, ctx=ctx, instance_uuid=instance_uuid))
        except Exception as exc:  # the server must not stay deleting: ERROR with a fault
            if isinstance(exc, errors.PocketError):
                message = exc.message
            else:  # a bug: logged with its traceback
                LOG.exception("delete of %s failed", instance_uuid)
                message = f"Delete failed: {exc}"
            with self.db.transaction() as s:  # ERROR and its fault become visible together
                if actions.update_instance(  # unless something else ended the delete
                    s,
                    instance_uuid,
                    {"task_state": states.DELETING},
                    vm_state=states.ERROR,
                    task_state=None,
                ):
                    actions.add_fault(s, instance_uuid, message, 500, type(exc).__name__)
                    actions.finish_action(s, ctx, instance_uuid, error=True)

    def _complete_deletion(self, task: tasks.Task) -> None:
        """Mark the server deleted and finish its action, in one transaction."""
        now = utcnow()
        shelve_image = None
        with self.db.transaction() as s:
            inst = s.get(Instance, task.instance_uuid)
            if inst is None or inst.deleted:
                return
            if inst.vm_state in (states.SHELVED, states.SHELVED_OFFLOADED):
                shelve_image = ((inst.spec or {}).get("shelve") or {}).get("image_id")
            states.transition(inst, vm_state=states.DELETED, task_state=None)
            inst.deleted = True
            inst.deleted_at = now
            inst.terminated_at = now
            inst.power_state = 0
            inst.updated_at = now
            actions.finish_action(s, task.ctx, task.instance_uuid)  # visible with the delete
        if shelve_image:  # as Nova, a shelved server's image goes with it
            self.delete_shelve_image(str(shelve_image))

    def _host_is_up(self, host: str) -> bool:
        with self.db.reader() as s:
            svc = s.scalars(
                sa.select(Service).where(Service.host == host, Service.binary == COMPUTE_BINARY)
            ).first()
        return svc is not None and service_is_up(svc, self.conf)

    def _pending_ctx(self, instance_uuid: str) -> RequestContext:
        """A system context under the request id of the server's unfinished action (the
        user's delete), so work done for it by a periodic task is recorded and finishes it."""
        return RequestContext.system(actions.pending_request_id(self.db, instance_uuid))

    # ------------------------------------------------------------------ the build

    def _take(self, uuid: str) -> bool:
        """Record this controller as running the build of ``uuid`` (not begun yet): from
        then on it is this controller's to finish, or to recover if it dies."""
        return actions.update_instance(
            self.db,
            uuid,
            {"vm_state": states.BUILDING, "task_state": states.SCHEDULING},
            controller_id=self.controller_id,
        )

    def _build_one(self, ctx: RequestContext, uuid: str, request_spec: RequestSpec) -> None:
        inst = actions.load_instance(self.db, uuid)
        if inst is None or inst.deleted or inst.task_state != states.SCHEDULING:
            return
        if inst.controller_id != self.controller_id:  # another controller took it
            return
        task = BuildTask(db=self.db, ctx=ctx, instance_uuid=uuid, inst=inst, request=request_spec)
        try:
            self.build.run(task)
        except _BuildAborted:  # the completed steps were rolled back
            LOG.info("build of %s stopped: the server is being deleted", uuid)
            actions.finish_action(self.db, ctx, uuid, error=True)
        except errors.PocketError as exc:
            fail_build(self.cloud, ctx, uuid, exc.message, _details(exc, task))
        except Exception as exc:  # a bug: logged with its traceback, the server goes ERROR
            LOG.exception("build of %s failed", uuid)
            fail_build(self.cloud, ctx, uuid, f"Build failed: {exc}", _details(exc, task))

    def _advance(
        self,
        task: BuildTask,
        expected_task: str,
        undo: Callable[[BuildTask], None] | None,
        **values: Any,
    ) -> None:
        """Record a step's outcome if the server still waits for it (``expected_task``);
        else undo the step's own work and abort the build (a delete came)."""
        if actions.update_instance(
            self.db, task.instance_uuid, {"task_state": expected_task}, **values
        ):
            return
        if undo is not None:
            undo(task)
        raise _BuildAborted()

    def _schedule(self, task: BuildTask) -> None:
        """Choose a host and claim its resources there (a forced host skips the filters)."""
        inst = task.inst
        dest = self.scheduler.select_destination(
            task.ctx,
            {
                "instance_uuid": inst.uuid,
                "project_id": inst.project_id,
                "vcpus": inst.vcpus,
                "memory_mb": inst.memory_mb,
                # root (none when volume-backed) + ephemeral + swap rounded up to GiB, as
                # Nova's DISK_GB (``convert_mb_to_ceil_gb``): the local disks are made here
                "disk_gb": (0 if task.request.get("volume_backed") else inst.root_gb)
                + inst.ephemeral_gb
                + -(-int((inst.flavor or {}).get("swap") or 0) // 1024),
                "availability_zone": inst.requested_availability_zone,
                "image_properties": task.request["image"]["properties"],
                "ignore_hosts": [],
                "force_host": task.request.get("force_host"),
                # the server group's policy and its placed members (the group filters)
                "group": self.cloud.compute.server_groups.scheduling(inst.uuid),
                **scheduler_hints.spec_extras(self.cloud, inst.flavor, task.request),
            },
        )
        task.host, task.node = dest["host"], dest["node"]
        task.note.host, task.note.details = dest["host"], dest.get("details")
        task.zone = inst.requested_availability_zone or zone_of_host(
            self.db, dest["host"], self.conf.availability_zone
        )
        self._advance(
            task,
            states.SCHEDULING,
            self._release_claim,
            host=task.host,
            node=task.node,
            availability_zone=task.zone,
            task_state=states.NETWORKING,
        )

    def _release_claim(self, task: tasks.Task) -> None:
        self.scheduler.release(task.instance_uuid)
        self.release_move_claims(task.instance_uuid)  # a resize's destination, if any

    def _allocate_network(self, task: BuildTask) -> None:
        """Allocate the requested networks' ports on the chosen host."""
        inst = task.inst
        if inst.requested_networks:
            task.network_info = self.cloud.network.allocate_for_instance(
                task.ctx,
                inst.uuid,
                inst.project_id,
                str(task.host),
                inst.requested_networks,
                list(inst.security_groups or []),
            )
        task.note.host = task.host
        task.note.details = network_details(task.network_info)
        self._advance(
            task,
            states.NETWORKING,
            self._deallocate_network,
            network_info=task.network_info,
            task_state=states.BLOCK_DEVICE_MAPPING,
        )

    def _deallocate_network(self, task: tasks.Task) -> None:
        self.cloud.network.deallocate_for_instance(task.ctx.elevated(), task.instance_uuid)

    def _check_root_disk(self, task: BuildTask) -> None:
        if not task.request.get("volume_backed"):
            check_root_disk(task.inst.root_gb, task.request["image"])

    def _prepare_block_device(self, task: BuildTask) -> None:
        """The volumes of the server's mappings, created and attached to its host, and the
        root disk (a volume, or the image): the agent's ``InstanceSpec``."""
        devices = self.cloud.compute.volumes.prepare_for_build(
            task.ctx, task.inst, task.zone, str(task.host)
        )
        task.spec = build_spec(
            self.cloud,
            task.inst,
            task.request["image"],
            task.network_info,
            task.zone,
            str(task.host),
            volume_backed=bool(task.request.get("volume_backed")),
        )
        task.spec["block_devices"] = devices
        self._advance(
            task,
            states.BLOCK_DEVICE_MAPPING,
            self._release_block_devices,
            spec=task.spec,
            task_state=states.SPAWNING,
        )

    def _release_block_devices(self, task: tasks.Task) -> None:
        self.cloud.compute.volumes.release_for_build(task.ctx, task.instance_uuid)

    def _detach_volumes(self, task: tasks.Task) -> None:
        self.cloud.compute.volumes.detach_all(task.ctx, task.instance_uuid)

    def _cast_spawn(self, task: BuildTask) -> None:
        self.agents.build_and_run_instance(task.ctx, str(task.host), dict(task.spec or {}))

    def spec_for(
        self, inst: Instance, image: ImageMeta, network_info: list[dict[str, Any]], host: str
    ) -> dict[str, Any]:
        """``build_spec`` of ``inst`` on ``host`` in its zone (an unshelve's spawn)."""
        return build_spec(self.cloud, inst, image, network_info, inst.availability_zone, host)

    # ------------------------------------------------------------------ recovery

    def report_controller(self) -> None:
        """Write this controller's heartbeat (periodic task)."""
        controllers.report_controller(self.db, self.controller_id)

    def recover(self) -> None:
        """Settle work a dead controller left: builds in controller steps that were this
        controller's (before it restarted), a dead controller's or nobody's; host-less
        deletes."""
        with self.db.reader() as s:
            deletes = list(
                s.scalars(
                    sa.select(Instance.uuid).where(
                        Instance.deleted.is_(False),
                        Instance.task_state == states.DELETING,
                        Instance.host.is_(None),
                    )
                )
            )
        for uuid in deletes:
            LOG.info("finishing the delete of %s", uuid)
            self.finish_delete(self._pending_ctx(uuid), uuid)
        self._fail_orphans(include_mine=True)
        self._resend_spawns()
        self.recover_resize_preps()
        self.recover_resize_handoffs()

    def recover_orphaned_builds(self) -> None:
        """Settle the builds of controllers whose heartbeat is gone (periodic task): those in
        a controller step go to ERROR (claims and ports released); those handed to an agent
        whose spawn has not begun are adopted and their spawn cast again."""
        self._fail_orphans(include_mine=False)
        live = controllers.live_controllers(self.db, self.conf) | {self.controller_id}
        with self.db.reader() as s:
            waiting = list(
                s.execute(
                    sa.select(Instance.uuid, Instance.controller_id).where(
                        Instance.deleted.is_(False),
                        Instance.vm_state == states.BUILDING,
                        Instance.task_state == states.SPAWNING,
                        Instance.controller_id.is_not(None),
                        Instance.controller_id.not_in(live),
                    )
                )
            )
        adopted = [
            uuid
            for uuid, owner in waiting
            if actions.update_instance(
                self.db,
                uuid,
                {"task_state": states.SPAWNING, "controller_id": owner},
                controller_id=self.controller_id,
            )
        ]
        if adopted:
            self._resend_spawns(adopted)

    def _fail_orphans(self, include_mine: bool) -> None:
        orphans = controllers.orphaned_builds(
            self.db, self.conf, self.controller_id, include_mine=include_mine
        )
        for uuid, owner in orphans:
            LOG.warning("build of %s (controller %s) was interrupted; setting ERROR", uuid, owner)
            fail_build(
                self.cloud,
                RequestContext.system(),
                uuid,
                CONTROLLER_INTERRUPTED,
                expected={"controller_id": owner, "task_state": states.BUILD_TASKS},
            )

    def _resend_spawns(self, uuids: list[str] | None = None) -> None:
        """Cast again the spawns a dead controller may have recorded but not sent: servers
        ``spawning`` (of ``uuids``, default all) whose agent has not begun (no spawn step
        yet). The agent ignores the duplicate of a message it also receives (it spawns only
        while ``spawning``)."""
        query = sa.select(Instance).where(
            Instance.deleted.is_(False),
            Instance.vm_state == states.BUILDING,
            Instance.task_state == states.SPAWNING,
            Instance.host.is_not(None),
        )
        if uuids is not None:
            query = query.where(Instance.uuid.in_(uuids))
        with self.db.reader() as s:
            waiting = list(s.scalars(query))
        for inst in waiting:
            if not inst.spec or actions.has_event(self.db, inst.uuid, actions.EV_SPAWN):
                continue
            LOG.info("sending the spawn of %s to %s again", inst.uuid, inst.host)
            self.agents.build_and_run_instance(
                self._pending_ctx(inst.uuid), str(inst.host), dict(inst.spec)
            )

    def finish_deletes_on_down_hosts(self) -> None:
        """Finish deletes whose host's compute service is down (its agent will remove the
        guest as an orphan when it comes back)."""
        with self.db.reader() as s:
            rows = list(
                s.execute(
                    sa.select(Instance.uuid, Service)
                    .join(
                        Service,
                        sa.and_(Service.host == Instance.host, Service.binary == COMPUTE_BINARY),
                    )
                    .where(Instance.deleted.is_(False), Instance.task_state == states.DELETING)
                )
            )
        for uuid, service in rows:
            if not service_is_up(service, self.conf):
                self.finish_delete(self._pending_ctx(uuid), uuid)

    # ------------------------------------------------------------------ agents' reports
    # The other report handlers are ``AgentReports``' own, served as they are (``rpcapi.
    # CONDUCTOR_MESSAGES``): a compute agent has no database, it reads and writes its servers
    # through them.

    def instance_spawn_failed(
        self, ctx: RequestContext, instance_uuid: str, host: str, fault: dict[str, Any]
    ) -> bool:
        """``AgentReports.instance_spawn_failed``; then, if the server went ``ERROR``,
        release its claim and ports (``release_resources``). Returns whether it did."""
        failed = super().instance_spawn_failed(ctx, instance_uuid, host, fault)
        if failed:
            LOG.info("build of %s failed on %s: %s", instance_uuid, host, fault["message"])
            release_resources(self.cloud, ctx, instance_uuid)
        return failed


def _details(exc: BaseException, task: tasks.Task) -> str:
    """The fault details of a failed build: the error's class, and each rollback that
    failed (recorded as its event too)."""
    return "\n".join([type(exc).__name__, *(f"rollback failed: {e}" for e in task.rollback_errors)])


def network_details(network_info: list[dict[str, Any]] | None) -> str:
    """The network step's event details (2.84): each port made, on which network, with its
    MAC and addresses; or that the server has no network."""
    if not network_info:
        return "No network requested: the server has no port."
    ports = []
    for vif in network_info:
        network = (
            vif.get("network_name")
            or (vif.get("network") or {}).get("label")
            or vif.get("network_id")
        )
        addrs = ", ".join(
            str(ip.get("ip_address")) for ip in vif.get("fixed_ips") or [] if ip.get("ip_address")
        )
        ports.append(
            f"port {vif.get('id')} on network {network} (MAC {vif.get('mac_address')}, "
            f"addresses {addrs or 'none'})"
        )
    return f"{len(ports)} port(s): " + "; ".join(ports) + "."
