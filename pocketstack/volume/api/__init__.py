"""The Block Storage API (Cinder v3) under ``/volume`` (Block Storage API v3 reference).

``GET /volume/`` and ``/volume/v3[/]`` are the version documents; every other path is
served twice, as ``/v3/<path>`` and ``/v3/{project_id}/<path>`` (``microversions.
volume_route``). Errors are Cinder's fault bodies (``errors``), every answer names its
microversion (``microversions``). ``ROUTES`` is a flat list: another family appends its own
(``ROUTES += backups.BACKUP_ROUTES``) before ``API`` is built.
"""

from __future__ import annotations

from pocketstack.common.http import RouteSpec, ServiceAPI, route
from pocketstack.volume import policies as _policies  # noqa: F401  (registers the rules)
from pocketstack.volume.api import (
    attachments,
    extensions,
    microversions,
    quotas,
    schemas,
    services,
    snapshots,
    types,
    versions,
    volume_actions,
    volumes,
)
from pocketstack.volume.api.backups import BACKUP_ROUTES
from pocketstack.volume.api.errors import RENDERERS
from pocketstack.volume.api.microversions import volume_route as r

VOL = "/volumes/{volume_id}"
SNAP = "/snapshots/{snapshot_id}"
TYPE = "/types/{type_id}"
ATT = "/attachments/{attachment_id}"
QUOTA = "/os-quota-sets/{target_project_id}"

ROUTES: list[RouteSpec] = [
    route("GET", "/", versions.list_versions, auth=False),
    route("GET", "/v3", versions.get_version, auth=False),
    route("GET", "/v3/", versions.get_version, auth=False),
    # volumes ("detail" before "{volume_id}")
    *r("GET", "/volumes/detail", volumes.list_volumes_detail),
    *r("GET", "/volumes/summary", volumes.get_volumes_summary),
    *r("GET", "/volumes", volumes.list_volumes),
    *r("POST", "/volumes", volumes.create_volume, schema=schemas.VOLUME_CREATE),
    # "/volumes/" (an empty id) is 404, not the collection
    *r("GET", "/volumes/", volumes.empty_volume_id),
    *r("PUT", "/volumes/", volumes.empty_volume_id),
    *r("DELETE", "/volumes/", volumes.empty_volume_id),
    *r("GET", VOL, volumes.get_volume),
    *r("PUT", VOL, volumes.update_volume, schema=schemas.VOLUME_UPDATE),
    *r("DELETE", VOL, volumes.delete_volume),
    *r("POST", VOL + "/action", volume_actions.run_volume_action, schema=schemas.VOLUME_ACTION),
    *r("GET", VOL + "/metadata", volumes.get_metadata),
    *r("POST", VOL + "/metadata", volumes.create_metadata, schema=schemas.METADATA_BODY),
    *r("PUT", VOL + "/metadata", volumes.replace_metadata, schema=schemas.METADATA_BODY),
    *r("GET", VOL + "/metadata/{key}", volumes.get_metadata_item),
    *r("PUT", VOL + "/metadata/{key}", volumes.update_metadata_item, schema=schemas.META_ITEM),
    *r("DELETE", VOL + "/metadata/{key}", volumes.delete_metadata_item),
    # snapshots
    *r("GET", "/snapshots/detail", snapshots.list_snapshots_detail),
    *r("GET", "/snapshots", snapshots.list_snapshots),
    *r("POST", "/snapshots", snapshots.create_snapshot, schema=schemas.SNAPSHOT_CREATE),
    *r("GET", SNAP, snapshots.get_snapshot),
    *r("PUT", SNAP, snapshots.update_snapshot, schema=schemas.SNAPSHOT_UPDATE),
    *r("DELETE", SNAP, snapshots.delete_snapshot),
    *r("POST", SNAP + "/action", snapshots.run_snapshot_action, schema=schemas.SNAPSHOT_ACTION),
    *r("GET", SNAP + "/metadata", snapshots.get_metadata),
    *r("POST", SNAP + "/metadata", snapshots.create_metadata, schema=schemas.METADATA_BODY),
    *r("PUT", SNAP + "/metadata", snapshots.replace_metadata, schema=schemas.METADATA_BODY),
    *r("GET", SNAP + "/metadata/{key}", snapshots.get_metadata_item),
    *r("PUT", SNAP + "/metadata/{key}", snapshots.update_metadata_item, schema=schemas.META_ITEM),
    *r("DELETE", SNAP + "/metadata/{key}", snapshots.delete_metadata_item),
    # volume types
    *r("GET", "/types", types.list_types),
    *r("POST", "/types", types.create_type, schema=schemas.TYPE_CREATE),
    *r("GET", TYPE, types.get_type),
    *r("PUT", TYPE, types.update_type, schema=schemas.TYPE_UPDATE),
    *r("DELETE", TYPE, types.delete_type),
    *r("POST", TYPE + "/action", types.run_type_action, schema=schemas.TYPE_ACTION),
    *r("GET", TYPE + "/os-volume-type-access", types.list_type_access),
    *r("GET", TYPE + "/extra_specs", types.list_extra_specs),
    *r("POST", TYPE + "/extra_specs", types.create_extra_specs, schema=schemas.EXTRA_SPECS),
    *r("GET", TYPE + "/extra_specs/{key}", types.get_extra_spec),
    *r(
        "PUT",
        TYPE + "/extra_specs/{key}",
        types.update_extra_spec,
        schema=schemas.EXTRA_SPEC_ITEM,
    ),
    *r("DELETE", TYPE + "/extra_specs/{key}", types.delete_extra_spec),
    # attachments (3.27+)
    *r("GET", "/attachments/detail", attachments.list_attachments_detail),
    *r("GET", "/attachments", attachments.list_attachments),
    *r("POST", "/attachments", attachments.create_attachment, schema=schemas.ATTACHMENT_CREATE),
    *r("GET", ATT, attachments.get_attachment),
    *r("PUT", ATT, attachments.update_attachment, schema=schemas.ATTACHMENT_UPDATE),
    *r("DELETE", ATT, attachments.delete_attachment),
    *r(
        "POST",
        ATT + "/action",
        attachments.run_attachment_action,
        schema=schemas.ATTACHMENT_ACTION,
    ),
    # quotas, limits, services, zones
    *r("GET", QUOTA, quotas.get_quota_set),
    *r("PUT", QUOTA, quotas.update_quota_set, schema=schemas.QUOTA_UPDATE),
    *r("DELETE", QUOTA, quotas.delete_quota_set),
    *r("GET", QUOTA + "/defaults", quotas.get_quota_defaults),
    *r("GET", "/limits", quotas.get_limits),
    *r("GET", "/os-services", services.list_services),
    *r("PUT", "/os-services/{action}", services.update_service, schema=schemas.SERVICE_UPDATE),
    *r("GET", "/os-availability-zone", services.list_availability_zones),
    *r("GET", "/extensions", extensions.list_extensions),
    *r("GET", "/os-hosts", extensions.list_hosts),
]

ROUTES += BACKUP_ROUTES  # backups (api/backups.py)

API = ServiceAPI(
    "volume", "/volume", RENDERERS, ROUTES, response_headers=microversions.response_headers
)
