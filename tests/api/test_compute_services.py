"""Compute services before 2.53 (API reference "Compute services (os-services)"): the
``openstack`` CLI's ``compute service set`` at 2.1 (``PUT /os-services/disable``,
``/disable-log-reason``, ``/enable``) and at 2.11 (``PUT /os-services/force-down``), the 2.53
form (``PUT /os-services/{service_uuid}``) beside them, and their refusals by plain HTTP:
400 for a missing field, 404 for an unknown host, binary or action, 403 for a non-admin."""

from __future__ import annotations

from typing import Any

import pytest

ADMIN = "pocketstack-admin"


def _put(conn: Any, url: str, version: str, body: dict[str, Any]) -> Any:
    return conn.compute.request(url, "PUT", microversion=version, raise_exc=False, json=body)


def _service(conn: Any, host: str, version: str = "2.53") -> dict[str, Any]:
    """The nova-compute service of ``host`` as ``GET /os-services`` shows it."""
    resp = conn.compute.request(
        f"/os-services?host={host}&binary=nova-compute", "GET", microversion=version
    )
    (svc,) = resp.json()["services"]
    return svc


@pytest.fixture
def host(running_cloud):
    """The host of an up nova-compute service; enabled and not forced down afterwards."""
    admin = running_cloud.sdk(ADMIN)
    services = admin.compute.request("/os-services", "GET", microversion="2.53").json()
    name = next(
        s["host"]
        for s in services["services"]
        if s["binary"] == "nova-compute" and s["state"] == "up"
    )
    yield name
    svc_id = _service(admin, name)["id"]
    resp = _put(
        admin, f"/os-services/{svc_id}", "2.53", {"status": "enabled", "forced_down": False}
    )
    assert resp.status_code == 200, resp.text


def test_force_down_at_2_11_through_the_cli(running_cloud, host):
    cli = ("--os-compute-api-version", "2.11", "compute", "service", "set")
    running_cloud.openstack(*cli, "--down", host, "nova-compute", cloud=ADMIN, json_output=False)
    admin = running_cloud.sdk(ADMIN)
    svc = _service(admin, host, "2.11")
    assert (svc["forced_down"], svc["state"]) == (True, "down")
    running_cloud.openstack(*cli, "--up", host, "nova-compute", cloud=ADMIN, json_output=False)
    svc = _service(admin, host, "2.11")
    assert (svc["forced_down"], svc["state"]) == (False, "up")
    # the answer names what was set
    resp = _put(
        admin,
        "/os-services/force-down",
        "2.11",
        {"host": host, "binary": "nova-compute", "forced_down": True},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"service": {"host": host, "binary": "nova-compute", "forced_down": True}}
    assert _service(admin, host)["state"] == "down"


def test_disable_and_enable_at_2_1_through_the_cli(running_cloud, host):
    cli = ("--os-compute-api-version", "2.1", "compute", "service", "set")
    running_cloud.openstack(
        *cli,
        "--disable",
        "--disable-reason",
        "maintenance",
        host,
        "nova-compute",
        cloud=ADMIN,
        json_output=False,
    )
    admin = running_cloud.sdk(ADMIN)
    svc = _service(admin, host, "2.1")
    assert (svc["status"], svc["disabled_reason"]) == ("disabled", "maintenance")
    running_cloud.openstack(*cli, "--enable", host, "nova-compute", cloud=ADMIN, json_output=False)
    svc = _service(admin, host, "2.1")
    assert (svc["status"], svc["disabled_reason"]) == ("enabled", None)
    resp = _put(admin, "/os-services/disable", "2.1", {"host": host, "binary": "nova-compute"})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "service": {"host": host, "binary": "nova-compute", "status": "disabled"}
    }
    body = {"host": host, "binary": "nova-compute", "disabled_reason": "why"}
    resp = _put(admin, "/os-services/disable-log-reason", "2.1", body)
    assert resp.json()["service"] == {
        "host": host,
        "binary": "nova-compute",
        "status": "disabled",
        "disabled_reason": "why",
    }
    resp = _put(admin, "/os-services/enable", "2.1", {"host": host, "binary": "nova-compute"})
    assert resp.json()["service"]["status"] == "enabled"


def test_the_2_53_form_still_works_through_the_cli(running_cloud, host):
    cli = ("--os-compute-api-version", "2.53", "compute", "service", "set")
    running_cloud.openstack(
        *cli,
        "--disable",
        "--disable-reason",
        "by uuid",
        "--down",
        host,
        "nova-compute",
        cloud=ADMIN,
        json_output=False,
    )
    svc = _service(running_cloud.sdk(ADMIN), host)
    assert (svc["status"], svc["disabled_reason"], svc["forced_down"], svc["state"]) == (
        "disabled",
        "by uuid",
        True,
        "down",
    )


def test_refusals(running_cloud, host):
    admin = running_cloud.sdk(ADMIN)
    full = {"host": host, "binary": "nova-compute"}
    cases = [
        # (version, action, body, status)
        ("2.11", "force-down", full, 400),  # no forced_down
        ("2.11", "force-down", {"binary": "nova-compute", "forced_down": True}, 400),
        ("2.1", "disable", {"host": host}, 400),
        ("2.1", "disable-log-reason", full, 400),  # no reason
        ("2.1", "disable", {**full, "forced_down": True}, 400),  # a 2.11 attribute
        ("2.10", "force-down", {**full}, 404),  # no force-down before 2.11
        ("2.1", "disable", {"host": "no-such-host", "binary": "nova-compute"}, 404),
        ("2.1", "enable", {"host": host, "binary": "nova-nothing"}, 404),
        (
            "2.11",
            "force-down",
            {"host": "no-such-host", "binary": "nova-compute", "forced_down": True},
            404,
        ),
        ("2.1", "reboot", full, 404),
        # from 2.53 the path is a service's UUID: the actions are gone
        ("2.53", "force-down", {"forced_down": True}, 404),
        ("2.53", "disable", {"status": "disabled"}, 404),
    ]
    for version, action, body, status in cases:
        resp = _put(admin, f"/os-services/{action}", version, body)
        assert resp.status_code == status, (version, action, body, resp.text)
    svc = _service(admin, host)
    assert (svc["status"], svc["forced_down"]) == ("enabled", False)
    demo = running_cloud.sdk()
    for version, action, body in (
        ("2.1", "disable", full),
        ("2.11", "force-down", {**full, "forced_down": True}),
    ):
        assert _put(demo, f"/os-services/{action}", version, body).status_code == 403
    assert _service(admin, host)["status"] == "enabled"
