"""What the compute agents report, written by the conductor: the agent side of the database.

A compute agent holds no database credentials (ARCHITECTURE.md; as ``nova-compute`` reaches
the database only through ``nova-conductor``). It learns what it needs from the messages it
receives (the spec of a build) and from the conductor's calls below, and it reports every
change as a bus message that one of these handlers writes. ``Conductor`` serves them on the
``conductor`` topic (``rpcapi.CONDUCTOR_MESSAGES``): it is an ``AgentReports``.

- Reads: ``instances_on_host`` (reconciliation and power-state sync), ``instance_hosts``
  (the orphan sweep on shared instance storage).
- A step of an action: ``action_event_start`` (a call: it also checks that the server still
  waits for the step, so the agent never runs a step twice or for a deleted server) and its
  end, with the server's new state in the same transaction, so that a client that sees the
  new state also sees the step finished and the fault: ``instance_spawned``,
  ``instance_spawn_failed``, ``instance_power_action_finished``,
  ``instance_terminate_failed``, or ``action_event_finish`` alone (a terminate, whose end is
  ``terminate_finished``).
- What the agent found: ``instance_power_state_changed``; heartbeats: ``report_service``
  (``report_services`` for many hosts at once), ``report_compute_node``.

Every state change is guarded by the state the agent saw (``actions.update_instance``), so a
report that arrives late (it waited in the queue while no controller ran) never overwrites a
transition it did not know about. A server found by its guard no longer in the expected
state is left as it is and the report is only logged.

Payloads are plain JSON: a server is an ``instance_view`` dict; a ``fault`` is
``{"message": str, "code": int, "traceback": str | None}`` (the traceback goes to the
step's event, shown to admins only, as in Nova's ``os-instance-actions``).
"""

from __future__ import annotations

import logging
import types
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import Database, utcnow
from pocketstack.common.errors import PocketError
from pocketstack.compute import actions, states
from pocketstack.compute.agent_views import instance_view
from pocketstack.compute.drivers.base import PowerState
from pocketstack.compute.liveness import report_service, report_services
from pocketstack.compute.models import (
    ComputeNode,
    Instance,
    InstanceActionEvent,
)
from pocketstack.compute.rpcapi import ALLOCATION_KEYS
from pocketstack.compute.scheduler.host_manager import report_compute_node

if TYPE_CHECKING:
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)


def _spawn_details(session: Session, host: str) -> str:
    """The spawn step's event details (2.84): the hypervisor that runs the guest."""
    node = session.scalars(sa.select(ComputeNode).where(ComputeNode.host == host)).first()
    if node is None:
        return f"Guest started on host {host}."
    return (
        f"Guest started on host {host} by hypervisor {node.hypervisor_hostname} "
        f"({node.hypervisor_type} {node.hypervisor_version}); no accelerator requested."
    )


class AgentReports:
    """The conductor's handlers of the compute agents' reports (see the module docstring).

    Args:
        cloud: the ``pocketstack.service.Cloud`` of the controller (its ``db``).
    """

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.db: Database = cloud.db

    # ------------------------------------------------------------------ reads

    def instances_on_host(self, ctx: RequestContext, host: str) -> list[dict[str, Any]]:
        """The live (not deleted) servers of ``host``: ``instance_view`` dicts with
        ``request_id``, the request id of the newest unfinished action of a server in a
        task (so the agent can finish a stop it carries out after a restart), else None."""
        with self.db.reader() as s:
            rows = list(
                s.scalars(
                    sa.select(Instance)
                    .where(Instance.host == host, Instance.deleted.is_(False))
                    .order_by(Instance.created_at, Instance.uuid)
                )
            )
        views = []
        for inst in rows:
            view = instance_view(inst)
            view["request_id"] = (
                actions.pending_request_id(self.db, inst.uuid) if inst.task_state else None
            )
            views.append(view)
        from pocketstack.compute.resize_conductor import migration_views

        migration_views(self.cloud, host, views)  # the moves from or to this host
        return views

    def instance_hosts(self, ctx: RequestContext, uuids: list[str]) -> dict[str, str | None]:
        """``{uuid: host}`` of the live (not deleted) servers among ``uuids``: what an agent
        on shared instance storage asks before destroying guests it does not own
        (``ComputeAgent.remove_orphans``)."""
        with self.db.reader() as s:
            rows = s.execute(
                sa.select(Instance.uuid, Instance.host).where(
                    Instance.uuid.in_(list(uuids)), Instance.deleted.is_(False)
                )
            ).all()
        return {uuid: host for uuid, host in rows}

    # ------------------------------------------------------------------ steps of actions

    def action_event_start(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        event: str,
        host: str,
        expected_task_states: list[str | None] | None,
    ) -> dict[str, Any] | None:
        """Begin the step ``event`` of the action of ``ctx.request_id`` on ``host``.

        With ``expected_task_states`` the server must be live, on ``host`` and in one of
        those task states, else nothing is recorded and None returned (the agent then does
        not run the step: the server was deleted or changed meanwhile, or this is a
        duplicate message). Without (None) the step is recorded whatever the state (a
        terminate, which must destroy the guest in any case). Idempotent: an open event of
        the same name and action is not recorded twice, so the agent may call again when
        an answer was lost.

        Returns:
            The server as ``instance_view`` (None when unknown or refused).
        """
        with self.db.transaction() as s:
            inst = s.get(Instance, instance_uuid)
            if expected_task_states is not None and (
                inst is None
                or inst.deleted
                or inst.host != host
                or inst.task_state not in expected_task_states
            ):
                return None
            action = actions.find_action(s, instance_uuid, ctx.request_id)
            # a retry of a call whose answer was lost (the controller died after the
            # commit) finds its event already open: record it once
            if action is not None and actions.open_event(s, ctx, instance_uuid, event) is None:
                s.add(
                    InstanceActionEvent(
                        action_id=action.id, event=event, host=host, start_time=utcnow()
                    )
                )
            return instance_view(inst) if inst is not None else None

    def action_event_finish(
        self, ctx: RequestContext, instance_uuid: str, event: str, traceback: str | None
    ) -> None:
        """Finish the step ``event`` (``finish_event``) with no change of state."""
        with self.db.transaction() as s:
            actions.finish_event(s, ctx, instance_uuid, event, traceback)

    def instance_spawned(
        self, ctx: RequestContext, instance_uuid: str, host: str, power_state: int
    ) -> None:
        """The guest of a server spawning on ``host`` runs: the spawn step, ``ACTIVE`` (with
        ``power_state`` and ``launched_at``) and the finished ``create`` action commit
        together. A server no longer spawning there (deleted meanwhile) is left alone: the
        delete destroys the guest, or the host's reconciliation does as an orphan."""
        with self.db.transaction() as s:
            active = actions.update_instance(
                s,
                instance_uuid,
                {"task_state": states.SPAWNING, "host": host},
                vm_state=states.ACTIVE,
                task_state=None,
                power_state=int(power_state),
                launched_at=utcnow(),
            )
            actions.finish_event(
                s, ctx, instance_uuid, actions.EV_SPAWN, details=_spawn_details(s, host)
            )
            if active:
                actions.finish_action(s, ctx, instance_uuid)
        if not active:
            LOG.info("%s left spawning while its guest started on %s", instance_uuid, host)

    def instance_spawn_failed(
        self, ctx: RequestContext, instance_uuid: str, host: str, fault: dict[str, Any]
    ) -> bool:
        """The spawn on ``host`` failed: ``ERROR``, the fault, the failed step and action
        commit together, if the server was still spawning there.

        Returns:
            Whether the server went ``ERROR`` (the caller then releases claim and ports).
        """
        with self.db.transaction() as s:
            failed = actions.update_instance(
                s,
                instance_uuid,
                {"task_state": states.SPAWNING, "host": host},
                vm_state=states.ERROR,
                task_state=None,
                power_state=0,
            )
            actions.finish_event(
                s, ctx, instance_uuid, actions.EV_SPAWN, actions.fault_traceback(fault)
            )
            if failed:
                actions.add_fault(s, instance_uuid, fault["message"], int(fault.get("code", 500)))
                actions.finish_action(s, ctx, instance_uuid, error=True)
        return failed

    def instance_power_action_finished(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        event: str,
        task_state: str,
        power_state: int,
        fault: dict[str, Any] | None,
    ) -> None:
        """A stop/start/reboot begun in ``task_state`` ended with the guest in
        ``power_state``: the server's state follows the guest (``ACTIVE`` when running, else
        ``SHUTOFF``); a pause, suspend, rescue... ends in the state of
        ``states.TASK_RESULTS``; with a ``fault`` the state stays and the fault is recorded.
        The task ends, the step and the action finish, all in one transaction (state and task only
        if the server is still in ``task_state``)."""
        with self.db.transaction() as s:
            values: dict[str, Any] = {"task_state": None, "power_state": int(power_state)}
            if fault is None and task_state in states.TASK_RESULTS:  # pause, rescue...
                values["vm_state"] = states.TASK_RESULTS[task_state]
            elif fault is None:
                running = int(power_state) == int(PowerState.RUNNING)
                values["vm_state"] = states.ACTIVE if running else states.STOPPED
            actions.update_instance(s, instance_uuid, {"task_state": task_state}, **values)
            actions.finish_event(s, ctx, instance_uuid, event, actions.fault_traceback(fault))
            if fault is not None:
                code = int(fault.get("code", 500))
                actions.add_fault(s, instance_uuid, fault["message"], code)
            actions.finish_action(s, ctx, instance_uuid, error=fault is not None)

    def snapshot_task_changed(
        self, ctx: RequestContext, instance_uuid: str, from_task: str, to_task: str
    ) -> bool:
        """A snapshot moved on from ``from_task`` to ``to_task`` (both in
        ``states.SNAPSHOT_TASKS`` or ``states.SHELVE_TASKS``; Nova's ``image_pending_upload``,
        ``image_uploading``, ``shelving_image_*``);
        written only if the server is still in ``from_task``. Returns whether it was."""
        image_tasks = (*states.SNAPSHOT_TASKS, *states.SHELVE_TASKS)
        if from_task not in image_tasks or to_task not in image_tasks:
            return False
        return actions.update_instance(
            self.db, instance_uuid, {"task_state": from_task}, task_state=to_task
        )

    def instance_snapshot_finished(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        image_id: str | None,
        details: str | None,
        fault: dict[str, Any] | None,
    ) -> None:
        """A snapshot ended: the server's snapshot task ends (its vm_state never changed),
        the step ``compute_snapshot_instance`` finishes with ``details`` and the action with
        it, in one transaction. With a ``fault`` the fault is recorded on the server and the
        image ``image_id`` (queued or half uploaded) is deleted, as Nova deletes the image
        of a failed snapshot; ``image_id`` None (an agent restart lost it): the images of
        this server still queued or saving are."""
        with self.db.transaction() as s:
            inst = s.get(Instance, instance_uuid)
            task = inst.task_state if inst is not None else None
            backup = dict(((inst.spec or {}) if inst is not None else {}).get("snapshot") or {})
            backup = dict(backup.get("backup") or {})
            event = actions.EV_BACKUP if backup else actions.EV_SNAPSHOT
            if task in states.SNAPSHOT_TASKS:
                actions.update_instance(s, instance_uuid, {"task_state": task}, task_state=None)
            actions.finish_event(
                s, ctx, instance_uuid, event, actions.fault_traceback(fault), details
            )
            if fault is not None and inst is not None:
                actions.add_fault(s, instance_uuid, fault["message"], int(fault.get("code", 500)))
            actions.finish_action(s, ctx, instance_uuid, error=fault is not None)
        if fault is not None:
            self._delete_failed_snapshot(instance_uuid, image_id)
        elif backup:
            self.rotate_backups(
                instance_uuid, str(backup.get("type", "")), int(backup.get("rotation", 1))
            )

    def rotate_backups(self, instance_uuid: str, backup_type: str, rotation: int) -> list[str]:
        """Keep the ``rotation`` newest backups of the server of type ``backup_type`` (images
        with ``image_type=backup``, ``instance_uuid`` and ``backup_type``, whatever their
        status but deleted) and delete the older ones, as Nova's ``_rotate_backups``;
        rotation 0 deletes them all, the one just made too. Returns the deleted ids."""
        admin = RequestContext.system()
        images = self.cloud.image.images
        props = {"instance_uuid": instance_uuid, "image_type": "backup"}
        props["backup_type"] = backup_type
        found = images.list(
            admin, filters={"properties": props}, sort=[("created_at", "desc")], limit=1000
        ).images
        doomed = [i.id for i in found[max(rotation, 0) :]]
        for one in doomed:
            try:
                images.delete(admin, one)
            except PocketError as exc:  # gone already, or protected: leave it, logged
                LOG.warning("backup %s not rotated out: %s", one, exc.message)
        return doomed

    def _delete_failed_snapshot(self, instance_uuid: str, image_id: str | None) -> None:
        admin = RequestContext.system()
        images = self.cloud.image.images
        if image_id is None:
            filters = {"properties": {"instance_uuid": instance_uuid}, "status": "in:queued,saving"}
            ids = [i.id for i in images.list(admin, filters=filters, limit=100).images]
        else:
            ids = [image_id]
        for one in ids:
            try:
                images.delete(admin, one)
            except PocketError as exc:  # gone already, or protected: leave it, logged
                LOG.warning("failed snapshot image %s not deleted: %s", one, exc.message)

    def instance_terminate_failed(
        self, ctx: RequestContext, instance_uuid: str, fault: dict[str, Any]
    ) -> None:
        """Destroying the guest failed: ``ERROR`` (if the server was still deleting) with
        the fault (the user deletes it again), the failed step and action, together."""
        with self.db.transaction() as s:
            actions.update_instance(
                s,
                instance_uuid,
                {"task_state": states.DELETING},
                vm_state=states.ERROR,
                task_state=None,
            )
            actions.finish_event(
                s, ctx, instance_uuid, actions.EV_TERMINATE, actions.fault_traceback(fault)
            )
            actions.add_fault(s, instance_uuid, fault["message"], int(fault.get("code", 500)))
            actions.finish_action(s, ctx, instance_uuid, error=True)

    # ------------------------------------------------------------------ what agents found

    def instance_power_state_changed(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        expected_vm_state: str,
        power_state: int,
        vm_state: str | None,
    ) -> bool:
        """Record the guest's ``power_state`` (and ``vm_state`` when given), as Nova's
        ``_sync_instance_power_state`` does, only if the server is still
        ``expected_vm_state`` with no task running. Returns whether it changed."""
        values: dict[str, Any] = {"power_state": int(power_state)}
        if vm_state is not None:
            values["vm_state"] = vm_state
        return actions.update_instance(
            self.db, instance_uuid, {"vm_state": expected_vm_state, "task_state": None}, **values
        )

    def report_service(
        self, ctx: RequestContext, host: str, binary: str, topic: str, availability_zone: str
    ) -> None:
        """A heartbeat of ``binary`` on ``host`` (``liveness.report_service``)."""
        report_service(self.db, host, binary, topic, availability_zone)

    def report_services(
        self,
        ctx: RequestContext,
        hosts: list[str],
        binary: str,
        topic: str,
        availability_zone: str,
    ) -> None:
        """Heartbeats of ``binary`` on each of ``hosts`` in one transaction
        (``liveness.report_services``): a fake fleet's."""
        report_services(self.db, list(hosts), binary, topic, availability_zone)

    def report_compute_node(
        self,
        ctx: RequestContext,
        host: str,
        resources: dict[str, Any],
        allocation: dict[str, Any],
    ) -> None:
        """The resources of ``host`` (``host_manager.report_compute_node``), with the
        allocation ratios and reserved memory the host is configured with; and the host's
        resource provider and inventory in Placement (``placement.compute_hosts``: a
        Placement failure is logged, the compute node is recorded all the same).

        Raises:
            KeyError: ``allocation`` lacks one of ``ALLOCATION_KEYS``.
        """
        ratios = types.SimpleNamespace(**{key: allocation[key] for key in ALLOCATION_KEYS})
        # the compute node, then its resource provider and inventory (host_manager)
        report_compute_node(self.db, ratios, host, resources)
