"""The answers of server groups, aggregates, usage, the usage audit log, migrations, a
server's security groups and interfaces, and diagnostics, checked against the schemas
tempest publishes for them (``tempest.lib.api_schema.response.compute``), each at the
microversions whose shape differs (aggregates 2.41, server groups 2.13 and 2.64,
interfaces 2.70, diagnostics 2.48). Session cloud, fake hypervisor."""

from __future__ import annotations

import datetime as dt
import importlib
import uuid
from typing import Any

import pytest
from tempest.lib.common.jsonschema_validator import FORMAT_CHECKER, JSONSCHEMA_VALIDATOR

ADMIN = "pocketstack-admin"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _check(resp: Any, version: str, module: str, name: str) -> dict[str, Any]:
    """The answer's JSON once its status and body match tempest's schema ``name`` of
    ``compute/v<version>/<module>.py``."""
    package = "tempest.lib.api_schema.response.compute.v" + version.replace(".", "_")
    schema = getattr(importlib.import_module(f"{package}.{module}"), name)
    assert resp.status_code in schema["status_code"], resp.text
    body = resp.json() if resp.content else {}
    if "response_body" in schema:
        JSONSCHEMA_VALIDATOR(schema["response_body"], format_checker=FORMAT_CHECKER).validate(body)
    return body


def _call(conn: Any, method: str, url: str, version: str, **kwargs: Any) -> Any:
    return conn.compute.request(url, method, microversion=version, raise_exc=False, **kwargs)


@pytest.mark.parametrize("version", ["2.1", "2.41"])
def test_aggregates_match_tempest(running_cloud, version):
    admin = running_cloud.sdk(ADMIN)
    host = next(s.host for s in admin.compute.services() if s.binary == "nova-compute")
    body = {"aggregate": {"name": _name("tagg"), "availability_zone": "az-t"}}
    made = _check(
        _call(admin, "POST", "/os-aggregates", version, json=body),
        version,
        "aggregates",
        "create_aggregate",
    )
    path = f"/os-aggregates/{made['aggregate']['id']}"
    try:
        _check(_call(admin, "GET", path, version), version, "aggregates", "get_aggregate")
        _check(
            _call(admin, "GET", "/os-aggregates", version), version, "aggregates", "list_aggregates"
        )
        rename = {"aggregate": {"name": body["aggregate"]["name"] + "-r"}}
        _check(
            _call(admin, "PUT", path, version, json=rename),
            version,
            "aggregates",
            "update_aggregate",
        )
        meta = {"set_metadata": {"metadata": {"k": "v"}}}
        _check(
            _call(admin, "POST", path + "/action", version, json=meta),
            version,
            "aggregates",
            "aggregate_set_metadata",
        )
        for action in ("add_host", "remove_host"):
            _check(
                _call(admin, "POST", path + "/action", version, json={action: {"host": host}}),
                version,
                "aggregates",
                "aggregate_add_remove_host",
            )
    finally:
        _check(_call(admin, "DELETE", path, version), version, "aggregates", "delete_aggregate")


@pytest.mark.parametrize("version", ["2.1", "2.13", "2.64"])
def test_server_groups_match_tempest(running_cloud, version):
    demo = running_cloud.sdk()
    if version == "2.64":
        body = {"server_group": {"name": _name("tsg"), "policy": "anti-affinity"}}
        body["server_group"]["rules"] = {"max_server_per_host": 3}
    else:
        body = {"server_group": {"name": _name("tsg"), "policies": ["affinity"]}}
    made = _check(
        _call(demo, "POST", "/os-server-groups", version, json=body),
        version,
        "server_groups",
        "create_show_server_group",
    )
    path = f"/os-server-groups/{made['server_group']['id']}"
    _check(_call(demo, "GET", path, version), version, "server_groups", "create_show_server_group")
    _check(
        _call(demo, "GET", "/os-server-groups", version),
        version,
        "server_groups",
        "list_server_groups",
    )
    _check(_call(demo, "DELETE", path, version), version, "server_groups", "delete_server_group")


def test_usage_audit_log_and_migrations_match_tempest(running_cloud):
    admin = running_cloud.sdk(ADMIN)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    period = f"start={(now - dt.timedelta(days=1)).isoformat()}&end={now.isoformat()}"
    listed = _check(
        _call(admin, "GET", f"/os-simple-tenant-usage?detailed=1&{period}", "2.1"),
        "2.1",
        "tenant_usages",
        "list_tenant_usage",
    )
    demo = running_cloud.sdk()
    project = demo.current_project_id
    _check(
        _call(demo, "GET", f"/os-simple-tenant-usage/{project}?{period}", "2.1"),
        "2.1",
        "tenant_usages",
        "get_tenant_usage",
    )
    assert isinstance(listed["tenant_usages"], list)
    logs = "instance_usage_audit_logs"
    _check(
        _call(admin, "GET", "/os-instance-usage-audit-log", "2.1"),
        "2.1",
        logs,
        "list_instance_usage_audit_log",
    )
    _check(
        _call(admin, "GET", "/os-instance-usage-audit-log/2026-11-15%2010:00:00", "2.1"),
        "2.1",
        logs,
        "get_instance_usage_audit_log",
    )
    for version in ("2.1", "2.23", "2.59", "2.80"):
        _check(
            _call(admin, "GET", "/os-migrations", version), version, "migrations", "list_migrations"
        )


def test_a_servers_groups_interfaces_and_diagnostics_match_tempest(running_cloud, made):
    cloud = running_cloud
    server = cloud.create_server(_name("tschema"), wait=True)
    made["servers"].append(server["id"])
    demo, admin = cloud.sdk(), cloud.sdk(ADMIN)
    base = f"/servers/{server['id']}"
    _check(
        _call(demo, "GET", base + "/os-security-groups", "2.1"),
        "2.1",
        "security_groups",
        "list_security_groups",
    )
    for version in ("2.1", "2.70"):
        listed = _check(
            _call(demo, "GET", base + "/os-interface", version),
            version,
            "interfaces",
            "list_interfaces",
        )
        port_id = listed["interfaceAttachments"][0]["port_id"]
        _check(
            _call(demo, "GET", f"{base}/os-interface/{port_id}", version),
            version,
            "interfaces",
            "get_create_interfaces",
        )
    net = next(demo.network.networks(name="private"))
    attached = _check(
        _call(
            demo,
            "POST",
            base + "/os-interface",
            "2.70",
            json={"interfaceAttachment": {"net_id": net.id}},
        ),
        "2.70",
        "interfaces",
        "get_create_interfaces",
    )
    new_port = attached["interfaceAttachment"]["port_id"]
    _check(
        _call(demo, "DELETE", f"{base}/os-interface/{new_port}", "2.70"),
        "2.70",
        "interfaces",
        "delete_interface",
    )
    _check(
        _call(admin, "GET", base + "/diagnostics", "2.48"),
        "2.48",
        "servers",
        "show_server_diagnostics",
    )
