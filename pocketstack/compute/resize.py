"""Resize and cold migration, the API's side (API reference "Resize Server (resize
Action)", "Confirm Resized Server (confirmResize Action)", "Revert Resized Server
(revertResize Action)", "Migrate Server (migrate Action)").

``cloud.compute.resizes`` (``Resizes``) checks the request, begins the task with a
compare-and-set write, records the instance action and casts the conductor, which runs the
workflow (``resize_conductor``) with the agents (``agent_migrations``):

- ``resize(flavorRef)`` (member): ACTIVE or SHUTOFF, no task -> ``resize_prep`` ... ->
  VERIFY_RESIZE. 400: unknown flavor, the same flavor, a smaller root disk (not
  checked for a volume-backed server: its root disk is its volume); 403: a bigger flavor
  beyond the project's cores or ram quota (``Quotas.check_resize``).
- ``migrate(host?)`` (admin; ``host`` from 2.56): the same with the server's own flavor, to
  another host. 400: an unknown host, or the server's own.
- ``confirm_resize`` / ``revert_resize``: VERIFY_RESIZE only (409 otherwise).

Attached volumes and a boot volume follow the server (``volume_moves``): attachments for
the destination at the move, the source's deleted at confirm, the destination's at revert.

Every refusal in the wrong state is 409 ``Cannot '<action>' instance <id> while it is in
vm_state <x>``; a locked server refuses a member with 409.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.compute import actions, states
from pocketstack.compute.exceptions import InstanceNotReady
from pocketstack.compute.liveness import COMPUTE_BINARY
from pocketstack.compute.models import Instance, Service
from pocketstack.compute.rpcapi import ConductorClient

if TYPE_CHECKING:
    from pocketstack.service import Cloud

#: Nova's instance action names
_ACTION_NAMES = {
    "resize": "resize",
    "migrate": "migrate",
    "confirm_resize": "confirmResize",
    "revert_resize": "revertResize",
}


class Resizes:
    """``cloud.compute.resizes``: resize, migrate, confirm, revert (module docstring)."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.db = cloud.db

    @property
    def _conductor(self) -> ConductorClient:
        """The conductor's bus client (its resize messages: ``resize_rpc``)."""
        return ConductorClient(self.cloud.bus)

    def _checked(self, ctx: RequestContext, server_id: str, action: str) -> Instance:
        from pocketstack.compute.server_actions import check_lock

        row = self.cloud.compute.servers.get(ctx, server_id)
        check_lock(ctx, row)
        states.check_action(row, action)
        if not row.host:
            raise InstanceNotReady(f"Instance {server_id} is not ready (it has no host).")
        return row

    def _begin(self, ctx: RequestContext, row: Instance, action: str) -> None:
        changed = actions.update_instance(
            self.db,
            row.uuid,
            {"vm_state": row.vm_state, "task_state": row.task_state, "host": row.host},
            task_state=states.ACTION_TASKS[action],
        )
        if not changed:
            states.check_action(self.cloud.compute.servers.get(ctx, row.uuid), action)
            raise InstanceNotReady(f"Instance {row.uuid} changed state; try again.")
        actions.start_action(self.db, ctx, row.uuid, _ACTION_NAMES[action])

    def resize(self, ctx: RequestContext, server_id: str, flavor_ref: str) -> None:
        """Resize to the flavor ``flavor_ref`` (202).

        Raises:
            ServerNotFound (404); InstanceIsLocked, InstanceInvalidState (409);
            errors.BadRequest (400): unknown flavor, same flavor, smaller root disk
            of an image-backed server; errors.QuotaExceeded (403): the growth is over the
            project's cores or ram quota.
        """
        row = self._checked(ctx, server_id, "resize")
        try:
            flavor = self.cloud.compute.flavors.get(ctx, str(flavor_ref))
        except errors.NotFound:
            raise errors.BadRequest(f"Unable to find flavor {flavor_ref}.") from None
        old = dict(row.flavor or {})
        if str(old.get("id")) == flavor.flavorid:
            raise errors.BadRequest("When resizing, instances must change flavor!")
        volume_backed = bool((row.spec or {}).get("boot_from_volume"))
        # a volume-backed server's root disk is its volume: the flavor's disk does not
        # apply (Nova's resize checks the root disk only for image-backed servers)
        smaller_root = not volume_backed and flavor.root_gb < row.root_gb
        if smaller_root or flavor.ephemeral_gb < row.ephemeral_gb:
            raise errors.BadRequest(
                "Server disk was unable to be resized because: Unable to resize disk down."
            )
        new = {
            "id": flavor.flavorid,
            "db_id": flavor.id,
            "name": flavor.name,
            "vcpus": flavor.vcpus,
            "ram": flavor.memory_mb,
            "disk": flavor.root_gb,
            "ephemeral": flavor.ephemeral_gb,
            "swap": flavor.swap,
            "extra_specs": dict(flavor.extra_specs or {}),
        }
        self.cloud.compute.quotas.check_resize(ctx, row.project_id, old, new)
        self._begin(ctx, row, "resize")
        self._conductor.migrate_server(ctx, instance_uuid=row.uuid, new_flavor=new, host=None)

    def migrate(self, ctx: RequestContext, server_id: str, host: str | None = None) -> None:
        """Cold-migrate to another host (``host``: an admin's choice, 2.56) (202).

        Raises:
            ServerNotFound (404); InstanceIsLocked, InstanceInvalidState (409);
            errors.BadRequest (400): an unknown compute host or the server's own.
        """
        row = self._checked(ctx, server_id, "migrate")
        if host is not None:
            with self.db.reader() as s:
                known = s.scalar(
                    sa.select(Service.host).where(
                        Service.host == host, Service.binary == COMPUTE_BINARY
                    )
                )
            if known is None:
                raise errors.BadRequest(f"Compute host {host} could not be found.")
            if host == row.host:
                raise errors.BadRequest(
                    f"The target host can't be the same one of the instance {row.uuid}."
                )
        self._begin(ctx, row, "migrate")
        self._conductor.migrate_server(ctx, instance_uuid=row.uuid, new_flavor=None, host=host)

    def confirm_resize(self, ctx: RequestContext, server_id: str) -> None:
        """Confirm a resize or migration (VERIFY_RESIZE -> ACTIVE/SHUTOFF; 204).

        Raises:
            ServerNotFound (404); InstanceIsLocked, InstanceInvalidState (409).
        """
        row = self._checked(ctx, server_id, "confirm_resize")
        self._begin(ctx, row, "confirm_resize")
        self._conductor.confirm_resize_instance(ctx, instance_uuid=row.uuid)

    def revert_resize(self, ctx: RequestContext, server_id: str) -> None:
        """Revert a resize or migration: back on the source with the old flavor (202).

        Raises:
            ServerNotFound (404); InstanceIsLocked, InstanceInvalidState (409).
        """
        row = self._checked(ctx, server_id, "revert_resize")
        self._begin(ctx, row, "revert_resize")
        self._conductor.revert_resize_instance(ctx, instance_uuid=row.uuid)
