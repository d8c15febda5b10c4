"""Host aggregates through the ``openstack`` CLI and openstacksdk (issue 11 item 5:
``aggregate create`` answered 405): create with a zone, add/remove host, set/unset
properties, rename, delete; Nova's 409/404/400s; every call 403 for a non-admin. Session
cloud: the compute host is ``node1``."""

from __future__ import annotations

import uuid

ADMIN = "pocketstack-admin"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_aggregate_lifecycle_with_the_cli(running_cloud):
    cloud = running_cloud
    name = _name("agg")
    agg = cloud.openstack("aggregate", "create", "--zone", "az-x", name, cloud=ADMIN)
    try:
        assert (agg["name"], agg["availability_zone"]) == (name, "az-x")
        host = cloud.openstack(
            "compute", "service", "list", "--service", "nova-compute", cloud=ADMIN
        )[0]["Host"]
        cloud.openstack("aggregate", "add", "host", name, host, cloud=ADMIN)
        cloud.openstack(
            "aggregate", "set", "--property", "ssd=true", name, cloud=ADMIN, json_output=False
        )
        shown = cloud.openstack("aggregate", "show", name, cloud=ADMIN)
        assert shown["hosts"] == [host]
        assert shown["properties"] == {"ssd": "true"}
        assert shown["availability_zone"] == "az-x"
        listed = cloud.openstack("aggregate", "list", "--long", cloud=ADMIN)
        assert [a["Name"] for a in listed if a["ID"] == agg["id"]] == [name]

        admin = cloud.sdk(ADMIN)
        # Nova's rules: the host twice 409, an unknown host 404, a name taken 409,
        # deleting an aggregate that has hosts 400
        action = f"/os-aggregates/{agg['id']}/action"
        assert admin.compute.post(action, json={"add_host": {"host": host}}).status_code == 409
        unknown = admin.compute.post(action, json={"add_host": {"host": "no-such-host"}})
        assert unknown.status_code == 404
        taken = admin.compute.post("/os-aggregates", json={"aggregate": {"name": name}})
        assert taken.status_code == 409
        assert admin.compute.delete(f"/os-aggregates/{agg['id']}").status_code == 400

        # a host is in one availability zone (Nova's rule)
        other = admin.compute.post(
            "/os-aggregates", json={"aggregate": {"name": name + "-z", "availability_zone": "az-y"}}
        ).json()["aggregate"]
        try:
            path = f"/os-aggregates/{other['id']}/action"
            clash = admin.compute.post(path, json={"add_host": {"host": host}})
            assert clash.status_code == 400 and "availability zone az-x" in clash.text
            plain = admin.compute.post(
                "/os-aggregates", json={"aggregate": {"name": name + "-p"}}
            ).json()["aggregate"]
            ppath = f"/os-aggregates/{plain['id']}/action"
            assert admin.compute.post(ppath, json={"add_host": {"host": host}}).status_code == 200
            meta = {"set_metadata": {"metadata": {"availability_zone": "az-y"}}}
            assert admin.compute.post(ppath, json=meta).status_code == 400
            assert (
                admin.compute.post(ppath, json={"remove_host": {"host": host}}).status_code == 200
            )
            assert admin.compute.delete(f"/os-aggregates/{plain['id']}").status_code == 200
        finally:
            admin.compute.delete(f"/os-aggregates/{other['id']}")
        cloud.openstack(
            "aggregate", "unset", "--property", "ssd", name, cloud=ADMIN, json_output=False
        )
        cloud.openstack("aggregate", "remove", "host", name, host, cloud=ADMIN)
        renamed = name + "-b"
        cloud.openstack("aggregate", "set", "--name", renamed, name, cloud=ADMIN, json_output=False)
        shown = cloud.openstack("aggregate", "show", renamed, cloud=ADMIN)
        assert (shown["hosts"], shown["properties"]) == ([], {})
        again = admin.compute.post(action, json={"remove_host": {"host": host}})
        assert again.status_code == 404
        name = renamed
    finally:
        cloud.openstack("aggregate", "delete", name, cloud=ADMIN, json_output=False)
    assert cloud.sdk(ADMIN).compute.get(f"/os-aggregates/{agg['id']}").status_code == 404


def test_aggregates_are_admin_only(running_cloud):
    demo = running_cloud.sdk()
    calls = [
        ("get", "/os-aggregates", None),
        ("post", "/os-aggregates", {"aggregate": {"name": "nope"}}),
        ("get", "/os-aggregates/1", None),
        ("put", "/os-aggregates/1", {"aggregate": {"name": "nope"}}),
        ("delete", "/os-aggregates/1", None),
        ("post", "/os-aggregates/1/action", {"add_host": {"host": "node1"}}),
    ]
    for method, path, body in calls:
        answer = getattr(demo.compute, method)(path, json=body)
        assert answer.status_code == 403, (method, path)
        assert "forbidden" in answer.json()
    proc = running_cloud.openstack("aggregate", "create", "nope", check=False)
    assert proc.returncode != 0 and "403" in proc.stderr


def test_aggregate_bad_bodies(running_cloud):
    admin = running_cloud.sdk(ADMIN)
    assert admin.compute.post("/os-aggregates", json={"aggregate": {}}).status_code == 400
    answer = admin.compute.post("/os-aggregates/1/action", json={"bogus": {}})
    assert answer.status_code == 400
    assert admin.compute.get("/os-aggregates/987654").status_code == 404
