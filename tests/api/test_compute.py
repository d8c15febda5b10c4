"""The Compute API through the real clients (``openstack`` CLI and openstacksdk) against the
whole cloud with the fake driver: the tour, power actions, flavors, keypairs, hosts, limits
and quotas, project isolation, and the error answers."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

ADMIN = "pocketstack-admin"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _public_key(comment: str) -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return (
        key.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ).decode()
        + " "
        + comment
    )


def _fails(cloud, *args: str, cloud_name: str = "pocketstack-demo") -> str:
    return _refused(cloud.openstack(*args, cloud=cloud_name, check=False, json_output=False))


def _refused(proc) -> str:
    """The stderr of a CLI command that had to fail."""
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


@pytest.fixture
def servers(running_cloud):
    """Names of servers a test boots (as demo unless prefixed ``admin:``); deleted after."""
    names: list[str] = []
    yield names
    for name in names:
        cloud = ADMIN if name.startswith("admin:") else "pocketstack-demo"
        running_cloud.openstack(
            "server",
            "delete",
            "--wait",
            name.removeprefix("admin:"),
            cloud=cloud,
            check=False,
            json_output=False,
        )


def _boot(cloud, servers: list[str], *extra: str, admin: bool = False) -> dict:
    name = _name("vm")
    servers.append(("admin:" if admin else "") + name)
    # the admin project has no network of its own; it may use the external one
    return cloud.create_server(
        name,
        *extra,
        network="public" if admin else "private",
        wait=True,
        cloud=ADMIN if admin else "pocketstack-demo",
    )


def test_tour(running_cloud, servers, tmp_path: Path):
    keyfile = tmp_path / "keys.pub"
    keyfile.write_text(_public_key("first") + "\n" + _public_key("second") + "\n")
    key = _name("key")
    kp = running_cloud.openstack("keypair", "create", "--public-key", str(keyfile), key)
    assert kp["name"] == key and kp["fingerprint"].count(":") == 15
    try:
        user_data = tmp_path / "ud.sh"
        user_data.write_text("#!/bin/sh\necho hello\n")
        server = _boot(
            running_cloud,
            servers,
            "--key-name",
            key,
            "--user-data",
            str(user_data),
            "--property",
            "role=web",
            "--security-group",
            "default",
            "--availability-zone",
            "nova",
        )
        assert server["status"] == "ACTIVE"
        assert server["key_name"] == key and "private" in server["addresses"]
        name = server["name"]
        log = running_cloud.openstack("console", "log", "show", name, json_output=False)
        assert f"hostname {name}" in log or name in log
        short = running_cloud.openstack(
            "console", "log", "show", "--lines", "1", name, json_output=False
        )
        assert len(short.strip().splitlines()) == 1
        events = running_cloud.openstack("server", "event", "list", name)
        assert [e["Action"] for e in events] == ["create"]
        shown = running_cloud.openstack("server", "event", "show", name, events[0]["Request ID"])
        steps = [e["event"] for e in shown["events"]]
        assert len(steps) >= 3 and all(e["result"] == "Success" for e in shown["events"])
        detail = running_cloud.openstack("server", "show", name)
        assert detail["properties"] == {"role": "web"}
        # the CLI asks for the latest microversion: from 2.47 the flavor is embedded
        assert detail["flavor"]["original_name"] == "m1.tiny"
    finally:
        running_cloud.openstack("keypair", "delete", key, json_output=False)


def test_list_filters_update_metadata(running_cloud, servers):
    name = _boot(running_cloud, servers)["name"]
    listed = running_cloud.openstack("server", "list", "--name", name, "--long")
    assert [s["Name"] for s in listed] == [name] and listed[0]["Status"] == "ACTIVE"
    assert running_cloud.openstack("server", "list", "--status", "SHUTOFF", "--name", name) == []
    running_cloud.openstack(
        "server", "set", "--property", "a=1", "--property", "b=2", name, json_output=False
    )
    running_cloud.openstack("server", "unset", "--property", "a", name, json_output=False)
    assert running_cloud.openstack("server", "show", name)["properties"] == {"b": "2"}
    new = _name("renamed")
    servers.append(new)
    running_cloud.openstack("server", "set", "--name", new, name, json_output=False)
    assert running_cloud.openstack("server", "show", new)["name"] == new


def test_power_actions_and_wrong_state(running_cloud, servers):
    name = _boot(running_cloud, servers)["name"]
    conn = running_cloud.sdk()
    server = conn.compute.find_server(name)
    running_cloud.openstack("server", "stop", name, json_output=False)
    conn.compute.wait_for_server(server, status="SHUTOFF", wait=60)
    err = _fails(running_cloud, "server", "stop", name)
    assert "Cannot 'stop' instance" in err and "vm_state stopped" in err
    running_cloud.openstack("server", "start", name, json_output=False)
    conn.compute.wait_for_server(server, status="ACTIVE", wait=60)
    running_cloud.openstack("server", "reboot", "--hard", name, json_output=False)
    conn.compute.wait_for_server(server, status="ACTIVE", wait=60)
    running_cloud.openstack("server", "reboot", name, json_output=False)
    conn.compute.wait_for_server(server, status="ACTIVE", wait=60)
    actions = [e["Action"] for e in running_cloud.openstack("server", "event", "list", name)]
    assert actions[-1] == "create" and "stop" in actions and "reboot" in actions


def test_isolation_and_all_projects(running_cloud, servers):
    admin_vm = _boot(running_cloud, servers, admin=True)
    demo_vm = _boot(running_cloud, servers)["name"]
    demo = running_cloud.sdk()
    resp = demo.compute.get(f"/servers/{admin_vm['id']}", raise_exc=False)
    assert resp.status_code == 404
    assert resp.json() == {
        "itemNotFound": {"code": 404, "message": f"Instance {admin_vm['id']} could not be found."}
    }
    assert "403" in _fails(running_cloud, "server", "list", "--all-projects")
    everyone = running_cloud.openstack("server", "list", "--all-projects", cloud=ADMIN)
    names = {s["Name"] for s in everyone}
    assert {admin_vm["name"], demo_vm} <= names
    own = {s["Name"] for s in running_cloud.openstack("server", "list", cloud=ADMIN)}
    assert demo_vm not in own


def test_unknown_flavor_at_create_is_400_as_in_nova(running_cloud):
    conn = running_cloud.sdk()
    image = conn.image.find_image("cirros")
    body = {"server": {"name": "bad", "imageRef": image.id, "flavorRef": "no-such"}}
    resp = conn.compute.post("/servers", json=body, raise_exc=False)
    assert resp.status_code == 400 and "Flavor no-such could not be found." in resp.text


def test_error_answers(running_cloud):
    conn = running_cloud.sdk()
    image = conn.image.find_image("cirros")
    resp = conn.compute.post(
        "/servers", data=b"{not json", headers={"Content-Type": "application/json"}, raise_exc=False
    )
    assert resp.status_code == 400 and "badRequest" in resp.json()
    big = {
        "server": {
            "name": "big",
            "imageRef": image.id,
            "flavorRef": "1",
            "metadata": {f"k{i}": "v" * 200 for i in range(1000)},
        }
    }
    resp = conn.compute.post("/servers", json=big, raise_exc=False)
    assert resp.status_code == 413 and "overLimit" in resp.json()
    resp = conn.compute.post(
        f"/servers/{uuid.uuid4()}/action", json={"os-stop": None}, raise_exc=False
    )
    assert resp.status_code == 404
    resp = conn.compute.get(
        "/flavors", headers={"OpenStack-API-Version": "compute 2.99"}, raise_exc=False
    )
    assert resp.status_code == 406


def test_quota_exceeded_is_403(running_cloud, servers):
    used = running_cloud.openstack("limits", "show", "--absolute", cloud=ADMIN)
    in_use = {row["Name"]: row["Value"] for row in used}["total_instances_used"]
    running_cloud.openstack(
        "quota", "set", "--instances", str(in_use), "admin", cloud=ADMIN, json_output=False
    )
    try:
        name = _name("over")
        servers.append("admin:" + name)
        err = _refused(
            running_cloud.create_server(name, network="public", cloud=ADMIN, check=False)
        )
        assert "Quota exceeded for instances" in err
    finally:
        running_cloud.openstack(
            "quota", "set", "--instances", "10", "admin", cloud=ADMIN, json_output=False
        )
    quota = running_cloud.openstack("quota", "show", "--compute", "admin", cloud=ADMIN)
    assert {"Resource": "instances", "Limit": 10}.items() <= _row(quota, "instances").items()


def _row(rows, resource: str) -> dict:
    if isinstance(rows, dict):
        return {"Resource": resource, "Limit": rows[resource]}
    (row,) = [r for r in rows if r.get("Resource") == resource]
    return row


def test_keypairs(running_cloud, tmp_path: Path):
    conn = running_cloud.sdk()
    name = _name("gen")
    generated = conn.compute.create_keypair(name=name)
    assert generated.private_key.startswith("-----BEGIN")
    listed = [k["Name"] for k in running_cloud.openstack("keypair", "list")]
    assert name in listed
    assert name not in [k["Name"] for k in running_cloud.openstack("keypair", "list", cloud=ADMIN)]
    shown = running_cloud.openstack("keypair", "show", name)
    assert shown["name"] == name
    keyfile = tmp_path / "k.pub"
    keyfile.write_text(_public_key("dup"))
    assert "already exists" in _fails(
        running_cloud, "keypair", "create", "--public-key", str(keyfile), name
    )
    keyfile.write_text("ssh-rsa AAAAnot-a-key")
    assert _fails(running_cloud, "keypair", "create", "--public-key", str(keyfile), _name("bad"))
    running_cloud.openstack("keypair", "delete", name, json_output=False)
    _fails(running_cloud, "keypair", "show", name)


def test_flavors(running_cloud):
    names = [f["Name"] for f in running_cloud.openstack("flavor", "list")]
    assert names[:5] == ["m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge"]
    name = _name("flavor")
    assert "403" in _fails(
        running_cloud, "flavor", "create", "--ram", "128", "--disk", "1", "--vcpus", "1", name
    )
    created = running_cloud.openstack(
        "flavor", "create", "--ram", "128", "--disk", "1", "--vcpus", "1", name, cloud=ADMIN
    )
    assert created["ram"] == 128
    running_cloud.openstack(
        "flavor", "set", "--property", "hw:watchdog=none", name, cloud=ADMIN, json_output=False
    )
    shown = running_cloud.openstack("flavor", "show", name)
    assert shown["properties"] == {"hw:watchdog": "none"}
    running_cloud.openstack("flavor", "delete", name, cloud=ADMIN, json_output=False)
    assert name not in [f["Name"] for f in running_cloud.openstack("flavor", "list")]


def test_hosts_zones_limits(running_cloud):
    hypervisors = running_cloud.openstack("hypervisor", "list", cloud=ADMIN)
    assert hypervisors and hypervisors[0]["State"] == "up"
    # the resource counters are in the view until 2.87 (2.88 leaves them to Placement)
    shown = running_cloud.openstack(
        "--os-compute-api-version",
        "2.1",
        "hypervisor",
        "show",
        hypervisors[0]["Hypervisor Hostname"],
        cloud=ADMIN,
    )
    assert shown["vcpus"] > 0 and shown["hypervisor_type"] == "fake"
    services = running_cloud.openstack("compute", "service", "list", cloud=ADMIN)
    (svc,) = [s for s in services if s["Host"] == hypervisors[0]["Hypervisor Hostname"]]
    assert (svc["Status"], svc["State"]) == ("enabled", "up")
    filtered = running_cloud.openstack(
        "compute", "service", "list", "--service", "nova-compute", cloud=ADMIN
    )
    assert svc["ID"] in [s["ID"] for s in filtered]  # Nova's binary name, as scripts expect
    assert "403" in _fails(running_cloud, "compute", "service", "list")
    running_cloud.openstack(
        "compute",
        "service",
        "set",
        "--disable",
        "--disable-reason",
        "maintenance",
        svc["Host"],
        svc["Binary"],
        cloud=ADMIN,
        json_output=False,
    )
    try:
        listed = running_cloud.openstack("compute", "service", "list", "--long", cloud=ADMIN)
        assert [s["Status"] for s in listed if s["Host"] == svc["Host"]] == ["disabled"]
    finally:
        running_cloud.openstack(
            "compute",
            "service",
            "set",
            "--enable",
            svc["Host"],
            svc["Binary"],
            cloud=ADMIN,
            json_output=False,
        )
    zones = running_cloud.openstack("availability", "zone", "list", "--compute")
    assert {"Zone Name": "nova", "Zone Status": "available"}.items() <= zones[0].items()
    limits = {
        r["Name"]: r["Value"] for r in running_cloud.openstack("limits", "show", "--absolute")
    }
    assert limits["max_total_instances"] >= 1 and limits["total_ram"] == 51200
