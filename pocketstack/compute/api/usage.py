"""Usage reports (API reference "Usage reports (os-simple-tenant-usage)") and the usage
audit log ("Server usage audit log (os-instance-usage-audit-log)"), 2.1 shapes.

``openstack usage list`` (admin: every project) and ``usage show`` (a project's own, or
any for an admin) over ``?start=&end=`` (ISO 8601, UTC; default now, i.e. an empty period;
end before start is 400). Hours and the VCPU/MB/GB-hour totals are exact to the second
(``compute.usage``). The audit log reports that no audit task ran on any compute host:
pocketstack keeps no audit periods (``hosts_not_run`` lists them all).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pocketstack.common import errors, policy
from pocketstack.common.db import utcnow
from pocketstack.common.http import ApiRequest
from pocketstack.compute.api.common import bool_param
from pocketstack.compute.usage import ProjectUsage, ServerUsage


def _parse(value: str | None, name: str) -> dt.datetime:
    if value is None:
        return utcnow()
    text = value.strip().replace(" ", "T").replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise errors.BadRequest(f"Invalid {name} time. The {name} time must be ISO 8601.") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def _period(req: ApiRequest) -> tuple[dt.datetime, dt.datetime]:
    start = _parse(req.query.get("start"), "start")
    end = _parse(req.query.get("end"), "end")
    if start > end:
        raise errors.BadRequest(
            "Invalid start time. The start time cannot occur after the end time."
        )
    return start, end


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _server_view(usage: ServerUsage) -> dict[str, Any]:
    row = usage.instance
    return {
        "instance_id": row.uuid,
        "name": row.name,
        "tenant_id": row.project_id,
        "flavor": (row.flavor or {}).get("name"),
        "hours": usage.hours,
        "vcpus": row.vcpus,
        "memory_mb": row.memory_mb,
        "local_gb": row.root_gb + (row.ephemeral_gb or 0),
        "started_at": _time(usage.started_at),
        "ended_at": _time(usage.ended_at),
        "state": usage.state,
        "uptime": usage.uptime,
    }


def usage_view(usage: ProjectUsage, detailed: bool) -> dict[str, Any]:
    """A project's ``tenant_usage`` (``server_usages`` when ``detailed``)."""
    view: dict[str, Any] = {
        "tenant_id": usage.project_id,
        "start": _time(usage.start),
        "stop": _time(usage.stop),
        "total_hours": usage.total_hours,
        "total_vcpus_usage": usage.total_vcpus_usage,
        "total_memory_mb_usage": usage.total_memory_mb_usage,
        "total_local_gb_usage": usage.total_local_gb_usage,
    }
    if detailed:
        view["server_usages"] = [_server_view(s) for s in usage.servers]
    return view


def list_tenant_usages(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-simple-tenant-usage?start=&end=&detailed=`` (admin): every project with
    servers in the period."""
    policy.enforce(req.ctx, "compute:os-simple-tenant-usage:list")
    start, end = _period(req)
    detailed = bool_param(req, "detailed")
    found = req.cloud.compute.usage.projects(req.ctx, start, end)
    return {"tenant_usages": [usage_view(u, detailed) for u in found]}


def get_tenant_usage(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-simple-tenant-usage/{tenant_id}?start=&end=``: one project's, with its
    servers (another project's: admin)."""
    policy.enforce(req.ctx, "compute:os-simple-tenant-usage:show")
    project_id = req.params["tenant_id"]
    if project_id != req.ctx.project_id:
        policy.enforce(req.ctx, "compute:os-simple-tenant-usage:show:other_project")
    start, end = _period(req)
    usage = req.cloud.compute.usage.project(req.ctx, project_id, start, end)
    return {"tenant_usage": usage_view(usage, detailed=True)}


def _audit_log(req: ApiRequest, before: dt.datetime) -> dict[str, Any]:
    hosts = req.cloud.compute.usage.compute_hosts(req.ctx)
    ending = before.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    beginning = (ending - dt.timedelta(days=1)).replace(day=1)
    return {
        "hosts_not_run": hosts,
        "log": {},
        "num_hosts": len(hosts),
        "num_hosts_done": 0,
        "num_hosts_not_run": len(hosts),
        "num_hosts_running": 0,
        "overall_status": f"0 of {len(hosts)} hosts done. 0 errors.",
        "period_beginning": str(beginning),
        "period_ending": str(ending),
        "total_errors": 0,
        "total_instances": 0,
    }


def list_usage_audit_logs(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-instance-usage-audit-log`` (admin): the last full month's audit."""
    policy.enforce(req.ctx, "compute:os-instance-usage-audit-log:list")
    return {"instance_usage_audit_logs": _audit_log(req, utcnow())}


def get_usage_audit_log(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-instance-usage-audit-log/{before_timestamp}`` (admin): the audit of the
    month before that time; 400 for a time that does not parse."""
    policy.enforce(req.ctx, "compute:os-instance-usage-audit-log:show")
    before = _parse(req.params["before_timestamp"], "before_timestamp")
    return {"instance_usage_audit_log": _audit_log(req, before)}
