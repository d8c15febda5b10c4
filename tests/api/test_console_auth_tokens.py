"""Console connection information (API reference "Server Consoles" — Show Console Connection
Information, ``GET /os-console-auth-tokens/{console_token}``, issue 11) through ``openstack
console connection show`` and openstacksdk (session cloud, fake driver): an admin reads what a
console URL's token opens without spending it (the URL still connects once afterwards);
Nova's 404 for unknown or used tokens, 401 before 2.31 (only rdp-html5 tokens then), 403 for
a member; the body matches tempest's published schema."""

from __future__ import annotations

import subprocess
import uuid
from urllib.parse import parse_qs, urlsplit

import openstack.exceptions
import pytest
from tempest.lib.api_schema.response.compute.v2_99 import servers as schema
from tempest.lib.common.jsonschema_validator import FORMAT_CHECKER, JSONSCHEMA_VALIDATOR
from websockets.sync.client import connect

from tests.api.test_remote_consoles import ws_url

ADMIN = "pocketstack-admin"
LATEST = ("--os-compute-api-version", "2.latest")


@pytest.fixture
def server(running_cloud):
    """A demo server, ACTIVE; deleted afterwards."""
    made = running_cloud.create_server(f"ctok-{uuid.uuid4().hex[:8]}", wait=True)
    yield made
    admin = running_cloud.sdk(ADMIN)
    admin.compute.delete_server(made["id"], ignore_missing=True)
    try:
        admin.compute.wait_for_delete(admin.compute.get_server(made["id"]), wait=60)
    except openstack.exceptions.NotFoundException:
        pass


def _token(url: str) -> str:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if "token" in query:
        return query["token"][0]
    return parse_qs(urlsplit(query["path"][0]).query)["token"][0]


def _get(conn, token: str, version: str = "2.31"):
    return conn.compute.get(
        f"/os-console-auth-tokens/{token}",
        headers={"OpenStack-API-Version": f"compute {version}"},
        raise_exc=False,
    )


def test_admin_reads_a_token_without_spending_it(running_cloud, server):
    cloud = running_cloud
    url = cloud.openstack("console", "url", "show", "--novnc", server["id"])["url"]
    token = _token(url)
    shown = cloud.openstack(*LATEST, "console", "connection", "show", token, cloud=ADMIN)
    assert shown["instance_uuid"] == server["id"]
    admin_view = cloud.openstack("server", "show", server["id"], cloud=ADMIN)
    assert shown["host"] == admin_view["OS-EXT-SRV-ATTR:host"]
    admin = cloud.sdk(ADMIN)
    resp = _get(admin, token)
    assert resp.status_code == 200
    body = resp.json()
    JSONSCHEMA_VALIDATOR(
        schema.console_auth_tokens["response_body"], format_checker=FORMAT_CHECKER
    ).validate(body)
    assert body["console"]["internal_access_path"]  # the console's socket on its host

    # not spent: the URL still connects, once
    with connect(ws_url(url), subprotocols=["binary"], open_timeout=10) as ws:
        assert ws.recv(timeout=10).startswith(b"RFB 003.00")
    assert _get(admin, token).status_code == 404  # used now
    assert _get(admin, "no-such-token").json()["itemNotFound"]["message"] == "Token not found"


def test_versions_and_roles(running_cloud, server):
    cloud = running_cloud
    url = cloud.openstack("console", "url", "show", "--serial", server["id"])["url"]
    token = _token(url)
    old = _get(cloud.sdk(ADMIN), token, "2.30")
    assert old.status_code == 401, old.text  # only rdp-html5 tokens before 2.31
    assert _get(cloud.sdk(), token).status_code == 403
    denied = cloud.openstack(
        *LATEST, "console", "connection", "show", token, check=False, json_output=False
    )
    assert isinstance(denied, subprocess.CompletedProcess) and denied.returncode != 0
    assert _get(cloud.sdk(ADMIN), token).status_code == 200  # still valid
