"""Project usage (API reference "Usage reports (os-simple-tenant-usage)") and the usage
audit log (``os-instance-usage-audit-log``).

``cloud.compute.usage`` (``Usage``): for a period ``[start, end)``, each server whose life
(``launched_at`` to ``terminated_at``, or now) overlaps it counts the seconds of the overlap,
exactly, as hours (seconds / 3600); a project's totals are those hours times the server's
vCPUs (VCPU-hours), memory MiB (MB-hours) and root + ephemeral GiB (GB-hours), as Nova's
``SimpleTenantUsageController`` computes them. Deleted servers count until they ended.
"""

from __future__ import annotations

import builtins
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import utcnow
from pocketstack.compute.models import Instance, Service

if TYPE_CHECKING:
    from pocketstack.service import Cloud


@dataclass(frozen=True)
class ServerUsage:
    """One server's share of a period: ``hours`` of it (float), its size, its state
    (``terminated`` once ended) and ``uptime`` seconds (launch to end or now)."""

    instance: Instance
    hours: float
    state: str
    uptime: int
    started_at: dt.datetime
    ended_at: dt.datetime | None


@dataclass
class ProjectUsage:
    """A project's usage over ``[start, stop)``: hours and the three totals."""

    project_id: str
    start: dt.datetime
    stop: dt.datetime
    total_hours: float = 0.0
    total_vcpus_usage: float = 0.0
    total_memory_mb_usage: float = 0.0
    total_local_gb_usage: float = 0.0
    servers: list[ServerUsage] = field(default_factory=list)


def _server_usage(
    row: Instance, start: dt.datetime, stop: dt.datetime, now: dt.datetime
) -> ServerUsage:
    launched = row.launched_at
    assert launched is not None  # selected so
    ended = row.terminated_at
    begin = max(launched, start)
    end = min(ended or now, stop)
    seconds = max((end - begin).total_seconds(), 0.0)
    return ServerUsage(
        instance=row,
        hours=seconds / 3600.0,
        state="terminated" if ended else row.vm_state,
        uptime=int(((ended or now) - launched).total_seconds()),
        started_at=launched,
        ended_at=ended,
    )


class Usage:
    """``cloud.compute.usage``: ``projects`` (every project, admin) and ``project``."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def _rows(
        self, start: dt.datetime, stop: dt.datetime, project_id: str | None
    ) -> builtins.list[Instance]:
        query = (
            sa.select(Instance)
            .where(
                Instance.launched_at.is_not(None),
                Instance.launched_at < stop,
                sa.or_(Instance.terminated_at.is_(None), Instance.terminated_at > start),
            )
            .order_by(Instance.project_id, Instance.launched_at, Instance.uuid)
        )
        if project_id is not None:
            query = query.where(Instance.project_id == project_id)
        with self.cloud.db.reader() as s:
            return list(s.scalars(query))

    def projects(
        self,
        ctx: RequestContext,
        start: dt.datetime,
        stop: dt.datetime,
        project_id: str | None = None,
    ) -> builtins.list[ProjectUsage]:
        """Usage of every project with servers in the period (only ``project_id``'s when
        given), by project id. Times are naive UTC."""
        now = utcnow()
        result: dict[str, ProjectUsage] = {}
        for row in self._rows(start, stop, project_id):
            usage = result.setdefault(row.project_id, ProjectUsage(row.project_id, start, stop))
            server = _server_usage(row, start, stop, now)
            usage.servers.append(server)
            usage.total_hours += server.hours
            usage.total_vcpus_usage += server.hours * row.vcpus
            usage.total_memory_mb_usage += server.hours * row.memory_mb
            usage.total_local_gb_usage += server.hours * (row.root_gb + (row.ephemeral_gb or 0))
        return list(result.values())

    def project(
        self, ctx: RequestContext, project_id: str, start: dt.datetime, stop: dt.datetime
    ) -> ProjectUsage:
        """One project's usage (zeros when it had no server in the period)."""
        found = self.projects(ctx, start, stop, project_id)
        return found[0] if found else ProjectUsage(project_id, start, stop)

    def compute_hosts(self, ctx: RequestContext) -> builtins.list[str]:
        """The compute hosts (the usage audit log's ``hosts_not_run``: no audit task runs
        here)."""
        with self.cloud.db.reader() as s:
            return sorted(set(s.scalars(sa.select(Service.host).where(Service.topic == "compute"))))
