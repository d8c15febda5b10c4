"""Block storage quotas (Cinder's ``os-quota-sets``; Block Storage API v3 reference
"Quota sets extension (os-quota-sets)"): per-project limits counted from the rows a project
owns, as Neutron's quotas here (``network/quotas.py``).

- ``volumes``, ``snapshots``, ``backups``: rows not deleted; ``gigabytes``: the sizes of
  the project's volumes and snapshots (Cinder counts both); ``backup_gigabytes``: of its
  backups; ``per_volume_gigabytes``: the largest one volume may be.
- Defaults from ``[volume] quota_<resource>``; ``-1`` is unlimited.
- ``check(session, conf, project_id, volumes=..., gigabytes=..., ...)``: what a create or
  extend calls in its write transaction before writing. Raises Cinder's 413s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.volume import exceptions as exc
from pocketstack.volume.models import Backup, Snapshot, Volume, VolumeQuota

if TYPE_CHECKING:
    from pocketstack.service import Cloud

#: the resources, in Cinder's order (``openstack quota show`` shows them)
RESOURCES = (
    "volumes",
    "snapshots",
    "gigabytes",
    "backups",
    "backup_gigabytes",
    "per_volume_gigabytes",
)
#: the largest limit taken (a 32-bit column)
MAX_LIMIT = 2**31 - 1


def defaults(conf: Any) -> dict[str, int]:
    """Every resource's default limit (``[volume] quota_<resource>``)."""
    return {r: int(getattr(conf, f"quota_{r}")) for r in RESOURCES}


def limits(session: Session, conf: Any, project_id: str) -> dict[str, int]:
    """The limits of ``project_id``: its overrides over the defaults."""
    result = defaults(conf)
    rows = session.execute(
        sa.select(VolumeQuota.resource, VolumeQuota.hard_limit).where(
            VolumeQuota.project_id == project_id
        )
    )
    for resource, limit in rows:
        if resource in result:
            result[resource] = limit
    return result


def usage(session: Session, project_id: str) -> dict[str, int]:
    """What ``project_id`` uses of each counted resource (``per_volume_gigabytes``: 0)."""

    def count_and_size(model: Any) -> tuple[int, int]:
        row = session.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(model.size), 0)).where(
                model.project_id == project_id, model.deleted.is_(False)
            )
        ).one()
        return int(row[0]), int(row[1])

    volumes, volume_gb = count_and_size(Volume)
    snapshots, snapshot_gb = count_and_size(Snapshot)
    backups, backup_gb = count_and_size(Backup)
    return {
        "volumes": volumes,
        "snapshots": snapshots,
        "gigabytes": volume_gb + snapshot_gb,
        "backups": backups,
        "backup_gigabytes": backup_gb,
        "per_volume_gigabytes": 0,
    }


def _serialize(session: Session, project_id: str) -> None:
    """Make concurrent quota checks of one project wait for each other until commit (a
    PostgreSQL advisory lock; SQLite writers are serialized by ``BEGIN IMMEDIATE``)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(f"{project_id}\0volume".encode(), digest_size=8).digest()
    session.execute(
        sa.select(sa.func.pg_advisory_xact_lock(int.from_bytes(digest, "big", signed=True)))
    )


def check(
    session: Session,
    conf: Any,
    project_id: str,
    *,
    volumes: int = 0,
    snapshots: int = 0,
    gigabytes: int = 0,
    backups: int = 0,
    backup_gigabytes: int = 0,
    volume_size: int | None = None,
) -> None:
    """Refuse to add the given amounts to ``project_id`` past its limits; call it in the
    write transaction that adds them.

    Raises (413, Cinder's ``OverQuota`` family):
        VolumeSizeExceedsLimit: ``volume_size`` over ``per_volume_gigabytes``.
        VolumeLimitExceeded: one volume, snapshot or backup too many.
        VolumeSizeExceedsAvailableQuota: ``gigabytes``/``backup_gigabytes`` over the quota.
    """
    _serialize(session, project_id)
    limit = limits(session, conf, project_id)
    per_volume = limit["per_volume_gigabytes"]
    if volume_size is not None and 0 <= per_volume < volume_size:
        raise exc.VolumeSizeExceedsLimit(volume_size, per_volume)
    used = usage(session, project_id)
    for name, delta in (("volumes", volumes), ("snapshots", snapshots), ("backups", backups)):
        if delta and 0 <= limit[name] < used[name] + delta:
            raise exc.VolumeLimitExceeded(limit[name], name)
    for name, delta in (("gigabytes", gigabytes), ("backup_gigabytes", backup_gigabytes)):
        if delta and 0 <= limit[name] < used[name] + delta:
            raise exc.VolumeSizeExceedsAvailableQuota(delta, limit[name], used[name], name)


@dataclass(frozen=True)
class QuotaUsage:
    """One resource of ``GET /os-quota-sets/{project_id}?usage=True``."""

    limit: int
    in_use: int
    reserved: int = 0
    allocated: int = 0


class Quotas:
    """``cloud.volume.quotas``: what ``os-quota-sets`` and ``/limits`` call (the API
    authorizes: admins set and delete, a project reads its own)."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def get(self, ctx: RequestContext, project_id: str) -> dict[str, int]:
        """The limits of ``project_id``."""
        with self.cloud.db.reader() as s:
            return limits(s, self.cloud.conf, project_id)

    def details(self, ctx: RequestContext, project_id: str) -> dict[str, QuotaUsage]:
        """Limit and use of each resource of ``project_id``."""
        with self.cloud.db.reader() as s:
            used = usage(s, project_id)
            return {
                r: QuotaUsage(lim, used[r])
                for r, lim in limits(s, self.cloud.conf, project_id).items()
            }

    def defaults(self) -> dict[str, int]:
        """The default limits."""
        return defaults(self.cloud.conf)

    def update(
        self, ctx: RequestContext, project_id: str, changes: Mapping[str, int]
    ) -> dict[str, int]:
        """Set some limits of ``project_id`` (``-1``: unlimited); returns all its limits.

        Raises:
            InvalidInput (400): an unknown key, or a limit below -1 or past ``MAX_LIMIT``.
            InvalidQuotaValue (400): a limit below what the project uses (Cinder: "Quota
            limit must be equal or greater than existing resources").
        """
        unknown = sorted(k for k in changes if k not in RESOURCES)
        if unknown:
            raise exc.InvalidInput(f"Bad key(s) {', '.join(unknown)} in quota_set")
        for resource, limit in changes.items():
            if not -1 <= limit <= MAX_LIMIT:
                raise exc.InvalidQuotaValue(
                    f"Quota limit {limit} for {resource} must be in the range of -1 and "
                    f"{MAX_LIMIT}."
                )
        with self.cloud.db.transaction() as s:
            used = usage(s, project_id)
            for resource, limit in changes.items():
                if 0 <= limit < used[resource]:
                    raise exc.InvalidQuotaValue(
                        f"Quota {resource} limit must be equal or greater than existing "
                        f"resources. Current usage is {used[resource]} and the requested "
                        f"limit is {limit}."
                    )
                row = s.scalar(
                    sa.select(VolumeQuota).where(
                        VolumeQuota.project_id == project_id, VolumeQuota.resource == resource
                    )
                )
                if row is None:
                    s.add(VolumeQuota(project_id=project_id, resource=resource, hard_limit=limit))
                else:
                    row.hard_limit = limit
            s.flush()
            return limits(s, self.cloud.conf, project_id)

    def delete(self, ctx: RequestContext, project_id: str) -> None:
        """Put ``project_id`` back on the defaults (no error when it had none)."""
        with self.cloud.db.transaction() as s:
            s.execute(sa.delete(VolumeQuota).where(VolumeQuota.project_id == project_id))
