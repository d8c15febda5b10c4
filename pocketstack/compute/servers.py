"""Servers: the lifecycle requests of the Nova "Servers" and "Servers - run an action" APIs.

``cloud.compute.servers`` (``Servers``) is the controller side of the compute workflow
(ARCHITECTURE.md "The compute workflow"): it validates a request completely before it writes
anything, records the server and an instance action in one transaction, and hands the work
to the conductor (builds, deletes) or to the server's compute agent (power actions, console)
over the bus. It returns detached ``Instance`` rows; the API layer renders them.

Builds: the image is looked up once, here; what the build needs of it and an admin's forced
host travel to the conductor in the request spec (``request_spec``), never the user's token.

Deletes: recorded here (task state ``deleting``, action ``delete``), carried out by the
conductor (``Conductor.delete_instance``): the host's agent destroys the guest when its
compute service is up, and every delete ends in ``Conductor.finish_delete``.
"""

from __future__ import annotations

import builtins
import datetime as dt
import re
import secrets
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common import errors, paging
from pocketstack.common.auth import RequestContext
from pocketstack.common.config import Config
from pocketstack.common.db import Database, new_id, utcnow
from pocketstack.compute import actions, block_device, controllers, device_tags, states
from pocketstack.compute.block_device import BlockDeviceRequest
from pocketstack.compute.exceptions import (
    AvailabilityZoneNotFound,
    ConsoleNotAvailable,
    FlavorMemoryTooSmall,
    ImageNotActive,
    InstanceNotReady,
    MetadataItemNotFound,
    ServerNotFound,
)
from pocketstack.compute.models import (
    BlockDeviceMapping,
    ComputeNode,
    Flavor,
    Instance,
    InstanceAction,
    InstanceFault,
)
from pocketstack.compute.request_spec import ImageMeta, RequestSpec, check_root_disk, image_meta
from pocketstack.compute.rpcapi import ComputeAgentClient, ConductorClient
from pocketstack.compute.server_actions import check_lock
from pocketstack.compute.tags import tag_filter

if TYPE_CHECKING:
    from pocketstack.service import Cloud

#: API sort keys (Nova's names and ours) -> Instance columns
SORT_KEYS = {
    "created_at": "created_at",
    "updated_at": "updated_at",
    "launched_at": "launched_at",
    "terminated_at": "terminated_at",
    "display_name": "name",
    "name": "name",
    "display_description": "description",
    "description": "description",
    "uuid": "uuid",
    "id": "uuid",
    "hostname": "hostname",
    "host": "host",
    "node": "node",
    "vm_state": "vm_state",
    "task_state": "task_state",
    "power_state": "power_state",
    "key_name": "key_name",
    "project_id": "project_id",
    "user_id": "user_id",
    "availability_zone": "availability_zone",
    "image_ref": "image_ref",
    "flavor_id": "flavor_id",
    "instance_type_id": "flavor_id",
    "locked": "locked",
}

#: how servers are sorted and paged (Nova: newest first; a key without a direction takes the
#: last given one, else ``desc``; the uuid breaks ties)
SORT = paging.SortSpec(
    columns={key: getattr(Instance, column) for key, column in SORT_KEYS.items()},
    default=[("created_at", paging.DESC)],
    tie_breaker=Instance.uuid,
    default_dir=paging.DESC,
)


def _project(ctx: RequestContext) -> str:
    """The caller's project; servers are only created with a project-scoped token.

    Raises:
        errors.Forbidden: the token is not scoped to a project.
    """
    if ctx.project_id is None:
        raise errors.Forbidden("A project-scoped token is required to create servers.")
    return ctx.project_id


def sanitize_hostname(name: str, default: str) -> str:
    """A DNS label from a server name, as Nova derives it: lowercase, spaces and ``_`` to
    ``-``, other characters outside ``[a-z0-9.-]`` dropped, ``.``/``-`` trimmed at the ends,
    at most 63 characters; ``default`` when nothing is left."""
    text = name.lower()
    text = re.sub(r"[ _]", "-", text)
    text = re.sub(r"[^\w.-]+", "", text, flags=re.ASCII).replace("_", "-")
    text = text[:63].strip(".-")
    return text or default


def _parse_time(value: Any, name: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return (
            value.replace(tzinfo=None)
            if value.tzinfo is None
            else value.astimezone(dt.UTC).replace(tzinfo=None)
        )
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise errors.BadRequest(f"Invalid {name} value: {value!r}") from None
    return _parse_time(parsed, name) if parsed.tzinfo else parsed


def _flavor_snapshot(flavor: Flavor) -> dict[str, Any]:
    """The copy of the flavor a server keeps (Nova's embedded flavor; survives its deletion)."""
    return {
        "id": flavor.flavorid,
        "name": flavor.name,
        "vcpus": flavor.vcpus,
        "ram": flavor.memory_mb,
        "disk": flavor.root_gb,
        "ephemeral": flavor.ephemeral_gb,
        "swap": flavor.swap,
        "extra_specs": dict(flavor.extra_specs or {}),
    }


class Servers:
    """``cloud.compute.servers``: create, read, change and delete servers.

    Every function takes the caller's ``RequestContext``; a server of another project is
    ``ServerNotFound`` (404) unless the caller is admin.
    """

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.conf: Config = cloud.conf
        self.db: Database = cloud.db
        self.conductor = ConductorClient(cloud.bus)
        self.agents = ComputeAgentClient(cloud.bus)

    # ------------------------------------------------------------------ create

    def create(
        self,
        ctx: RequestContext,
        *,
        name: str,
        image_id: str | None,
        flavor_id: str,
        networks: list[dict[str, Any]] | str,
        key_name: str | None = None,
        user_data: str | None = None,
        metadata: dict[str, str] | None = None,
        availability_zone: str | None = None,
        security_groups: list[str] | None = None,
        min_count: int = 1,
        max_count: int = 1,
        description: str | None = None,
        access_ip_v4: str | None = None,
        access_ip_v6: str | None = None,
        config_drive: bool = True,
        block_device_mapping: list[BlockDeviceRequest] | None = None,
        group: str | None = None,
        tags: list[str] | None = None,
        hostname: str | None = None,
        host: str | None = None,
        hypervisor_hostname: str | None = None,
        scheduler_hints: dict[str, list[str]] | None = None,
    ) -> list[Instance]:
        """Validate a boot request, record the servers (BUILD) and cast them to the conductor.

        ``networks``: ``[{"uuid", "fixed_ip"?} | {"port"}]``, or ``"auto"`` (the project's
        network) or ``"none"``. ``user_data``: base64 text. ``block_device_mapping``: the
        parsed ``block_device_mapping_v2`` (``block_device``); a volume of boot index 0
        makes the server volume-backed (``image_id`` may then be empty). Several servers
        (``max_count`` > 1) are named ``name-1``, ``name-2``... Nothing is written unless
        every check passes (API reference "Create Server"). ``group``: the ``group``
        scheduler hint, a server group of the caller's project the servers join. ``tags``
        (2.26); ``hostname`` (2.90: the guest's hostname, one server only); ``host`` /
        ``hypervisor_hostname`` (2.74, admins: the server must land there).
        ``scheduler_hints``: ``same_host``/``different_host`` (``compute.scheduler_hints``).

        Raises:
            ImageNotFound (404); InvalidFlavorRef, ImageNotActive, FlavorMemoryTooSmall,
            FlavorDiskTooSmall, AvailabilityZoneNotFound, BadRequest (400); KeypairNotFound
            (404); QuotaExceeded (403); network errors from ``cloud.network``.
        """
        started = utcnow()
        flavor = self.cloud.compute.flavors.get(ctx, flavor_id, for_boot=True)
        bdms = list(block_device_mapping or [])
        block_device.check_local_disks(bdms, flavor.ephemeral_gb, flavor.swap)
        boot_volume = block_device.boot_volume(bdms)
        image = self._boot_image(ctx, image_id or block_device.image_root(bdms), flavor, bdms)
        requested = self._check_networks(ctx, networks)
        key_data = (
            self.cloud.compute.keypairs.get(ctx, key_name, for_boot=True).public_key
            if key_name
            else None
        )
        groups = list(security_groups or ["default"])
        if requested:
            # kept by name, as Nova shows them (an id given is shown as its group's name)
            groups = self.cloud.compute.server_security_groups.names(ctx, _project(ctx), groups)
            self.cloud.network.security_group_ids(ctx, _project(ctx), groups)
        if group is not None:
            self.cloud.compute.server_groups.check_hint(ctx, group)
        zone, force_host = self._check_zone(ctx, availability_zone)
        if host or hypervisor_hostname:
            force_host = self._check_requested_host(ctx, host, hypervisor_hostname)
        if hostname is not None and max_count > 1:
            raise errors.BadRequest("Cannot set hostname when booting multiple servers.")
        count = self._check_quota(ctx, flavor, min_count, max_count)
        self.cloud.compute.volumes.check_request(ctx, bdms, image, zone, count)
        rows = self._new_rows(
            ctx,
            name=name,
            count=count,
            flavor=flavor,
            image=image if boot_volume is None else {**image, "id": ""},
            requested=requested,
            key_name=key_name,
            key_data=key_data,
            user_data=user_data,
            metadata=metadata or {},
            zone=zone,
            groups=groups,
            description=description,
            access_ip_v4=access_ip_v4,
            access_ip_v6=access_ip_v6,
            config_drive=config_drive,
        )
        if hostname is not None:
            rows[0].hostname = hostname
        self._record_created(ctx, rows, started, bdms, group, tags or [])
        self._recheck_quota(ctx, rows)
        spec: RequestSpec = {
            "image": image,
            "force_host": force_host,
            "volume_backed": boot_volume is not None,
            "scheduler_hints": dict(scheduler_hints or {}),
        }
        self.conductor.build_instances(ctx, [r.uuid for r in rows], spec)
        return rows

    def _record_created(
        self,
        ctx: RequestContext,
        rows: list[Instance],
        started: dt.datetime,
        bdms: list[BlockDeviceRequest],
        group: str | None = None,
        tags: list[str] | None = None,
    ) -> None:
        """Insert the new rows with their ``create`` actions (validation timed from
        ``started``), their requested volumes (``bdms``), server ``group`` and ``tags``."""
        with self.db.transaction() as s:
            s.add_all(rows)
            s.flush()
            if group is not None:
                self.cloud.compute.server_groups.add_members(s, group, [r.uuid for r in rows])
            for row in rows:
                self.cloud.compute.volumes.record_requested(s, row.uuid, bdms)
                self.cloud.compute.tags.record(s, row.uuid, tags or [])
                action = actions.start_action(s, ctx, row.uuid, "create", start_time=started)
                actions.record_event(s, action, actions.EV_AUTHORIZE, started, utcnow())

    def _boot_image(
        self,
        ctx: RequestContext,
        image_id: str | None,
        flavor: Flavor,
        bdms: list[BlockDeviceRequest],
    ) -> ImageMeta:
        """The image of a boot request (``_check_image``); for a volume-backed server the
        image of its boot volume's source, or none (an existing volume: an empty
        ``ImageMeta``), and the flavor's root disk is not checked against it.

        Raises:
            errors.BadRequest: no image and no boot volume (Nova's boot sequence message).
        """
        boot = block_device.boot_volume(bdms)
        if boot is None:
            if not image_id:
                raise block_device.invalid(
                    "Boot sequence for the instance and image/block device mapping "
                    "combination is not valid."
                )
            return self._check_image(ctx, image_id, flavor)
        if boot["source_type"] == "image":
            return self._check_image(ctx, str(boot["uuid"]), flavor, root_disk=False)
        return {
            "id": "",
            "name": None,
            "status": "active",
            "disk_format": None,
            "size": None,
            "virtual_size": None,
            "min_disk": 0,
            "min_ram": 0,
            "properties": {},
        }

    def _check_image(
        self, ctx: RequestContext, image_id: str, flavor: Flavor, root_disk: bool = True
    ) -> ImageMeta:
        """The image of a boot request, looked up (the only time in a build) and checked
        against the flavor; what the build needs of it.

        Raises:
            ImageNotFound (404); ImageNotActive, FlavorMemoryTooSmall, FlavorDiskTooSmall
            (400).
        """
        image = image_meta(self.cloud.image.get_image_info(ctx, image_id))
        if image["status"] != "active":
            raise ImageNotActive.for_id(image_id)
        if image["min_ram"] > flavor.memory_mb:
            raise FlavorMemoryTooSmall()
        if root_disk:
            check_root_disk(flavor.root_gb, image)
        return image

    def _check_networks(
        self, ctx: RequestContext, networks: list[dict[str, Any]] | str
    ) -> list[dict[str, Any]]:
        if networks == "none":
            return []
        if networks == "auto":
            networks = []
        if not isinstance(networks, list):
            raise errors.BadRequest("networks must be a list, 'auto' or 'none'.")
        checked = list(self.cloud.network.validate_networks(ctx, networks))
        return device_tags.keep_tags(networks, checked)

    def _check_zone(
        self, ctx: RequestContext, requested: str | None
    ) -> tuple[str | None, str | None]:
        """``az``, or ``az:host`` (admins force a host, as in Nova) -> (zone, forced host)."""
        if not requested:
            return None, None
        zone, _, host = requested.partition(":")
        host = host.partition(":")[0]
        if host and not ctx.is_admin:
            raise errors.PolicyNotAuthorized(
                "Policy doesn't allow os_compute_api:servers:create:forced_host to be performed."
            )
        if zone and not self.cloud.compute.hypervisors.availability_zone_exists(zone):
            raise AvailabilityZoneNotFound()
        return zone or None, host or None

    def _check_quota(
        self, ctx: RequestContext, flavor: Flavor, min_count: int, max_count: int
    ) -> int:
        """The number of servers to make: ``max_count``, else ``min_count`` if that fits."""
        if min_count < 1 or max_count < min_count:
            raise errors.BadRequest("min_count must be >= 1 and <= max_count.")
        quotas = self.cloud.compute.quotas
        try:
            quotas.check_instances(
                ctx,
                _project(ctx),
                max_count,
                flavor.vcpus * max_count,
                flavor.memory_mb * max_count,
            )
            return max_count
        except errors.QuotaExceeded:
            if min_count == max_count:
                raise
        quotas.check_instances(
            ctx, _project(ctx), min_count, flavor.vcpus * min_count, flavor.memory_mb * min_count
        )
        return min_count

    def _recheck_quota(self, ctx: RequestContext, rows: list[Instance]) -> None:
        """Nova's quota recheck: concurrent creates may all have passed the first check, so
        count again with the new rows in; over a limit, remove them and refuse (403)."""
        quotas = self.cloud.compute.quotas
        limits, used = quotas.get_limits(_project(ctx)), quotas.usage(_project(ctx))
        wanted = {
            "instances": len(rows),
            "cores": sum(r.vcpus for r in rows),
            "ram": sum(r.memory_mb for r in rows),
        }
        for resource, amount in wanted.items():
            limit = limits.get(resource, -1)
            if 0 <= limit < used.get(resource, 0):
                uuids = [r.uuid for r in rows]
                with self.db.transaction() as s:
                    s.execute(
                        sa.delete(InstanceAction).where(InstanceAction.instance_uuid.in_(uuids))
                    )
                    s.execute(
                        sa.delete(BlockDeviceMapping).where(
                            BlockDeviceMapping.instance_uuid.in_(uuids)
                        )
                    )
                    s.execute(sa.delete(Instance).where(Instance.uuid.in_(uuids)))
                raise errors.QuotaExceeded(
                    f"Quota exceeded for {resource}: Requested {amount}, but already used "
                    f"{used[resource] - amount} of {limit} {resource}"
                )

    def _check_requested_host(self, ctx: RequestContext, host: str | None, node: str | None) -> str:
        """The host of a 2.74 ``host``/``hypervisor_hostname`` request (admins only): a
        compute host that exists, and whose hypervisor is ``node`` when both are given.

        Raises:
            errors.PolicyNotAuthorized (403); ComputeHostNotFound-like 400s as Nova.
        """
        if not ctx.is_admin:
            raise errors.PolicyNotAuthorized(
                "Policy doesn't allow compute:servers:create:requested_destination to be performed."
            )
        with self.db.reader() as s:
            query = sa.select(ComputeNode)
            if host:
                query = query.where(ComputeNode.host == host)
            if node:
                query = query.where(ComputeNode.hypervisor_hostname == node)
            found = s.scalars(query).first()
        if found is None:
            if host and not node:
                raise errors.BadRequest(f"Compute host {host} could not be found.")
            raise errors.BadRequest(f"Compute host {host or node} could not be found.")
        return found.host

    def _new_rows(
        self,
        ctx: RequestContext,
        *,
        name: str,
        count: int,
        flavor: Flavor,
        image: ImageMeta,
        requested: list[dict[str, Any]],
        **fields: Any,
    ) -> list[Instance]:
        reservation = "r-" + secrets.token_hex(4)
        snapshot = _flavor_snapshot(flavor)
        rows = []
        for index in range(count):
            uuid = new_id()
            display = f"{name}-{index + 1}" if count > 1 else name
            rows.append(
                Instance(
                    uuid=uuid,
                    name=display,
                    hostname=sanitize_hostname(display, f"server-{uuid}"),
                    project_id=ctx.project_id,
                    user_id=ctx.user_id,
                    image_ref=image["id"],
                    flavor=snapshot,
                    flavor_id=flavor.flavorid,
                    vcpus=flavor.vcpus,
                    memory_mb=flavor.memory_mb,
                    root_gb=flavor.root_gb,
                    ephemeral_gb=flavor.ephemeral_gb,
                    vm_state=states.CREATED[0],
                    task_state=states.CREATED[1],
                    power_state=0,
                    # this controller's until a conductor takes it: if this process dies
                    # before casting the build, the build is recovered as this one's
                    controller_id=controllers.controller_id(self.conf),
                    requested_availability_zone=fields["zone"],
                    key_name=fields["key_name"],
                    key_data=fields["key_data"],
                    user_data=fields["user_data"],
                    metadata_=dict(fields["metadata"]),
                    security_groups=fields["groups"],
                    requested_networks=requested,
                    config_drive=fields["config_drive"],
                    launch_index=index,
                    reservation_id=reservation,
                    access_ip_v4=fields["access_ip_v4"],
                    access_ip_v6=fields["access_ip_v6"],
                    description=fields["description"],
                    created_at=utcnow(),
                    updated_at=utcnow(),
                    # set explicitly: the returned rows are detached and must be fully loaded
                    host=None,
                    node=None,
                    availability_zone=None,
                    launched_at=None,
                    terminated_at=None,
                    deleted_at=None,
                    spec=None,
                    network_info=[],
                    deleted=False,
                    locked=False,
                )
            )
        return rows

    # ------------------------------------------------------------------ read

    def get(self, ctx: RequestContext, server_id: str, include_deleted: bool = False) -> Instance:
        """One server visible to the caller.

        Raises:
            ServerNotFound: unknown, deleted (unless ``include_deleted``), or another
                project's server for a non-admin.
        """
        with self.db.reader() as s:
            row = s.get(Instance, server_id)
        if (
            row is None
            or (row.deleted and not include_deleted)
            or not (ctx.is_admin or ctx.owns(row.project_id))
        ):
            raise ServerNotFound.for_id(server_id)
        return row

    def list(
        self,
        ctx: RequestContext,
        *,
        filters: dict[str, Any],
        all_projects: bool = False,
        limit: int | None = None,
        marker: str | None = None,
        sort_keys: list[str] | None = None,
        sort_dirs: list[str] | None = None,
    ) -> list[Instance]:
        """Servers matching ``filters`` (API reference "List Servers").

        Filter keys: ``name`` (regular expression searched in the name, as Nova), ``status``
        (API status), ``image``, ``flavor``, ``host``, ``project_id`` (admins), ``user_id``,
        ``availability_zone``, ``changes-since`` (ISO time; includes deleted servers),
        ``ip`` (regular expression on fixed IPs), ``deleted`` (only deleted servers).
        Default order: newest first. Sorting, ``marker`` (a server uuid) and ``limit`` are
        done in SQL (``common.paging``); so is every filter but ``ip`` (see ``_ip_page``).

        Raises:
            errors.BadRequest: an unknown sort key or direction, a marker that is not in the
                list, or a malformed filter value.
        """
        query = sa.select(Instance)
        if not (ctx.is_admin and all_projects):
            query = query.where(Instance.project_id == ctx.project_id)
        elif filters.get("project_id"):
            query = query.where(Instance.project_id == filters["project_id"])
        query = _apply_filters(query, filters)
        order = SORT.order(sort_keys, sort_dirs)
        ip = _ip_regex(filters["ip"]) if filters.get("ip") else None

        def marker_row(s: Session, uuid: str) -> Instance | None:
            row = s.scalars(query.where(Instance.uuid == uuid)).first()
            return row if row is not None and (ip is None or _ip_matches(row, ip)) else None

        with self.db.reader() as s:
            if ip is None:
                page = paging.paginate(
                    s, query, order, limit=limit, marker=marker, marker_row=marker_row
                )
                return builtins.list(s.scalars(page))
            return _ip_page(s, query, order, ip, limit, marker, marker_row)

    def faults(self, uuids: builtins.list[str]) -> dict[str, InstanceFault]:
        """The latest fault of each server that has one (for the views)."""
        if not uuids:
            return {}
        with self.db.reader() as s:
            rows = s.scalars(
                sa.select(InstanceFault)
                .where(InstanceFault.instance_uuid.in_(uuids))
                .order_by(InstanceFault.id)
            )
            return {f.instance_uuid: f for f in rows}

    # ------------------------------------------------------------------ change

    def update(
        self,
        ctx: RequestContext,
        server_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        hostname: str | None = None,
        clear_description: bool = False,
        access_ip_v4: str | None = None,
        access_ip_v6: str | None = None,
    ) -> Instance:
        """Rename a server or change its description (``clear_description``: set it to
        null), its guest ``hostname`` (2.90) or its access addresses (``accessIPv4``/
        ``accessIPv6``, canonical text) (``PUT /servers/{id}``).

        Raises:
            ServerNotFound.
        """
        self.get(ctx, server_id)
        with self.db.transaction() as s:
            row = s.get(Instance, server_id)
            if row is None or row.deleted:
                raise ServerNotFound.for_id(server_id)
            if name is not None:
                row.name = name
            if description is not None or clear_description:
                row.description = description
            if hostname is not None:
                row.hostname = hostname
            if access_ip_v4 is not None:
                row.access_ip_v4 = access_ip_v4
            if access_ip_v6 is not None:
                row.access_ip_v6 = access_ip_v6
            row.updated_at = utcnow()
        return row

    def update_metadata(
        self, ctx: RequestContext, server_id: str, metadata: dict[str, str], replace: bool
    ) -> dict[str, str]:
        """Merge ``metadata`` into the server's (or replace it all); returns the result.

        Raises:
            ServerNotFound.
        """
        self.get(ctx, server_id)
        with self.db.transaction() as s:
            row = s.get(Instance, server_id)
            if row is None or row.deleted:
                raise ServerNotFound.for_id(server_id)
            merged = dict(metadata) if replace else {**(row.metadata_ or {}), **metadata}
            row.metadata_ = merged
            row.updated_at = utcnow()
        return merged

    def delete_metadata_item(self, ctx: RequestContext, server_id: str, key: str) -> None:
        """Remove one metadata key.

        Raises:
            ServerNotFound; MetadataItemNotFound: the server has no such key.
        """
        self.get(ctx, server_id)
        with self.db.transaction() as s:
            row = s.get(Instance, server_id)
            if row is None or row.deleted:
                raise ServerNotFound.for_id(server_id)
            current = dict(row.metadata_ or {})
            if key not in current:
                raise MetadataItemNotFound()
            del current[key]
            row.metadata_ = current
            row.updated_at = utcnow()

    # ------------------------------------------------------------------ actions

    def delete(self, ctx: RequestContext, server_id: str) -> None:
        """Delete a server in any state (``DELETE /servers/{id}``; 204): record it, then let
        the conductor carry it out (``Conductor.delete_instance``; a server without a host
        or on a down host is deleted when this returns, one on a live host by its agent).

        Raises:
            ServerNotFound; MessagingTimeout (503) when no conductor answers in 30 s (the
            delete stays recorded; a conductor's start-up finishes one without a host, an
            agent's start-up one on its host).
        """
        row = self.get(ctx, server_id)
        check_lock(ctx, row)
        states.check_action(row, "delete")
        with self.db.transaction() as s:
            inst = s.get(Instance, server_id)
            if inst is None or inst.deleted:
                raise ServerNotFound.for_id(server_id)
            states.transition(inst, task_state=states.DELETING)
            inst.updated_at = utcnow()
            actions.start_action(s, ctx, server_id, "delete")
        self.cloud.compute.consoles.tokens.revoke_instance(server_id)  # its console URLs die
        self.conductor.delete_instance(ctx, server_id)

    def stop(self, ctx: RequestContext, server_id: str) -> None:
        """Power a server off (``os-stop``; 202).

        Raises:
            ServerNotFound; InstanceInvalidState (409) unless ACTIVE or ERROR.
        """
        self._power_action(ctx, server_id, "stop", states.POWERING_OFF, "stop_instance")

    def start(self, ctx: RequestContext, server_id: str) -> None:
        """Power a stopped server on (``os-start``; 202).

        Raises:
            ServerNotFound; InstanceInvalidState (409) unless SHUTOFF.
        """
        self._power_action(ctx, server_id, "start", states.POWERING_ON, "start_instance")

    def reboot(self, ctx: RequestContext, server_id: str, hard: bool) -> None:
        """Reboot a server (``reboot``: SOFT from ACTIVE; HARD also from SHUTOFF/ERROR).

        Raises:
            ServerNotFound; InstanceInvalidState (409) in other states.
        """
        if hard:
            self._power_action(
                ctx, server_id, "reboot_hard", states.REBOOTING_HARD, "reboot_instance", hard=True
            )
        else:
            self._power_action(
                ctx, server_id, "reboot", states.REBOOTING, "reboot_instance", hard=False
            )

    def _power_action(
        self, ctx: RequestContext, server_id: str, action: str, task: str, method: str, **args: Any
    ) -> None:
        row = self.get(ctx, server_id)
        check_lock(ctx, row)
        states.check_action(row, action)
        if not row.host:
            raise InstanceNotReady(f"Instance {server_id} is not ready (it has no host).")
        changed = actions.update_instance(
            self.db,
            server_id,
            {"vm_state": row.vm_state, "task_state": row.task_state},
            task_state=task,
        )
        if not changed:  # someone else changed the state in between: re-check and refuse
            states.check_action(self.get(ctx, server_id), action)
            raise InstanceNotReady(f"Instance {server_id} changed state; try again.")
        actions.start_action(self.db, ctx, server_id, action.partition("_")[0])
        getattr(self.agents, method)(ctx, row.host, server_id, **args)

    def console_output(self, ctx: RequestContext, server_id: str, length: int | None) -> str:
        """The server's serial console log, the last ``length`` lines when given.

        Raises:
            ServerNotFound; InstanceNotReady (409) while building; ConsoleNotAvailable
            (404); MessagingTimeout (503) when the agent does not answer in 30 s.
        """
        row = self.get(ctx, server_id)
        if row.vm_state == states.BUILDING or not row.host:
            raise InstanceNotReady(f"Instance {server_id} is not ready yet.")
        states.check_action(row, "console_output")
        text = self.agents.get_console_output(ctx, row.host, server_id, length)
        if text is None:
            raise ConsoleNotAvailable()
        return text


def _apply_filters(query: Any, filters: dict[str, Any]) -> Any:
    if filters.get("deleted") and str(filters["deleted"]).lower() not in ("false", "0"):
        query = query.where(Instance.deleted.is_(True))
    elif filters.get("changes-since") is None and filters.get("changes-before") is None:
        query = query.where(Instance.deleted.is_(False))
    if filters.get("changes-since") is not None:
        since = _parse_time(filters["changes-since"], "changes-since")
        query = query.where(Instance.updated_at >= since)
    if filters.get("changes-before") is not None:  # 2.66
        before = _parse_time(filters["changes-before"], "changes-before")
        query = query.where(Instance.updated_at <= before)
    if filters.get("locked") is not None:  # 2.73
        locked = str(filters["locked"]).lower() in ("true", "1", "yes", "on")
        query = query.where(Instance.locked.is_(locked))
    if filters.get("name"):
        query = query.where(Instance.name.regexp_match(str(filters["name"])))
    simple = {
        "image": Instance.image_ref,
        "flavor": Instance.flavor_id,
        "host": Instance.host,
        "user_id": Instance.user_id,
        "availability_zone": Instance.availability_zone,
    }
    for key, column in simple.items():
        if filters.get(key) is not None:
            query = query.where(column == str(filters[key]))
    for condition in tag_filter(Instance.uuid, filters):
        query = query.where(condition)
    if filters.get("status"):
        vm_states, task_states = states.states_for_status(str(filters["status"]))
        query = query.where(Instance.vm_state.in_(vm_states))
        if task_states is not None:
            query = query.where(Instance.task_state.in_(task_states))
    return query


#: rows read per query while the ``ip`` filter pages in Python (``_ip_page``)
IP_FILTER_BATCH = 200


def _ip_page(
    s: Session,
    query: sa.Select[Any],
    order: list[tuple[Any, str]],
    ip: re.Pattern[str],
    limit: int | None,
    marker: str | None,
    marker_row: Any,
) -> list[Instance]:
    """A page of the servers whose fixed IPs match ``ip``.

    The ``ip`` filter is a regular expression over the addresses inside the ``network_info``
    JSON, which no SQL dialect pocketstack runs on (SQLite, PostgreSQL, MySQL) searches the
    same way; so it stays in Python, and paging stays right: the rows are read in SQL keyset
    batches of ``IP_FILTER_BATCH`` in the list's order, starting after the marker (which
    must itself match), until ``limit`` matching rows are found or the rows run out.
    """
    found: list[Instance] = []
    after, lookup = marker, marker_row
    while True:  # the first batch is read even for limit 0: it checks the marker
        batch = list(
            s.scalars(
                paging.paginate(
                    s, query, order, limit=IP_FILTER_BATCH, marker=after, marker_row=lookup
                )
            )
        )
        found += [row for row in batch if _ip_matches(row, ip)]
        if len(batch) < IP_FILTER_BATCH or (limit is not None and len(found) >= limit):
            return found[:limit]
        last = batch[-1]
        after, lookup = last.uuid, (lambda _s, _uuid, last=last: last)


def _ip_regex(pattern: Any) -> re.Pattern[str]:
    try:
        return re.compile(str(pattern))
    except re.error:
        raise errors.BadRequest(f"Invalid ip filter: {pattern!r}") from None


def _ip_matches(row: Instance, regex: re.Pattern[str]) -> bool:
    for vif in row.network_info or []:
        for ip in vif.get("fixed_ips") or []:
            if regex.search(str(ip.get("ip_address", ""))):
                return True
    return False
