"""Compute quotas and limits (Nova ``os-quota-sets`` and ``limits``; API reference sections
"Quota sets (os-quota-sets)" and "Limits").

Each project has Nova's default limits unless a ``Quota`` row overrides one; ``-1`` means
unlimited. Usage is counted from the live tables (non-deleted instances of the project, the
user's keypairs) rather than kept in counters, so it can never drift.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.db import Database
from pocketstack.compute.models import Instance, KeyPair, Quota

if TYPE_CHECKING:
    from pocketstack.service import Cloud

#: Nova's default quotas (2.1 quota set; the network-related ones are informational).
DEFAULTS: dict[str, int] = {
    "instances": 10,
    "cores": 20,
    "ram": 51200,
    "key_pairs": 100,
    "metadata_items": 128,
    "server_groups": 10,
    "server_group_members": 10,
    "injected_files": 5,
    "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255,
    "fixed_ips": -1,
    "floating_ips": 10,
    "security_groups": 10,
    "security_group_rules": 20,
}

#: resources whose usage this service counts (others report 0 in use)
_COUNTED = ("instances", "cores", "ram", "key_pairs")


class QuotaUsage(NamedTuple):
    """A project's quota set and what it uses of it (resource name -> number; ``-1``
    limit: unlimited)."""

    limits: dict[str, int]
    in_use: dict[str, int]


class Quotas:
    """Quota logic; ``cloud.compute.quotas``. Returns plain numbers by resource name
    (``QuotaUsage``); ``api/views.py`` renders them as limits and quota sets."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.db: Database = cloud.db

    def get_limits(self, project_id: str) -> dict[str, int]:
        """Every resource's limit for ``project_id`` (defaults overlaid with overrides)."""
        with self.db.reader() as s:
            rows = s.scalars(sa.select(Quota).where(Quota.project_id == project_id))
            overrides = {q.resource: q.hard_limit for q in rows}
        return {name: overrides.get(name, default) for name, default in DEFAULTS.items()}

    def usage(self, project_id: str, user_id: str | None = None) -> dict[str, int]:
        """In-use counts: instances, cores, ram (MiB) of the project; key_pairs of the user."""
        with self.db.reader() as s:
            count, cores, ram = s.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.coalesce(sa.func.sum(Instance.vcpus), 0),
                    sa.func.coalesce(sa.func.sum(Instance.memory_mb), 0),
                ).where(Instance.project_id == project_id, Instance.deleted.is_(False))
            ).one()
            keys = 0
            if user_id:
                keys = (
                    s.scalar(
                        sa.select(sa.func.count())
                        .select_from(KeyPair)
                        .where(KeyPair.user_id == user_id)
                    )
                    or 0
                )
        used = {name: 0 for name in DEFAULTS}
        used.update(instances=int(count), cores=int(cores), ram=int(ram), key_pairs=int(keys))
        return used

    def check_instances(
        self, ctx: RequestContext, project_id: str, count: int, vcpus: int, memory_mb: int
    ) -> None:
        """Check that ``count`` more servers using ``vcpus`` cores and ``memory_mb`` MiB IN
        TOTAL (flavor size times ``count``) fit the project's instances, cores and ram quotas.

        Raises:
            errors.QuotaExceeded: 403 with Nova's message, e.g. "Quota exceeded for
            instances: Requested 1, but already used 10 of 10 instances".
        """
        limits = self.get_limits(project_id)
        used = self.usage(project_id)
        wanted = {"instances": count, "cores": vcpus, "ram": memory_mb}
        for resource in ("instances", "cores", "ram"):
            limit = limits[resource]
            if limit >= 0 and used[resource] + wanted[resource] > limit:
                raise errors.QuotaExceeded(
                    f"Quota exceeded for {resource}: Requested {wanted[resource]}, but already "
                    f"used {used[resource]} of {limit} {resource}"
                )

    def check_resize(
        self, ctx: RequestContext, project_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> None:
        """Check that a resize from flavor ``old`` to ``new`` (``vcpus``, ``ram`` MiB) fits
        the project's cores and ram quotas; only growth counts, as Nova's
        ``_check_quota_for_upsize`` (``compute/api.py``).

        Raises:
            errors.QuotaExceeded: 403 with Nova's message, e.g. "Quota exceeded for cores:
            Requested 1, but already used 2 of 2 cores".
        """
        wanted = {
            "cores": int(new.get("vcpus") or 0) - int(old.get("vcpus") or 0),
            "ram": int(new.get("ram") or 0) - int(old.get("ram") or 0),
        }
        if all(delta <= 0 for delta in wanted.values()):
            return
        limits = self.get_limits(project_id)
        used = self.usage(project_id)
        for resource, delta in wanted.items():
            limit = limits[resource]
            if delta > 0 and limit >= 0 and used[resource] + delta > limit:
                raise errors.QuotaExceeded(
                    f"Quota exceeded for {resource}: Requested {delta}, but already "
                    f"used {used[resource]} of {limit} {resource}"
                )

    def check_keypairs(self, ctx: RequestContext, project_id: str | None, total: int) -> None:
        """Check that a user may own ``total`` keypairs. Raises errors.QuotaExceeded."""
        limit = self.get_limits(project_id or "")["key_pairs"]
        if 0 <= limit < total:
            raise errors.QuotaExceeded("Quota exceeded, too many key pairs.")

    def limits(self, ctx: RequestContext, project_id: str | None) -> QuotaUsage:
        """What ``GET /limits`` shows of ``project_id``: its limits and the project's usage
        (keypairs not counted: the absolute limits show no keypair usage)."""
        project = project_id or ""
        return QuotaUsage(self.get_limits(project), self.usage(project))

    def get(self, ctx: RequestContext, project_id: str, *, detail: bool = False) -> QuotaUsage:
        """The quota set of a project, for ``os-quota-sets``; with ``detail`` (its
        ``/detail``) also its usage (the caller's keypairs when it is the caller's project),
        else ``in_use`` is ``{}`` and nothing is counted.

        Raises:
            errors.PolicyNotAuthorized: a non-admin asking for another project.
        """
        if not ctx.is_admin and not ctx.owns(project_id):
            raise errors.PolicyNotAuthorized(
                "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed."
            )
        used = {}
        if detail:
            used = self.usage(project_id, ctx.user_id if ctx.owns(project_id) else None)
        return QuotaUsage(self.get_limits(project_id), used)

    def defaults(self) -> dict[str, int]:
        """Nova's default quota set."""
        return dict(DEFAULTS)

    def update(
        self, ctx: RequestContext, project_id: str, values: dict[str, int], *, force: bool = False
    ) -> dict[str, int]:
        """Set limits of a project; returns its whole quota set.

        Raises:
            errors.BadRequest: an unknown resource, a value below -1, or (without ``force``)
            below what the project already uses.
        """
        unknown = sorted(set(values) - set(DEFAULTS))
        if unknown:
            raise errors.BadRequest(f"Bad key(s) {', '.join(unknown)} in quota_set")
        used = self.usage(project_id)
        for name, value in values.items():
            if value < -1:
                raise errors.BadRequest(f"Quota limit {value} for {name} must be -1 or greater.")
            if not force and name in _COUNTED and value != -1 and value < used[name]:
                raise errors.BadRequest(
                    f"Quota limit {value} for {name} must be greater "
                    f"than or equal to already used and reserved "
                    f"{used[name]}."
                )
        with self.db.transaction() as s:
            rows = {
                q.resource: q
                for q in s.scalars(sa.select(Quota).where(Quota.project_id == project_id))
            }
            for name, value in values.items():
                if name in rows:
                    rows[name].hard_limit = value
                else:
                    s.add(Quota(project_id=project_id, resource=name, hard_limit=value))
        return self.get_limits(project_id)

    def delete(self, ctx: RequestContext, project_id: str) -> None:
        """Revert a project to the default quotas (idempotent)."""
        with self.db.transaction() as s:
            s.execute(sa.delete(Quota).where(Quota.project_id == project_id))
