"""OS-INHERIT (issue 12): roles assigned on a domain or a parent project to be inherited by
the projects below, through the ``openstack`` CLI (``role add --inherited``), openstacksdk
(``assign_domain_role_to_group(..., inherited=True)``) and plain HTTP; their effect on
tokens, ``/v3/auth/projects`` and ``role assignment list --effective``; and the 403s,
404s and 400s Keystone answers."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import yaml

ADMIN_CLOUD = "pocketstack-admin"
PASSWORD = "pw-inherit-1"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _admin(cloud) -> tuple[str, dict[str, str]]:
    """(the /identity/v3 URL, the admin's project-scoped token header)."""
    auth = yaml.safe_load(cloud.clouds_yaml.read_text())["clouds"][ADMIN_CLOUD]["auth"]
    resp = _login(cloud, auth["username"], auth["password"], "default", auth["project_name"])
    assert resp.status_code == 201, resp.text
    return cloud.url + "/identity/v3", {"X-Auth-Token": resp.headers["X-Subject-Token"]}


def _login(
    cloud, user: str, password: str, domain: str, project: str | None = None, by_id: bool = False
) -> httpx.Response:
    body: dict[str, Any] = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": user, "domain": {"id": domain}, "password": password}
                },
            }
        }
    }
    if project is not None:
        ref = {"id": project} if by_id else {"name": project, "domain": {"id": domain}}
        body["auth"]["scope"] = {"project": ref}
    return httpx.post(cloud.url + "/identity/v3/auth/tokens", json=body)


def _create(v3: str, admin: dict[str, str], kind: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = httpx.post(f"{v3}/{kind}s", json={kind: body}, headers=admin)
    assert resp.status_code == 201, resp.text
    return resp.json()[kind]


def test_inherited_project_roles_reach_the_subtree(running_cloud):
    v3, admin = _admin(running_cloud)
    parent = _create(v3, admin, "project", {"name": _name("parent")})
    kid = _create(v3, admin, "project", {"name": _name("kid"), "parent_id": parent["id"]})
    grandkid = _create(v3, admin, "project", {"name": _name("gk"), "parent_id": kid["id"]})
    user = _create(v3, admin, "user", {"name": _name("u"), "password": PASSWORD})
    roles = {r["name"]: r["id"] for r in httpx.get(v3 + "/roles", headers=admin).json()["roles"]}
    one = (
        f"{v3}/OS-INHERIT/projects/{parent['id']}/users/{user['id']}/roles/"
        f"{roles['member']}/inherited_to_projects"
    )
    # nothing yet: no token on the child, the inherited grant is not there
    assert (
        _login(running_cloud, user["name"], PASSWORD, "default", kid["id"], True).status_code == 401
    )
    assert httpx.head(one, headers=admin).status_code == 404

    running_cloud.openstack(
        "role", "add", "--inherited", "--project", parent["id"], "--user", user["id"], "member",
        cloud=ADMIN_CLOUD, json_output=False,
    )  # fmt: skip
    assert httpx.head(one, headers=admin).status_code == 204
    assert httpx.get(one, headers=admin).status_code == 204
    # it is not a grant on the parent itself
    direct = f"{v3}/projects/{parent['id']}/users/{user['id']}/roles/{roles['member']}"
    assert httpx.head(direct, headers=admin).status_code == 404
    listed = httpx.get(
        f"{v3}/OS-INHERIT/projects/{parent['id']}/users/{user['id']}/roles/inherited_to_projects",
        headers=admin,
    ).json()
    assert [r["name"] for r in listed["roles"]] == ["member"]
    assert listed["links"]["self"].endswith("/inherited_to_projects")

    # tokens: the child and the grandchild, with the implied reader; not the parent
    for project in (kid, grandkid):
        resp = _login(running_cloud, user["name"], PASSWORD, "default", project["id"], True)
        assert resp.status_code == 201, resp.text
        assert {r["name"] for r in resp.json()["token"]["roles"]} == {"member", "reader"}
    assert (
        _login(running_cloud, user["name"], PASSWORD, "default", parent["id"], True).status_code
        == 401
    )
    token = {"X-Auth-Token": _login(running_cloud, user["name"], PASSWORD, "default").headers[
        "X-Subject-Token"
    ]}  # fmt: skip
    mine = httpx.get(v3 + "/auth/projects", headers=token).json()["projects"]
    assert {p["id"] for p in mine} == {kid["id"], grandkid["id"]}

    # the listing: inherited on the parent; effective on the child, linking the inheritance
    rows = running_cloud.openstack(
        "role", "assignment", "list", "--user", user["id"], "--inherited", "--names",
        cloud=ADMIN_CLOUD,
    )  # fmt: skip
    assert [(r["Role"], r["Project"].split("@")[0], r["Inherited"]) for r in rows] == [
        ("member", parent["name"], True)
    ]
    raw = httpx.get(v3 + "/role_assignments", params={"user.id": user["id"]}, headers=admin).json()[
        "role_assignments"
    ]
    assert [a["scope"] for a in raw] == [
        {"project": {"id": parent["id"]}, "OS-INHERIT:inherited_to": "projects"}
    ]
    assert raw[0]["links"]["assignment"] == one
    eff = httpx.get(
        v3 + "/role_assignments",
        params={"user.id": user["id"], "scope.project.id": kid["id"], "effective": ""},
        headers=admin,
    ).json()["role_assignments"]
    assert sorted((a["role"]["id"], a["scope"]["project"]["id"]) for a in eff) == sorted(
        [(roles["member"], kid["id"]), (roles["reader"], kid["id"])]
    )
    inherited_from = f"{v3}/OS-INHERIT/projects/{parent['id']}/users/{user['id']}/roles/"
    assert {a["links"]["assignment"] for a in eff} == {
        f"{inherited_from}{roles[n]}/inherited_to_projects" for n in ("member", "reader")
    }
    assert all("OS-INHERIT:inherited_to" not in a["scope"] for a in eff)
    rows = running_cloud.openstack(
        "role", "assignment", "list", "--user", user["id"], "--effective", cloud=ADMIN_CLOUD
    )
    assert {(r["Role"], r["Project"]) for r in rows} == {
        (roles[n], p["id"]) for n in ("member", "reader") for p in (kid, grandkid)
    }

    # revoked: the child's token is refused from its next use
    kid_token = _login(running_cloud, user["name"], PASSWORD, "default", kid["id"], True)
    subject = {**admin, "X-Subject-Token": kid_token.headers["X-Subject-Token"]}
    assert httpx.get(v3 + "/auth/tokens", headers=subject).status_code == 200
    running_cloud.openstack(
        "role", "remove", "--inherited", "--project", parent["id"], "--user", user["id"],
        "member", cloud=ADMIN_CLOUD, json_output=False,
    )  # fmt: skip
    assert httpx.head(one, headers=admin).status_code == 404
    assert httpx.delete(one, headers=admin).status_code == 404
    assert httpx.get(v3 + "/auth/tokens", headers=subject).status_code == 404
    assert (
        _login(running_cloud, user["name"], PASSWORD, "default", kid["id"], True).status_code == 401
    )

    # deleting the user takes its inherited assignments along
    assert httpx.put(one, headers=admin).status_code == 204
    assert httpx.delete(f"{v3}/users/{user['id']}", headers=admin).status_code == 204
    gone = httpx.get(v3 + "/role_assignments", params={"role.id": roles["member"]}, headers=admin)
    assert user["id"] not in str(gone.json())
    for project in (grandkid, kid, parent):
        assert httpx.delete(f"{v3}/projects/{project['id']}", headers=admin).status_code == 204


def test_inherited_domain_roles_through_a_group_with_the_sdk(running_cloud):
    v3, admin = _admin(running_cloud)
    conn = running_cloud.sdk(ADMIN_CLOUD)
    domain = conn.identity.create_domain(name=_name("dom"))
    try:
        project = conn.identity.create_project(name=_name("p"), domain_id=domain.id)
        user = conn.identity.create_user(name=_name("u"), password=PASSWORD, domain_id=domain.id)
        group = conn.identity.create_group(name=_name("g"), domain_id=domain.id)
        conn.identity.add_user_to_group(user, group)
        reader = conn.identity.find_role("reader")
        conn.identity.assign_domain_role_to_group(domain, group, reader, inherited=True)
        assert conn.identity.validate_group_has_domain_role(domain, group, reader, inherited=True)
        assert not conn.identity.validate_group_has_domain_role(domain, group, reader)
        listed = httpx.get(
            f"{v3}/OS-INHERIT/domains/{domain.id}/groups/{group.id}/roles/inherited_to_projects",
            headers=admin,
        ).json()["roles"]
        assert [r["id"] for r in listed] == [reader.id]
        # the member's token on a project of the domain carries it; the domain itself not
        resp = _login(running_cloud, user.name, PASSWORD, domain.id, project.name)
        assert resp.status_code == 201, resp.text
        assert [r["name"] for r in resp.json()["token"]["roles"]] == ["reader"]
        scoped = httpx.post(
            v3 + "/auth/tokens",
            json={
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {"user": {"id": user.id, "password": PASSWORD}},
                    },
                    "scope": {"domain": {"id": domain.id}},
                }
            },
        )
        assert scoped.status_code == 401
        # the effective listing names the user, the group and the inheritance
        eff = list(conn.identity.role_assignments(effective=True, user_id=user.id))
        assert [(a.role["id"], a.scope["project"]["id"]) for a in eff] == [(reader.id, project.id)]
        assert (
            eff[0]
            .links["assignment"]
            .endswith(
                f"/OS-INHERIT/domains/{domain.id}/groups/{group.id}/roles/{reader.id}"
                "/inherited_to_projects"
            )
        )
        assert eff[0].links["membership"].endswith(f"/groups/{group.id}/users/{user.id}")
        conn.identity.unassign_domain_role_from_group(domain, group, reader, inherited=True)
        assert not conn.identity.validate_group_has_domain_role(
            domain, group, reader, inherited=True
        )
        assert (
            _login(running_cloud, user.name, PASSWORD, domain.id, project.name).status_code == 401
        )
        conn.identity.delete_project(project)
    finally:
        conn.identity.update_domain(domain, enabled=False)
        conn.identity.delete_domain(domain)


def test_inherited_grant_errors(running_cloud):
    v3, admin = _admin(running_cloud)
    project = _create(v3, admin, "project", {"name": _name("p")})
    user = _create(v3, admin, "user", {"name": _name("u"), "password": PASSWORD})
    role = httpx.get(v3 + "/roles", params={"name": "member"}, headers=admin).json()["roles"][0]
    base = f"{v3}/OS-INHERIT/projects/{project['id']}/users/{user['id']}/roles"
    one = f"{base}/{role['id']}/inherited_to_projects"
    try:
        # a project member may neither grant, check nor list (403)
        member = {"X-Auth-Token": running_cloud.sdk().auth_token}
        assert httpx.put(one, headers=member).status_code == 403
        assert httpx.head(one, headers=member).status_code == 403
        assert httpx.get(f"{base}/inherited_to_projects", headers=member).status_code == 403
        # 404s: unknown role, project, domain, user, group
        unknown = uuid.uuid4().hex
        for url in (
            f"{base}/{unknown}/inherited_to_projects",
            f"{v3}/OS-INHERIT/projects/{unknown}/users/{user['id']}/roles/{role['id']}"
            "/inherited_to_projects",
            f"{v3}/OS-INHERIT/domains/{unknown}/users/{user['id']}/roles/{role['id']}"
            "/inherited_to_projects",
            f"{v3}/OS-INHERIT/projects/{project['id']}/users/{unknown}/roles/{role['id']}"
            "/inherited_to_projects",
            f"{v3}/OS-INHERIT/domains/default/groups/{unknown}/roles/{role['id']}"
            "/inherited_to_projects",
        ):
            resp = httpx.put(url, headers=admin)
            assert resp.status_code == 404, (url, resp.text)
            assert resp.json()["error"]["code"] == 404
        assert httpx.head(one, headers=admin).status_code == 404
        assert httpx.delete(one, headers=admin).status_code == 404
        bad = httpx.get(
            f"{v3}/OS-INHERIT/domains/{unknown}/users/{user['id']}/roles/inherited_to_projects",
            headers=admin,
        )
        assert bad.status_code == 404
        # a body that is not a JSON object is refused (400), as on the other grant routes
        # (Keystone reads none there and ignores an object)
        for body in (b"[1, 2]", b"{not json"):
            hdrs = {**admin, "Content-Type": "application/json"}
            resp = httpx.put(one, content=body, headers=hdrs)
            assert resp.status_code == 400, resp.text
            assert resp.json()["error"]["code"] == 400
        assert httpx.head(one, headers=admin).status_code == 404
        # the CLI reports the unknown role
        proc = running_cloud.openstack(
            "role", "add", "--inherited", "--project", project["id"], "--user", user["id"],
            _name("nosuchrole"), cloud=ADMIN_CLOUD, check=False, json_output=False,
        )  # fmt: skip
        assert proc.returncode != 0
        # PUT twice is fine (204), and the direct grant is independent of it
        assert httpx.put(one, headers=admin).status_code == 204
        assert httpx.put(one, headers=admin).status_code == 204
        direct = f"{v3}/projects/{project['id']}/users/{user['id']}/roles/{role['id']}"
        assert httpx.put(direct, headers=admin).status_code == 204
        assert httpx.delete(direct, headers=admin).status_code == 204
        assert httpx.head(one, headers=admin).status_code == 204
    finally:
        httpx.delete(f"{v3}/users/{user['id']}", headers=admin)
        httpx.delete(f"{v3}/projects/{project['id']}", headers=admin)
    # deleting the project took its inherited assignments along
    left = httpx.get(v3 + "/role_assignments", params={"user.id": user["id"]}, headers=admin)
    assert left.json()["role_assignments"] == []


def test_role_assignments_of_a_project_subtree(running_cloud):
    v3, admin = _admin(running_cloud)
    parent = _create(v3, admin, "project", {"name": _name("parent")})
    kid = _create(v3, admin, "project", {"name": _name("kid"), "parent_id": parent["id"]})
    grandkid = _create(v3, admin, "project", {"name": _name("gk"), "parent_id": kid["id"]})
    other = _create(v3, admin, "project", {"name": _name("other")})
    user = _create(v3, admin, "user", {"name": _name("u"), "password": PASSWORD})
    roles = {r["name"]: r["id"] for r in httpx.get(v3 + "/roles", headers=admin).json()["roles"]}
    for project, role in ((parent, "reader"), (grandkid, "member"), (other, "member")):
        grant = f"{v3}/projects/{project['id']}/users/{user['id']}/roles/{roles[role]}"
        assert httpx.put(grant, headers=admin).status_code == 204
    sdk = running_cloud.sdk(ADMIN_CLOUD)
    try:
        below_kid = sdk.identity.role_assignments(
            scope_project_id=kid["id"], user_id=user["id"], include_subtree=True
        )
        assert [(a.scope["project"]["id"], a.role["id"]) for a in below_kid] == [
            (grandkid["id"], roles["member"])
        ]
        below_parent = sdk.identity.role_assignments(
            scope_project_id=parent["id"], user_id=user["id"], include_subtree=True
        )
        assert sorted((a.scope["project"]["id"], a.role["id"]) for a in below_parent) == sorted(
            [(parent["id"], roles["reader"]), (grandkid["id"], roles["member"])]
        )
        # without include_subtree only the project itself
        only = sdk.identity.role_assignments(scope_project_id=parent["id"], user_id=user["id"])
        assert [a.scope["project"]["id"] for a in only] == [parent["id"]]
        bad = httpx.get(v3 + "/role_assignments", params={"include_subtree": "true"}, headers=admin)
        assert bad.status_code == 400
        assert "scope.project.id" in bad.json()["error"]["message"]
    finally:
        httpx.delete(f"{v3}/users/{user['id']}", headers=admin)
        for project in (grandkid, kid, parent, other):
            httpx.delete(f"{v3}/projects/{project['id']}", headers=admin)
