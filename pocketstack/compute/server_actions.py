"""Server actions beyond stop/start/reboot: pause, suspend, rescue, lock, password, admin
resets, crash dumps, snapshots and backups (``createImage``, ``createBackup``) (API
reference "Servers - run an action"; Nova's ``nova/compute/api.py``).

``cloud.compute.server_actions`` (``ServerActions``) is the controller side, as
``servers.Servers`` is for the power actions, and follows the same workflow:

- **State actions** (``pause``, ``unpause``, ``suspend``, ``resume``, ``rescue``,
  ``unrescue``): the server's vm_state and task_state must allow the action
  (``states.check_action``, which reads ``states.TRANSITIONS``); the API begins the task
  (``pausing``...) with a compare-and-set write, records the instance action and casts to the
  server's compute agent, which runs the driver and reports the outcome
  (``instance_power_action_finished``); the conductor ends the task in the state
  ``states.TASK_RESULTS`` names (``paused``...), or back where it began with a fault.
- **Calls** (``change_password``, ``trigger_crash_dump``, ``reset_network``): the agent
  answers the call, so a guest without a guest agent is the API's 409; the API records the
  action and its one step (``compute_<name>``) around the call.
- **Records only** (``lock``, ``unlock``, ``reset_state``): written here.

Locks (API reference "Lock Server"): a locked server refuses every action of a non-admin
with 409 (Nova's ``check_instance_lock``; ``check_lock``); an admin's actions go through. A
lock records who took it (``locked_by``: ``owner`` when the caller's project owns the
server, else ``admin``) and ``locked_reason`` (2.73); only an admin may remove an admin's
lock.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.db import Database, utcnow
from pocketstack.compute import actions, states
from pocketstack.compute.exceptions import (
    GuestAgentNotEnabled,
    ImageNotActive,
    InstanceIsLocked,
    InstanceNotReady,
    InstanceNotRescuable,
    ServerNotFound,
)
from pocketstack.compute.liveness import zone_of_host
from pocketstack.compute.models import Instance, Service
from pocketstack.compute.request_spec import image_meta
from pocketstack.compute.rpcapi import ComputeAgentClient, ConductorClient

if TYPE_CHECKING:
    from pocketstack.service import Cloud

#: instance-action events of the calls (Nova's names)
EV_SET_PASSWORD = "compute_set_admin_password"
EV_CRASH_DUMP = "compute_trigger_crash_dump"
EV_RESET_NETWORK = "compute_reset_network"


def check_lock(ctx: RequestContext, inst: Instance) -> None:
    """Refuse an action on a locked server unless the caller is admin (Nova's
    ``check_instance_lock``).

    Raises:
        InstanceIsLocked: 409 ``Instance <uuid> is locked``.
    """
    if inst.locked and not ctx.is_admin:
        raise InstanceIsLocked.for_id(inst.uuid)


class ServerActions:
    """``cloud.compute.server_actions``: the actions listed in the module docstring.

    Every function takes the caller's ``RequestContext``; a server of another project is
    ``ServerNotFound`` (404) unless the caller is admin.
    """

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.db: Database = cloud.db
        self.agents = ComputeAgentClient(cloud.bus)

    # ------------------------------------------------------------------ state actions

    def pause(self, ctx: RequestContext, server_id: str) -> None:
        """Pause a running server (``pause``; 202): its vCPUs stop, its memory stays.

        Raises:
            ServerNotFound; InstanceIsLocked, InstanceInvalidState (409) unless ACTIVE.
        """
        self._task_action(ctx, server_id, "pause", "pause_instance")

    def unpause(self, ctx: RequestContext, server_id: str) -> None:
        """Let a paused server run again (``unpause``; 202).

        Raises:
            ServerNotFound; InstanceIsLocked, InstanceInvalidState (409) unless PAUSED.
        """
        self._task_action(ctx, server_id, "unpause", "unpause_instance")

    def suspend(self, ctx: RequestContext, server_id: str) -> None:
        """Suspend a running server (``suspend``; 202): its memory is saved to disk and its
        process ends; the host keeps its resources (Nova's managed save).

        Raises:
            ServerNotFound; InstanceIsLocked, InstanceInvalidState (409) unless ACTIVE.
        """
        self._task_action(ctx, server_id, "suspend", "suspend_instance")

    def resume(self, ctx: RequestContext, server_id: str) -> None:
        """Resume a suspended server from its saved memory (``resume``; 202).

        Raises:
            ServerNotFound; InstanceIsLocked, InstanceInvalidState (409) unless SUSPENDED.
        """
        self._task_action(ctx, server_id, "resume", "resume_instance")

    def rescue(
        self,
        ctx: RequestContext,
        server_id: str,
        rescue_image_ref: str | None = None,
        admin_pass: str | None = None,
    ) -> str:
        """Boot a server from a rescue image with its root disk attached too
        (``rescue``; API reference "Rescue Server"): the server's own image unless
        ``rescue_image_ref`` names another. Returns the admin password (``admin_pass`` or
        a generated one), which Nova answers with.

        Raises:
            ServerNotFound; ImageNotFound (404); InstanceNotRescuable (400) for a
            volume-backed server; ImageNotActive (400); InstanceIsLocked,
            InstanceInvalidState (409) unless ACTIVE, SHUTOFF or ERROR.
        """
        row = self._checked(ctx, server_id, "rescue")
        spec = dict(row.spec or {})
        if spec.get("boot_from_volume") or not row.image_ref:
            raise InstanceNotRescuable(
                f"Instance {server_id} cannot be rescued: Cannot rescue a volume-backed instance"
            )
        image_id = rescue_image_ref or row.image_ref
        image = image_meta(self.cloud.image.get_image_info(ctx, image_id))
        if image["status"] != "active":
            raise ImageNotActive.for_id(image_id)
        spec["rescue_image"] = {
            "id": image["id"],
            "disk_format": image.get("disk_format"),
            "size": image.get("size"),
            "properties": dict(image.get("properties") or {}),
            "path": str(self.cloud.image.image_path(image["id"])),
            "url": f"{self.cloud.conf.public_url}/image/v2/images/{image['id']}/file",
        }
        self._begin(ctx, row, "rescue", spec=spec)
        self.agents.rescue_instance(ctx, str(row.host), server_id)
        return admin_pass or secrets.token_urlsafe(9)

    def unrescue(self, ctx: RequestContext, server_id: str) -> None:
        """Boot a rescued server from its own root disk again (``unrescue``; 202).

        Raises:
            ServerNotFound; InstanceIsLocked, InstanceInvalidState (409) unless RESCUE.
        """
        self._task_action(ctx, server_id, "unrescue", "unrescue_instance")

    def _task_action(self, ctx: RequestContext, server_id: str, action: str, method: str) -> None:
        row = self._checked(ctx, server_id, action)
        self._begin(ctx, row, action)
        getattr(self.agents, method)(ctx, str(row.host), server_id)

    def _checked(self, ctx: RequestContext, server_id: str, action: str) -> Instance:
        """The server, if ``action`` may run on it now (lock, then state, then a host)."""
        row = self.cloud.compute.servers.get(ctx, server_id)
        check_lock(ctx, row)
        states.check_action(row, action)
        if not row.host:
            raise InstanceNotReady(f"Instance {server_id} is not ready (it has no host).")
        return row

    def _begin(
        self, ctx: RequestContext, row: Instance, action: str, spec: dict[str, Any] | None = None
    ) -> None:
        """Begin the action's task where the server still is as read (compare-and-set) and
        record the instance action (Nova's name: ``changePassword``...); ``spec``: a new
        stored spec written with the task (rescue's ``rescue_image``)."""
        values: dict[str, Any] = {"task_state": states.ACTION_TASKS[action]}
        if spec is not None:
            values["spec"] = spec
        changed = actions.update_instance(
            self.db, row.uuid, {"vm_state": row.vm_state, "task_state": row.task_state}, **values
        )
        if not changed:  # someone else changed the state in between: re-check and refuse
            states.check_action(self.cloud.compute.servers.get(ctx, row.uuid), action)
            raise InstanceNotReady(f"Instance {row.uuid} changed state; try again.")
        actions.start_action(self.db, ctx, row.uuid, _ACTION_NAMES.get(action, action))

    # ------------------------------------------------------------------ snapshots

    def create_image(
        self, ctx: RequestContext, server_id: str, name: str, metadata: dict[str, str]
    ) -> str:
        """Snapshot the server's root disk into a new image (``createImage``; API reference
        "Create Image (createImage Action)"). Returns the image's id at once (202).

        The image is created first, ``queued``, owned by the server's project, private,
        qcow2, with the source image's properties (but its signature), Nova's
        ``image_type=snapshot``, ``instance_uuid``, ``base_image_ref`` and ``user_id``, then
        ``metadata``; ``min_disk`` the larger of the source image's and the flavor's root
        disk (GB), ``min_ram`` the source image's (MB). Then the task ``image_snapshot``
        begins (the image's id and upload URL stored in the spec's ``snapshot``, with
        ``quiesce`` when the source image says ``hw_qemu_guest_agent=yes``) and the
        server's agent is cast ``snapshot_instance`` (``ComputeAgent.snapshot_instance``).

        Raises:
            ServerNotFound; InstanceIsLocked, InstanceInvalidState (409) unless ACTIVE,
            SHUTOFF, PAUSED or SUSPENDED with no task; errors.BadRequest (400) for a
            volume-backed server (not supported here yet).
        """
        return self._snapshot(ctx, server_id, name, metadata, "create_image")

    def create_backup(
        self,
        ctx: RequestContext,
        server_id: str,
        name: str,
        backup_type: str,
        rotation: int,
        metadata: dict[str, str],
    ) -> str:
        """Back up the server's root disk into a new image (``createBackup``; API reference
        "Create Server Back Up (createBackup Action)"). Returns the image's id at once (202).

        As ``create_image``, but the image says ``image_type=backup`` and ``backup_type``,
        the task is ``image_backup``, the agent is cast ``backup_instance`` and, once the
        upload ended, the conductor keeps the ``rotation`` newest backups of this server and
        ``backup_type`` and deletes the older ones (``AgentReports.rotate_backups``;
        rotation 0 deletes them all, the new one too).

        Raises:
            the same as ``create_image``.
        """
        backup = {"type": backup_type, "rotation": rotation}
        extra = {"image_type": "backup", "backup_type": backup_type}
        return self._snapshot(ctx, server_id, name, metadata, "create_backup", extra, backup)

    def _snapshot(
        self,
        ctx: RequestContext,
        server_id: str,
        name: str,
        metadata: dict[str, str],
        action: str,
        extra: dict[str, str] | None = None,
        backup: dict[str, Any] | None = None,
    ) -> str:
        row = self._checked(ctx, server_id, action)
        spec = dict(row.spec or {})
        spec["snapshot"] = self._new_image(ctx, row, name, metadata, extra)
        image_id = spec["snapshot"]["image_id"]
        if backup is not None:
            spec["snapshot"]["backup"] = backup
        try:
            self._begin(ctx, row, action, spec=spec)
        except errors.PocketError:
            self.cloud.image.images.delete(ctx.elevated(), image_id)
            raise
        if backup is not None:
            self.agents.backup_instance(ctx, str(row.host), server_id)
        else:
            self.agents.snapshot_instance(ctx, str(row.host), server_id)
        return str(image_id)

    def _new_image(
        self,
        ctx: RequestContext,
        row: Instance,
        name: str,
        metadata: dict[str, str],
        extra: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Create the queued image of a snapshot of ``row`` (see ``create_image``); returns
        the stored spec's ``snapshot``: ``{"image_id", "upload_url", "quiesce"}``."""
        server_id = row.uuid
        spec = dict(row.spec or {})
        if spec.get("boot_from_volume") or not row.image_ref:
            raise errors.BadRequest(
                f"Snapshot of volume-backed instance {server_id} is not supported."
            )
        source = dict(spec.get("image") or {})
        source_props = {
            k: str(v)
            for k, v in (source.get("properties") or {}).items()
            if not k.startswith("img_signature") and k not in _NOT_INHERITED
        }
        min_disk, min_ram = int(row.root_gb or 0), 0
        try:
            info = self.cloud.image.get_image_info(ctx.elevated(), row.image_ref)
            min_disk = max(min_disk, int(info.min_disk or 0))
            min_ram = int(info.min_ram or 0)
        except errors.NotFound:  # the source image was deleted: the flavor's figures
            pass
        properties = {
            **source_props,
            "image_type": "snapshot",
            "instance_uuid": server_id,
            "base_image_ref": row.image_ref,
            "user_id": str(ctx.user_id or row.user_id),
            **(extra or {}),
            **{k: str(v) for k, v in metadata.items()},
        }
        core = {
            "name": name,
            "disk_format": "qcow2",
            "container_format": "bare",
            "visibility": "private",
            "owner": row.project_id,
            "min_disk": min_disk,
            "min_ram": min_ram,
        }
        image = self.cloud.image.images.create(
            ctx if ctx.project_id == row.project_id else ctx.elevated(), core, properties
        )
        agent_wanted = str(source_props.get("hw_qemu_guest_agent", "")).lower()
        return {
            "image_id": str(image.id),
            "upload_url": f"{self.cloud.conf.public_url}/image/v2/images/{image.id}/file",
            "quiesce": agent_wanted in ("yes", "true", "1"),
        }

    # ------------------------------------------------------------------ shelve

    def shelve(self, ctx: RequestContext, server_id: str) -> None:
        """Shelve a server (``shelve``; API reference "Shelve Server"; 202): the image
        ``<name>-shelved`` (a snapshot's properties) is created queued, the task
        ``shelving`` begins and the agent powers the guest off and uploads its disk
        (``ComputeAgent.shelve_instance``) -> SHELVED, then offloaded at once when
        ``shelved_offload_time`` is 0 (``shelving.ShelveReports``).

        Raises:
            ServerNotFound; InstanceIsLocked, InstanceInvalidState (409) unless ACTIVE,
            SHUTOFF, PAUSED or SUSPENDED with no task; errors.BadRequest (400) for a
            volume-backed server (not supported here yet).
        """
        row = self._checked(ctx, server_id, "shelve")
        spec = dict(row.spec or {})
        spec["shelve"] = self._new_image(ctx, row, f"{row.name}-shelved", {})
        image_id = spec["shelve"]["image_id"]
        try:
            self._begin(ctx, row, "shelve", spec=spec)
        except errors.PocketError:
            self.cloud.image.images.delete(ctx.elevated(), image_id)
            raise
        self.agents.shelve_instance(ctx, str(row.host), server_id)

    def shelve_offload(self, ctx: RequestContext, server_id: str) -> None:
        """Offload a shelved server now (``shelveOffload``; "Shelf-Offload (Remove)
        Server"; 202): its guest is destroyed, its host's resources freed, its ports
        unbound, its host cleared -> SHELVED_OFFLOADED.

        Raises:
            ServerNotFound; InstanceIsLocked, InstanceInvalidState (409) unless SHELVED with
            no task.
        """
        self._task_action(ctx, server_id, "shelve_offload", "shelve_offload_instance")

    def unshelve(
        self,
        ctx: RequestContext,
        server_id: str,
        availability_zone: str | None = None,
        host: str | None = None,
        *,
        unpin_az: bool = False,
    ) -> None:
        """Unshelve a server (``unshelve``; "Unshelve (Restore) Shelved Server"; 202). A
        SHELVED server is powered on again where it is; a SHELVED_OFFLOADED one is scheduled
        again (in ``availability_zone``, 2.77, or on ``host``, 2.91, admin) and spawned from
        its shelve image (``Conductor.unshelve_instance``), keeping its id and fixed IPs;
        the shelve image is then deleted.

        As in Nova (its ``compute.api.API.unshelve``), the zone asked for becomes the
        server's pinned zone (``pinned_availability_zone``, 2.96) and ``unpin_az`` (2.91's
        ``"availability_zone": null``) unpins it; without either the server stays in the zone
        it is pinned to, and a ``host`` must be in the zone the server will be pinned to.

        Raises:
            ServerNotFound; InstanceIsLocked, InstanceInvalidState (409) unless SHELVED or
            SHELVED_OFFLOADED with no task; errors.Conflict (409) for a zone or host asked
            for a server that is not offloaded; errors.BadRequest (400) for an unknown
            availability zone, an unknown host, or a host outside that zone.
        """
        row = self.cloud.compute.servers.get(ctx, server_id)
        check_lock(ctx, row)
        states.check_action(row, "unshelve")
        if row.vm_state == states.SHELVED:
            if availability_zone or host or unpin_az:
                raise errors.Conflict(
                    "The availability_zone or host parameter is only valid when unshelving "
                    f"a shelved offloaded instance; instance {server_id} is {row.vm_state}."
                )
            self._begin(ctx, row, "unshelve")
            self.agents.unshelve_instance(ctx, str(row.host), server_id)
            return
        if availability_zone and not self._zone_exists(availability_zone):
            raise errors.BadRequest("The requested availability zone is not available")
        if host and not self._host_exists(host):
            raise errors.BadRequest(f"Compute host {host} could not be found.")
        pinned = availability_zone or (None if unpin_az else row.requested_availability_zone)
        if (
            host
            and pinned
            and zone_of_host(self.db, host, self.cloud.conf.availability_zone) != pinned
        ):
            raise errors.BadRequest(f'Host "{host}" is not in the availability zone "{pinned}".')
        self._begin(ctx, row, "unshelve")
        ConductorClient(self.cloud.bus).unshelve_instance(
            ctx, server_id, availability_zone, host, unpin_az=unpin_az
        )

    def _zone_exists(self, zone: str) -> bool:
        with self.db.reader() as s:
            found = s.scalars(
                sa.select(Service.host).where(Service.availability_zone == zone)
            ).first()
        return found is not None or zone == self.cloud.conf.availability_zone

    def _host_exists(self, host: str) -> bool:
        with self.db.reader() as s:
            found = s.scalars(sa.select(Service.host).where(Service.host == host)).first()
        return found is not None

    # ------------------------------------------------------------------ calls

    def change_password(self, ctx: RequestContext, server_id: str, password: str) -> None:
        """Set the guest's admin password through its QEMU guest agent (``changePassword``;
        202), as Nova's libvirt driver does with ``guest-set-user-password``.

        Raises:
            ServerNotFound; GuestAgentNotEnabled (409) when the image does not declare
            ``hw_qemu_guest_agent``; InstanceIsLocked, InstanceInvalidState (409) unless
            ACTIVE; the agent's 409 when the guest agent failed or does not answer.
        """
        row = self._checked(ctx, server_id, "change_password")
        props = ((row.spec or {}).get("image") or {}).get("properties") or {}
        if str(props.get("hw_qemu_guest_agent", "")).lower() not in ("yes", "true", "1"):
            raise GuestAgentNotEnabled()
        # Nova's libvirt driver: the image's os_admin_user, else root (Administrator on
        # Windows guests)
        windows = str(props.get("os_type", "")).lower() == "windows"
        user = str(props.get("os_admin_user") or ("Administrator" if windows else "root"))
        self._begin(ctx, row, "change_password")
        self._call_step(
            ctx,
            row,
            EV_SET_PASSWORD,
            lambda: self.agents.set_admin_password(ctx, str(row.host), server_id, user, password),
            task=states.UPDATING_PASSWORD,
        )

    def trigger_crash_dump(self, ctx: RequestContext, server_id: str) -> None:
        """Inject an NMI into the guest (``trigger_crash_dump``, microversion 2.17; 202): a
        guest kernel set up for it panics and writes a crash dump.

        Raises:
            ServerNotFound; InstanceIsLocked, InstanceInvalidState (409) unless ACTIVE,
            PAUSED, RESCUE or ERROR with no task; the agent's 409 when the guest has no
            process.
        """
        row = self._checked(ctx, server_id, "trigger_crash_dump")
        actions.start_action(self.db, ctx, server_id, "trigger_crash_dump")
        self._call_step(
            ctx,
            row,
            EV_CRASH_DUMP,
            lambda: self.agents.trigger_crash_dump(ctx, str(row.host), server_id),
        )

    def reset_network(self, ctx: RequestContext, server_id: str) -> None:
        """Plug the server's VIFs again on its host (``resetNetwork``, admin; 202).

        Raises:
            ServerNotFound; InstanceNotReady (409) without a host.
        """
        row = self.cloud.compute.servers.get(ctx, server_id)
        if not row.host or row.vm_state == states.BUILDING:
            raise InstanceNotReady(f"Instance {server_id} is not ready (it has no host).")
        actions.start_action(self.db, ctx, server_id, "resetNetwork")
        self._call_step(
            ctx,
            row,
            EV_RESET_NETWORK,
            lambda: self.agents.reset_network(ctx, str(row.host), server_id, dict(row.spec or {})),
        )

    def _call_step(
        self,
        ctx: RequestContext,
        row: Instance,
        event: str,
        call: Any,
        task: str | None = None,
    ) -> None:
        """Run ``call`` (a call to the agent) as the action's step ``event``: the step and
        the action finish with its result, the ``task`` (when one was begun) ends, and the
        agent's error is raised again for the API to answer."""
        started = utcnow()
        error: errors.PocketError | None = None
        try:
            call()
        except errors.PocketError as exc:
            error = exc
        with self.db.transaction() as s:
            if task is not None:
                actions.update_instance(s, row.uuid, {"task_state": task}, task_state=None)
            action = actions.find_action(s, row.uuid, ctx.request_id)
            if action is not None:
                result = actions.SUCCESS if error is None else actions.ERROR
                actions.record_event(s, action, event, started, utcnow(), result, row.host)
                action.finish_time = utcnow()
                if error is not None:
                    action.message = actions.ERROR
        if error is not None:
            raise error

    # ------------------------------------------------------------------ records only

    def lock(self, ctx: RequestContext, server_id: str, reason: str | None = None) -> None:
        """Lock a server (``lock``; 202) with an optional ``reason`` (2.73): non-admin
        actions on it are then refused with 409. Locking a locked server changes nothing
        but the reason.

        Raises:
            ServerNotFound.
        """
        self.cloud.compute.servers.get(ctx, server_id)
        with self.db.transaction() as s:
            inst = self._row(s, server_id)
            if not inst.locked:
                inst.locked = True
                inst.locked_by = "owner" if ctx.project_id == inst.project_id else "admin"
            inst.locked_reason = reason
            inst.updated_at = utcnow()
            actions.start_action(s, ctx, server_id, "lock").finish_time = utcnow()

    def unlock(self, ctx: RequestContext, server_id: str) -> None:
        """Unlock a server (``unlock``; 202); unlocking an unlocked one is fine.

        Raises:
            ServerNotFound; errors.Forbidden (403) when a non-admin unlocks an admin's lock
            (Nova's ``unlock_override`` rule).
        """
        self.cloud.compute.servers.get(ctx, server_id)
        with self.db.transaction() as s:
            inst = self._row(s, server_id)
            if inst.locked and inst.locked_by == "admin" and not ctx.is_admin:
                raise errors.Forbidden(
                    "Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override "
                    "to be performed."
                )
            inst.locked, inst.locked_by, inst.locked_reason = False, None, None
            inst.updated_at = utcnow()
            actions.start_action(s, ctx, server_id, "unlock").finish_time = utcnow()

    def reset_state(self, ctx: RequestContext, server_id: str, vm_state: str) -> None:
        """Force a server to ``active`` or ``error`` with no task (``os-resetState``,
        admin; 202), through ``states.reset``.

        Raises:
            ServerNotFound.
        """
        self.cloud.compute.servers.get(ctx, server_id)
        with self.db.transaction() as s:
            inst = self._row(s, server_id)
            states.reset(inst, vm_state)
            inst.updated_at = utcnow()
            actions.start_action(s, ctx, server_id, "resetState").finish_time = utcnow()

    @staticmethod
    def _row(s: Any, server_id: str) -> Instance:
        inst = s.get(Instance, server_id)
        if inst is None or inst.deleted:
            raise ServerNotFound.for_id(server_id)
        return inst


#: action -> the instance action's name, where Nova's differs
_ACTION_NAMES = {
    "change_password": "changePassword",
    "create_image": "createImage",
    "create_backup": "createBackup",
    "shelve_offload": "shelveOffload",
}

#: source image properties a snapshot does not inherit (Nova's non-inheritable ones)
_NOT_INHERITED = frozenset(
    {"image_type", "instance_uuid", "base_image_ref", "user_id", "backup_type"}
)
