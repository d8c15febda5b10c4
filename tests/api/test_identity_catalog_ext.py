"""Keystone's policies API (``openstack policy ...``), OS-EP-FILTER (``openstack endpoint
add project``, ``endpoint list --project``, ``endpoint group ...``, and the token catalog a
project with associations gets) and domain configuration (``/v3/domains/{id}/config``, no
CLI command: openstacksdk's identity adapter) through the real clients (issue 12)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import openstack.exceptions
import pytest

ADMIN = "pocketstack-admin"
PASSWORD = "pw-epf-1"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _os(cloud, *args: str, **kw: Any) -> Any:
    """``openstack`` as the admin."""
    return cloud.openstack(*args, cloud=ADMIN, **kw)


def _fails(cloud, *args: str, cloud_name: str = ADMIN) -> str:
    proc = cloud.openstack(*args, cloud=cloud_name, check=False, json_output=False)
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


# -- policies ----------------------------------------------------------------------------


def test_policy_create_list_show_set_delete_through_the_cli(running_cloud, tmp_path: Path):
    rules = tmp_path / "rules.json"
    rules.write_text('{"compute:start": "role:admin"}')
    made = _os(running_cloud, "policy", "create", "--type", "application/json", str(rules))
    assert made["type"] == "application/json"
    assert json.loads(made["rules"]) == {"compute:start": "role:admin"}
    listed = _os(running_cloud, "policy", "list", "--long")
    assert made["id"] in {p["ID"] for p in listed}
    rules.write_text('{"compute:stop": "role:member"}')
    _os(
        running_cloud,
        "policy",
        "set",
        "--type",
        "text/plain",
        "--rules",
        str(rules),
        made["id"],
        json_output=False,
    )
    shown = _os(running_cloud, "policy", "show", made["id"])
    assert shown["type"] == "text/plain"
    assert json.loads(shown["rules"]) == {"compute:stop": "role:member"}
    _os(running_cloud, "policy", "delete", made["id"], json_output=False)
    assert "Could not find policy" in _fails(running_cloud, "policy", "show", made["id"])


def test_policies_are_the_admins_through_the_sdk(running_cloud):
    admin = running_cloud.sdk(ADMIN)
    demo = running_cloud.sdk()
    made = admin.identity.create_policy(blob='{"a": "b"}', type="application/json", extra1="x")
    try:
        assert admin.identity.get_policy(made.id).blob == '{"a": "b"}'
        assert made.id in [p.id for p in admin.identity.policies(type="application/json")]
        assert made.id not in [p.id for p in admin.identity.policies(type="text/plain")]
        with pytest.raises(openstack.exceptions.ForbiddenException):
            list(demo.identity.policies())
        with pytest.raises(openstack.exceptions.ForbiddenException):
            demo.identity.create_policy(blob="{}", type="application/json")
        with pytest.raises(openstack.exceptions.ForbiddenException):
            demo.identity.delete_policy(made.id)
    finally:
        admin.identity.delete_policy(made.id)
    with pytest.raises(openstack.exceptions.NotFoundException):
        admin.identity.get_policy(made.id)
    resp = admin.identity.post("/policies", json={"policy": {"type": "application/json"}})
    assert resp.status_code == 400  # no blob


# -- OS-EP-FILTER ------------------------------------------------------------------------


class Tenant:
    """A project and a member user of it, made by the admin, whose token catalog a test
    reads with plain HTTP."""

    def __init__(self, cloud):
        self.cloud = cloud
        admin = cloud.sdk(ADMIN)
        self.admin = admin
        self.project = admin.identity.create_project(name=_name("epf"), domain_id="default")
        self.user = admin.identity.create_user(
            name=_name("epf-u"), password=PASSWORD, domain_id="default"
        )
        member = admin.identity.find_role("member")
        admin.identity.assign_project_role_to_user(self.project, self.user, member)

    def catalog(self) -> dict[str, list[dict[str, Any]]]:
        """``{service type: endpoints}`` of a new project-scoped token of the user."""
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {"user": {"id": self.user.id, "password": PASSWORD}},
                },
                "scope": {"project": {"id": self.project.id}},
            }
        }
        resp = httpx.post(self.cloud.url + "/identity/v3/auth/tokens", json=body)
        assert resp.status_code == 201, resp.text
        token = resp.headers["X-Subject-Token"]
        via_get = httpx.get(
            self.cloud.url + "/identity/v3/auth/catalog", headers={"X-Auth-Token": token}
        ).json()["catalog"]
        cat = {e["type"]: e["endpoints"] for e in resp.json()["token"]["catalog"]}
        assert {e["type"] for e in via_get} == set(cat)
        return cat

    def close(self) -> None:
        self.admin.identity.delete_user(self.user)
        self.admin.identity.delete_project(self.project)


@pytest.fixture
def tenant(running_cloud):
    t = Tenant(running_cloud)
    yield t
    t.close()


def _endpoint(admin, service_type: str, interface: str = "public") -> Any:
    service = next(s for s in admin.identity.services() if s.type == service_type)
    return next(admin.identity.endpoints(service_id=service.id, interface=interface))


def test_endpoint_add_project_filters_the_projects_catalog(running_cloud, tenant):
    full = tenant.catalog()
    assert {"identity", "compute", "image"} <= set(full)
    ep = _endpoint(tenant.admin, "identity")
    pid = tenant.project.id
    _os(running_cloud, "endpoint", "add", "project", ep.id, pid, json_output=False)
    listed = _os(running_cloud, "endpoint", "list", "--project", pid)
    assert [e["ID"] for e in listed] == [ep.id]
    assert tenant.catalog() == {"identity": [{**full["identity"][0], "id": ep.id}]} or (
        [e["id"] for e in tenant.catalog()["identity"]] == [ep.id]
    )
    assert set(tenant.catalog()) == {"identity"}
    _os(running_cloud, "endpoint", "remove", "project", ep.id, pid, json_output=False)
    assert _os(running_cloud, "endpoint", "list", "--project", pid) == []
    assert set(tenant.catalog()) == set(full)


def test_endpoint_add_project_refusals(running_cloud, tenant):
    ep = _endpoint(tenant.admin, "identity")
    err = _fails(
        running_cloud,
        "endpoint",
        "add",
        "project",
        ep.id,
        tenant.project.id,
        cloud_name="pocketstack-demo",
    )
    assert "403" in err or "not authorized" in err.lower()
    url = f"/OS-EP-FILTER/projects/{tenant.project.id}/endpoints/nope"
    assert tenant.admin.identity.put(url).status_code == 404
    url = f"/OS-EP-FILTER/projects/nope/endpoints/{ep.id}"
    assert tenant.admin.identity.put(url).status_code == 404
    url = f"/OS-EP-FILTER/projects/{tenant.project.id}/endpoints/{ep.id}"
    assert tenant.admin.identity.get(url).status_code == 404  # not associated
    assert tenant.admin.identity.put(url).status_code == 204
    assert tenant.admin.identity.head(url).status_code == 204
    projects = tenant.admin.identity.get(f"/OS-EP-FILTER/endpoints/{ep.id}/projects").json()
    assert tenant.project.id in [p["id"] for p in projects["projects"]]


def test_endpoint_groups_through_the_cli(running_cloud, tenant, tmp_path: Path):
    image = next(s for s in tenant.admin.identity.services() if s.type == "image")
    filters = tmp_path / "filters.json"
    filters.write_text(json.dumps({"service_id": image.id}))
    name = _name("eg")
    group = _os(
        running_cloud, "endpoint", "group", "create", "--description", "images", name, str(filters)
    )
    try:
        assert group["filters"] == {"service_id": image.id} or json.loads(
            str(group["filters"]).replace("'", '"')
        ) == {"service_id": image.id}
        assert name in [g["Name"] for g in _os(running_cloud, "endpoint", "group", "list")]
        _os(
            running_cloud,
            "endpoint",
            "group",
            "add",
            "project",
            group["id"],
            tenant.project.id,
            json_output=False,
        )
        in_project = _os(running_cloud, "endpoint", "group", "list", "--project", tenant.project.id)
        assert [g["ID"] for g in in_project] == [group["id"]]
        cat = tenant.catalog()
        assert set(cat) == {"image"}
        assert {e["interface"] for e in cat["image"]} == {"public", "internal", "admin"}
        _os(
            running_cloud,
            "endpoint",
            "group",
            "remove",
            "project",
            group["id"],
            tenant.project.id,
            json_output=False,
        )
        assert "compute" in tenant.catalog()
    finally:
        _os(running_cloud, "endpoint", "group", "delete", group["id"], json_output=False)
    assert "No EndpointGroup found" in _fails(
        running_cloud, "endpoint", "group", "show", group["id"]
    )


def test_endpoint_group_refusals(running_cloud, tmp_path: Path):
    admin = running_cloud.sdk(ADMIN)
    base = "/OS-EP-FILTER/endpoint_groups"
    bad = {"endpoint_group": {"name": "x", "filters": {"url": "http://x"}}}
    resp = admin.identity.post(base, json=bad)
    assert resp.status_code == 400
    assert "url" in resp.json()["error"]["message"]
    assert admin.identity.post(base, json={"endpoint_group": {"name": "x"}}).status_code == 400
    demo = running_cloud.sdk()
    ok = {"endpoint_group": {"name": "x", "filters": {"interface": "public"}}}
    assert demo.identity.post(base, json=ok).status_code == 403
    assert demo.identity.get(base).status_code == 403
    assert admin.identity.get(base + "/nope").status_code == 404


# -- domain configuration ----------------------------------------------------------------


@pytest.fixture
def domain(running_cloud):
    admin = running_cloud.sdk(ADMIN)
    d = admin.identity.create_domain(name=_name("dc"))
    yield d
    admin.identity.update_domain(d, enabled=False)
    admin.identity.delete_domain(d)


def test_domain_config_put_get_patch_delete(running_cloud, domain):
    idn = running_cloud.sdk(ADMIN).identity
    url = f"/domains/{domain.id}/config"
    assert idn.get(url).status_code == 404
    config = {
        "identity": {"driver": "ldap"},
        "ldap": {"url": "ldap://127.0.0.1", "user_tree_dn": "ou=Users", "password": "s3cret"},
    }
    resp = idn.put(url, json={"config": config})
    assert resp.status_code == 201, resp.text
    shown = {
        "identity": {"driver": "ldap"},
        "ldap": {"url": "ldap://127.0.0.1", "user_tree_dn": "ou=Users"},
    }
    assert resp.json()["config"] == shown  # the password is never shown
    assert idn.get(url).json()["config"] == shown
    assert idn.get(url + "/ldap/password").status_code == 404
    assert idn.get(url + "/ldap").json()["config"] == {"ldap": shown["ldap"]}
    assert idn.get(url + "/ldap/url").json()["config"] == {"url": "ldap://127.0.0.1"}
    patched = idn.patch(url + "/ldap", json={"config": {"ldap": {"url": "ldap://localhost"}}})
    assert patched.status_code == 200
    assert patched.json()["config"]["ldap"]["url"] == "ldap://localhost"
    one = idn.patch(url + "/ldap/user_tree_dn", json={"config": {"user_tree_dn": "ou=People"}})
    assert one.json()["config"]["ldap"]["user_tree_dn"] == "ou=People"
    assert idn.put(url, json={"config": {"identity": {"driver": "sql"}}}).status_code == 200
    assert idn.get(url).json()["config"] == {"identity": {"driver": "sql"}}
    assert idn.patch(url + "/ldap", json={"config": {"ldap": {"url": "x"}}}).status_code == 404
    assert idn.delete(url + "/identity/driver").status_code == 204
    assert idn.get(url).status_code == 404
    assert idn.delete(url).status_code == 404


def test_domain_config_refusals(running_cloud, domain):
    idn = running_cloud.sdk(ADMIN).identity
    url = f"/domains/{domain.id}/config"
    for body in (
        {"config": {"assignment": {"driver": "sql"}}},
        {"config": {"ldap": {"no_such_option": 1}}},
        {"config": {}},
    ):
        resp = idn.put(url, json=body)
        assert resp.status_code == 403, body
        assert "Invalid domain specific configuration" in resp.json()["error"]["message"]
    assert idn.put(url, json={"identity": {}}).status_code == 400
    assert (
        idn.put(
            "/domains/nope/config", json={"config": {"identity": {"driver": "ldap"}}}
        ).status_code
        == 404
    )
    assert idn.put(url, json={"config": {"identity": {"driver": "ldap"}}}).status_code == 201
    wrong = idn.patch(url + "/identity", json={"config": {"ldap": {"url": "x"}}})
    assert wrong.status_code == 403
    demo = running_cloud.sdk().identity
    assert demo.get(url).status_code == 403
    assert demo.put(url, json={"config": {"identity": {"driver": "sql"}}}).status_code == 403
    assert demo.delete(url).status_code == 403


def test_domain_config_default(running_cloud):
    demo = running_cloud.sdk().identity
    whole = demo.get("/domains/config/default").json()["config"]
    assert whole["identity"]["driver"] == "sql"
    assert "password" not in whole["ldap"]
    assert demo.get("/domains/config/default/ldap").json()["config"]["ldap"]["url"]
    assert demo.get("/domains/config/default/ldap/url").json() == {
        "config": {"url": "ldap://localhost"}
    }
    assert demo.get("/domains/config/default/assignment").status_code == 403
    assert demo.get("/domains/config/default/ldap/nope").status_code == 403


# -- unified limits ----------------------------------------------------------------------


def test_registered_limits_and_limits_through_the_cli(running_cloud, tenant):
    resource = _name("res")
    reg = _os(
        running_cloud,
        "registered",
        "limit",
        "create",
        "--service",
        "compute",
        "--default-limit",
        "10",
        "--region",
        "RegionOne",
        resource,
    )
    try:
        assert reg["default_limit"] == 10
        assert reg["id"] in [r["ID"] for r in _os(running_cloud, "registered", "limit", "list")]
        dup = _fails(
            running_cloud,
            "registered",
            "limit",
            "create",
            "--service",
            "compute",
            "--default-limit",
            "3",
            "--region",
            "RegionOne",
            resource,
        )
        assert "409" in dup or "Duplicate" in dup
        lim = _os(
            running_cloud,
            "limit",
            "create",
            "--service",
            "compute",
            "--project",
            tenant.project.id,
            "--resource-limit",
            "5",
            "--region",
            "RegionOne",
            resource,
        )
        assert lim["resource_limit"] == 5
        assert lim["project_id"] == tenant.project.id
        _os(running_cloud, "limit", "set", "--resource-limit", "7", lim["id"], json_output=False)
        assert _os(running_cloud, "limit", "show", lim["id"])["resource_limit"] == 7
        listed = _os(running_cloud, "limit", "list", "--project", tenant.project.id)
        assert [x["ID"] for x in listed] == [lim["id"]]
        # the demo member sees neither this project's limit nor may create one
        demo = running_cloud.sdk().identity
        assert lim["id"] not in [x["id"] for x in demo.get("/limits").json()["limits"]]
        assert demo.get(f"/limits/{lim['id']}").status_code == 404
        body = {
            "limits": [
                {
                    "service_id": reg["service_id"],
                    "project_id": tenant.project.id,
                    "resource_name": resource,
                    "resource_limit": 1,
                }
            ]
        }
        assert demo.post("/limits", json=body).status_code == 403
        assert demo.get("/limits/model").json()["model"]["name"] == "flat"
        _os(running_cloud, "limit", "delete", lim["id"], json_output=False)
        _fails(running_cloud, "limit", "show", lim["id"])  # gone
    finally:
        _os(running_cloud, "registered", "limit", "delete", reg["id"], json_output=False)


def test_limit_refusals(running_cloud, tenant):
    idn = running_cloud.sdk(ADMIN).identity
    compute = next(s for s in idn.services() if s.type == "compute")
    no_ref = {
        "limits": [
            {
                "service_id": compute.id,
                "project_id": tenant.project.id,
                "resource_name": _name("unregistered"),
                "resource_limit": 1,
            }
        ]
    }
    assert idn.post("/limits", json=no_ref).status_code == 403
    bad_service = {
        "registered_limits": [{"service_id": "nope", "resource_name": "x", "default_limit": 1}]
    }
    assert idn.post("/registered_limits", json=bad_service).status_code == 400
    negative = {
        "registered_limits": [{"service_id": compute.id, "resource_name": "x", "default_limit": -5}]
    }
    assert idn.post("/registered_limits", json=negative).status_code == 400
    assert idn.get("/registered_limits/nope").status_code == 404
    assert idn.patch("/limits/nope", json={"limit": {"resource_limit": 1}}).status_code == 404
