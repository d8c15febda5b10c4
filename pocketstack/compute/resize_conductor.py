"""Resize and cold migration on the conductor (Nova's ``migrate_server``, ``prep_resize``,
``finish_resize``, ``confirm_resize``, ``revert_resize``; docs/server-actions.md "Resize and
cold migration").

``ResizeConductor`` is part of the ``Conductor`` (a base class, as ``ShelveReports``).
The move of one server (the API began ``resize_prep`` and the action ``resize`` or
``migrate``; ``migrate_server`` runs the workflow ``move``)::

    conductor_migrate_server   a Migration row (``compute.migrations``); the scheduler
                               picks a destination for the new flavor (not the source
                               host unless ``allow_resize_to_same_host`` on a resize; an
                               admin's host for a migrate) and claims it with the
                               migration's uuid as consumer (rollback: claim released,
                               migration ``error``)
    -> resize_migrating, cast resize_instance to the source agent
       (compute_resize_instance: guest off and parked, disks copied to the destination)
    <- resize_migrated: ports bound to the destination, the server's host, flavor and spec
       become the new ones, resize_finish, cast finish_resize to the destination
       (compute_finish_resize: root disk grown, guest started with the new vCPUs/RAM)
    <- resize_finished: RESIZED (VERIFY_RESIZE), migration ``finished``

A failure before the destination runs the guest leaves the server where it was, in its
vm_state, with a fault (claim released, migration ``error``); a failed finish brings it
back on its source (``finish_revert_resize``) with a fault, or ERROR when that fails too.

``confirm_resize_instance`` (task ``resize_confirming``): the source deletes its parked
guest, then the migration's claim on the destination becomes the instance's (replacing its
source claim, ``claims.move_claim``): ACTIVE (or SHUTOFF), migration ``confirmed``.
``revert_resize_instance`` (task ``resize_reverting``): the destination destroys its
guest, the server's host, flavor and ports go back to the source, the source unparks and
starts its guest: ACTIVE (or SHUTOFF), the migration's claim released, ``reverted``.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.compute import actions, migrations, states, tasks
from pocketstack.compute.agent_migrations import (
    EV_CONFIRM_RESIZE,
    EV_FINISH_RESIZE,
    EV_FINISH_REVERT,
    EV_RESIZE,
    EV_REVERT_RESIZE,
)
from pocketstack.compute.agent_views import instance_view
from pocketstack.compute.instance_spec import build_spec
from pocketstack.compute.models import Instance
from pocketstack.compute.scheduler import claims
from pocketstack.compute.volume_moves import VolumeMoves

if TYPE_CHECKING:
    from pocketstack.common.config import Config
    from pocketstack.compute.rpcapi import ComputeAgentClient
    from pocketstack.compute.scheduler.manager import SchedulerManager
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)

EV_MIGRATE_SERVER = "conductor_migrate_server"


@dataclasses.dataclass(kw_only=True)
class MoveTask(tasks.Task):
    """One resize or cold migration (``ResizeConductor.migrate_server``).

    Attributes:
        inst: the server as read when the workflow began (detached row).
        new_flavor: the flavor snapshot it moves to (its own for a migrate).
        migration_type: ``resize`` or ``migration``; host: an admin's requested host.
        migration_id, migration_uuid: the Migration row made by the first step.
        dest, dest_node: where the scheduler placed it.
    """

    inst: Instance
    new_flavor: dict[str, Any]
    migration_type: str
    host: str | None = None
    migration_id: int | None = None
    migration_uuid: str | None = None
    dest: str | None = None
    dest_node: str | None = None


def flavor_resources(flavor: dict[str, Any]) -> dict[str, int]:
    """A flavor snapshot's claim: ``{"VCPU", "MEMORY_MB", "DISK_GB"}`` (root + ephemeral +
    swap rounded up to GiB, as the build's)."""
    disk = int(flavor.get("disk") or 0) + int(flavor.get("ephemeral") or 0)
    disk += -(-int(flavor.get("swap") or 0) // 1024)
    return claims.resources_of(int(flavor.get("vcpus") or 0), int(flavor.get("ram") or 0), disk)


class ResizeConductor:
    """The resize/migrate half of the ``Conductor`` (see the module docstring)."""

    cloud: Cloud
    conf: Config
    scheduler: SchedulerManager
    agents: ComputeAgentClient

    @property
    def move(self) -> tasks.Workflow[MoveTask]:
        """The conductor's part of a resize or cold migration."""
        return tasks.Workflow(
            "move",
            [
                tasks.Step(EV_MIGRATE_SERVER, self._schedule_move, rollback=self._unclaim_move),
                tasks.Step(None, self._cast_resize),  # the source records its step
            ],
        )

    def _agent(self, ctx: RequestContext, host: str, method: str, **args: Any) -> Any:
        """``ComputeAgentClient.<method>`` to ``host``'s agent (``resize_rpc``)."""
        return getattr(self.agents, method)(ctx, host, **args)

    # ------------------------------------------------------------------ the move

    def migrate_server(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        new_flavor: dict[str, Any] | None,
        host: str | None,
    ) -> None:
        """Run the move the API began (task ``resize_prep``): a resize to ``new_flavor`` (a
        flavor snapshot with ``db_id``), or a cold migration (``new_flavor`` None; ``host``:
        an admin's requested destination). A failure leaves the server where it was."""
        inst = actions.load_instance(self.cloud.db, instance_uuid)
        if inst is None or inst.deleted or inst.task_state != states.RESIZE_PREP:
            return
        # this controller's to recover if it dies in resize_prep (``resize_recovery``)
        controller_id = getattr(self, "controller_id", None)
        if not actions.update_instance(
            self.cloud.db,
            instance_uuid,
            {"task_state": states.RESIZE_PREP},
            controller_id=controller_id,
        ):
            return
        task = MoveTask(
            db=self.cloud.db,
            ctx=ctx,
            instance_uuid=instance_uuid,
            inst=inst,
            new_flavor=dict(new_flavor or inst.flavor or {}),
            migration_type=migrations.RESIZE if new_flavor else migrations.MIGRATION,
            host=host,
        )
        try:
            self.move.run(task)
        except Exception as exc:  # rolled back: the server stays where it was
            if not isinstance(exc, errors.PocketError):
                LOG.exception("move of %s failed", instance_uuid)
            self._move_failed(ctx, instance_uuid, _message(exc, "Migration"), task.migration_id)

    def _schedule_move(self, task: MoveTask) -> None:
        inst = task.inst
        old = dict(inst.flavor or {})
        old.setdefault("db_id", self._flavor_db_id(str(old.get("id") or inst.flavor_id or "")))
        with self.cloud.db.transaction() as s:
            row = migrations.create(
                s,
                inst,
                migration_type=task.migration_type,
                source_compute=inst.host,
                source_node=inst.node,
                old_flavor=old,
                new_flavor=task.new_flavor,
                user_id=task.ctx.user_id,
                project_id=task.ctx.project_id,
            )
            task.migration_id, task.migration_uuid = row.id, row.uuid
        same_host = task.migration_type == migrations.RESIZE and bool(
            getattr(self.conf, "allow_resize_to_same_host", False)
        )
        res = flavor_resources(task.new_flavor)
        spec = dict(inst.spec or {})
        dest = self.scheduler.select_destination(
            task.ctx,
            {
                "instance_uuid": task.migration_uuid,
                "project_id": inst.project_id,
                "user_id": inst.user_id,
                "vcpus": res.get("VCPU", 0),
                "memory_mb": res.get("MEMORY_MB", 0),
                "disk_gb": res.get("DISK_GB", 0),
                "availability_zone": inst.requested_availability_zone,
                "image_properties": dict((spec.get("image") or {}).get("properties") or {}),
                "ignore_hosts": [] if same_host else [inst.host],
                "force_host": task.host,
                "group": self.cloud.compute.server_groups.scheduling(inst.uuid),
            },
        )
        task.dest, task.dest_node = dest["host"], dest["node"]
        task.note.host, task.note.details = dest["host"], dest.get("details")
        with self.cloud.db.transaction() as s:
            migrations.update_status(
                s,
                task.migration_id,
                "migrating",
                expected="pre-migrating",
                dest_compute=task.dest,
                dest_node=task.dest_node,
                dest_host=task.dest,
            )

    def _unclaim_move(self, task: MoveTask) -> None:
        if task.migration_uuid:
            claims.release(self.cloud.db, task.migration_uuid)

    def _cast_resize(self, task: MoveTask) -> None:
        inst = task.inst
        spec = dict(inst.spec or {})
        spec["resize"] = {
            "migration_id": task.migration_id,
            "old_vm_state": inst.vm_state,
            "old_spec": {k: v for k, v in spec.items() if k != "resize"},
        }
        if not actions.update_instance(
            self.cloud.db,
            inst.uuid,
            {"task_state": states.RESIZE_PREP, "host": inst.host},
            task_state=states.RESIZE_MIGRATING,
            spec=spec,
        ):
            raise errors.Conflict(f"Instance {inst.uuid} left resize_prep.")
        self._agent(
            task.ctx,
            str(inst.host),
            "resize_instance",
            instance_uuid=inst.uuid,
            dest_host=task.dest,
            power_on=inst.vm_state == states.ACTIVE,
        )

    def _move_failed(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        message: str,
        migration_id: int | None,
        expected: tuple[str, ...] = (states.RESIZE_PREP, states.RESIZE_MIGRATING),
    ) -> None:
        """The server back to no task in its vm_state on its source, with a fault; the
        migration ``error`` and its claim released."""
        with self.cloud.db.transaction() as s:
            inst = s.get(Instance, instance_uuid)
            spec = dict(inst.spec or {}) if inst is not None else {}
            spec.pop("resize", None)
            if actions.update_instance(
                s, instance_uuid, {"task_state": expected}, task_state=None, spec=spec
            ):
                actions.add_fault(s, instance_uuid, message, 500)
                actions.finish_action(s, ctx, instance_uuid, error=True)
            if migration_id is not None:
                row = migrations.update_status(s, migration_id, "error")
                consumer = row.uuid
            else:
                consumer = None
        if consumer:
            claims.release(self.cloud.db, consumer)

    # ------------------------------------------------------------------ agents' reports

    def resize_migrated(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        host: str,
        fault: dict[str, Any] | None,
    ) -> None:
        """The source copied the disks (or failed, the guest back as it was): bind the
        ports to the destination, switch the server's host/flavor/spec, cast
        ``finish_resize``."""
        inst = actions.load_instance(self.cloud.db, instance_uuid)
        if inst is None or inst.task_state != states.RESIZE_MIGRATING or inst.host != host:
            return
        resize = dict((inst.spec or {}).get("resize") or {})
        with self.cloud.db.transaction() as s:
            actions.finish_event(s, ctx, instance_uuid, EV_RESIZE, actions.fault_traceback(fault))
            mig = migrations.get(s, resize["migration_id"])
            s.expunge(mig)
        if fault is not None:
            self._move_failed(
                ctx, instance_uuid, fault["message"], mig.id, (states.RESIZE_MIGRATING,)
            )
            return
        try:
            self._switch_to_dest(ctx, inst, mig, resize)
        except Exception as exc:  # the guest is parked on the source: bring it back
            if not isinstance(exc, errors.PocketError):
                LOG.exception("finishing the move of %s failed", instance_uuid)
            self._roll_back_to_source(ctx, instance_uuid, _message(exc, "Migration"))

    def _switch_to_dest(
        self, ctx: RequestContext, inst: Instance, mig: Any, resize: dict[str, Any]
    ) -> None:
        flavor = dict(mig.new_flavor or {})
        dest = str(mig.dest_compute)
        self._bind_ports_to(ctx, inst, dest)
        network_info = self.cloud.network.get_instance_network_info(ctx.elevated(), inst.uuid)
        fields = _flavor_fields(flavor)
        probe = Instance(**{**_instance_fields(inst), **fields})
        image = dict((resize.get("old_spec") or {}).get("image") or {})
        spec = self._move_spec(probe, image, network_info, dest)
        volumes = VolumeMoves(self.cloud)
        moved = volumes.prepare(ctx, inst.uuid, dest)  # the volumes exported to dest too
        resize["volumes"] = moved
        if moved:
            spec["block_devices"] = volumes.block_devices(inst.uuid, moved)
        spec["resize"] = resize
        try:
            self._cast_finish(ctx, inst, mig, resize, spec, fields, network_info)
        except BaseException:
            volumes.abort(ctx, inst.uuid, moved)
            raise

    def _cast_finish(
        self,
        ctx: RequestContext,
        inst: Instance,
        mig: Any,
        resize: dict[str, Any],
        spec: dict[str, Any],
        fields: dict[str, Any],
        network_info: list[dict[str, Any]],
    ) -> None:
        """The server's host, flavor and spec the destination's, then ``finish_resize``
        cast there."""
        dest = str(mig.dest_compute)
        with self.cloud.db.transaction() as s:
            migrations.update_status(s, mig.id, "post-migrating")
            if not actions.update_instance(
                s,
                inst.uuid,
                {"task_state": states.RESIZE_MIGRATING},
                task_state=states.RESIZE_MIGRATED,
            ):
                raise errors.Conflict(f"Instance {inst.uuid} left resize_migrating.")
            actions.update_instance(
                s,
                inst.uuid,
                {"task_state": states.RESIZE_MIGRATED},
                task_state=states.RESIZE_FINISH,
                host=dest,
                node=mig.dest_node,
                spec=spec,
                # this controller's to recover if it dies before the cast (resize_recovery)
                controller_id=getattr(self, "controller_id", None),
                network_info=network_info,
                **fields,
            )
        power_on = resize.get("old_vm_state") == states.ACTIVE
        self._agent(
            ctx, dest, "finish_resize", instance_uuid=inst.uuid, spec=spec, power_on=power_on
        )

    def _move_spec(
        self, inst: Instance, image: dict[str, Any], network_info: list[dict[str, Any]], host: str
    ) -> dict[str, Any]:

        meta: Any = {
            "id": image.get("id"),
            "disk_format": image.get("disk_format"),
            "size": image.get("size"),
            "properties": dict(image.get("properties") or {}),
        }
        old = dict(inst.spec or {})
        spec = build_spec(
            self.cloud,
            inst,
            meta,
            network_info,
            inst.availability_zone,
            host,
            volume_backed=bool(old.get("boot_from_volume")),
        )
        spec["image"] = {**spec["image"], **image}  # the path/URL the build used
        spec["block_devices"] = list(old.get("block_devices") or [])
        spec["boot_from_volume"] = bool(old.get("boot_from_volume"))
        return spec

    def resize_finished(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        host: str,
        power_state: int,
        fault: dict[str, Any] | None,
    ) -> None:
        """The destination started the guest: RESIZED (VERIFY_RESIZE), migration
        ``finished``; with a fault the server goes back to its source."""
        inst = actions.load_instance(self.cloud.db, instance_uuid)
        if inst is None or inst.task_state != states.RESIZE_FINISH or inst.host != host:
            return
        resize = dict((inst.spec or {}).get("resize") or {})
        if fault is not None:
            with self.cloud.db.transaction() as s:
                actions.finish_event(
                    s, ctx, instance_uuid, EV_FINISH_RESIZE, actions.fault_traceback(fault)
                )
            self._roll_back_to_source(ctx, instance_uuid, fault["message"])
            return
        try:  # the guest runs on dest: its volumes' rows point at dest's attachments
            VolumeMoves(self.cloud).switch(ctx, instance_uuid, list(resize.get("volumes") or []))
        except Exception as exc:
            LOG.exception("switching the volumes of %s to %s failed", instance_uuid, host)
            self._revert_from_dest(ctx, instance_uuid, _message(exc, "Migration"))
            return
        with self.cloud.db.transaction() as s:
            actions.finish_event(s, ctx, instance_uuid, EV_FINISH_RESIZE)
            if actions.update_instance(
                s,
                instance_uuid,
                {"task_state": states.RESIZE_FINISH, "host": host},
                vm_state=states.RESIZED,
                task_state=None,
                power_state=int(power_state),
            ):
                migrations.update_status(s, resize["migration_id"], "finished")
                actions.finish_action(s, ctx, instance_uuid)

    def _revert_from_dest(self, ctx: RequestContext, instance_uuid: str, message: str) -> None:
        """A move failed after the destination started the guest: the destination destroys
        it first (task ``resize_reverting``, ``revert_resize`` cast there), and only when it
        reports ``resize_dest_reverted`` does the source get the server back, as a user's
        revert does: never two guests on the same volumes and addresses. The fault is kept
        in the stored spec's ``resize`` until ``resize_reverted`` records it; a destination
        that cannot destroy its guest leaves the server ERROR there."""
        inst = actions.load_instance(self.cloud.db, instance_uuid)
        if inst is None:
            return
        spec = dict(inst.spec or {})
        resize = dict(spec.get("resize") or {})
        resize["fault"] = message
        spec["resize"] = resize
        with self.cloud.db.transaction() as s:
            # through RESIZED (never seen outside this transaction): a revert begins there
            if not actions.update_instance(
                s,
                instance_uuid,
                {"task_state": states.RESIZE_FINISH, "host": inst.host},
                vm_state=states.RESIZED,
                task_state=None,
            ):
                return  # left the finish meanwhile (deleted): nothing of ours to undo
            actions.update_instance(
                s,
                instance_uuid,
                {"task_state": None},
                task_state=states.RESIZE_REVERTING,
                spec=spec,
                controller_id=getattr(self, "controller_id", None),
            )
            migrations.update_status(s, resize["migration_id"], "reverting")
        try:
            self._agent(ctx, str(inst.host), "revert_resize", instance_uuid=instance_uuid)
        except Exception:  # the destination still runs it: ERROR there, with the fault
            LOG.exception("reverting the move of %s on %s failed", instance_uuid, inst.host)
            self._move_error(ctx, instance_uuid, message, resize.get("migration_id"))

    def _roll_back_to_source(self, ctx: RequestContext, instance_uuid: str, message: str) -> None:
        """A move failed after the copy: the server's host, flavor and ports back to the
        source, whose agent unparks the guest (``finish_revert_resize``); the fault is
        kept in the stored spec's ``resize`` until ``resize_reverted`` records it."""
        inst = actions.load_instance(self.cloud.db, instance_uuid)
        if inst is None:
            return
        resize = dict((inst.spec or {}).get("resize") or {})
        resize["fault"] = message
        try:
            self._restore_source(
                ctx,
                inst,
                resize,
                (states.RESIZE_MIGRATING, states.RESIZE_MIGRATED, states.RESIZE_FINISH),
            )
        except Exception:  # nothing more to try: ERROR with the fault; logged
            LOG.exception("rolling the move of %s back failed", instance_uuid)
            self._move_error(ctx, instance_uuid, message, resize.get("migration_id"))

    def _restore_source(
        self, ctx: RequestContext, inst: Instance, resize: dict[str, Any], expected: tuple[str, ...]
    ) -> None:
        """Host, node, flavor, spec and ports of the server back to the source, then cast
        ``finish_revert_resize`` there."""
        with self.cloud.db.reader() as s:
            mig = migrations.get(s, resize["migration_id"])
            s.expunge(mig)
        source = str(mig.source_compute)
        old_spec = dict(resize.get("old_spec") or {})
        old_spec["resize"] = resize
        self._bind_ports_to(ctx, inst, source)
        network_info = self.cloud.network.get_instance_network_info(ctx.elevated(), inst.uuid)
        old_spec["network_info"] = network_info
        task = inst.task_state if inst.task_state in expected else None
        if task is None:
            raise errors.Conflict(f"Instance {inst.uuid} is in task {inst.task_state}.")
        # dest's attachments deleted, the rows on the source's again (old_spec has them)
        VolumeMoves(self.cloud).abort(ctx, inst.uuid, list(resize.get("volumes") or []))
        resize["volumes"] = []
        with self.cloud.db.transaction() as s:
            if task in (states.RESIZE_MIGRATING, states.RESIZE_MIGRATED):
                actions.update_instance(
                    s, inst.uuid, {"task_state": task}, task_state=states.RESIZE_MIGRATED
                )
                actions.update_instance(
                    s,
                    inst.uuid,
                    {"task_state": states.RESIZE_MIGRATED},
                    task_state=states.RESIZE_FINISH,
                )
                task = states.RESIZE_FINISH
            if not actions.update_instance(
                s,
                inst.uuid,
                {"task_state": task},
                host=source,
                node=mig.source_node,
                spec=old_spec,
                network_info=network_info,
                controller_id=getattr(self, "controller_id", None),
                **_flavor_fields(dict(mig.old_flavor or {})),
            ):
                raise errors.Conflict(f"Instance {inst.uuid} left {task}.")
        power_on = resize.get("old_vm_state") == states.ACTIVE
        self._agent(
            ctx,
            source,
            "finish_revert_resize",
            instance_uuid=inst.uuid,
            spec={k: v for k, v in old_spec.items() if k != "resize"},
            power_on=power_on,
        )

    def _move_error(
        self, ctx: RequestContext, instance_uuid: str, message: str, migration_id: Any
    ) -> None:
        """ERROR with ``message``: a move that could not be brought back."""
        with self.cloud.db.transaction() as s:
            inst = s.get(Instance, instance_uuid)
            if inst is None or inst.deleted or inst.task_state is None:
                return
            actions.update_instance(
                s,
                instance_uuid,
                {"task_state": inst.task_state},
                vm_state=states.ERROR,
                task_state=None,
            )
            actions.add_fault(s, instance_uuid, message, 500)
            actions.finish_action(s, ctx, instance_uuid, error=True)
            if migration_id is not None:
                migrations.update_status(s, migration_id, "error")

    # ------------------------------------------------------------------ confirm, revert

    def confirm_resize_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """The API began ``resize_confirming``: the source deletes its parked guest."""
        inst = actions.load_instance(self.cloud.db, instance_uuid)
        if inst is None or inst.task_state != states.RESIZE_CONFIRMING:
            return
        resize = dict((inst.spec or {}).get("resize") or {})
        with self.cloud.db.transaction() as s:
            mig = migrations.update_status(
                s, resize["migration_id"], "confirming", expected="finished"
            )
            source = str(mig.source_compute)
        self._agent(ctx, source, "confirm_resize", instance_uuid=instance_uuid)

    def resize_confirmed(
        self, ctx: RequestContext, instance_uuid: str, host: str, fault: dict[str, Any] | None
    ) -> None:
        """The source's guest is gone: the migration's claim becomes the instance's,
        migration ``confirmed``, the server back to its vm_state (a failed delete of the
        parked guest is logged; the agent sweeps it later)."""
        inst = actions.load_instance(self.cloud.db, instance_uuid)
        if inst is None or inst.task_state != states.RESIZE_CONFIRMING:
            return
        spec = dict(inst.spec or {})
        resize = dict(spec.pop("resize", None) or {})
        if fault is not None:
            LOG.warning("the parked guest of %s on %s: %s", instance_uuid, host, fault["message"])
        with self.cloud.db.reader() as s:
            consumer = migrations.get(s, resize["migration_id"]).uuid
        # the source's guest is gone: its attachments too (Nova's confirm_resize)
        VolumeMoves(self.cloud).drop_old(ctx, list(resize.get("volumes") or []))
        claims.move_claim(self.cloud.db, consumer, instance_uuid)
        with self.cloud.db.transaction() as s:
            actions.finish_event(
                s, ctx, instance_uuid, EV_CONFIRM_RESIZE, actions.fault_traceback(fault)
            )
            if actions.update_instance(
                s,
                instance_uuid,
                {"task_state": states.RESIZE_CONFIRMING},
                vm_state=resize.get("old_vm_state") or states.ACTIVE,
                task_state=None,
                spec=spec,
            ):
                migrations.update_status(s, resize["migration_id"], "confirmed")
                actions.finish_action(s, ctx, instance_uuid)

    def revert_resize_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """The API began ``resize_reverting``: the destination destroys its guest."""
        inst = actions.load_instance(self.cloud.db, instance_uuid)
        if inst is None or inst.task_state != states.RESIZE_REVERTING:
            return
        resize = dict((inst.spec or {}).get("resize") or {})
        with self.cloud.db.transaction() as s:
            migrations.update_status(s, resize["migration_id"], "reverting", expected="finished")
        self._agent(ctx, str(inst.host), "revert_resize", instance_uuid=instance_uuid)

    def resize_dest_reverted(
        self, ctx: RequestContext, instance_uuid: str, host: str, fault: dict[str, Any] | None
    ) -> None:
        """The destination's guest is destroyed: back to the source
        (``finish_revert_resize``); with a fault the server goes ERROR."""
        inst = actions.load_instance(self.cloud.db, instance_uuid)
        if inst is None or inst.task_state != states.RESIZE_REVERTING or inst.host != host:
            return
        resize = dict((inst.spec or {}).get("resize") or {})
        with self.cloud.db.transaction() as s:
            actions.finish_event(
                s, ctx, instance_uuid, EV_REVERT_RESIZE, actions.fault_traceback(fault)
            )
        if fault is not None:
            self._move_error(ctx, instance_uuid, fault["message"], resize.get("migration_id"))
            return
        try:
            self._restore_source(ctx, inst, resize, (states.RESIZE_REVERTING,))
        except Exception as exc:
            LOG.exception("reverting the move of %s failed", instance_uuid)
            self._move_error(
                ctx, instance_uuid, _message(exc, "Revert"), resize.get("migration_id")
            )

    def resize_reverted(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        host: str,
        power_state: int,
        fault: dict[str, Any] | None,
    ) -> None:
        """The source runs the guest again (a revert, or the rollback of a failed move):
        the migration's claim released, the server in its old vm_state (with the move's
        fault after a rollback), migration ``reverted`` (``error`` after a rollback)."""
        inst = actions.load_instance(self.cloud.db, instance_uuid)
        expected = (states.RESIZE_REVERTING, states.RESIZE_FINISH)
        if inst is None or inst.task_state not in expected or inst.host != host:
            return
        spec = dict(inst.spec or {})
        resize = dict(spec.pop("resize", None) or {})
        failure = resize.get("fault") or (fault or {}).get("message")
        with self.cloud.db.transaction() as s:
            mig = migrations.get(s, resize["migration_id"])
            consumer = mig.uuid
            actions.finish_event(
                s, ctx, instance_uuid, EV_FINISH_REVERT, actions.fault_traceback(fault)
            )
            vm_state = states.ERROR if fault else resize.get("old_vm_state") or states.ACTIVE
            if actions.update_instance(
                s,
                instance_uuid,
                {"task_state": inst.task_state, "host": host},
                vm_state=vm_state,
                task_state=None,
                power_state=int(power_state),
                spec=spec,
            ):
                migrations.update_status(s, mig.id, "error" if failure else "reverted")
                if failure:
                    actions.add_fault(s, instance_uuid, str(failure), 500)
                actions.finish_action(s, ctx, instance_uuid, error=bool(failure))
        claims.release(self.cloud.db, consumer)

    # ------------------------------------------------------------------ helpers

    def release_move_claims(self, instance_uuid: str) -> None:
        """A deleted server's moves in progress: their claims released, status ``error``
        (the source's parked guest is swept by its agent, ``remove_stale_parked``)."""
        with self.cloud.db.transaction() as s:
            moving = migrations.for_instance(s, instance_uuid, statuses=migrations.IN_PROGRESS)
            consumers = [m.uuid for m in moving]
            for m in moving:
                migrations.update_status(s, m.id, "error")
        for consumer in consumers:
            claims.release(self.cloud.db, consumer)

    def _bind_ports_to(self, ctx: RequestContext, inst: Instance, host: str) -> None:
        from pocketstack.network.ports import PortUpdate

        admin = ctx.elevated()
        for vif in inst.network_info or []:
            try:
                self.cloud.network.ports.update(admin, vif["port_id"], PortUpdate(host_id=host))
            except errors.NotFound:  # deleted meanwhile
                LOG.info("port %s of %s is gone", vif["port_id"], inst.uuid)

    def _flavor_db_id(self, flavorid: str) -> int | None:
        import sqlalchemy as sa

        from pocketstack.compute.models import Flavor

        with self.cloud.db.reader() as s:
            return s.scalar(sa.select(Flavor.id).where(Flavor.flavorid == flavorid))


def _message(exc: BaseException, what: str) -> str:
    if isinstance(exc, errors.PocketError):
        return exc.message
    return f"{what} failed: {type(exc).__name__}: {exc}"


def _flavor_fields(flavor: dict[str, Any]) -> dict[str, Any]:
    """The Instance columns a flavor snapshot sets."""
    snapshot = {k: v for k, v in flavor.items() if k != "db_id"}
    return {
        "flavor": snapshot,
        "flavor_id": str(snapshot.get("id") or ""),
        "vcpus": int(snapshot.get("vcpus") or 0),
        "memory_mb": int(snapshot.get("ram") or 0),
        "root_gb": int(snapshot.get("disk") or 0),
        "ephemeral_gb": int(snapshot.get("ephemeral") or 0),
    }


def _instance_fields(inst: Instance) -> dict[str, Any]:
    """A detached copy's columns (for ``build_spec`` of the moved server)."""
    return {c.key: getattr(inst, c.key) for c in Instance.__table__.columns}


def migration_views(cloud: Cloud, host: str, views: list[dict[str, Any]]) -> None:
    """Add to ``instances_on_host``'s ``views`` the servers with a move in progress from or
    to ``host`` (each with ``migration``: ``{"id", "uuid", "status", "source_compute",
    "dest_compute"}``), and that key to the host's own servers that have one. Live
    migrations too: a guest the destination has just taken over, before the conductor
    writes its new host, is then never taken for an orphan there."""
    import sqlalchemy as sa

    from pocketstack.compute.models import Migration

    with cloud.db.reader() as s:
        rows = list(
            s.execute(
                sa.select(Migration, Instance)
                .join(Instance, Instance.uuid == Migration.instance_uuid)
                .where(
                    Migration.status.in_(migrations.IN_PROGRESS),
                    Migration.migration_type.in_(
                        (migrations.RESIZE, migrations.MIGRATION, migrations.LIVE_MIGRATION)
                    ),
                    sa.or_(Migration.source_compute == host, Migration.dest_compute == host),
                    Instance.deleted.is_(False),
                )
            ).all()
        )
    by_uuid = {v["uuid"]: v for v in views}
    for mig, inst in rows:
        info = {
            "id": mig.id,
            "uuid": mig.uuid,
            "status": mig.status,
            "source_compute": mig.source_compute,
            "dest_compute": mig.dest_compute,
        }
        view = by_uuid.get(inst.uuid)
        if view is None:
            view = instance_view(inst)
            view["request_id"] = (
                actions.pending_request_id(cloud.db, inst.uuid) if inst.task_state else None
            )
            view["elsewhere"] = True  # the server's host is another: no power sync here
            views.append(view)
            by_uuid[inst.uuid] = view
        view["migration"] = info
