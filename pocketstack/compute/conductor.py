"""The conductor: owns the build and delete workflows on the controller (seeds 002/004).

Build of one server, each step an event of its ``create`` action::

    compute__schedule_instances    scheduler: filters, weighers, atomic claim -> host
    compute__allocate_network      cloud.network.allocate_for_instance -> network_info
    compute__prepare_block_device  root disk of the flavor vs the image (no volumes yet)
    -> cast build_and_run_instance to compute.<host>  (the agent records compute__spawn)

A failing step rolls back what earlier steps did (claim released, ports deallocated) and
leaves the server in ERROR with a fault. Every state change is guarded by the task state the
step expects (``actions.update_instance``), so a delete that arrives mid-build wins: the build
notices, undoes its own steps and stops.

The agent reaches other services only through the conductor: ``instance_build_failed`` and
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

import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.config import Config
from pocketstack.common.db import Database, utcnow
from pocketstack.common.periodic import PeriodicTasks
from pocketstack.compute import actions, controllers, states
from pocketstack.compute.exceptions import FlavorDiskTooSmall
from pocketstack.compute.liveness import COMPUTE_BINARY, service_is_up
from pocketstack.compute.models import Instance, Service
from pocketstack.compute.rpcapi import CONDUCTOR_MESSAGES, ComputeAgentClient

if TYPE_CHECKING:
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)

GIB = 1024**3
#: image fields that are not "properties" in the InstanceSpec
IMAGE_FIELDS = frozenset(
    {
        "id",
        "name",
        "status",
        "disk_format",
        "container_format",
        "size",
        "virtual_size",
        "min_disk",
        "min_ram",
        "visibility",
        "owner",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "protected",
        "tags",
        "created_at",
        "updated_at",
        "file",
        "self",
        "schema",
        "direct_url",
        "locations",
        "os_hidden",
        "stores",
    }
)

CONTROLLER_INTERRUPTED = "Build interrupted by a controller restart"


class _BuildAborted(Exception):
    """The server left the build (deleted meanwhile): undo and stop quietly."""


def release_resources(cloud: Cloud, ctx: RequestContext, instance_uuid: str) -> None:
    """Give back the server's claim and ports (idempotent; failures are logged)."""
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


def finish_delete(cloud: Cloud, ctx: RequestContext, instance_uuid: str) -> None:
    """Release everything of a server and mark it deleted (``vm_state`` deleted)."""
    release_resources(cloud, ctx, instance_uuid)
    now = utcnow()
    with cloud.db.transaction() as s:
        inst = s.get(Instance, instance_uuid)
        if inst is None or inst.deleted:
            return
        inst.deleted = True
        inst.deleted_at = now
        inst.terminated_at = now
        inst.vm_state = states.DELETED
        inst.task_state = None
        inst.power_state = 0
        inst.updated_at = now
        actions.finish_action(s, ctx, instance_uuid)  # visible together with the delete


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
    also sees the fault. ``expected``: more columns the server must still hold (as
    ``actions.update_instance``), else nothing is done.
    """
    with cloud.db.transaction() as s:
        failed = actions.update_instance(
            s,
            instance_uuid,
            {"vm_state": states.BUILDING, **(expected or {})},
            vm_state=states.ERROR,
            task_state=None,
        )
        if failed:
            actions.add_fault(s, instance_uuid, message, 500, details)
            actions.finish_action(s, ctx, instance_uuid, error=True)
    if failed or not expected:
        release_resources(cloud, ctx, instance_uuid)


class Conductor:
    """The conductor of one controller, served on the bus as ``conductor``.

    Args:
        cloud: the ``pocketstack.service.Cloud`` (conf, db, bus and the other managers).
    """

    def __init__(self, cloud: Cloud):
        from pocketstack.compute.scheduler.manager import SchedulerManager

        self.cloud = cloud
        self.conf: Config = cloud.conf
        self.db: Database = cloud.db
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
            [self.finish_deletes_on_down_hosts, self.recover_orphaned_builds],
        )

    def start(self) -> None:
        """Report alive, recover interrupted work, serve on the bus, start the periodic
        tasks."""
        self.report_controller()
        self._heartbeat.start()
        self.recover()
        self.cloud.bus.serve("conductor", self, CONDUCTOR_MESSAGES)
        self._periodic.start()

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
        self, ctx: RequestContext, instance_uuids: list[str], auth_token: str | None = None
    ) -> None:
        """Build each server: schedule, network, block device, then cast to its agent.

        Every server of the request is taken first (``_take``): should this controller die
        while building one, the others are recovered as its own too.
        """
        for uuid in instance_uuids:
            self._take(uuid)
        for uuid in instance_uuids:
            try:
                self._build_one(ctx, uuid, auth_token)
            except Exception:  # never leave the others unbuilt because of one; logged
                LOG.exception("build of %s failed unexpectedly", uuid)
                fail_build(self.cloud, ctx, uuid, "Unexpected error while building.")

    def instance_build_failed(self, ctx: RequestContext, instance_uuid: str, message: str) -> None:
        """The agent failed to spawn (server already ERROR): release claim and ports."""
        LOG.info("build of %s failed on its host: %s", instance_uuid, message)
        release_resources(self.cloud, ctx, instance_uuid)

    def terminate_finished(self, ctx: RequestContext, instance_uuid: str) -> None:
        """The agent destroyed the guest: release claim and ports, mark the server deleted."""
        finish_delete(self.cloud, ctx, instance_uuid)

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

    def _build_one(self, ctx: RequestContext, uuid: str, auth_token: str | None) -> None:
        inst = actions.load_instance(self.db, uuid)
        if inst is None or inst.deleted or inst.task_state != states.SCHEDULING:
            return
        if inst.controller_id != self.controller_id:  # another controller took it
            return
        try:
            spec = self._prepare(ctx, inst)
        except _BuildAborted:
            LOG.info("build of %s stopped: the server is being deleted", uuid)
            release_resources(self.cloud, ctx, uuid)
            return
        except errors.PocketError as exc:
            fail_build(self.cloud, ctx, uuid, exc.message, type(exc).__name__)
            return
        except Exception as exc:  # a bug: logged with its traceback, the server goes ERROR
            LOG.exception("build of %s failed", uuid)
            fail_build(self.cloud, ctx, uuid, f"Build failed: {exc}", type(exc).__name__)
            return
        self.agents.build_and_run_instance(ctx, spec["host"], {**spec, "auth_token": auth_token})

    def _advance(self, uuid: str, expected_task: str, **values: Any) -> None:
        if not actions.update_instance(self.db, uuid, {"task_state": expected_task}, **values):
            raise _BuildAborted()

    def _prepare(self, ctx: RequestContext, inst: Instance) -> dict[str, Any]:
        uuid = inst.uuid
        with actions.event(self.db, ctx, uuid, actions.EV_SCHEDULE):
            image = self.cloud.image.get_image(ctx, inst.image_ref or "")  # "": not found
            dest = self.scheduler.select_destination(
                ctx,
                {
                    "instance_uuid": uuid,
                    "project_id": inst.project_id,
                    "vcpus": inst.vcpus,
                    "memory_mb": inst.memory_mb,
                    "disk_gb": inst.root_gb + inst.ephemeral_gb,
                    "availability_zone": inst.requested_availability_zone,
                    "image_properties": image_properties(image),
                    "ignore_hosts": [],
                    # an admin's forced host (``az:host``) waits in ``node`` until scheduled
                    "force_host": inst.node,
                },
            )
        zone = inst.requested_availability_zone or self._zone_of(dest["host"])
        self._advance(
            uuid,
            states.SCHEDULING,
            host=dest["host"],
            node=dest["node"],
            availability_zone=zone,
            task_state=states.NETWORKING,
        )
        with actions.event(self.db, ctx, uuid, actions.EV_NETWORK):
            network_info = []
            if inst.requested_networks:
                network_info = self.cloud.network.allocate_for_instance(
                    ctx,
                    uuid,
                    inst.project_id,
                    dest["host"],
                    inst.requested_networks,
                    list(inst.security_groups or []),
                )
        self._advance(
            uuid,
            states.NETWORKING,
            network_info=network_info,
            task_state=states.BLOCK_DEVICE_MAPPING,
        )
        with actions.event(self.db, ctx, uuid, actions.EV_BLOCK_DEVICE):
            check_root_disk(inst, image)
            spec = build_spec(self.cloud, inst, image, network_info, zone, dest["host"])
        self._advance(uuid, states.BLOCK_DEVICE_MAPPING, spec=spec, task_state=states.SPAWNING)
        return spec

    def _zone_of(self, host: str) -> str:
        with self.db.reader() as s:
            zone = s.scalars(
                sa.select(Service.availability_zone).where(Service.host == host)
            ).first()
        return zone or self.conf.availability_zone

    # ------------------------------------------------------------------ recovery

    def report_controller(self) -> None:
        """Write this controller's heartbeat (periodic task)."""
        controllers.report_controller(self.db, self.controller_id)

    def recover(self) -> None:
        """Settle work a dead controller left: builds in controller steps that were this
        controller's (before it restarted), a dead controller's or nobody's; host-less
        deletes."""
        ctx = RequestContext.system()
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
            finish_delete(self.cloud, ctx, uuid)
        self._fail_orphans(include_mine=True)
        self._resend_spawns()

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
            ctx = RequestContext.system(actions.pending_request_id(self.db, inst.uuid))
            spec = {**inst.spec, "auth_token": None}
            self.agents.build_and_run_instance(ctx, str(inst.host), spec)

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
                finish_delete(self.cloud, RequestContext.system(), uuid)


def image_properties(image: dict[str, Any]) -> dict[str, Any]:
    """The image's extra properties (everything but Glance's standard fields)."""
    return {k: v for k, v in image.items() if k not in IMAGE_FIELDS}


def check_root_disk(inst: Instance, image: dict[str, Any]) -> None:
    """Refuse a root disk smaller than the image needs (``min_disk``, virtual size).

    Raises:
        FlavorDiskTooSmall.
    """
    if not inst.root_gb:
        return
    size = int(image.get("virtual_size") or image.get("size") or 0)
    needed = max(int(image.get("min_disk") or 0), -(-size // GIB))
    if needed > inst.root_gb:
        raise FlavorDiskTooSmall()


def build_spec(
    cloud: Cloud,
    inst: Instance,
    image: dict[str, Any],
    network_info: list[dict[str, Any]],
    zone: str | None,
    host: str,
) -> dict[str, Any]:
    """The ``InstanceSpec`` (``drivers.base``) of a server, without the user's token."""
    # The image's file in the controller's store; an agent on a host where that file is not
    # (another machine) downloads it from the URL instead (``image_cache.ensure_image``).
    path = str(cloud.image.image_path(image["id"]))
    public_keys = {inst.key_name: inst.key_data} if inst.key_name and inst.key_data else {}
    return {
        "uuid": inst.uuid,
        "name": inst.name,
        "hostname": inst.hostname,
        "project_id": inst.project_id,
        "user_id": inst.user_id,
        "host": host,
        "vcpus": inst.vcpus,
        "memory_mb": inst.memory_mb,
        "root_gb": inst.root_gb,
        "ephemeral_gb": inst.ephemeral_gb,
        "image": {
            "id": image["id"],
            "disk_format": image.get("disk_format"),
            "size": image.get("size"),
            "properties": image_properties(image),
            "path": path,
            "url": f"{cloud.conf.public_url}/image/v2/images/{image['id']}/file",
        },
        "network_info": network_info,
        "metadata": dict(inst.metadata_ or {}),
        "user_data": inst.user_data,
        "public_keys": public_keys,
        "availability_zone": zone,
        "launch_index": inst.launch_index,
        "config_drive": inst.config_drive,
    }
