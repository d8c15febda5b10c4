"""The Block Storage API's view of every resource (Block Storage API v3 reference): model
-> Cinder's JSON, per microversion and per caller (admin-only attributes)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from pocketstack.common import policy
from pocketstack.common.db import isotime
from pocketstack.common.http import ApiRequest
from pocketstack.volume.api.microversions import at_least
from pocketstack.volume.models import Snapshot, VolumeAttachment, VolumeType
from pocketstack.volume.quotas import QuotaUsage
from pocketstack.volume.services import ServiceRecord
from pocketstack.volume.volumes import SHOWN_ATTACHMENTS, VolumeRecord

#: the extra specs a non-admin sees (Cinder's ``USER_VISIBLE_EXTRA_SPECS``)
USER_VISIBLE_SPECS = ("RESKEY:availability_zones", "multiattach", "replication_enabled")


def links(req: ApiRequest, collection: str, item_id: str) -> list[dict[str, str]]:
    """Cinder's ``self`` and ``bookmark`` links of one resource."""
    project = req.params.get("project_id") or req.ctx.project_id
    return [
        {"rel": "self", "href": f"{req.base_url}/v3/{project}/{collection}/{item_id}"},
        {"rel": "bookmark", "href": f"{req.base_url}/{project}/{collection}/{item_id}"},
    ]


def next_links(
    req: ApiRequest, collection: str, items: list[Any], limit: int | None
) -> list[dict[str, str]]:
    """``<collection>_links``: ``[{"rel": "next", "href": ...}]`` when a page was filled up
    to ``limit`` (Cinder's ``_get_collection_links``): the request's query with ``marker``
    set to the last item's id, under the request's own form (``/v3/<collection>`` or
    ``/v3/{project_id}/<collection>``); ``[]`` otherwise.
    ``items`` have an ``id`` key."""
    if not limit or len(items) < limit:
        return []
    project = req.params.get("project_id")
    path = f"{project}/{collection}" if project else collection
    params = [(k, v) for k, v in req.query.multi_items() if k != "marker"]
    params.append(("marker", items[-1]["id"]))
    href = f"{req.base_url}/v3/{path}?{urlencode(params)}"
    return [{"rel": "next", "href": href}]


def volume_summary(req: ApiRequest, rec: VolumeRecord) -> dict[str, Any]:
    """``GET /volumes``: id, name, links."""
    v = rec.volume
    return {"id": v.id, "name": v.name, "links": links(req, "volumes", v.id)}


def volume_attachment(att: VolumeAttachment) -> dict[str, Any]:
    """One item of a volume's ``attachments``."""
    return {
        "server_id": att.instance_uuid,
        "attachment_id": att.id,
        "attached_at": isotime(att.attach_time),
        "host_name": att.attached_host,
        "volume_id": att.volume_id,
        "device": att.mountpoint,
        "id": att.volume_id,
    }


def volume(req: ApiRequest, rec: VolumeRecord, extended: bool = True) -> dict[str, Any]:
    """The detailed volume (``GET /volumes/{id}``, ``/volumes/detail``). ``extended``: add
    the attributes of Cinder's show/detail extensions (``volume_image_metadata``,
    ``os-vol-tenant-attr:tenant_id`` to the owner or an admin, ``os-vol-host-attr:host``
    and ``os-vol-mig-status-attr:*`` to an admin); Cinder's create (202) and update (200)
    answers carry none of them, and tempest's schemas for those refuse them."""
    v = rec.volume
    body: dict[str, Any] = {
        "id": v.id,
        "name": v.name,
        "description": v.description,
        "status": v.status,
        "size": v.size,
        "availability_zone": v.availability_zone,
        "created_at": isotime(v.created_at),
        "updated_at": isotime(v.updated_at),
        "attachments": [
            volume_attachment(a) for a in rec.attachments if a.attach_status in SHOWN_ATTACHMENTS
        ],
        "links": links(req, "volumes", v.id),
        "bootable": "true" if v.bootable else "false",
        "encrypted": bool(v.encrypted),
        "multiattach": bool(v.multiattach),
        "metadata": dict(v.metadata_ or {}),
        "snapshot_id": v.snapshot_id,
        "source_volid": v.source_volid,
        "consistencygroup_id": None,
        "volume_type": rec.type_name,
        "user_id": v.user_id,
        "replication_status": None,
    }
    body.update(_versioned_fields(req, v))
    if extended:
        body.update(_extension_fields(req, v))
    return body


def _extension_fields(req: ApiRequest, v: Any) -> dict[str, Any]:
    """The attributes Cinder's volume extensions add to ``GET`` show and detail only."""
    body: dict[str, Any] = {}
    if v.image_metadata and policy.allowed(
        req.ctx, "volume_extension:volume_image_metadata:show", {}
    ):
        body["volume_image_metadata"] = dict(v.image_metadata)
    if policy.allowed(req.ctx, "volume_extension:volume_tenant_attribute", {}):
        body["os-vol-tenant-attr:tenant_id"] = v.project_id
    if policy.allowed(req.ctx, "volume_extension:volume_host_attribute", {}):
        body["os-vol-host-attr:host"] = v.host
    if policy.allowed(req.ctx, "volume_extension:volume_mig_status_attribute", {}):
        body["os-vol-mig-status-attr:migstat"] = v.migration_status
        body["os-vol-mig-status-attr:name_id"] = None
    return body


def _versioned_fields(req: ApiRequest, v: Any) -> dict[str, Any]:
    """The volume fields later microversions add (3.13 ... 3.65)."""
    body: dict[str, Any] = {}
    if at_least(req, 13):
        body["group_id"] = None
    if at_least(req, 21) and req.ctx.is_admin:
        body["provider_id"] = None
    if at_least(req, 48):
        body["shared_targets"] = False
        body["service_uuid"] = None
    if at_least(req, 61) and req.ctx.is_admin:
        body["cluster_name"] = None
    if at_least(req, 63):
        body["volume_type_id"] = v.volume_type_id
    if at_least(req, 64):
        body["encryption_key_id"] = None
    if at_least(req, 65):
        body["consumes_quota"] = True
    return body


def snapshot(req: ApiRequest, snap: Snapshot, extended: bool = True) -> dict[str, Any]:
    """One snapshot (``GET /snapshots/{id}``). ``extended``: add Cinder's
    ``os-extended-snapshot-attributes:progress``/``project_id`` (its show/detail extension,
    ``volume_extension:extended_snapshot_attributes``); create and update answers and the
    plain list carry neither."""
    body: dict[str, Any] = {
        "id": snap.id,
        "name": snap.name,
        "description": snap.description,
        "status": snap.status,
        "size": snap.size,
        "volume_id": snap.volume_id,
        "created_at": isotime(snap.created_at),
        "updated_at": isotime(snap.updated_at),
        "metadata": dict(snap.metadata_ or {}),
    }
    if extended and policy.allowed(req.ctx, "volume_extension:extended_snapshot_attributes", {}):
        body["os-extended-snapshot-attributes:progress"] = snap.progress
        body["os-extended-snapshot-attributes:project_id"] = snap.project_id
    if at_least(req, 41):
        body["user_id"] = snap.user_id
    if at_least(req, 14):
        body["group_snapshot_id"] = None
    if at_least(req, 65):
        body["consumes_quota"] = True
    return body


def volume_type(req: ApiRequest, vtype: VolumeType) -> dict[str, Any]:
    """One volume type: an admin sees every extra spec, others only Cinder's
    user-visible ones (``multiattach``, ``RESKEY:availability_zones``...)."""
    specs = dict(vtype.extra_specs or {})
    if not req.ctx.is_admin:
        specs = {k: v for k, v in specs.items() if k in USER_VISIBLE_SPECS}
    return {
        "id": vtype.id,
        "name": vtype.name,
        "description": vtype.description,
        "is_public": bool(vtype.is_public),
        "os-volume-type-access:is_public": bool(vtype.is_public),
        "extra_specs": specs,
        "qos_specs_id": None,
    }


def attachment(att: VolumeAttachment, detail: bool = True) -> dict[str, Any]:
    """One attachment (``/attachments``): summary without the connection."""
    body: dict[str, Any] = {
        "id": att.id,
        "status": att.attach_status,
        "instance": att.instance_uuid,
        "volume_id": att.volume_id,
    }
    if detail:
        body.update(
            {
                "attached_at": isotime(att.attach_time),
                "detached_at": None,
                "attach_mode": att.attach_mode,
                "connection_info": att.connection_info or {},
            }
        )
    return body


def quota_set(project_id: str, limits: dict[str, Any]) -> dict[str, Any]:
    """``{"quota_set": {"id": project, <resource>: limit | {limit, in_use...}}}``."""

    def one(value: Any) -> Any:
        if isinstance(value, QuotaUsage):
            return {
                "limit": value.limit,
                "in_use": value.in_use,
                "reserved": value.reserved,
                "allocated": value.allocated,
            }
        return value

    return {"quota_set": {"id": project_id, **{k: one(v) for k, v in limits.items()}}}


def service(req: ApiRequest, rec: ServiceRecord) -> dict[str, Any]:
    """One ``os-services`` row."""
    row = rec.service
    body: dict[str, Any] = {
        "binary": row.binary,
        "host": rec.shown_host,
        "zone": row.availability_zone,
        "status": "disabled" if row.disabled else "enabled",
        "state": "up" if rec.up else "down",
        "updated_at": isotime(row.updated_at),
        "disabled_reason": row.disabled_reason,
    }
    if row.binary == "cinder-volume":
        body.update({"replication_status": "disabled", "frozen": False, "active_backend_id": None})
    if at_least(req, 7):
        body["cluster"] = None
    if at_least(req, 49) and row.binary == "cinder-volume":
        body["backend_state"] = "up" if rec.up else "down"
    return body
