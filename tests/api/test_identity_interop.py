"""Identity (Keystone v3) families the interop tests need (issue 12): system scope and the
system personas, the roles Keystone's bootstrap makes with their implication chain and the
effective assignment listing; through the ``openstack`` CLI and plain HTTP, with the 403s,
404s, 400s and 409s Keystone answers."""

from __future__ import annotations

import hashlib
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
    # the other services' policies are project-scoped: a system token is refused there (403,
    # as services enforcing scope answer), never a resource without a project
    url = running_cloud.url
    for path in ("/compute/v2.1/servers", "/networking/v2.0/networks", "/image/v2/images"):
        assert httpx.get(url + path, headers=admin).status_code == 403, path
    made = httpx.post(url + "/networking/v2.0/networks", json={"network": {}}, headers=admin)
    assert made.status_code == 403
    assert httpx.put(url + "/object-store/v1/AUTH_x/c", headers=admin).status_code == 403

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
    assert httpx.get(v3 + "/auth/system", headers=reader).json()["system"] == [{"all": True}]
    assert httpx.get(v3 + "/auth/system", headers=member).json()["system"] == []
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


def test_regions_project_tags_and_nested_projects(running_cloud):
    v3 = _v3(running_cloud)
    admin = {"X-Auth-Token": running_cloud.sdk(ADMIN_CLOUD).auth_token}
    member = {"X-Auth-Token": running_cloud.sdk().auth_token}
    # regions: CRUD with a parent; an endpoint naming an unknown region is 400 (Keystone)
    top, child = _name("Region"), _name("Region")
    running_cloud.openstack("region", "create", top, cloud=ADMIN_CLOUD)
    made = running_cloud.openstack(
        "region", "create", child, "--parent-region", top, cloud=ADMIN_CLOUD
    )
    assert made["parent_region"] == top
    assert (
        httpx.post(v3 + "/regions", json={"region": {"id": top}}, headers=admin).status_code == 409
    )
    service = httpx.get(v3 + "/services", headers=admin).json()["services"][0]["id"]
    endpoint = {"service_id": service, "interface": "public", "url": "http://127.0.0.1:9/x"}
    resp = httpx.post(
        v3 + "/endpoints",
        json={"endpoint": {**endpoint, "region_id": "NoSuchRegion"}},
        headers=admin,
    )
    assert resp.status_code == 400 and resp.json()["error"]["code"] == 400
    assert httpx.post(v3 + "/regions", json={"region": {}}, headers=member).status_code == 403
    # a region with an endpoint cannot go (403); deleting a parent takes its children along
    used = httpx.post(
        v3 + "/endpoints", json={"endpoint": {**endpoint, "region_id": child}}, headers=admin
    ).json()["endpoint"]
    assert httpx.delete(f"{v3}/regions/{top}", headers=admin).status_code == 403
    assert httpx.delete(f"{v3}/endpoints/{used['id']}", headers=admin).status_code == 204
    assert httpx.delete(f"{v3}/regions/{top}", headers=admin).status_code == 204
    assert httpx.get(f"{v3}/regions/{child}", headers=admin).status_code == 404

    # project tags: set by the CLI, filtered by tags and tags-any, one by one over HTTP
    name = _name("tagged")
    project = running_cloud.openstack(
        "project", "create", name, "--tag", "red", "--tag", "blue", cloud=ADMIN_CLOUD
    )
    assert sorted(project["tags"]) == ["blue", "red"]
    listed = running_cloud.openstack("project", "list", "--tags", "red,blue", cloud=ADMIN_CLOUD)
    assert [p["Name"] for p in listed] == [name]
    anyof = running_cloud.openstack("project", "list", "--tags-any", "red,nope", cloud=ADMIN_CLOUD)
    assert name in [p["Name"] for p in anyof]
    tags = f"{v3}/projects/{project['id']}/tags"
    assert sorted(httpx.get(tags, headers=admin).json()["tags"]) == ["blue", "red"]
    assert httpx.put(tags + "/green", headers=admin).status_code == 201
    assert httpx.head(tags + "/green", headers=admin).status_code == 204
    assert httpx.delete(tags + "/red", headers=admin).status_code == 204
    assert httpx.get(tags + "/red", headers=admin).status_code == 404
    assert httpx.put(tags + "/x", headers=member).status_code == 403
    assert httpx.put(tags, json={"tags": ["a,b"]}, headers=admin).status_code == 400
    assert httpx.put(tags, json={"tags": ["one"]}, headers=admin).json() == {"tags": ["one"]}
    assert httpx.delete(tags, headers=admin).status_code == 204
    assert httpx.get(tags, headers=admin).json() == {"tags": []}

    # nested projects: parent_id, parents_as_list, subtree_as_list and Keystone's rules
    parent = running_cloud.openstack("project", "create", _name("parent"), cloud=ADMIN_CLOUD)
    kid = running_cloud.openstack(
        "project", "create", _name("kid"), "--parent", parent["id"], cloud=ADMIN_CLOUD
    )
    assert kid["parent_id"] == parent["id"] and parent["parent_id"] == "default"
    up = httpx.get(f"{v3}/projects/{kid['id']}?parents_as_list", headers=admin).json()["project"]
    assert [p["project"]["id"] for p in up["parents"]] == [parent["id"]]
    down = httpx.get(f"{v3}/projects/{parent['id']}?subtree_as_list", headers=admin).json()
    assert [p["project"]["id"] for p in down["project"]["subtree"]] == [kid["id"]]
    children = httpx.get(v3 + "/projects", params={"parent_id": parent["id"]}, headers=admin)
    assert [p["id"] for p in children.json()["projects"]] == [kid["id"]]
    pp = f"{v3}/projects/{parent['id']}"
    assert httpx.delete(pp, headers=admin).status_code == 403  # not a leaf
    disable = {"project": {"enabled": False}}
    assert httpx.patch(pp, json=disable, headers=admin).status_code == 403  # enabled child
    assert httpx.patch(f"{v3}/projects/{kid['id']}", json=disable, headers=admin).status_code == 200
    assert httpx.patch(pp, json=disable, headers=admin).status_code == 200
    enable = {"project": {"enabled": True}}
    assert httpx.patch(f"{v3}/projects/{kid['id']}", json=enable, headers=admin).status_code == 403
    under_disabled = {"project": {"name": _name("p"), "parent_id": parent["id"]}}
    assert httpx.post(v3 + "/projects", json=under_disabled, headers=admin).status_code == 400
    unknown = {"project": {"name": _name("p"), "parent_id": uuid.uuid4().hex}}
    assert httpx.post(v3 + "/projects", json=unknown, headers=admin).status_code == 404
    assert httpx.delete(f"{v3}/projects/{kid['id']}", headers=admin).status_code == 204
    assert httpx.delete(pp, headers=admin).status_code == 204
    # name limits: 64 for projects and domains, 400 beyond
    for kind in ("projects", "domains"):
        long = {kind[:-1]: {"name": "x" * 65}}
        assert httpx.post(f"{v3}/{kind}", json=long, headers=admin).status_code == 400


def test_change_own_password_and_password_expires_at(running_cloud):
    v3 = _v3(running_cloud)
    admin = {"X-Auth-Token": running_cloud.sdk(ADMIN_CLOUD).auth_token}
    name = _new_user(running_cloud, admin, "first-pw-1")
    user = httpx.get(v3 + "/users", params={"name": name}, headers=admin).json()["users"][0]
    assert "password_expires_at" in user and user["password_expires_at"] is None
    mine = _token(running_cloud, name, "first-pw-1")
    change = f"{v3}/users/{user['id']}/password"
    wrong = {"user": {"original_password": "nope", "password": "second-pw-2"}}
    assert httpx.post(change, json=wrong, headers=mine).status_code == 401
    right = {"user": {"original_password": "first-pw-1", "password": "second-pw-2"}}
    assert httpx.post(change, json=right, headers=mine).status_code == 204
    assert _login(running_cloud, name, "first-pw-1").status_code == 401
    assert _login(running_cloud, name, "second-pw-2").status_code == 201
    # someone else's password: 403 even for the admin (Keystone's identity:change_password)
    assert httpx.post(change, json=right, headers=admin).status_code == 403


def test_credentials_encrypted_at_rest_and_ec2(running_cloud):
    v3 = _v3(running_cloud)
    demo = running_cloud.sdk()
    me = {"X-Auth-Token": demo.auth_token}
    user_id, project_id = demo.current_user_id, demo.current_project_id
    access, secret = uuid.uuid4().hex, f"secret-{uuid.uuid4().hex}"
    blob = f'{{"access": "{access}", "secret": "{secret}"}}'
    made = running_cloud.openstack(
        "credential", "create", user_id, blob, "--type", "ec2", "--project", project_id
    )
    assert made["type"] == "ec2" and made["blob"] == blob
    # the id of an ec2 credential is the SHA-256 of its access key (Keystone)
    assert made["id"] == hashlib.sha256(access.encode()).hexdigest()
    stored = [p for p in running_cloud.state_dir.glob("pocketstack.db*") if p.is_file()]
    assert stored and all(secret.encode() not in p.read_bytes() for p in stored)
    assert [c["ID"] for c in running_cloud.openstack("credential", "list")].count(made["id"]) == 1
    body = {
        "credential": {"user_id": user_id, "type": "ec2", "blob": blob, "project_id": project_id}
    }
    assert httpx.post(v3 + "/credentials", json=body, headers=me).status_code == 409
    no_project = {"credential": {**body["credential"], "project_id": None}}
    no_project["credential"]["blob"] = '{"access": "other"}'
    assert httpx.post(v3 + "/credentials", json=no_project, headers=me).status_code == 400
    not_json = {"credential": {**body["credential"], "blob": "not json"}}
    assert httpx.post(v3 + "/credentials", json=not_json, headers=me).status_code == 400
    # someone else's: 403 to create for them, invisible in the list, 403 to read
    admin = {"X-Auth-Token": running_cloud.sdk(ADMIN_CLOUD).auth_token}
    other = httpx.post(
        v3 + "/credentials",
        json={
            "credential": {
                "user_id": _admin_id(running_cloud, admin),
                "type": "cert",
                "blob": "pem",
            }
        },
        headers=admin,
    ).json()["credential"]
    assert httpx.get(f"{v3}/credentials/{other['id']}", headers=me).status_code == 403
    theirs = {"credential": {"user_id": other["user_id"], "type": "cert", "blob": "x"}}
    assert httpx.post(v3 + "/credentials", json=theirs, headers=me).status_code == 403
    ids = [c["id"] for c in httpx.get(v3 + "/credentials", headers=me).json()["credentials"]]
    assert other["id"] not in ids and made["id"] in ids
    assert (
        httpx.get(f"{v3}/credentials/{made['id']}", headers=admin).json()["credential"]["blob"]
        == blob
    )
    patched = httpx.patch(
        f"{v3}/credentials/{other['id']}", json={"credential": {"blob": "pem2"}}, headers=admin
    )
    assert patched.json()["credential"]["blob"] == "pem2"
    running_cloud.openstack("credential", "delete", made["id"], json_output=False)
    assert httpx.get(f"{v3}/credentials/{made['id']}", headers=me).status_code == 404
    assert httpx.delete(f"{v3}/credentials/{other['id']}", headers=admin).status_code == 204

    # EC2 credentials through the CLI (/v3/users/{id}/credentials/OS-EC2)
    ec2 = running_cloud.openstack("ec2", "credentials", "create")
    assert ec2["access"] and ec2["secret"] and ec2["project_id"] == project_id
    shown = running_cloud.openstack("ec2", "credentials", "show", ec2["access"])
    assert shown["secret"] == ec2["secret"]
    assert ec2["access"] in [
        c["Access"] for c in running_cloud.openstack("ec2", "credentials", "list")
    ]
    # stored as a credential of type ec2 (as Keystone)
    types = httpx.get(v3 + "/credentials", params={"type": "ec2"}, headers=me).json()["credentials"]
    assert any(ec2["access"] in c["blob"] for c in types)
    admin_id = _admin_id(running_cloud, admin)
    assert httpx.get(f"{v3}/users/{admin_id}/credentials/OS-EC2", headers=me).status_code == 403
    running_cloud.openstack("ec2", "credentials", "delete", ec2["access"], json_output=False)
    gone = httpx.get(f"{v3}/users/{user_id}/credentials/OS-EC2/{ec2['access']}", headers=me)
    assert gone.status_code == 404


def _admin_id(cloud, admin: dict[str, str]) -> str:
    return httpx.get(_v3(cloud) + "/users", params={"name": "admin"}, headers=admin).json()[
        "users"
    ][0]["id"]


def test_token_rescoped_to_another_project_and_to_the_system(running_cloud):
    v3 = _v3(running_cloud)
    admin = {"X-Auth-Token": running_cloud.sdk(ADMIN_CLOUD).auth_token}
    name = _new_user(running_cloud, admin)
    other = running_cloud.openstack("project", "create", _name("second"), cloud=ADMIN_CLOUD)
    for project in ("demo", other["id"]):
        running_cloud.openstack(
            "role", "add", "--user", name, "--project", project, "member",
            cloud=ADMIN_CLOUD, json_output=False,
        )  # fmt: skip
    first = _login(
        running_cloud,
        name,
        "pw-interop-1",
        {"project": {"name": "demo", "domain": {"id": "default"}}},
    )
    parent = first.json()["token"]

    def rescope(scope: Any) -> httpx.Response:
        body = {
            "auth": {
                "identity": {
                    "methods": ["token"],
                    "token": {"id": first.headers["X-Subject-Token"]},
                },
                "scope": scope,
            }
        }
        return httpx.post(v3 + "/auth/tokens", json=body)

    resp = rescope({"project": {"id": other["id"]}})
    assert resp.status_code == 201, resp.text
    token = resp.json()["token"]
    assert token["project"]["id"] == other["id"] and token["user"]["name"] == name
    assert "token" in token["methods"] and "password" in token["methods"]
    assert token["expires_at"] == parent["expires_at"]
    assert token["audit_ids"][1] == parent["audit_ids"][0]
    new = {"X-Auth-Token": resp.headers["X-Subject-Token"]}
    assert httpx.get(f"{v3}/projects/{other['id']}", headers=new).status_code == 200
    # no role on the admin project, none on the system: 401
    assert rescope({"project": {"name": "admin", "domain": {"id": "default"}}}).status_code == 401
    assert rescope(SYSTEM).status_code == 401
    # the clouds.yaml's pocketstack-system cloud is system-scoped
    token = running_cloud.openstack("token", "issue", cloud="pocketstack-system")
    assert token["user_id"] and not token.get("project_id")
    assert running_cloud.openstack("user", "list", cloud="pocketstack-system")
    # the admin's project token rescoped to the system
    admin_name, admin_pw = _password(running_cloud, ADMIN_CLOUD)
    first = _login(running_cloud, admin_name, admin_pw)
    assert rescope(SYSTEM).json()["token"]["system"] == {"all": True}


def test_domain_manager_and_reader_act_in_their_domain_only(running_cloud):
    v3 = _v3(running_cloud)
    admin = {"X-Auth-Token": running_cloud.sdk(ADMIN_CLOUD).auth_token}
    domain = running_cloud.openstack("domain", "create", _name("dom"), cloud=ADMIN_CLOUD)
    people = {}
    for role in ("manager", "reader"):
        body = {"user": {"name": _name(role), "password": "pw-dom-1", "domain_id": domain["id"]}}
        user = httpx.post(v3 + "/users", json=body, headers=admin).json()["user"]
        running_cloud.openstack(
            "role", "add", "--user", user["id"], "--domain", domain["id"], role,
            cloud=ADMIN_CLOUD, json_output=False,
        )  # fmt: skip
        auth = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {"user": {"id": user["id"], "password": "pw-dom-1"}},
                },
                "scope": {"domain": {"id": domain["id"]}},
            }
        }
        resp = httpx.post(v3 + "/auth/tokens", json=auth)
        assert resp.status_code == 201, resp.text
        people[role] = {"X-Auth-Token": resp.headers["X-Subject-Token"]}
    manager, reader = people["manager"], people["reader"]
    # the manager creates users, projects and groups in its domain (the default for it)
    new = httpx.post(v3 + "/users", json={"user": {"name": _name("u")}}, headers=manager)
    assert new.status_code == 201 and new.json()["user"]["domain_id"] == domain["id"]
    project = httpx.post(v3 + "/projects", json={"project": {"name": _name("p")}}, headers=manager)
    assert project.status_code == 201 and project.json()["project"]["domain_id"] == domain["id"]
    group = httpx.post(v3 + "/groups", json={"group": {"name": _name("g")}}, headers=manager)
    member = f"{v3}/groups/{group.json()['group']['id']}/users/{new.json()['user']['id']}"
    assert httpx.put(member, headers=manager).status_code == 204
    # ... and nothing outside it
    elsewhere = {"user": {"name": _name("u"), "domain_id": "default"}}
    assert httpx.post(v3 + "/users", json=elsewhere, headers=manager).status_code == 403
    demo_id = running_cloud.sdk().current_user_id
    patch = {"user": {"description": "x"}}
    assert httpx.patch(f"{v3}/users/{demo_id}", json=patch, headers=manager).status_code == 403
    # the reader reads its domain only, and changes nothing
    users = httpx.get(v3 + "/users", headers=reader).json()["users"]
    assert {u["domain_id"] for u in users} == {domain["id"]} and len(users) == 3
    assert httpx.get(f"{v3}/users/{new.json()['user']['id']}", headers=reader).status_code == 200
    assert httpx.get(f"{v3}/users/{demo_id}", headers=reader).status_code == 403
    other = httpx.get(v3 + "/projects", params={"domain_id": "default"}, headers=reader)
    assert other.status_code == 403
    assert (
        httpx.post(v3 + "/users", json={"user": {"name": "x"}}, headers=reader).status_code == 403
    )
    pid = project.json()["project"]["id"]
    # grants in the domain: manager, member and reader, to its users, on its projects
    roles = {r["name"]: r["id"] for r in httpx.get(v3 + "/roles", headers=admin).json()["roles"]}
    grants = f"{v3}/projects/{pid}/users/{new.json()['user']['id']}/roles"
    assert httpx.put(f"{grants}/{roles['member']}", headers=manager).status_code == 204
    assert httpx.put(f"{grants}/{roles['admin']}", headers=manager).status_code == 403
    demo_grant = f"{v3}/projects/{pid}/users/{demo_id}/roles/{roles['member']}"
    assert httpx.put(demo_grant, headers=manager).status_code == 403
    listed = httpx.get(grants, headers=reader).json()["roles"]
    assert [r["name"] for r in listed] == ["member"]
    assert httpx.delete(f"{grants}/{roles['member']}", headers=reader).status_code == 403
    assert httpx.delete(f"{grants}/{roles['member']}", headers=manager).status_code == 204
    assert httpx.delete(f"{v3}/projects/{pid}", headers=reader).status_code == 403
    assert httpx.delete(f"{v3}/projects/{pid}", headers=manager).status_code == 204
