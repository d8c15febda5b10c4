"""The error contract of every API (issue 2, section 7), in raw HTTP so bodies and headers are
ours to choose: 400 malformed or invalid, 401 no or bad token, 404 unknown id or path, 405
wrong method, 409 conflict or wrong state, 413 over the body limit; every error body is JSON in
the called service's OpenStack shape and never shows a traceback; a failed create leaves
nothing half-created behind."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import pytest

ADMIN = "pocketstack-admin"
BODY_LIMIT = 114688

# service -> (prefix, a protected collection, the body key of a create, a GET that needs auth)
SERVICES = {
    "identity": ("/identity/v3", "/projects", "project"),
    "compute": ("/compute/v2.1", "/servers", "server"),
    "image": ("/image/v2", "/images", None),
    "network": ("/networking/v2.0", "/networks", "network"),
    "placement": ("/placement", "/resource_providers", None),
}
_PYTHON_REPR = re.compile(r"Traceback|File \"|\b[A-Z]\w*(Error|Exception)\(|<class '|object at 0x")


def _name(prefix: str) -> str:
    return f"err-{prefix}-{uuid.uuid4().hex[:8]}"


def check_error(resp: httpx.Response, service: str, status: int) -> str:
    """Assert ``resp`` is a ``status`` error in ``service``'s OpenStack shape; its message."""
    assert resp.status_code == status, (resp.request.method, resp.request.url, resp.text)
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    assert not _PYTHON_REPR.search(resp.text), resp.text
    body = resp.json()
    if service == "identity":
        err = body["error"]
        assert err["code"] == status and err["title"] and err["message"]
        return err["message"]
    if service == "compute":
        ((key, err),) = body.items()
        assert err["code"] == status and err["message"], body
        return err["message"]
    if service == "network":
        err = body["NeutronError"]
        assert set(err) == {"type", "message", "detail"} and err["type"], body
        return err["message"]
    if service == "placement":
        ((err,),) = body.values()
        assert err["status"] == status and err["title"] and err["detail"], body
        assert err["code"].startswith("placement.") and err["request_id"], body
        return err["detail"]
    assert body["code"] == status and body["title"] and body["message"], body
    return body["message"]


@pytest.fixture(scope="module")
def http(running_cloud):
    """An httpx client on the cloud's URL, and tokens: ``http.demo``, ``http.admin``."""
    with httpx.Client(base_url=running_cloud.url, timeout=60) as client:
        client.demo = {"X-Auth-Token": running_cloud.sdk().auth_token}  # type: ignore[attr-defined]
        client.admin = {"X-Auth-Token": running_cloud.sdk(ADMIN).auth_token}  # type: ignore
        yield client


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("token", [None, "garbage", "gAAAAA" + "x" * 180])
def test_401_without_or_with_a_bad_token(http, service, token):
    prefix, collection, _key = SERVICES[service]
    headers = {"X-Auth-Token": token} if token else {}
    resp = http.get(prefix + collection, headers=headers)
    check_error(resp, service, 401)
    assert "www-authenticate" in resp.headers
    assert "/identity" in resp.headers["www-authenticate"]


@pytest.mark.parametrize("service", SERVICES)
def test_400_for_malformed_json(http, service):
    prefix, collection, _key = SERVICES[service]
    headers = {**http.admin, "Content-Type": "application/json"}
    for raw in (b"{not json", b'{"a": ', b"\xff\xfe\x00", b"[1, 2"):
        check_error(http.post(prefix + collection, content=raw, headers=headers), service, 400)


@pytest.mark.parametrize("service", SERVICES)
def test_400_for_a_body_of_the_wrong_shape(http, service):
    """Well-formed JSON that is not what the call takes is 400, never a 500."""
    prefix, collection, key = SERVICES[service]
    bodies: list[Any] = [[], "text", 42, {"name": ["not", "a", "string"]}]
    if service != "image":  # Glance creates an image from an empty body; null counts as one
        bodies.append(None)
    if key:
        bodies += [{}, {key: "text"}, {key: []}, {key: None}, {key: {"name": {"x": 1}}}]
    headers = {**http.admin, "Content-Type": "application/json"}
    for body in bodies:  # json.dumps: None is sent as "null", not as no body
        resp = http.post(prefix + collection, content=json.dumps(body), headers=headers)
        check_error(resp, service, 400)


@pytest.mark.parametrize("service", SERVICES)
def test_404_for_an_unknown_id_and_an_unknown_path(http, service):
    prefix, collection, _key = SERVICES[service]
    unknown = str(uuid.uuid4())
    check_error(http.get(f"{prefix}{collection}/{unknown}", headers=http.admin), service, 404)
    check_error(http.delete(f"{prefix}{collection}/{unknown}", headers=http.admin), service, 404)
    check_error(http.get(f"{prefix}/no-such-thing", headers=http.admin), service, 404)
    check_error(http.get(f"{prefix}/no-such-thing"), service, 404)
    if service not in ("identity", "placement"):  # 403 for a non-admin there
        check_error(http.get(f"{prefix}{collection}/{unknown}", headers=http.demo), service, 404)


@pytest.mark.parametrize("service", SERVICES)
def test_405_for_a_wrong_method(http, service):
    prefix, collection, _key = SERVICES[service]
    for method in ("PUT", "DELETE"):
        resp = http.request(method, prefix + collection, headers=http.admin)
        check_error(resp, service, 405)


@pytest.mark.parametrize("service", SERVICES)
def test_413_for_a_body_over_the_limit(http, service):
    prefix, collection, key = SERVICES[service]
    big = {key or "name": {"name": "x" * (BODY_LIMIT + 1)}}
    resp = http.post(prefix + collection, json=big, headers=http.admin)
    check_error(resp, service, 413)

    def chunks():  # no Content-Length: the limit holds for a streamed body too
        yield b'{"name": "'
        for _ in range(BODY_LIMIT // 1024 + 2):
            yield b"x" * 1024
        yield b'"}'

    resp = http.post(
        prefix + collection,
        content=chunks(),
        headers={**http.admin, "Content-Type": "application/json"},
    )
    check_error(resp, service, 413)


# -- 409 ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(running_cloud):
    """An ACTIVE demo server (fake driver); deleted after."""
    name = _name("vm")
    created = running_cloud.create_server(name, wait=True)
    yield created
    running_cloud.openstack(
        "server", "delete", "--wait", created["id"], check=False, json_output=False
    )


def test_409_compute_start_an_active_server(http, server):
    resp = http.post(
        f"/compute/v2.1/servers/{server['id']}/action", json={"os-start": None}, headers=http.demo
    )
    message = check_error(resp, "compute", 409)
    assert "conflictingRequest" in resp.json()
    assert "ACTIVE" in message or "state" in message


def test_409_network_delete_a_network_in_use(http):
    net = http.post(
        "/networking/v2.0/networks", json={"network": {"name": _name("net")}}, headers=http.demo
    ).json()["network"]
    try:
        http.post(
            "/networking/v2.0/subnets",
            headers=http.demo,
            json={"subnet": {"network_id": net["id"], "cidr": "10.88.0.0/24", "ip_version": 4}},
        )
        port = http.post(
            "/networking/v2.0/ports", json={"port": {"network_id": net["id"]}}, headers=http.demo
        )
        assert port.status_code == 201, port.text
        resp = http.delete(f"/networking/v2.0/networks/{net['id']}", headers=http.demo)
        check_error(resp, "network", 409)
        assert resp.json()["NeutronError"]["type"] == "NetworkInUse"
        assert (
            http.get(f"/networking/v2.0/networks/{net['id']}", headers=http.demo).status_code == 200
        )
        http.delete(f"/networking/v2.0/ports/{port.json()['port']['id']}", headers=http.demo)
    finally:
        assert (
            http.delete(f"/networking/v2.0/networks/{net['id']}", headers=http.demo).status_code
            == 204
        )


def test_409_image_upload_twice(http):
    image = http.post(
        "/image/v2/images",
        headers=http.demo,
        json={"name": _name("img"), "disk_format": "raw", "container_format": "bare"},
    ).json()
    try:
        octets = {**http.demo, "Content-Type": "application/octet-stream"}
        first = http.put(
            f"/image/v2/images/{image['id']}/file", content=b"a" * 4096, headers=octets
        )
        assert first.status_code == 204, first.text
        second = http.put(
            f"/image/v2/images/{image['id']}/file", content=b"b" * 4096, headers=octets
        )
        check_error(second, "image", 409)
        shown = http.get(f"/image/v2/images/{image['id']}", headers=http.demo).json()
        assert shown["status"] == "active" and shown["size"] == 4096
    finally:
        http.delete(f"/image/v2/images/{image['id']}", headers=http.demo)


# -- nothing half-created ----------------------------------------------------------------


def _ids(http, path: str, key: str) -> set[str]:
    resp = http.get(path, headers=http.demo)
    assert resp.status_code == 200, resp.text
    return {row["id"] for row in resp.json()[key]}


def test_a_failed_server_create_leaves_no_server_and_no_port(http, running_cloud):
    sdk = running_cloud.sdk()
    flavor = sdk.compute.find_flavor("m1.tiny", ignore_missing=False).id
    image = sdk.image.find_image("cirros", ignore_missing=False).id
    private = sdk.network.find_network("private", ignore_missing=False).id
    servers = _ids(http, "/compute/v2.1/servers", "servers")
    ports = _ids(http, "/networking/v2.0/ports", "ports")
    bad = [
        {"imageRef": image, "networks": [{"uuid": str(uuid.uuid4())}]},
        {"imageRef": str(uuid.uuid4()), "networks": [{"uuid": private}]},
        {"imageRef": image, "networks": [{"uuid": private}, {"uuid": str(uuid.uuid4())}]},
        {"imageRef": image, "networks": [{"port": str(uuid.uuid4())}]},
        {"imageRef": image, "networks": [{"uuid": private, "fixed_ip": "192.0.2.300"}]},
        {
            "imageRef": image,
            "networks": [{"uuid": private}],
            "security_groups": [{"name": "no-such-group"}],
        },
        {"imageRef": image, "networks": [{"uuid": private}], "key_name": "no-such-key"},
    ]
    for extra in bad:
        body = {"server": {"name": _name("half"), "flavorRef": flavor, **extra}}
        expected = 400 if "key_name" in extra else None  # Nova: "Invalid key_name provided."
        resp = http.post("/compute/v2.1/servers", json=body, headers=http.demo)
        assert 400 <= resp.status_code < 500, (extra, resp.text)
        assert expected in (None, resp.status_code), (extra, resp.text)
        check_error(resp, "compute", resp.status_code)
        assert _ids(http, "/compute/v2.1/servers", "servers") == servers, extra
        assert _ids(http, "/networking/v2.0/ports", "ports") == ports, extra


def test_a_failed_port_or_image_create_leaves_nothing(http, running_cloud):
    private = running_cloud.sdk().network.find_network("private", ignore_missing=False).id
    ports = _ids(http, "/networking/v2.0/ports", "ports")
    resp = http.post(
        "/networking/v2.0/ports",
        headers=http.demo,
        json={"port": {"network_id": private, "fixed_ips": [{"ip_address": "203.0.113.7"}]}},
    )
    check_error(resp, "network", 400)
    assert _ids(http, "/networking/v2.0/ports", "ports") == ports
    images = _ids(http, "/image/v2/images", "images")
    resp = http.post(
        "/image/v2/images",
        headers=http.demo,
        json={"name": _name("img"), "disk_format": "floppy", "container_format": "bare"},
    )
    check_error(resp, "image", 400)
    assert _ids(http, "/image/v2/images", "images") == images


def test_no_valid_host_leaves_an_error_server_with_a_fault_and_no_port(http, running_cloud):
    """A server no host can hold ends in ERROR with the scheduler's fault; the port the
    network step made for it is released (the conductor's rollback)."""
    admin = running_cloud.sdk(ADMIN)
    # within the quotas (which count instances, cores and RAM) but no host has this disk
    flavor = admin.compute.create_flavor(
        name=_name("huge"), ram=64, vcpus=1, disk=1024 * 1024 * 1024
    )
    sdk = running_cloud.sdk()
    private = sdk.network.find_network("private", ignore_missing=False).id
    image = sdk.image.find_image("cirros", ignore_missing=False).id
    ports = _ids(http, "/networking/v2.0/ports", "ports")
    server_id = None
    try:
        resp = http.post(
            "/compute/v2.1/servers",
            headers=http.demo,
            json={
                "server": {
                    "name": _name("nohost"),
                    "flavorRef": flavor.id,
                    "imageRef": image,
                    "networks": [{"uuid": private}],
                }
            },
        )
        assert resp.status_code == 202, resp.text
        server_id = resp.json()["server"]["id"]
        server = sdk.compute.wait_for_server(
            sdk.compute.get_server(server_id), status="ERROR", failures=["ACTIVE"], wait=60
        )
        assert "No valid host" in server.fault["message"], server.fault
        assert not _PYTHON_REPR.search(str(server.fault))
        assert _ids(http, "/networking/v2.0/ports", "ports") == ports
    finally:
        if server_id:
            doomed = sdk.compute.get_server(server_id)
            sdk.compute.delete_server(doomed)
            sdk.compute.wait_for_delete(doomed, wait=60)
        admin.compute.delete_flavor(flavor.id)
