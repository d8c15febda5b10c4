"""Usage reports and inspection through the clients (issue 11 items 5 and 6):
``openstack usage list/show`` with hours exact to the second, the usage audit log,
``openstack server migration list`` (empty), ``os-floating-ip-pools`` (openstacksdk's
``auto_ip`` finds ``public``), and a keypair's ``public_key`` kept exactly as given.
Session cloud, fake hypervisor."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest

ADMIN = "pocketstack-admin"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _usage(conn, project_id: str, start: dt.datetime, end: dt.datetime) -> dict:
    query = f"start={start.isoformat()}&end={end.isoformat()}"
    answer = conn.compute.get(f"/os-simple-tenant-usage/{project_id}?{query}")
    assert answer.status_code == 200, answer.text
    return answer.json()["tenant_usage"]


def test_usage_is_exact_to_the_second(running_cloud, made):
    cloud = running_cloud
    server = cloud.create_server(_name("usage"), wait=True)
    made["servers"].append(server["id"])
    launched = dt.datetime.fromisoformat(server["OS-SRV-USG:launched_at"])
    start = launched + dt.timedelta(seconds=1)
    end = start + dt.timedelta(seconds=2, microseconds=500000)
    wait = (end - dt.datetime.now(dt.UTC).replace(tzinfo=None)).total_seconds()
    time.sleep(max(wait, 0) + 0.2)  # the period must be over to count whole
    demo = cloud.sdk()
    project_id = server["project_id"]
    usage = _usage(demo, project_id, start, end)
    [mine] = [s for s in usage["server_usages"] if s["instance_id"] == server["id"]]
    assert mine["hours"] == pytest.approx(2.5 / 3600, abs=1e-12)
    assert (mine["vcpus"], mine["memory_mb"], mine["local_gb"]) == (1, 256, 1)
    assert mine["state"] == "active" and mine["flavor"] == "m1.tiny"
    servers = usage["server_usages"]
    assert usage["total_hours"] == pytest.approx(sum(s["hours"] for s in servers))
    assert usage["total_vcpus_usage"] == pytest.approx(
        sum(s["hours"] * s["vcpus"] for s in servers)
    )
    assert usage["total_memory_mb_usage"] == pytest.approx(
        sum(s["hours"] * s["memory_mb"] for s in servers)
    )
    assert usage["total_local_gb_usage"] == pytest.approx(
        sum(s["hours"] * s["local_gb"] for s in servers)
    )
    # before the launch: nothing of it
    early = _usage(demo, project_id, launched - dt.timedelta(hours=2), launched)
    assert server["id"] not in [s["instance_id"] for s in early.get("server_usages", [])]

    # the CLI over today: the server's project is there
    today = dt.date.today().isoformat()
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    listed = cloud.openstack("usage", "list", "--start", today, "--end", tomorrow, cloud=ADMIN)
    [row] = [r for r in listed if r["Project"] == project_id]
    assert server["id"] in [s["instance_id"] for s in row["Servers"]]
    shown = cloud.openstack("usage", "show", "--start", today, "--end", tomorrow)
    assert server["id"] in [s["instance_id"] for s in shown["Servers"]]
    assert shown["CPU Hours"] > 0 and shown["RAM MB-Hours"] > 0 and shown["Disk GB-Hours"] > 0

    # deleted: counted until it ended, as terminated
    cloud.openstack("server", "delete", "--wait", server["id"], json_output=False)
    after = _usage(demo, project_id, start, dt.datetime.now(dt.UTC).replace(tzinfo=None))
    [gone] = [s for s in after["server_usages"] if s["instance_id"] == server["id"]]
    assert gone["state"] == "terminated" and gone["ended_at"] is not None


def test_usage_errors_and_policy(running_cloud):
    demo = running_cloud.sdk()
    assert demo.compute.get("/os-simple-tenant-usage").status_code == 403
    admin = running_cloud.sdk(ADMIN)
    other = admin.current_project_id
    assert demo.compute.get(f"/os-simple-tenant-usage/{other}").status_code == 403
    bad = admin.compute.get("/os-simple-tenant-usage?start=2026-02-01&end=2026-01-01")
    assert bad.status_code == 400 and "badRequest" in bad.json()
    assert admin.compute.get("/os-simple-tenant-usage?start=yesterday").status_code == 400


def test_audit_log_and_migrations(running_cloud):
    admin = running_cloud.sdk(ADMIN)
    log = admin.compute.get("/os-instance-usage-audit-log").json()["instance_usage_audit_logs"]
    assert log["num_hosts"] == len(log["hosts_not_run"]) >= 1
    assert log["total_errors"] == 0 and log["log"] == {}
    one = admin.compute.get("/os-instance-usage-audit-log/2026-11-15 10:00:00")
    assert one.json()["instance_usage_audit_log"]["period_ending"] == "2026-11-01 00:00:00"
    assert running_cloud.sdk().compute.get("/os-instance-usage-audit-log").status_code == 403
    assert running_cloud.openstack("server", "migration", "list", cloud=ADMIN) == []
    assert admin.compute.get("/os-migrations").json() == {"migrations": []}
    assert running_cloud.sdk().compute.get("/os-migrations").status_code == 403


def test_floating_ip_pools_name_the_external_networks(running_cloud):
    demo = running_cloud.sdk()
    pools = demo.compute.get("/os-floating-ip-pools").json()["floating_ip_pools"]
    assert pools == [{"name": "public"}]


def test_keypair_public_key_kept_exactly(running_cloud):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate().public_key()
    text = (
        key.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ).decode()
        + " me@host\n"
    )
    demo = running_cloud.sdk()
    name = _name("kp")
    demo.compute.create_keypair(name=name, public_key=text)
    try:
        assert demo.compute.get_keypair(name).public_key == text
    finally:
        demo.compute.delete_keypair(name)


def test_create_server_with_auto_ip_gets_a_floating_ip(running_cloud, made):
    cloud = running_cloud
    net = cloud.openstack("network", "create", _name("autoip"))
    made["networks"].append(net["id"])
    subnet = cloud.openstack(
        "subnet", "create", "--network", net["id"], "--subnet-range", "10.65.0.0/24", _name("s")
    )
    router = cloud.openstack("router", "create", _name("autoiprt"))
    made["routers"].append(router["id"])
    cloud.openstack(
        "router", "set", "--external-gateway", "public", router["id"], json_output=False
    )
    cloud.openstack("router", "add", "subnet", router["id"], subnet["id"], json_output=False)
    demo = cloud.sdk()
    server = demo.create_server(
        _name("autoip"),
        image="cirros",
        flavor="m1.tiny",
        network=net["id"],
        auto_ip=True,
        wait=True,
        timeout=120,
    )
    made["servers"].append(server.id)
    fips = list(demo.network.ips(port_id=next(demo.network.ports(device_id=server.id)).id))
    made["fips"].extend(f.id for f in fips)
    assert len(fips) == 1
    floating = fips[0].floating_ip_address
    assert floating in [a["addr"] for a in server.addresses[net["name"]]]
    assert demo.get_server(server.id).public_v4 == floating
