"""Rebuild a server: same host, same id and ports, a root disk made again from an image (API
reference "Rebuild Server (rebuild Action)"; Nova's ``API.rebuild`` and
``ComputeManager.rebuild_instance``).

**Controller side** (``rebuild``, called by ``api/server_rebuild.py``): the server must be
ACTIVE, SHUTOFF or ERROR with no task (409 otherwise, 409 when locked for a non-admin), have a
host and boot from an image (400 for a volume-backed one: not supported yet). The image must
exist and be active (400 ``Cannot find requested image``/``Image ... is not active``) and fit
the flavor. The new name, metadata (replaces the old), description (2.19), key pair (2.54,
``null`` removes it), user data (2.57, ``null`` removes it) are written with the new image
and the stored spec, and the task ``rebuilding`` begins (compare-and-set, status REBUILD);
the action ``rebuild`` is recorded and ``rebuild_instance`` is cast to the host's agent.

**Agent side** (``rebuild_agent.rebuild_instance``): the step ``compute_rebuild_instance``;
``rebuilding`` -> ``rebuild_block_device_mapping`` (the guest and its disks destroyed) ->
``rebuild_spawning`` (spawned from the new image; powered off again if it was SHUTOFF), each
move a ``rebuild_task_changed`` call; the outcome ``instance_rebuilt`` (``RebuildReports``,
conductor): ACTIVE (or SHUTOFF), or ERROR with a fault when the spawn failed (the old disk is
gone by then, as in Nova).

Not done: ``preserve_ephemeral`` is accepted and recorded (``spec["rebuild"]``) but the
ephemeral disk is made again; ``trusted_image_certificates`` (2.63) are accepted and ignored
(no certificate validation, as Nova without ``verify_glance_signatures``); an agent killed
mid-rebuild after it destroyed the guest leaves it ERROR at its next start
(``rebuild_agent.RebuildAgent.settle_rebuild``); a rebuild is then asked again.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.db import utcnow
from pocketstack.compute import actions, states
from pocketstack.compute.drivers.base import PowerState
from pocketstack.compute.exceptions import ImageNotActive, InstanceNotReady
from pocketstack.compute.models import Instance
from pocketstack.compute.request_spec import check_root_disk, image_meta
from pocketstack.compute.rpcapi import ComputeAgentClient
from pocketstack.compute.server_actions import check_lock
from pocketstack.image.exceptions import ImageNotFound

if TYPE_CHECKING:
    from pocketstack.service import Cloud

# the rebuild tasks and their transitions are in ``states``
REBUILDING = states.REBUILDING
REBUILD_BLOCK_DEVICE_MAPPING = states.REBUILD_BLOCK_DEVICE_MAPPING
REBUILD_SPAWNING = states.REBUILD_SPAWNING
REBUILD_TASKS = states.REBUILD_TASKS
#: the agent's step (Nova's event name)
EV_REBUILD = "compute_rebuild_instance"


@dataclass
class RebuildRequest:
    """A parsed ``rebuild`` body. ``key_name``/``user_data``/``description``: ``UNSET`` when
    absent (kept), ``None`` to remove."""

    image_ref: str
    name: str | None = None
    metadata: dict[str, str] | None = None
    admin_pass: str | None = None
    preserve_ephemeral: bool = False
    access_ip_v4: str | None = None
    access_ip_v6: str | None = None
    description: Any = "UNSET"
    key_name: Any = "UNSET"
    user_data: Any = "UNSET"
    trusted_image_certificates: list[str] = field(default_factory=list)


def _check_image(cloud: Cloud, ctx: RequestContext, row: Instance, image_ref: str) -> Any:
    try:
        image = image_meta(cloud.image.get_image_info(ctx, image_ref))
    except ImageNotFound:
        raise errors.BadRequest("Cannot find requested image") from None
    if image["status"] != "active":
        raise ImageNotActive.for_id(image_ref)
    if image["min_ram"] > row.memory_mb:
        raise errors.BadRequest("Flavor's memory is too small for requested image.")
    check_root_disk(row.root_gb, image)
    return image


def _new_spec(cloud: Cloud, row: Instance, image: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The stored spec with the new image, name, metadata, user data and keys."""
    spec = dict(row.spec or {"uuid": row.uuid})
    local = cloud.image.image_path(image["id"])
    spec["image"] = {
        "id": image["id"],
        "disk_format": image.get("disk_format"),
        "size": image.get("size"),
        "properties": dict(image.get("properties") or {}),
        "path": str(local) if local is not None else "",
        "url": f"{cloud.conf.public_url}/image/v2/images/{image['id']}/file",
    }
    spec["name"] = values.get("name", row.name)
    spec["metadata"] = dict(values.get("metadata_", row.metadata_) or {})
    spec["user_data"] = values.get("user_data", row.user_data)
    key_name, key_data = values.get("key_name", row.key_name), values.get("key_data", row.key_data)
    spec["public_keys"] = {key_name: key_data} if key_name and key_data else {}
    return spec


def rebuild(
    cloud: Cloud, ctx: RequestContext, server_id: str, request: RebuildRequest
) -> tuple[Instance, str]:
    """Begin rebuilding a server (see the module's docstring); returns the server as it is
    now (status REBUILD) and its admin password (``adminPass`` or a generated one, which
    Nova answers with).

    Raises:
        ServerNotFound, KeypairNotFound (404); errors.BadRequest (400): unknown or inactive
        image, too small a flavor, a volume-backed server; InstanceIsLocked,
        InstanceInvalidState, InstanceNotReady (409).
    """
    row = cloud.compute.servers.get(ctx, server_id)
    check_lock(ctx, row)
    states.check_action(row, "rebuild")
    if not row.host:
        raise InstanceNotReady(f"Instance {server_id} is not ready (it has no host).")
    if (row.spec or {}).get("boot_from_volume") or not row.image_ref:
        raise errors.BadRequest("Rebuilding a volume-backed server is not supported.")
    image = _check_image(cloud, ctx, row, request.image_ref)
    values: dict[str, Any] = {"image_ref": image["id"]}
    if request.name is not None:
        values["name"] = request.name
    if request.metadata is not None:
        values["metadata_"] = dict(request.metadata)
    if request.access_ip_v4 is not None:
        values["access_ip_v4"] = request.access_ip_v4
    if request.access_ip_v6 is not None:
        values["access_ip_v6"] = request.access_ip_v6
    if request.description != "UNSET":
        values["description"] = request.description
    if request.user_data != "UNSET":
        values["user_data"] = request.user_data
    if request.key_name != "UNSET":
        key = cloud.compute.keypairs.get(ctx, request.key_name) if request.key_name else None
        values["key_name"] = key.name if key else None
        values["key_data"] = key.public_key if key else None
    spec = _new_spec(cloud, row, image, values)
    spec["rebuild"] = {
        "preserve_ephemeral": request.preserve_ephemeral,
        "power_off": row.vm_state == states.STOPPED,
        "image_name": image.get("name"),
    }
    changed = actions.update_instance(
        cloud.db,
        row.uuid,
        {"vm_state": row.vm_state, "task_state": row.task_state},
        task_state=REBUILDING,
        spec=spec,
        **values,
    )
    if not changed:
        raise InstanceNotReady(f"Instance {row.uuid} changed state; try again.")
    actions.start_action(cloud.db, ctx, row.uuid, "rebuild")
    # the answer shows the server as the API left it (REBUILD, task rebuilding), as Nova's
    # does, not whatever step the agent has reached by the time it is read again
    server = cloud.compute.servers.get(ctx, server_id)
    ComputeAgentClient(cloud.bus).rebuild_instance(ctx, str(row.host), row.uuid)
    password = request.admin_pass or secrets.token_urlsafe(9)
    return server, password


class RebuildReports:
    """The conductor's side of a rebuild (a mixin of ``Conductor``: needs ``self.db``)."""

    db: Any

    def rebuild_task_changed(
        self, ctx: RequestContext, instance_uuid: str, from_task: str, to_task: str
    ) -> bool:
        """A rebuild moved on from ``from_task`` to ``to_task`` (both rebuild tasks); written
        only if the server is still in ``from_task``. Returns whether it was."""
        if from_task not in REBUILD_TASKS or to_task not in REBUILD_TASKS:
            return False
        return actions.update_instance(
            self.db, instance_uuid, {"task_state": from_task}, task_state=to_task
        )

    def instance_rebuilt(
        self,
        ctx: RequestContext,
        instance_uuid: str,
        task_state: str,
        power_state: int,
        fault: dict[str, Any] | None,
    ) -> None:
        """A rebuild ended in ``task_state``: ACTIVE (SHUTOFF when the guest is off), or
        ERROR with ``fault``; the step and the action finish in the same transaction."""
        with self.db.transaction() as s:
            values: dict[str, Any] = {"task_state": None, "power_state": int(power_state)}
            if fault is None:
                running = int(power_state) == int(PowerState.RUNNING)
                values["vm_state"] = states.ACTIVE if running else states.STOPPED
                values["launched_at"] = utcnow()
            else:
                values["vm_state"] = states.ERROR
            actions.update_instance(s, instance_uuid, {"task_state": task_state}, **values)
            tb = None if fault is None else (fault.get("traceback") or fault["message"])
            actions.finish_event(s, ctx, instance_uuid, EV_REBUILD, tb)
            if fault is not None:
                actions.add_fault(s, instance_uuid, fault["message"], int(fault.get("code", 500)))
            from pocketstack.compute.evacuate import evacuation_finished

            evacuation_finished(s, instance_uuid, ok=fault is None)
            actions.finish_action(s, ctx, instance_uuid, error=fault is not None)
