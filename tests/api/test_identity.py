"""Identity (Keystone v3) through the real clients: the ``openstack`` CLI, openstacksdk and
plain HTTP for the error bodies."""

from __future__ import annotations

import subprocess
import uuid

import httpx
import pytest

from tests.conftest import VENV_BIN, run_openstack_cli

KEYSTONE_401 = {
    "error": {
        "code": 401,
        "title": "Unauthorized",
        "message": "The request you have made requires authentication.",
    }
}


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _identity(cloud) -> str:
    return cloud.url + "/identity/v3"


def _fails(cloud, *args: str, cloud_name: str = "pocketstack-demo") -> str:
    proc = cloud.openstack(*args, cloud=cloud_name, check=False, json_output=False)
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def test_version_discovery(running_cloud):
    root = httpx.get(running_cloud.url + "/identity/")
    assert root.status_code == 300
    [v3] = root.json()["versions"]["values"]
    assert v3["id"].startswith("v3.") and v3["status"] == "stable"
    assert httpx.get(_identity(running_cloud)).json()["version"]["id"] == v3["id"]


def test_token_issue_and_revoke(running_cloud):
    token = running_cloud.openstack("token", "issue")
    assert token["project_id"] and token["user_id"] and token["expires"]
    headers = {"X-Auth-Token": token["id"]}
    assert httpx.get(_identity(running_cloud) + "/auth/catalog", headers=headers).status_code == 200
    running_cloud.openstack("token", "revoke", token["id"], json_output=False)
    resp = httpx.get(_identity(running_cloud) + "/auth/catalog", headers=headers)
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == 401


def test_bad_password_is_401_with_keystone_body(running_cloud):
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "demo", "domain": {"id": "default"}, "password": "wrong"}
                },
            }
        }
    }
    resp = httpx.post(_identity(running_cloud) + "/auth/tokens", json=body)
    assert resp.status_code == 401
    assert resp.json() == KEYSTONE_401
    assert "X-Subject-Token" not in resp.headers


def test_validate_token_shows_scope_roles_and_catalog(running_cloud):
    conn = running_cloud.sdk("pocketstack-admin")
    demo = running_cloud.sdk()
    resp = httpx.get(
        _identity(running_cloud) + "/auth/tokens",
        headers={"X-Auth-Token": conn.auth_token, "X-Subject-Token": demo.auth_token},
    )
    assert resp.status_code == 200
    token = resp.json()["token"]
    assert token["project"]["name"] == "demo" and token["user"]["name"] == "demo"
    assert {r["name"] for r in token["roles"]} == {"member", "reader"}
    assert {c["type"] for c in token["catalog"]} >= {"identity", "compute", "image", "network"}


def test_admin_creates_project_user_and_assignment(running_cloud):
    project, user = _name("proj"), _name("user")
    created = running_cloud.openstack(
        "project", "create", project, "--description", "api", cloud="pocketstack-admin"
    )
    assert created["name"] == project and created["domain_id"] == "default"
    names = [
        p["Name"] for p in running_cloud.openstack("project", "list", cloud="pocketstack-admin")
    ]
    assert project in names and "demo" in names
    running_cloud.openstack(
        "user", "create", "--password", "s3cret-pw", user, cloud="pocketstack-admin"
    )
    running_cloud.openstack(
        "role",
        "add",
        "--project",
        project,
        "--user",
        user,
        "member",
        cloud="pocketstack-admin",
        json_output=False,
    )
    rows = running_cloud.openstack(
        "role", "assignment", "list", "--names", "--user", user, cloud="pocketstack-admin"
    )
    assert [(r["Role"], r["User"], r["Project"]) for r in rows] == [
        ("member", f"{user}@Default", f"{project}@Default")
    ]
    token = running_cloud.openstack(
        "token",
        "issue",
        "--os-username",
        user,
        "--os-password",
        "s3cret-pw",
        "--os-project-name",
        project,
    )
    assert token["project_id"] == created["id"]


def test_member_cannot_create_project(running_cloud):
    stderr = _fails(running_cloud, "project", "create", _name("nope"))
    assert "403" in stderr


def test_unknown_user_is_404(running_cloud):
    conn = running_cloud.sdk("pocketstack-admin")
    resp = httpx.get(
        _identity(running_cloud) + "/users/no-such-user", headers={"X-Auth-Token": conn.auth_token}
    )
    assert resp.status_code == 404
    assert resp.json()["error"]["title"] == "Not Found"
    assert "No user" in _fails(
        running_cloud, "user", "show", "no-such-user", cloud_name="pocketstack-admin"
    ).replace("User", "user")


def test_catalog_and_endpoints(running_cloud):
    catalog = running_cloud.openstack("catalog", "list")
    assert {c["Type"] for c in catalog} >= {"identity", "compute", "image", "network"}
    endpoints = running_cloud.openstack("endpoint", "list", cloud="pocketstack-admin")
    compute = [e for e in endpoints if e["Service Type"] == "compute"]
    assert {e["Interface"] for e in compute} == {"public", "internal", "admin"}
    assert all(e["URL"] == running_cloud.url + "/compute/v2.1" for e in compute)


def _app_cred_cli(
    cloud, cred_id: str, secret: str, *args: str, script: bool = False
) -> subprocess.CompletedProcess:
    """``openstack`` authenticated by the application credential alone (no clouds.yaml);
    with ``script``, the ``openstack`` script started as a process of its own (else a child
    of the tests' CLI fork server, as ``RunningCloud.openstack``)."""
    env = cloud.env()
    env.pop("OS_CLIENT_CONFIG_FILE", None)
    cmd = [
        str(VENV_BIN / "openstack"),
        "--os-auth-type",
        "v3applicationcredential",
        "--os-auth-url",
        cloud.url + "/identity",
        "--os-identity-api-version",
        "3",
        "--os-application-credential-id",
        cred_id,
        # "=": a random secret may start with "-" and would read as an option
        f"--os-application-credential-secret={secret}",
        *args,
    ]
    if not script:
        return run_openstack_cli(cmd[1:], env, timeout=120)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def test_application_credential_authenticates_and_delete_revokes(running_cloud):
    name = _name("ac")
    cred = running_cloud.openstack("application", "credential", "create", name)
    assert cred["Secret"] and {r["name"] for r in cred["Roles"]} == {"member", "reader"}
    proc = _app_cred_cli(
        running_cloud,
        *(cred["ID"], cred["Secret"], "token", "issue", "-f", "value", "-c", "id"),
        script=True,  # the installed openstack script itself, once
    )
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip()
    resp = httpx.get(
        _identity(running_cloud) + "/auth/tokens",
        headers={"X-Auth-Token": token, "X-Subject-Token": token},
    )
    body = resp.json()["token"]
    assert body["project"]["name"] == "demo"
    assert body["application_credential"]["id"] == cred["ID"]
    nested = _app_cred_cli(
        running_cloud,
        cred["ID"],
        cred["Secret"],
        "application",
        "credential",
        "create",
        _name("nested"),
    )
    assert nested.returncode != 0 and "403" in nested.stderr
    listed = running_cloud.openstack("application", "credential", "list")
    assert name in [c["Name"] for c in listed]
    assert all("Secret" not in c for c in listed)
    running_cloud.openstack("application", "credential", "delete", name, json_output=False)
    assert (
        httpx.get(
            _identity(running_cloud) + "/auth/catalog", headers={"X-Auth-Token": token}
        ).status_code
        == 401
    )
    proc = _app_cred_cli(running_cloud, cred["ID"], cred["Secret"], "token", "issue")
    assert proc.returncode != 0


def test_sdk_lists_and_users_see_only_themselves(running_cloud):
    admin = running_cloud.sdk("pocketstack-admin")
    assert {"admin", "demo", "service"} <= {p.name for p in admin.identity.projects()}
    demo = running_cloud.sdk()
    me = demo.identity.get_user(demo.current_user_id)
    assert me.name == "demo"
    assert [p.name for p in demo.identity.user_projects(demo.current_user_id)] == ["demo"]
    with pytest.raises(Exception) as err:
        demo.identity.create_project(name=_name("sdk"))
    assert "403" in str(err.value) or "Forbidden" in type(err.value).__name__


def test_non_admin_gets_403_for_what_it_may_not_see(running_cloud):
    """Keystone's default policy: a non-admin listing projects or users, or showing another
    project or user (known or not), gets 403, not 404; openstackclient relies on it."""
    admin = running_cloud.sdk("pocketstack-admin")
    demo = running_cloud.sdk()
    headers = {"X-Auth-Token": demo.auth_token}
    base = _identity(running_cloud)
    admin_project = admin.identity.find_project("admin", ignore_missing=False)
    for path in (
        "/projects",
        "/projects?name=admin",
        f"/projects/{admin_project.id}",
        "/projects/no-such-project",
        "/users",
        "/users?name=admin",
        f"/users/{admin.current_user_id}",
        "/users/no-such-user",
        f"/users/{admin.current_user_id}/projects",
    ):
        resp = httpx.get(base + path, headers=headers)
        assert resp.status_code == 403, (path, resp.text)
        assert resp.json()["error"]["code"] == 403
    assert (
        httpx.get(base + f"/projects/{demo.current_project_id}", headers=headers).status_code == 200
    )
    assert httpx.get(base + f"/users/{demo.current_user_id}", headers=headers).status_code == 200
    # the sdk's find_project/find_user surface the 403 (OSC then uses the id as given)
    with pytest.raises(Exception) as err:
        demo.identity.find_project(admin_project.id, ignore_missing=False)
    assert "Forbidden" in type(err.value).__name__
