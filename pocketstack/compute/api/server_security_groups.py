"""A server's security groups (API reference "Servers Security Groups (servers,
os-security-groups)"), 2.1 shapes: ``GET /servers/{server_id}/os-security-groups`` and the
``addSecurityGroup``/``removeSecurityGroup`` actions (``server_actions.ACTIONS``), which
``openstack server add/remove security group`` and Ansible's server task call."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse
from pocketstack.network.secgroups import SecurityGroupRecord


def _rule_view(record: SecurityGroupRecord, rule: Any) -> dict[str, Any]:
    group: dict[str, Any] = {}
    if rule.remote_group_id:
        group = {"name": record.group.name if rule.remote_group_id == record.group.id else None}
        group["tenant_id"] = record.group.project_id
    return {
        "id": rule.id,
        "parent_group_id": record.group.id,
        "ip_protocol": rule.protocol,
        "from_port": rule.port_range_min,
        "to_port": rule.port_range_max,
        "ip_range": {"cidr": rule.remote_ip_prefix} if rule.remote_ip_prefix else {},
        "group": group,
    }


def security_group_view(record: SecurityGroupRecord) -> dict[str, Any]:
    """Nova's view of a Neutron group: ``{"id", "name", "description", "tenant_id",
    "rules": [...]}`` with the ingress rules (Nova's proxy shows no egress rules)."""
    return {
        "id": record.group.id,
        "name": record.group.name,
        "description": record.group.description,
        "tenant_id": record.group.project_id,
        "rules": [_rule_view(record, r) for r in record.rules if r.direction == "ingress"],
    }


def list_server_security_groups(req: ApiRequest) -> dict[str, Any]:
    """``GET /servers/{server_id}/os-security-groups`` → ``{"security_groups": [...]}``;
    404 for an unknown server."""
    policy.enforce(req.ctx, "compute:os-security-groups:list")
    groups = req.cloud.compute.server_security_groups.list(req.ctx, req.params["server_id"])
    return {"security_groups": [security_group_view(g) for g in groups]}


def add_security_group(req: ApiRequest, server_id: str, args: Any) -> ApiResponse:
    """``{"addSecurityGroup": {"name"}}`` → 202: the group (name or id) on every port of
    the server; 404 unknown group or a server without ports."""
    policy.enforce(req.ctx, "compute:os-security-groups:add")
    req.cloud.compute.server_security_groups.add(req.ctx, server_id, args["name"])
    return ApiResponse(status=202)


def remove_security_group(req: ApiRequest, server_id: str, args: Any) -> ApiResponse:
    """``{"removeSecurityGroup": {"name"}}`` → 202; 400 when the server does not have it."""
    policy.enforce(req.ctx, "compute:os-security-groups:remove")
    req.cloud.compute.server_security_groups.remove(req.ctx, server_id, args["name"])
    return ApiResponse(status=202)
