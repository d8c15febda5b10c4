"""Compute microversions 2.1 .. 2.96 through the real clients: the ``openstack`` CLI at
``2.latest`` (``--nic none``, ``--tag``, ``--description``, ``--host``, server tags, keypair
types, flavor descriptions, action events' details) and openstacksdk's adapter at chosen
versions on each boundary that changes a shape, every answer checked against the response
schema tempest publishes for that version (``tempest.lib.api_schema.response.compute``);
negotiation (``latest``, both headers) and the 406 for versions out of range."""

from __future__ import annotations

import importlib
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from tempest.lib.common.jsonschema_validator import FORMAT_CHECKER, JSONSCHEMA_VALIDATOR

ADMIN = "pocketstack-admin"
LATEST = ("--os-compute-api-version", "2.latest")


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _schema(version: str, module: str, name: str) -> dict[str, Any]:
    """tempest's response schema ``name`` of ``compute/v<version>/<module>.py``."""
    package = "tempest.lib.api_schema.response.compute." + version.replace(".", "_")
    return getattr(importlib.import_module(f"{package}.{module}"), name)


def _check(resp: Any, version: str, module: str, name: str) -> dict[str, Any]:
    """The answer's JSON after checking its status and body against tempest's schema."""
    schema = _schema("v" + version, module, name)
    assert resp.status_code in schema["status_code"], resp.text
    body = resp.json() if resp.content else {}
    if "response_body" in schema:
        # tempest's own validator and format checker (its "ipv6", "date-time"... formats)
        validator = JSONSCHEMA_VALIDATOR(schema["response_body"], format_checker=FORMAT_CHECKER)
        validator.validate(body)
    return body


def _call(conn: Any, method: str, url: str, version: str, **kwargs: Any) -> Any:
    """A raw compute request at ``version`` through openstacksdk's adapter."""
    return conn.compute.request(url, method, microversion=version, raise_exc=False, **kwargs)


@pytest.fixture(scope="module")
def server(running_cloud):
    """A server of the demo project booted at 2.latest with no network, two tags and a
    description; deleted after the module."""
    name = _name("mv")
    running_cloud.openstack(
        *LATEST,
        "server",
        "create",
        "--image",
        "cirros",
        "--flavor",
        "m1.tiny",
        "--nic",
        "none",
        "--tag",
        "blue",
        "--tag",
        "web",
        "--description",
        "the front end",
        "--hostname",
        "front-1",
        "--wait",
        name,
    )
    shown = running_cloud.openstack(*LATEST, "server", "show", name)
    yield shown
    running_cloud.openstack("server", "delete", "--wait", name, check=False, json_output=False)


# every version at which a server's shape changes, and tempest's module describing it
SERVER_VERSIONS = [
    ("2.1", "2.1"),
    ("2.3", "2.3"),
    ("2.9", "2.9"),
    ("2.16", "2.16"),
    ("2.19", "2.19"),
    ("2.26", "2.26"),
    ("2.47", "2.47"),
    ("2.63", "2.63"),
    ("2.71", "2.71"),
    ("2.73", "2.73"),
    ("2.89", "2.89"),
    ("2.96", "2.96"),
]


@pytest.mark.parametrize("version, module", SERVER_VERSIONS)
def test_server_view_at_each_boundary_matches_tempest(running_cloud, server, version, module):
    admin, demo = running_cloud.sdk(ADMIN), running_cloud.sdk()
    url = f"/servers/{server['id']}"
    for conn in (admin, demo):
        body = _check(_call(conn, "GET", url, version), module, "servers", "get_server")
        view = body["server"]
        v = tuple(int(p) for p in version.split("."))
        assert ("locked" in view) == (v >= (2, 9))
        assert ("description" in view) == (v >= (2, 19))
        assert ("pinned_availability_zone" in view) == (v >= (2, 96))
        if v >= (2, 19):
            assert view["description"] == "the front end"
        if v >= (2, 26):
            assert view["tags"] == ["blue", "web"]
        if v >= (2, 47):
            assert view["flavor"]["original_name"] == "m1.tiny" and "id" not in view["flavor"]
        else:
            assert view["flavor"]["id"]
        if v >= (2, 73):
            assert view["locked_reason"] is None and view["locked"] is False
        query = "?all_tenants=1" if conn is admin else ""
        details = _check(
            _call(conn, "GET", "/servers/detail" + query, version),
            module,
            "servers",
            "list_servers_detail",
        )
        assert server["id"] in [s["id"] for s in details["servers"]]
    # the extended attributes of 2.3 and the host's status of 2.16 are the admin's
    view = _call(admin, "GET", url, "2.16").json()["server"]
    assert view["host_status"] == "UP" and view["OS-EXT-SRV-ATTR:hostname"] == "front-1"
    member = _call(demo, "GET", url, "2.16").json()["server"]
    assert "host_status" not in member and "OS-EXT-SRV-ATTR:hostname" not in member
    # 2.90 shows the hostname to everyone
    assert _call(demo, "GET", url, "2.90").json()["server"]["OS-EXT-SRV-ATTR:hostname"] == (
        "front-1"
    )


def test_update_description_and_hostname_by_version(running_cloud, server):
    demo = running_cloud.sdk()
    url = f"/servers/{server['id']}"
    body = {"server": {"description": "renamed"}}
    refused = _call(demo, "PUT", url, "2.18", json=body)
    assert refused.status_code == 400 and "description" in refused.text
    updated = _check(_call(demo, "PUT", url, "2.75", json=body), "2.75", "servers", "update_server")
    assert updated["server"]["description"] == "renamed"
    assert "OS-EXT-STS:vm_state" in updated["server"]  # from 2.75 the update answers as show
    admin = running_cloud.sdk(ADMIN)
    for version in ("2.1", "2.19", "2.74"):
        answer = _check(
            _call(admin, "PUT", url, version, json={"server": {"name": server["name"]}}),
            version if version != "2.74" else "2.73",
            "servers",
            "update_server",
        )["server"]
        assert "OS-EXT-STS:vm_state" not in answer and "OS-EXT-SRV-ATTR:host" not in answer
    body = {"server": {"hostname": "front-2"}}
    assert _call(demo, "PUT", url, "2.89", json=body).status_code == 400
    updated = _call(demo, "PUT", url, "2.90", json=body).json()["server"]
    assert updated["OS-EXT-SRV-ATTR:hostname"] == "front-2"
    fqdn = {"server": {"hostname": "front-2.example.org"}}
    assert _call(demo, "PUT", url, "2.93", json=fqdn).status_code == 400
    updated = _call(demo, "PUT", url, "2.94", json=fqdn).json()["server"]
    assert updated["OS-EXT-SRV-ATTR:hostname"] == "front-2.example.org"
    _call(demo, "PUT", url, "2.90", json={"server": {"description": "the front end"}})


def test_server_tags_with_the_cli_and_filters(running_cloud, server):
    name = server["name"]
    running_cloud.openstack(*LATEST, "server", "set", "--tag", "red", name, json_output=False)
    shown = running_cloud.openstack(*LATEST, "server", "show", name)
    assert sorted(shown["tags"]) == ["blue", "red", "web"]
    listed = running_cloud.openstack(*LATEST, "server", "list", "--tags", "blue,red")
    assert name in [s["Name"] for s in listed]
    listed = running_cloud.openstack(*LATEST, "server", "list", "--not-tags", "red")
    assert name not in [s["Name"] for s in listed]
    demo = running_cloud.sdk()
    for query, found in (("tags-any=nope,web", True), ("not-tags-any=nope,web", False)):
        listed = _call(demo, "GET", f"/servers?{query}", "2.26").json()["servers"]
        assert (name in [s["name"] for s in listed]) is found, query
    # before 2.26 the tag filters are ignored
    listed = _call(demo, "GET", "/servers?tags=nope", "2.25").json()["servers"]
    assert name in [s["name"] for s in listed]
    running_cloud.openstack(*LATEST, "server", "unset", "--tag", "red", name, json_output=False)
    url = f"/servers/{server['id']}/tags"
    tags = _check(_call(demo, "GET", url, "2.26"), "2.26", "servers", "list_tags")
    assert tags["tags"] == ["blue", "web"]
    _check(_call(demo, "GET", url + "/blue", "2.26"), "2.26", "servers", "check_tag_existence")
    assert _call(demo, "GET", url + "/red", "2.26").status_code == 404
    assert _call(demo, "GET", url, "2.25").status_code == 404  # no such route before 2.26
    too_many = {"tags": [f"t{i}" for i in range(51)]}
    assert _call(demo, "PUT", url, "2.26", json=too_many).status_code == 400
    assert _call(demo, "PUT", url + "/a,b", "2.26").status_code == 400


def test_networks_auto_none_and_required(running_cloud):
    demo = running_cloud.sdk()
    body = {"server": {"name": _name("mv"), "imageRef": str(uuid.uuid4()), "flavorRef": "1"}}
    missing = _call(demo, "POST", "/servers", "2.37", json=body)
    assert missing.status_code == 400 and "networks" in missing.text
    body["server"]["networks"] = "none"
    early = _call(demo, "POST", "/servers", "2.36", json=body)
    assert early.status_code == 400 and "networks" in early.text
    # tags at create came with 2.52, personality went with 2.57
    tagged = {"server": {**body["server"], "tags": ["a"]}}
    refused = _call(demo, "POST", "/servers", "2.51", json=tagged)
    assert refused.status_code == 400 and "'tags' was unexpected" in refused.text
    files = [{"path": "/etc/motd", "contents": "aGk="}]
    personal = {"server": {**body["server"], "personality": files}}
    refused = _call(demo, "POST", "/servers", "2.57", json=personal)
    assert refused.status_code == 400 and "'personality' was unexpected" in refused.text


def test_admin_requests_a_host_at_2_74(running_cloud):
    (hyp, *_) = running_cloud.openstack("hypervisor", "list", cloud=ADMIN)
    host = hyp["Hypervisor Hostname"]
    name = _name("mv")
    demo = running_cloud.openstack(
        *LATEST,
        "server",
        "create",
        "--image",
        "cirros",
        "--flavor",
        "m1.tiny",
        "--nic",
        "none",
        "--host",
        host,
        name,
        check=False,
        json_output=False,
    )
    assert demo.returncode != 0 and "403" in demo.stderr
    try:
        created = running_cloud.openstack(
            *LATEST,
            "server",
            "create",
            "--image",
            "cirros",
            "--flavor",
            "m1.tiny",
            "--nic",
            "none",
            "--host",
            host,
            "--wait",
            name,
            cloud=ADMIN,
        )
        assert created["OS-EXT-SRV-ATTR:host"] == host
        wrong = running_cloud.openstack(
            *LATEST,
            "server",
            "create",
            "--image",
            "cirros",
            "--flavor",
            "m1.tiny",
            "--nic",
            "none",
            "--host",
            "no-such-host",
            _name("mv"),
            cloud=ADMIN,
            check=False,
            json_output=False,
        )
        assert wrong.returncode != 0 and "no-such-host" in wrong.stderr
    finally:
        running_cloud.openstack(
            "server", "delete", "--wait", name, cloud=ADMIN, check=False, json_output=False
        )


def test_action_events_teach_the_workflow(running_cloud, server):
    admin, demo = running_cloud.sdk(ADMIN), running_cloud.sdk()
    actions = _call(demo, "GET", f"/servers/{server['id']}/os-instance-actions", "2.58")
    listed = _check(actions, "2.58", "servers", "list_instance_actions")
    request_id = listed["instanceActions"][-1]["request_id"]
    url = f"/servers/{server['id']}/os-instance-actions/{request_id}"
    old = _call(demo, "GET", url, "2.1").json()["instanceAction"]["events"]
    assert all("details" not in e and "hostId" not in e for e in old)
    for conn in (admin, demo):
        body = _check(_call(conn, "GET", url, "2.84"), "2.84", "servers", "show_instance_action")
        events = {e["event"]: e for e in body["instanceAction"]["events"]}
        schedule = events["compute__schedule_instances"]
        assert "Filter results: Placement (start:" in schedule["details"]
        assert "ComputeFilter (start:" in schedule["details"]
        assert "Chosen: " in schedule["details"] and "(weight " in schedule["details"]
        assert schedule["hostId"]
        assert events["compute__allocate_network"]["details"].startswith("No network requested")
        assert "by hypervisor" in events["compute__spawn"]["details"]
        assert ("host" in schedule) == (conn is admin)
    # through the CLI too
    shown = running_cloud.openstack(*LATEST, "server", "event", "show", server["id"], request_id)
    assert any("Chosen:" in (e.get("details") or "") for e in shown["events"])


def test_keypair_type_and_user_by_version(running_cloud, tmp_path: Path):
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    public = key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    keyfile = tmp_path / "k.pub"
    keyfile.write_text(public + "\n")
    name = _name("kp")
    created = running_cloud.openstack(
        *LATEST, "keypair", "create", "--type", "ssh", "--public-key", str(keyfile), name
    )
    assert created["type"] == "ssh"
    demo = running_cloud.sdk()
    try:
        shown = _check(
            _call(demo, "GET", f"/os-keypairs/{name}", "2.2"), "2.2", "keypairs", "get_keypair"
        )
        assert shown["keypair"]["type"] == "ssh"
        assert "type" not in _call(demo, "GET", f"/os-keypairs/{name}", "2.1").json()["keypair"]
        listed = _check(
            _call(demo, "GET", "/os-keypairs", "2.2"), "2.2", "keypairs", "list_keypairs"
        )
        assert name in [k["keypair"]["name"] for k in listed["keypairs"]]
        other = {"keypair": {"name": _name("kp"), "type": "ssh"}}
        assert _call(demo, "POST", "/os-keypairs", "2.1", json=other).status_code == 400
        assert _call(demo, "POST", "/os-keypairs", "2.92", json=other).status_code == 400
        made = _call(demo, "POST", "/os-keypairs", "2.2", json=other)
        _check(made, "2.2", "keypairs", "create_keypair")
        assert made.json()["keypair"]["private_key"]
        deleted = _call(demo, "DELETE", f"/os-keypairs/{other['keypair']['name']}", "2.2")
        _check(deleted, "2.2", "keypairs", "delete_keypair")
    finally:
        running_cloud.openstack("keypair", "delete", name, check=False, json_output=False)


def test_flavor_description_and_extra_specs_by_version(running_cloud):
    name = _name("fl")
    created = running_cloud.openstack(
        *LATEST,
        "flavor",
        "create",
        "--ram",
        "64",
        "--vcpus",
        "1",
        "--disk",
        "1",
        "--description",
        "tiny test",
        "--property",
        "hw:watchdog=none",
        name,
        cloud=ADMIN,
    )
    try:
        assert created["description"] == "tiny test"
        running_cloud.openstack(
            *LATEST,
            "flavor",
            "set",
            "--description",
            "changed",
            name,
            cloud=ADMIN,
            json_output=False,
        )
        admin = running_cloud.sdk(ADMIN)
        url = f"/flavors/{created['id']}"
        body = _check(
            _call(admin, "GET", url, "2.55"), "2.55", "flavors", "create_update_get_flavor_details"
        )
        assert body["flavor"]["description"] == "changed" and "extra_specs" not in body["flavor"]
        body = _check(
            _call(admin, "GET", url, "2.61"), "2.61", "flavors", "create_update_get_flavor_details"
        )
        assert body["flavor"]["extra_specs"] == {"hw:watchdog": "none"}
        # tempest's newest flavor schema is 2.61's
        body = _check(
            _call(admin, "GET", url, "2.75"), "2.61", "flavors", "create_update_get_flavor_details"
        )
        assert body["flavor"]["swap"] == 0
        assert _call(admin, "GET", url, "2.1").json()["flavor"]["swap"] == ""
        _check(
            _call(admin, "GET", "/flavors/detail", "2.61"),
            "2.61",
            "flavors",
            "list_flavors_details",
        )
        put = _call(admin, "PUT", url, "2.54", json={"flavor": {"description": "x"}})
        assert put.status_code == 404
    finally:
        running_cloud.openstack(
            "flavor", "delete", name, cloud=ADMIN, check=False, json_output=False
        )


def test_services_and_hypervisors_by_version(running_cloud):
    admin = running_cloud.sdk(ADMIN)
    services = _check(
        _call(admin, "GET", "/os-services", "2.53"), "2.53", "services", "list_services"
    )
    (svc,) = [s for s in services["services"] if s["binary"] == "nova-compute"][:1]
    assert len(svc["id"]) == 36 and svc["forced_down"] is False
    # tempest has no 2.88 hypervisor schema: the counters are gone, uptime is in the view
    hyps = _call(admin, "GET", "/os-hypervisors/detail", "2.88").json()
    (hyp, *_) = hyps["hypervisors"]
    assert "uptime" in hyp and hyp["instances_shared_storage"] is False
    assert "vcpus" not in hyp and isinstance(hyp["cpu_info"], dict)
    _check(
        _call(admin, "GET", "/os-hypervisors/detail", "2.53"),
        "2.53",
        "hypervisors",
        "list_hypervisors_detail",
    )


def test_negotiation_and_406(running_cloud):
    demo = running_cloud.sdk()
    for header, expected in (
        ({"OpenStack-API-Version": "compute latest"}, "2.96"),
        ({"X-OpenStack-Nova-API-Version": "2.47"}, "2.47"),
        ({"OpenStack-API-Version": "compute 2.61", "X-OpenStack-Nova-API-Version": "2.2"}, "2.61"),
        ({}, "2.1"),
    ):
        resp = demo.compute.get("/flavors", headers=header, raise_exc=False)
        assert resp.status_code == 200
        assert resp.headers["OpenStack-API-Version"] == f"compute {expected}"
        assert resp.headers["X-OpenStack-Nova-API-Version"] == expected
    for version in ("2.97", "2.0", "3.0"):
        resp = demo.compute.get(
            "/flavors", headers={"OpenStack-API-Version": f"compute {version}"}, raise_exc=False
        )
        assert resp.status_code == 406
        assert "maximum is 2.96" in resp.json()["notAcceptable"]["message"]
    # the version documents advertise the new maximum
    legacy, doc = httpx.get(f"{running_cloud.url}/compute/").json()["versions"]
    assert legacy["id"] == "v2.0"  # listed first, as Nova (tempest test_list_api_versions)
    assert (doc["min_version"], doc["version"]) == ("2.1", "2.96")
    doc = httpx.get(f"{running_cloud.url}/compute/v2.1").json()["version"]
    assert doc["version"] == "2.96"
    cli = running_cloud.openstack(
        "--os-compute-api-version", "2.97", "flavor", "list", check=False, json_output=False
    )
    assert cli.returncode != 0


@pytest.mark.parametrize(
    "version, module, gone",
    [
        ("2.1", "2.1", ()),
        ("2.36", "2.36", ("maxSecurityGroups", "maxTotalFloatingIps")),
        ("2.57", "2.57", ("maxImageMeta", "maxPersonality")),
    ],
)
def test_limits_and_quotas_lose_the_proxies(running_cloud, version, module, gone):
    admin = running_cloud.sdk(ADMIN)
    limits = _check(_call(admin, "GET", "/limits", version), module, "limits", "get_limit")
    absolute = limits["limits"]["absolute"]
    assert absolute["maxTotalInstances"] > 0 and not set(gone) & set(absolute)
    project = admin.current_project_id
    url = f"/os-quota-sets/{project}"
    quota = _check(_call(admin, "GET", url, version), module, "quotas", "get_quota_set")
    assert ("floating_ips" in quota["quota_set"]) == (version == "2.1")
    assert ("injected_files" in quota["quota_set"]) == (version != "2.57")
    if version != "2.1":
        body = {"quota_set": {"floating_ips": 5}}
        assert _call(admin, "PUT", url, version, json=body).status_code == 400


def test_list_query_by_version(running_cloud, server):
    demo = running_cloud.sdk()

    def names(query: str, version: str) -> list[str]:
        resp = _call(demo, "GET", f"/servers?{query}", version)
        assert resp.status_code == 200, resp.text
        return [s["name"] for s in resp.json()["servers"]]

    assert server["name"] in names("bogus=1", "2.74")  # ignored before 2.75
    refused = _call(demo, "GET", "/servers?bogus=1", "2.75")
    assert refused.status_code == 400 and "bogus" in refused.text
    assert server["name"] in names("locked=false", "2.73")
    assert server["name"] not in names("locked=true", "2.73")
    assert server["name"] in names("locked=true", "2.72")  # no such filter before 2.73
    assert server["name"] not in names("changes-before=2001-01-01T00:00:00Z", "2.66")
    assert server["name"] in names("changes-before=2999-01-01T00:00:00Z", "2.66")


def test_nic_auto_boots_on_the_projects_network(running_cloud):
    name = _name("mv")
    try:
        created = running_cloud.openstack(
            *LATEST,
            "server",
            "create",
            "--image",
            "cirros",
            "--flavor",
            "m1.tiny",
            "--nic",
            "auto",
            "--wait",
            name,
        )
        assert created["status"] == "ACTIVE" and "private" in str(created["addresses"])
    finally:
        running_cloud.openstack("server", "delete", "--wait", name, check=False, json_output=False)


def test_instance_actions_paging_and_times(running_cloud, server):
    demo = running_cloud.sdk()
    url = f"/servers/{server['id']}/os-instance-actions"
    everything = _call(demo, "GET", url, "2.58").json()["instanceActions"]
    assert everything and everything[-1]["action"] == "create"
    page = _check(
        _call(demo, "GET", url + "?limit=1", "2.58"), "2.58", "servers", "list_instance_actions"
    )
    assert [a["request_id"] for a in page["instanceActions"]] == [everything[0]["request_id"]]
    assert "marker=" in page["links"][0]["href"]
    rest = _call(demo, "GET", f"{url}?marker={everything[0]['request_id']}", "2.58").json()
    assert [a["request_id"] for a in rest["instanceActions"]] == [
        a["request_id"] for a in everything[1:]
    ]
    assert _call(demo, "GET", f"{url}?marker=req-nope", "2.58").status_code == 400
    later = _call(demo, "GET", f"{url}?changes-since=2999-01-01T00:00:00Z", "2.58").json()
    assert later["instanceActions"] == []
    earlier = _call(demo, "GET", f"{url}?changes-before=2001-01-01T00:00:00Z", "2.66").json()
    assert earlier["instanceActions"] == []
    # before 2.58 there is no paging: the whole list
    assert len(_call(demo, "GET", url + "?limit=1", "2.57").json()["instanceActions"]) == len(
        everything
    )
