"""Identity (Keystone v3) families the interop tests need (issue 12): system scope and the
system personas, the roles Keystone's bootstrap makes with their implication chain and the
effective assignment listing; through the ``openstack`` CLI and plain HTTP, with the 403s,
404s, 400s and 409s Keystone answers."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import yaml

ADMIN_CLOUD = "pocketstack-admin"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _v3(cloud) -> str:
    return cloud.url + "/identity/v3"


def _password(cloud, which: str) -> tuple[str, str]:
    """(user name, password) of a cloud of the clouds.yaml bootstrap wrote."""
    auth = yaml.safe_load(cloud.clouds_yaml.read_text())["clouds"][which]["auth"]
    return auth["username"], auth["password"]


def _login(cloud, user: str, password: str, scope: Any = None) -> httpx.Response:
    body: dict[str, Any] = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"id": "default"}, "password": password}
                },
            }
        }
    }
    if scope is not None:
        body["auth"]["scope"] = scope
    return httpx.post(_v3(cloud) + "/auth/tokens", json=body)


def _token(cloud, user: str, password: str, scope: Any = None) -> dict[str, str]:
    resp = _login(cloud, user, password, scope)
    assert resp.status_code == 201, resp.text
    return {"X-Auth-Token": resp.headers["X-Subject-Token"]}


SYSTEM = {"system": {"all": True}}


def _new_user(cloud, admin: dict[str, str], password: str = "pw-interop-1") -> str:
    resp = httpx.post(
        _v3(cloud) + "/users",
        json={"user": {"name": _name("u"), "password": password}},
        headers=admin,
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["user"]["name"]


def test_system_scope_grants_tokens_and_system_reader(running_cloud):
    v3 = _v3(running_cloud)
    admin_name, admin_pw = _password(running_cloud, ADMIN_CLOUD)
    # bootstrap gives the admin the admin role on the system, as keystone-manage bootstrap
    resp = _login(running_cloud, admin_name, admin_pw, SYSTEM)
    assert resp.status_code == 201, resp.text
    token = resp.json()["token"]
    assert token["system"] == {"all": True} and "project" not in token
    assert {r["name"] for r in token["roles"]} == {"admin", "manager", "member", "reader"}
    assert {c["type"] for c in token["catalog"]} >= {"identity", "compute"}
    admin = {"X-Auth-Token": resp.headers["X-Subject-Token"]}

    name = _new_user(running_cloud, admin)
    user_id = httpx.get(v3 + "/users", params={"name": name}, headers=admin).json()["users"][0]
    user_id = user_id["id"]
    roles = {r["name"]: r["id"] for r in httpx.get(v3 + "/roles", headers=admin).json()["roles"]}
    grant = f"{v3}/system/users/{user_id}/roles/{roles['reader']}"
    # no system role yet: a system-scoped token is refused, the grant is not there
    assert _login(running_cloud, name, "pw-interop-1", SYSTEM).status_code == 401
    assert httpx.head(grant, headers=admin).status_code == 404
    # a project member may not grant system roles
    demo = running_cloud.sdk()
    member = {"X-Auth-Token": demo.auth_token}
    assert httpx.put(grant, headers=member).status_code == 403
    # the CLI grants it (PUT /v3/system/users/{id}/roles/{role})
    running_cloud.openstack(
        "role", "add", "--system", "all", "--user", name, "reader",
        cloud=ADMIN_CLOUD, json_output=False,
    )  # fmt: skip
    assert httpx.head(grant, headers=admin).status_code == 204
    assert httpx.get(grant, headers=admin).status_code == 204
    listed = httpx.get(f"{v3}/system/users/{user_id}/roles", headers=admin).json()["roles"]
    assert [r["name"] for r in listed] == ["reader"]
    rows = running_cloud.openstack(
        "role", "assignment", "list", "--system", "all", "--user", name, "--names",
        cloud=ADMIN_CLOUD,
    )  # fmt: skip
    assert [(r["Role"], r["System"]) for r in rows] == [("reader", "all")]
    raw = httpx.get(
        v3 + "/role_assignments", params={"scope.system": "all", "user.id": user_id}, headers=admin
    ).json()["role_assignments"]
    assert [a["scope"] for a in raw] == [{"system": {"all": True}}]
    assert raw[0]["links"]["assignment"].endswith(
        f"/v3/system/users/{user_id}/roles/{roles['reader']}"
    )

    # the system reader: reads what an admin reads, changes nothing
    reader = _token(running_cloud, name, "pw-interop-1", SYSTEM)
    body = httpx.get(
        v3 + "/auth/tokens", headers={**reader, "X-Subject-Token": reader["X-Auth-Token"]}
    )
    assert body.json()["token"]["system"] == {"all": True}
    assert {r["name"] for r in body.json()["token"]["roles"]} == {"reader"}
    users = httpx.get(v3 + "/users", headers=reader)
    assert users.status_code == 200 and len(users.json()["users"]) > 1
    assert httpx.get(v3 + "/projects", headers=reader).status_code == 200
    assert httpx.get(v3 + "/role_assignments", headers=reader).status_code == 200
    assert httpx.get(f"{v3}/system/users/{user_id}/roles", headers=reader).status_code == 200
    created = httpx.post(v3 + "/projects", json={"project": {"name": _name("p")}}, headers=reader)
    assert created.status_code == 403
    assert (
        httpx.put(grant.replace(roles["reader"], roles["admin"]), headers=reader).status_code == 403
    )
    # a project reader is not a system reader
    assert httpx.get(v3 + "/users", headers=member).status_code == 403

    # groups get system roles too; revoking ends the system token's access
    group = httpx.post(v3 + "/groups", json={"group": {"name": _name("g")}}, headers=admin)
    group_id = group.json()["group"]["id"]
    ggrant = f"{v3}/system/groups/{group_id}/roles/{roles['reader']}"
    assert httpx.put(ggrant, headers=admin).status_code == 204
    assert httpx.head(ggrant, headers=admin).status_code == 204
    assert httpx.delete(ggrant, headers=admin).status_code == 204
    assert httpx.delete(ggrant, headers=admin).status_code == 404
    assert httpx.delete(grant, headers=admin).status_code == 204
    assert httpx.get(v3 + "/users", headers=reader).status_code == 401
    unknown = f"{v3}/system/users/{uuid.uuid4().hex}/roles/{roles['reader']}"
    assert httpx.put(unknown, headers=admin).status_code == 404


def test_bootstrap_roles_implied_chain_and_effective_listing(running_cloud):
    v3 = _v3(running_cloud)
    names = [r["Name"] for r in running_cloud.openstack("role", "list", cloud=ADMIN_CLOUD)]
    assert {"admin", "manager", "member", "reader", "service"} <= set(names)
    admin = {"X-Auth-Token": running_cloud.sdk(ADMIN_CLOUD).auth_token}
    roles = {r["name"]: r["id"] for r in httpx.get(v3 + "/roles", headers=admin).json()["roles"]}
    inferences = httpx.get(v3 + "/role_inferences", headers=admin).json()["role_inferences"]
    chain = {i["prior_role"]["name"]: [r["name"] for r in i["implies"]] for i in inferences}
    assert chain["admin"] == ["manager"] and chain["manager"] == ["member"]
    assert chain["member"] == ["reader"]
    check = f"{v3}/roles/{roles['manager']}/implies/{roles['member']}"
    assert httpx.head(check, headers=admin).status_code == 204
    assert (
        httpx.head(
            f"{v3}/roles/{roles['reader']}/implies/{roles['admin']}", headers=admin
        ).status_code
        == 404
    )
    # a cycle is refused
    cycle = httpx.put(f"{v3}/roles/{roles['reader']}/implies/{roles['admin']}", headers=admin)
    assert cycle.status_code == 400
    member = {"X-Auth-Token": running_cloud.sdk().auth_token}
    assert httpx.get(v3 + "/role_inferences", headers=member).status_code == 403
    # a duplicate role name is 409
    assert (
        httpx.post(v3 + "/roles", json={"role": {"name": "manager"}}, headers=admin).status_code
        == 409
    )

    # effective: a group's role reaches its members, followed by the roles it implies
    user = _new_user(running_cloud, admin)
    group = _name("g")
    running_cloud.openstack("group", "create", group, cloud=ADMIN_CLOUD)
    running_cloud.openstack(
        "group", "add", "user", group, user, cloud=ADMIN_CLOUD, json_output=False
    )
    running_cloud.openstack(
        "role", "add", "--group", group, "--project", "demo", "manager",
        cloud=ADMIN_CLOUD, json_output=False,
    )  # fmt: skip
    rows = running_cloud.openstack(
        "role", "assignment", "list", "--effective", "--user", user, "--names",
        cloud=ADMIN_CLOUD,
    )  # fmt: skip
    got = sorted((r["Role"], r["User"], r["Project"]) for r in rows)
    assert got == [
        (role, f"{user}@Default", "demo@Default") for role in ("manager", "member", "reader")
    ]
    # and a token of the member of the group carries them
    token = _login(
        running_cloud,
        user,
        "pw-interop-1",
        {"project": {"name": "demo", "domain": {"id": "default"}}},
    )
    assert {r["name"] for r in token.json()["token"]["roles"]} == {"manager", "member", "reader"}
