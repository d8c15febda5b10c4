"""Cinder's extension list and host list (Block Storage API v3 reference, "API
extensions (extensions)", "Hosts extension (os-hosts)").

``GET /v3/{project_id}/extensions`` names the API extensions this cloud serves (each
``{"alias", "name", "description", "links": [], "updated"}``); Cinder always loads
``Hosts``, which tempest's ``test_list_extensions`` looks for. ``GET /os-hosts`` (admin)
lists the hosts of the Block Storage services.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.db import isotime
from pocketstack.common.http import ApiRequest

#: when each extension last changed (Cinder dates each one; one date serves here)
UPDATED = "2012-06-19T00:00:00+00:00"

#: (alias, name, description) of every extension served
EXTENSIONS: tuple[tuple[str, str, str], ...] = (
    ("os-hosts", "Hosts", "Admin-only list of the hosts of the volume services."),
    ("os-vol-tenant-attr", "VolumeTenantAttribute", "A volume's project as an attribute."),
    ("os-vol-host-attr", "VolumeHostAttribute", "A volume's host as an attribute (admin)."),
    ("os-vol-mig-status-attr", "VolumeMigStatusAttribute", "A volume's migration status."),
    ("os-vol-image-meta", "VolumeImageMetadata", "The image properties of a volume."),
    ("os-volume-actions", "VolumeActions", "Volume actions."),
    ("os-admin-actions", "AdminActions", "Admin-only state resets and force deletes."),
    ("os-snapshot-actions", "SnapshotActions", "Snapshot actions."),
    ("os-extended-snapshot-attributes", "ExtendedSnapshotAttributes", "Snapshot progress."),
    ("os-types-manage", "TypesManage", "Volume type management."),
    ("os-types-extra-specs", "TypesExtraSpecs", "Volume type extra specs."),
    ("os-volume-type-access", "VolumeTypeAccess", "Private volume types and their access."),
    ("os-quota-sets", "Quotas", "Quota management."),
    ("os-used-limits", "UsedLimits", "Used quota in the absolute limits."),
    ("os-services", "Services", "Volume service management."),
    ("os-availability-zone", "AvailabilityZones", "Availability zones."),
    ("backups", "Backups", "Volume backups."),
)


def list_extensions(req: ApiRequest) -> dict[str, Any]:
    """``GET /extensions``: ``{"extensions": [...]}`` (any authenticated caller)."""
    return {
        "extensions": [
            {"alias": a, "name": n, "description": d, "links": [], "updated": UPDATED}
            for a, n, d in EXTENSIONS
        ]
    }


def list_hosts(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-hosts`` (admin, ``volume_extension:hosts``): one item per service row,
    ``{"host_name", "service", "zone", "service-status": available|unavailable,
    "service-state": enabled|disabled, "last-update"}``."""
    policy.enforce(req.ctx, "volume_extension:hosts")
    hosts = []
    for rec in req.cloud.volume.services.list(req.ctx):
        row = rec.service
        hosts.append(
            {
                "host_name": rec.shown_host,
                "service": row.binary,
                "zone": row.availability_zone,
                "service-status": "available" if rec.up else "unavailable",
                "service-state": "disabled" if row.disabled else "enabled",
                "last-update": isotime(row.updated_at),
            }
        )
    return {"hosts": hosts}
