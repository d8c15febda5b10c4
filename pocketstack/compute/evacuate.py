"""Evacuate a server whose host is down: rebuild it on another host (API reference "Evacuate
Server (evacuate Action)"; Nova's ``API.evacuate`` and the conductor's
``rebuild_instance`` with a destination).

**API side** (``evacuate``, admin): the server must be ACTIVE, SHUTOFF or ERROR with no task,
and its host's compute service down (forced down or its heartbeat stale: else 400
``Compute service of <host> is still in use.``, as Nova); a target ``host`` must be another
compute host (400 for the server's own, 404 for an unknown one). The task ``rebuilding``
begins (status REBUILD), the action ``evacuate`` and a Migration of type ``evacuation``
(``accepted``) are recorded and the conductor is cast ``evacuate_instance``.

**Conductor** (``EvacuateConductor.evacuate_instance``): schedules the server (filters and
weighers, the source left out, or the admin's host) with the migration's uuid as the claim's
consumer, moves that claim onto the server and gives back the source's, binds the ports to
the destination, writes the new host (migration ``pre-migrating``) and casts
``rebuild_instance`` to the destination's agent with a spec built on the server's image;
the rebuild (``rebuild_agent``) spawns it there and ``instance_rebuilt`` ends the migration
``done`` (``failed`` with a fault otherwise). The id, ports and fixed IPs are kept. Every
step that may fail (the image, the volumes' new attachments, the ports' binding, the claim's
move) comes before the new host is written; a failure undoes what was done (attachments,
binding, the destination's claim given back) and leaves the server on its old host with a
fault naming the cause and the migration ``failed``.

**Disks**: with local instance storage the server comes back from its image (what it wrote is
gone); with shared storage (``instance_storage.instance_storage_shared``: both hosts report
it, with the same ``instances_path``) the destination boots the disk the dead host left, as
Nova's ``on_shared_storage``: the spec says ``rebuild.shared_storage``, the agent
(``rebuild_agent.keeps_disks``) neither deletes the disk nor fetches the image, and the
driver boots it (``keep_disks``). The conductor's step ``rebuild_server`` says in its
details which case it was. **The source coming back**: its agent's orphan sweep destroys
the guest of a server no longer on it (Nova's ``_destroy_evacuated_instances``); on shared
storage the disks of a guest the database places on another host are never deleted.

**Volumes** (attached ones, and the boot volume of a volume-backed server, whose data is
kept: the volume is its disk) get attachments for the destination before the rebuild
there; the dead host's are deleted (``volume_moves``).
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.compute import actions, instance_storage, migrations, states
from pocketstack.compute.exceptions import InstanceNotReady
from pocketstack.compute.liveness import COMPUTE_BINARY, service_is_up
from pocketstack.compute.models import Instance, Service
from pocketstack.compute.request_spec import image_meta
from pocketstack.compute.rpcapi import ComputeAgentClient, ConductorClient
from pocketstack.compute.scheduler import claims
from pocketstack.compute.server_actions import check_lock
from pocketstack.compute.volume_moves import VolumeMoves

if TYPE_CHECKING:
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)

#: the conductor's step of an evacuation (Nova's conductor ``EventReporter`` name); its
#: details say whether the disk is kept (shared instance storage) or made from the image
EV_REBUILD_SERVER = "rebuild_server"


def _compute_service(cloud: Cloud, host: str) -> Service | None:
    with cloud.db.reader() as s:
        return s.scalars(
            sa.select(Service).where(Service.host == host, Service.binary == COMPUTE_BINARY)
        ).first()


def evacuate(
    cloud: Cloud,
    ctx: RequestContext,
    server_id: str,
    host: str | None = None,
    admin_pass: str | None = None,
    stop: bool = False,
) -> str:
    """Begin evacuating a server (see the module's docstring); returns its admin password
    (``admin_pass`` or a generated one). ``stop`` (2.95): it ends SHUTOFF whatever it was.

    Raises:
        ServerNotFound (404); errors.NotFound (404): unknown ``host``; errors.BadRequest
        (400): the server's host is up, or ``host`` is its own; InstanceInvalidState (409).
    """
    row = cloud.compute.servers.get(ctx, server_id)
    check_lock(ctx, row)
    states.check_action(row, "evacuate")
    if not row.host:
        raise InstanceNotReady(f"Instance {server_id} is not ready (it has no host).")
    source = _compute_service(cloud, row.host)
    if source is not None and service_is_up(source, cloud.conf):
        raise errors.BadRequest(f"Compute service of {row.host} is still in use.")
    if host is not None:
        if host == row.host:
            raise errors.BadRequest("The target host can't be the same one.")
        if _compute_service(cloud, host) is None:
            raise errors.NotFound(f"Compute host {host} could not be found.")
    with cloud.db.transaction() as s:
        if not actions.update_instance(
            s,
            row.uuid,
            {"vm_state": row.vm_state, "task_state": None},
            task_state=states.REBUILDING,
            spec={**(row.spec or {}), "evacuate": {"stop": stop}},
        ):
            raise InstanceNotReady(f"Instance {row.uuid} changed state; try again.")
        migration = migrations.create(
            s,
            row,
            migration_type="evacuation",
            source_compute=row.host,
            source_node=row.node,
            dest_compute=host,
            status="accepted",
            project_id=ctx.project_id,
            user_id=ctx.user_id,
        )
        migration_id = migration.id
    actions.start_action(cloud.db, ctx, row.uuid, "evacuate")
    ConductorClient(cloud.bus).evacuate_instance(ctx, row.uuid, host, migration_id)
    return admin_pass or secrets.token_urlsafe(9)


class EvacuateConductor:
    """The conductor's side of an evacuation (a mixin of ``Conductor``)."""

    db: Any
    cloud: Any
    scheduler: Any

    # ``spec_for`` (Conductor's) and ``_set_port_hosts`` (ShelveReports') come from the
    # classes before this one in ``Conductor``'s bases

    def evacuate_instance(
        self, ctx: RequestContext, instance_uuid: str, host: str | None, migration_id: int
    ) -> None:
        """Place an evacuated server on another host and have it rebuilt there; a failure
        leaves it on its (down) host with a fault and the migration ``failed``."""
        inst = actions.load_instance(self.db, instance_uuid)
        if inst is None or inst.task_state != states.REBUILDING:
            return
        with self.db.reader() as s:
            migration_uuid = migrations.get(s, migration_id).uuid
        try:
            with actions.event(self.db, ctx, instance_uuid, EV_REBUILD_SERVER) as note:
                self._evacuate(ctx, inst, host, migration_id, migration_uuid, note)
        except Exception as exc:
            message = exc.message if isinstance(exc, errors.PocketError) else str(exc)
            if not isinstance(exc, errors.PocketError):
                LOG.exception("evacuation of %s failed", instance_uuid)
            self.scheduler.release(migration_uuid)
            with self.db.transaction() as s:
                migrations.update_status(s, migration_id, "failed")
                if actions.update_instance(
                    s, instance_uuid, {"task_state": states.REBUILDING}, task_state=None
                ):
                    actions.add_fault(s, instance_uuid, message, getattr(exc, "status", 500))
                    actions.finish_action(s, ctx, instance_uuid, error=True)

    def _evacuate(
        self,
        ctx: RequestContext,
        inst: Instance,
        host: str | None,
        migration_id: int,
        migration_uuid: str,
        note: actions.EventNote,
    ) -> None:
        source = str(inst.host)
        spec = dict(inst.spec or {})
        dest = self.scheduler.select_destination(
            ctx,
            {
                "instance_uuid": migration_uuid,
                "project_id": inst.project_id,
                "vcpus": inst.vcpus,
                "memory_mb": inst.memory_mb,
                "disk_gb": inst.root_gb
                + inst.ephemeral_gb
                + -(-int((inst.flavor or {}).get("swap") or 0) // 1024),
                "availability_zone": None,
                "image_properties": dict((spec.get("image") or {}).get("properties") or {}),
                "ignore_hosts": [source],
                "force_host": host,
                "group": self.cloud.compute.server_groups.scheduling(inst.uuid),
            },
        )
        shared = instance_storage.instance_storage_shared(self.cloud, source, dest["host"])
        image = _evacuate_image(self.cloud, ctx, inst, spec, shared)
        note.host = dest["host"]
        note.details = storage_details(source, dest["host"], shared, str(inst.image_ref))
        if spec.get("boot_from_volume"):  # whatever the instance storage: its volume
            note.details = f"volume-backed: boots its volume on {dest['host']}; its data is kept"
        rebuild = {
            "power_off": inst.vm_state == states.STOPPED
            or bool((spec.get("evacuate") or {}).get("stop")),
            "evacuate": True,
            "shared_storage": shared,
        }
        moves = VolumeMoves(self.cloud)
        moved = moves.prepare(ctx, inst.uuid, dest["host"])  # a failure deletes what it made
        claimed = False
        try:
            new_spec, network_info = self._move_to(ctx, inst, dest, image, moves, moved)
            new_spec["rebuild"] = rebuild
            claimed = claims.move_claim(self.db, migration_uuid, inst.uuid)
            self._commit_dest(inst, dest, migration_id, new_spec, network_info)
        except BaseException:  # back where it was: its volumes and ports on the source
            if claimed:  # the commit found it gone from the evacuation (deleted meanwhile)
                self.scheduler.release(inst.uuid)
            moves.abort(ctx, inst.uuid, moved)
            try:
                self._set_port_hosts(ctx, inst, source)  # type: ignore[attr-defined]
            except Exception:  # the evacuation's own error is the one to report
                LOG.exception("binding the ports of %s to %s again failed", inst.uuid, source)
            raise
        moves.drop_old(ctx, moved)
        ComputeAgentClient(self.cloud.bus).rebuild_instance(ctx, dest["host"], inst.uuid)

    def _move_to(
        self,
        ctx: RequestContext,
        inst: Instance,
        dest: dict[str, Any],
        image: Any,
        moves: VolumeMoves,
        moved: list[Any],
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The evacuation's steps that may fail, done before the server is written on
        ``dest`` (the caller undoes them on error): its ports bound there, its volume
        mappings switched to the new attachments; returns its spec for ``dest`` and its
        network info."""
        self._set_port_hosts(ctx, inst, dest["host"])  # type: ignore[attr-defined]
        network_info = self.cloud.network.get_instance_network_info(ctx.elevated(), inst.uuid)
        spec = dict(inst.spec or {})
        new_spec = self.spec_for(inst, image, network_info, dest["host"])  # type: ignore[attr-defined]
        _keep_volumes(spec, new_spec)
        new_spec["block_devices"] = moves.block_devices(inst.uuid, moved)
        moves.switch(ctx, inst.uuid, moved)
        return new_spec, network_info

    def _commit_dest(
        self,
        inst: Instance,
        dest: dict[str, Any],
        migration_id: int,
        spec: dict[str, Any],
        network_info: list[dict[str, Any]],
    ) -> None:
        """The server on ``dest`` with its new spec (migration ``pre-migrating``).

        Raises:
            Conflict (409): it left the task ``rebuilding`` meanwhile."""
        with self.db.transaction() as s:
            if not actions.update_instance(
                s,
                inst.uuid,
                {"task_state": states.REBUILDING},
                host=dest["host"],
                node=dest["node"],
                spec=spec,
                network_info=network_info,
            ):
                raise errors.Conflict(f"Instance {inst.uuid} left rebuilding.")
            migrations.update_status(
                s, migration_id, "pre-migrating", dest_compute=dest["host"], dest_node=dest["node"]
            )


def _evacuate_image(
    cloud: Cloud, ctx: RequestContext, inst: Instance, spec: dict[str, Any], shared: bool
) -> Any:
    """The ``ImageMeta`` to build the evacuated server's spec on: its image's, or what its
    spec keeps for a volume-backed server (no image: the boot volume is its disk) and on
    shared storage when the image is gone (the kept disk is booted, no image is fetched).

    Raises:
        ImageNotFound (404): the image is gone and the disk must be made from it."""
    if not spec.get("boot_from_volume"):
        try:
            return image_meta(cloud.image.get_image_info(ctx.elevated(), str(inst.image_ref)))
        except errors.NotFound:
            if not shared:
                raise
            LOG.info("image %s of %s is gone: its kept disk needs none", inst.image_ref, inst.uuid)
    image = dict(spec.get("image") or {})
    return {
        "id": image.get("id") or "",
        "name": image.get("name"),
        "status": None,
        "disk_format": image.get("disk_format"),
        "size": image.get("size"),
        "virtual_size": None,
        "min_disk": 0,
        "min_ram": 0,
        "properties": dict(image.get("properties") or {}),
    }


def _keep_volumes(spec: dict[str, Any], new_spec: dict[str, Any]) -> None:
    """The evacuated server's spec keeps its volumes (``_move_to`` then gives them
    the destination's ``connection_info``) and, volume-backed, boots from its volume."""
    new_spec["block_devices"] = list(spec.get("block_devices") or [])
    if spec.get("boot_from_volume"):
        new_spec["boot_from_volume"] = True
        new_spec["image"] = {**new_spec["image"], "path": ""}


def storage_details(source: str, dest: str, shared: bool, image_ref: str) -> str:
    """The ``rebuild_server`` event's details: which of the two evacuations this is."""
    if shared:
        return (
            f"shared instance storage ({source} and {dest}): the disk is kept and booted on "
            f"{dest}; the image is not fetched again"
        )
    return (
        f"local instance storage ({source} to {dest}): rebuilt on {dest} from image "
        f"{image_ref}; the data of the old disk is lost"
    )


def evacuation_finished(s: Any, instance_uuid: str, ok: bool) -> None:
    """End the server's evacuation migration, if one is in progress: ``done`` or ``failed``
    (called by ``RebuildReports.instance_rebuilt`` in its transaction)."""
    migration = migrations.in_progress(s, instance_uuid)
    if migration is not None and migration.migration_type == "evacuation":
        migrations.update_status(s, migration.id, "done" if ok else "failed")
