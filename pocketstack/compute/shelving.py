"""Shelving on the conductor side (Nova's ``shelve``, ``shelveOffload``, ``unshelve``; API
reference "Shelve Server", "Shelf-Offload (Remove) Server", "Unshelve (Restore) Shelved
Server"): the compute agents' shelve reports and the unshelve of an offloaded server.

``ShelveReports`` is part of the ``Conductor`` (a base class, as ``AgentReports`` is):

- ``instance_shelved``: the agent powered the guest off and uploaded its disk into the shelve
  image -> SHELVED (the image's id kept in the stored spec's ``shelve``), and on at once to
  ``shelving_offloading`` when ``shelved_offload_time`` is 0 (cast
  ``shelve_offload_instance``); a fault leaves the server where it was, its image deleted.
- ``instance_offloaded``: the guest is gone from its host -> the scheduler's claim released,
  the ports unbound (kept, with their fixed IPs), the host and node cleared, SHELVED_OFFLOADED.
- ``unshelve_instance`` (from the API, task ``unshelving``): the workflow ``unshelve``:
  schedule (``compute__schedule_instances``: filters, weighers, claim; the request's
  availability zone or host), bind the ports to the new host (``compute__bind_ports``), then
  task ``spawning`` and cast ``unshelve_instance`` with the spec built on the shelve image.
  A failing step rolls back the others and leaves the server SHELVED_OFFLOADED with a fault.
- ``instance_unshelved``: ACTIVE, the shelve image deleted (Nova deletes it); a failed spawn
  offloads the server again (claim released, ports unbound, host cleared).
- ``offload_shelved_instances`` (periodic): servers SHELVED longer than
  ``shelved_offload_time`` seconds (> 0) are offloaded, each as an action ``shelveOffload``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid as uuidlib
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.compute import actions, states, tasks
from pocketstack.compute.agent_reports import AgentReports
from pocketstack.compute.liveness import zone_of_host
from pocketstack.compute.models import Instance
from pocketstack.compute.request_spec import ImageMeta, image_meta

if TYPE_CHECKING:
    from pocketstack.common.config import Config
    from pocketstack.compute.rpcapi import ComputeAgentClient
    from pocketstack.compute.scheduler.manager import SchedulerManager

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(kw_only=True)
class UnshelveTask(tasks.Task):
    """One unshelve of an offloaded server (``ShelveReports.unshelve``).

    Attributes:
        inst: the server as read when the workflow began (detached row).
        zone: the availability zone asked for (2.77), else the one the server is pinned to
            (None when unpinned).
        repin: whether the server's pinned zone becomes ``zone`` once it is scheduled (a
            zone asked for, or 2.91's unpin).
        force_host: the host an admin asked for (2.91), else None.
        host, node: where the scheduling step placed it.
        network_info: the server's ports once bound there.
    """

    inst: Instance
    zone: str | None = None
    repin: bool = False
    force_host: str | None = None
    host: str | None = None
    node: str | None = None
    network_info: list[dict[str, Any]] = dataclasses.field(default_factory=list)


class ShelveReports(AgentReports):
    """The shelve half of the ``Conductor`` (see the module docstring)."""

    conf: Config
    scheduler: SchedulerManager
    agents: ComputeAgentClient

    @property
    def unshelve(self) -> tasks.Workflow[UnshelveTask]:
        """The unshelve workflow of an offloaded server."""
        return tasks.Workflow(
            "unshelve",
            [
                tasks.Step(actions.EV_SCHEDULE, self._unshelve_schedule, rollback=self._unclaim),
                tasks.Step(actions.EV_BIND_PORTS, self._bind_ports, rollback=self._unbind),
                tasks.Step(None, self._cast_unshelve),  # the agent records its step
            ],
        )

    # ------------------------------------------------------------------ shelve

    def instance_shelved(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        image_id: str | None,
        power_state: int,
        fault: dict[str, Any] | None,
    ) -> None:
        """The agent's shelve ended: SHELVED (and on to the offload when
        ``shelved_offload_time`` is 0), or with ``fault`` back where it began, the image
        deleted. The step ``compute_shelve_instance`` finishes with it."""
        offload_now = int(self.conf.shelved_offload_time) == 0
        offloading, host = False, None
        with self.db.transaction() as s:
            inst = s.get(Instance, instance_uuid)
            task = inst.task_state if inst is not None else None
            host = inst.host if inst is not None else None
            shelved = False
            if fault is None and task == states.SHELVING_IMAGE_UPLOADING and inst is not None:
                spec = dict(inst.spec or {})
                spec["shelve"] = {**dict(spec.get("shelve") or {}), "shelved_at": time.time()}
                shelved = actions.update_instance(
                    s,
                    instance_uuid,
                    {"task_state": task},
                    vm_state=states.SHELVED,
                    task_state=None,
                    power_state=int(power_state),
                    spec=spec,
                )
            elif task in states.SHELVE_TASKS:
                if fault is None:  # the agent finished from another task: a bug, say so
                    fault = {"message": f"Shelve ended in task {task}", "code": 500}
                actions.update_instance(
                    s, instance_uuid, {"task_state": task}, task_state=None, power_state=power_state
                )
            actions.finish_event(
                s, ctx, instance_uuid, actions.EV_SHELVE, actions.fault_traceback(fault)
            )
            if fault is not None and inst is not None:
                actions.add_fault(s, instance_uuid, fault["message"], int(fault.get("code", 500)))
            if shelved and offload_now:
                offloading = actions.update_instance(
                    s,
                    instance_uuid,
                    {"vm_state": states.SHELVED, "task_state": None},
                    task_state=states.SHELVING_OFFLOADING,
                )
            if not offloading:
                actions.finish_action(s, ctx, instance_uuid, error=fault is not None)
        if fault is not None:
            self._delete_failed_snapshot(instance_uuid, image_id)
        elif offloading and host:
            self.agents.shelve_offload_instance(ctx, host, instance_uuid)

    def instance_offloaded(
        self, ctx: RequestContext, instance_uuid: str, host: str, fault: dict[str, Any] | None
    ) -> None:
        """The guest of a shelved server is gone from ``host``: claim released, ports
        unbound, host cleared, SHELVED_OFFLOADED, the step ``compute_shelve_offload_instance``
        and the action finished. With ``fault`` the server stays SHELVED on its host."""
        expected = {"task_state": states.SHELVING_OFFLOADING, "host": host}
        if fault is None:
            inst = actions.load_instance(self.db, instance_uuid)
            if inst is None or inst.task_state != states.SHELVING_OFFLOADING:
                LOG.info("%s left shelving_offloading before its offload ended", instance_uuid)
                return
            self.scheduler.release(instance_uuid)
            self._set_port_hosts(ctx, inst, "")
        with self.db.transaction() as s:
            if fault is None:
                actions.update_instance(
                    s,
                    instance_uuid,
                    expected,
                    vm_state=states.SHELVED_OFFLOADED,
                    task_state=None,
                    host=None,
                    node=None,
                    power_state=0,
                )
            else:
                actions.update_instance(s, instance_uuid, expected, task_state=None)
                actions.add_fault(s, instance_uuid, fault["message"], int(fault.get("code", 500)))
            actions.finish_event(
                s, ctx, instance_uuid, actions.EV_SHELVE_OFFLOAD, actions.fault_traceback(fault)
            )
            actions.finish_action(s, ctx, instance_uuid, error=fault is not None)

    def offload_shelved_instances(self) -> None:
        """Periodic: offload the servers SHELVED (no task) for ``shelved_offload_time``
        seconds or more (Nova's ``_poll_shelved_instances``); nothing when it is 0 (done at
        shelve time) or negative (never)."""
        wait = int(self.conf.shelved_offload_time)
        if wait <= 0:
            return
        with self.db.reader() as s:
            rows = list(
                s.scalars(
                    sa.select(Instance).where(
                        Instance.deleted.is_(False),
                        Instance.vm_state == states.SHELVED,
                        Instance.task_state.is_(None),
                    )
                )
            )
        now = time.time()
        for inst in rows:
            shelved_at = float(((inst.spec or {}).get("shelve") or {}).get("shelved_at") or 0)
            if not inst.host or now - shelved_at < wait:
                continue
            ctx = RequestContext.system(f"req-{uuidlib.uuid4()}")
            if actions.update_instance(
                self.db,
                inst.uuid,
                {"vm_state": states.SHELVED, "task_state": None},
                task_state=states.SHELVING_OFFLOADING,
            ):
                actions.start_action(self.db, ctx, inst.uuid, "shelveOffload")
                self.agents.shelve_offload_instance(ctx, inst.host, inst.uuid)

    # ------------------------------------------------------------------ unshelve

    def unshelve_instance(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        availability_zone: str | None,
        host: str | None,
        unpin_az: bool = False,
    ) -> None:
        """Unshelve an offloaded server the API put in ``unshelving`` (the workflow
        ``unshelve``) in ``availability_zone``, else in the zone it is pinned to (in no
        particular zone with ``unpin_az``), or on ``host``; once scheduled the server is
        pinned to the zone asked for, or unpinned (Nova's request spec). A failure leaves it
        SHELVED_OFFLOADED with a fault, pinned as before."""
        inst = actions.load_instance(self.db, instance_uuid)
        if (
            inst is None
            or inst.vm_state != states.SHELVED_OFFLOADED
            or inst.task_state != states.UNSHELVING
        ):
            return
        task = UnshelveTask(
            db=self.db,
            ctx=ctx,
            instance_uuid=instance_uuid,
            inst=inst,
            zone=availability_zone or (None if unpin_az else inst.requested_availability_zone),
            repin=bool(availability_zone) or unpin_az,
            force_host=host,
        )
        try:
            self.unshelve.run(task)
        except Exception as exc:  # rolled back: offloaded again, with the fault
            if isinstance(exc, errors.PocketError):
                message = exc.message
            else:  # a bug: logged with its traceback
                LOG.exception("unshelve of %s failed", instance_uuid)
                message = f"Unshelve failed: {exc}"
            pin = {"requested_availability_zone": inst.requested_availability_zone}
            with self.db.transaction() as s:
                if actions.update_instance(
                    s,
                    instance_uuid,
                    {"task_state": (states.UNSHELVING, states.SPAWNING)},
                    task_state=None,
                    host=None,
                    node=None,
                    **(pin if task.repin else {}),
                ):
                    actions.add_fault(s, instance_uuid, message, getattr(exc, "status", 500))
                    actions.finish_action(s, ctx, instance_uuid, error=True)

    def _unshelve_schedule(self, task: UnshelveTask) -> None:
        inst = task.inst
        spec = dict(inst.spec or {})
        dest = self.scheduler.select_destination(
            task.ctx,
            {
                "instance_uuid": inst.uuid,
                "project_id": inst.project_id,
                "vcpus": inst.vcpus,
                "memory_mb": inst.memory_mb,
                "disk_gb": inst.root_gb
                + inst.ephemeral_gb
                + -(-int((inst.flavor or {}).get("swap") or 0) // 1024),
                "availability_zone": task.zone,
                "image_properties": dict((spec.get("image") or {}).get("properties") or {}),
                "ignore_hosts": [],
                "force_host": task.force_host,
                "group": self.cloud.compute.server_groups.scheduling(inst.uuid),
            },
        )
        task.host, task.node = dest["host"], dest["node"]
        task.note.host, task.note.details = dest["host"], dest.get("details")
        zone = task.zone or zone_of_host(self.db, dest["host"], self.conf.availability_zone)
        pin = {"requested_availability_zone": task.zone} if task.repin else {}
        if not actions.update_instance(
            self.db,
            inst.uuid,
            {"task_state": states.UNSHELVING},
            host=task.host,
            node=task.node,
            availability_zone=zone,
            **pin,
        ):
            self.scheduler.release(inst.uuid)
            raise errors.Conflict(f"Instance {inst.uuid} left unshelving.")

    def _unclaim(self, task: UnshelveTask) -> None:
        self.scheduler.release(task.instance_uuid)

    def _bind_ports(self, task: UnshelveTask) -> None:
        self._set_port_hosts(task.ctx, task.inst, str(task.host))
        task.network_info = self.cloud.network.get_instance_network_info(
            task.ctx.elevated(), task.instance_uuid
        )
        task.note.host = task.host

    def _unbind(self, task: UnshelveTask) -> None:
        self._set_port_hosts(task.ctx, task.inst, "")

    def _cast_unshelve(self, task: UnshelveTask) -> None:
        inst = task.inst
        old = dict(inst.spec or {})
        image_id = str((old.get("shelve") or {}).get("image_id") or "")
        image = image_meta(self.cloud.image.get_image_info(task.ctx.elevated(), image_id))
        spec = self.spec_for(inst, image, task.network_info, str(task.host))
        spec["shelve"] = old.get("shelve")
        if not actions.update_instance(
            self.db,
            inst.uuid,
            {"task_state": states.UNSHELVING, "host": task.host},
            task_state=states.SPAWNING,
            spec=spec,
            network_info=task.network_info,
        ):
            raise errors.Conflict(f"Instance {inst.uuid} left unshelving.")
        self.agents.unshelve_instance(task.ctx, str(task.host), inst.uuid, spec)

    def instance_unshelved(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        host: str,
        power_state: int,
        fault: dict[str, Any] | None,
    ) -> None:
        """An unshelve on ``host`` ended: ACTIVE and the shelve image deleted; with
        ``fault`` a SHELVED server stays so, an offloaded one is offloaded again (claim
        released, ports unbound, host cleared). The step ``compute_unshelve_instance`` and
        the action finish."""
        inst = actions.load_instance(self.db, instance_uuid)
        if inst is None or inst.task_state not in (states.UNSHELVING, states.SPAWNING):
            LOG.info("%s left unshelving before its unshelve ended", instance_uuid)
            return
        offloaded = inst.vm_state == states.SHELVED_OFFLOADED
        spec = dict(inst.spec or {})
        image_id = (spec.get("shelve") or {}).get("image_id")
        expected = {"task_state": inst.task_state, "host": host}
        if fault is not None and offloaded:
            self.scheduler.release(instance_uuid)
            self._set_port_hosts(ctx, inst, "")
        with self.db.transaction() as s:
            if fault is None:
                spec.pop("shelve", None)
                done = actions.update_instance(
                    s,
                    instance_uuid,
                    expected,
                    vm_state=states.ACTIVE,
                    task_state=None,
                    power_state=int(power_state),
                    spec=spec,
                )
            else:
                gone = {"host": None, "node": None} if offloaded else {}
                done = actions.update_instance(
                    s, instance_uuid, expected, task_state=None, power_state=0, **gone
                )
                actions.add_fault(s, instance_uuid, fault["message"], int(fault.get("code", 500)))
            actions.finish_event(
                s, ctx, instance_uuid, actions.EV_UNSHELVE, actions.fault_traceback(fault)
            )
            actions.finish_action(s, ctx, instance_uuid, error=fault is not None)
        if done and fault is None and image_id:
            self.delete_shelve_image(str(image_id))

    # ------------------------------------------------------------------ helpers

    def spec_for(
        self, inst: Instance, image: ImageMeta, network_info: list[dict[str, Any]], host: str
    ) -> dict[str, Any]:
        """The agent's ``InstanceSpec`` of ``inst`` booting ``image`` on ``host`` (the
        ``Conductor``'s ``build_spec``)."""
        raise NotImplementedError

    def delete_shelve_image(self, image_id: str) -> None:
        """Delete a shelve image (unshelved, or its server deleted); a missing one is fine."""
        try:
            self.cloud.image.images.delete(RequestContext.system(), image_id)
        except errors.PocketError as exc:
            LOG.warning("shelve image %s not deleted: %s", image_id, exc.message)

    def _set_port_hosts(self, ctx: RequestContext, inst: Instance, host: str) -> None:
        """Bind the server's ports to ``host`` ("": unbind them; they stay the server's)."""
        from pocketstack.network.ports import PortUpdate

        admin = ctx.elevated()
        for vif in inst.network_info or []:
            try:
                self.cloud.network.ports.update(admin, vif["port_id"], PortUpdate(host_id=host))
            except errors.NotFound:  # deleted meanwhile
                LOG.info("port %s of %s is gone", vif["port_id"], inst.uuid)
