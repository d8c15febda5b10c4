"""OS-TRUST (issue 12): trusts through the ``openstack`` CLI (``trust create/list/show/
delete``), openstacksdk and plain HTTP; trust-scoped tokens with impersonation and their
``OS-TRUST:trust`` section; the 403s, 404s and 400s Keystone answers, and trusts refused
once deleted, expired or used up."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import httpx
import yaml

ADMIN_CLOUD = "pocketstack-admin"
PASSWORD = "pw-trust-1"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _login(cloud, user_id: str, password: str, scope: Any = None) -> httpx.Response:
    body: dict[str, Any] = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"id": user_id, "password": password}},
            }
        }
    }
    if scope is not None:
        body["auth"]["scope"] = scope
    return httpx.post(cloud.url + "/identity/v3/auth/tokens", json=body)


def _header(resp: httpx.Response) -> dict[str, str]:
    assert resp.status_code == 201, resp.text
    return {"X-Auth-Token": resp.headers["X-Subject-Token"]}


def _trust_scope(trust_id: str) -> dict[str, Any]:
    return {"OS-TRUST:trust": {"id": trust_id}}


class Parties:
    """A project, a trustor (member there), a trustee and a bystander, made by the admin."""

    def __init__(self, cloud):
        self.cloud = cloud
        self.v3 = cloud.url + "/identity/v3"
        auth = yaml.safe_load(cloud.clouds_yaml.read_text())["clouds"][ADMIN_CLOUD]["auth"]
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": auth["username"],
                            "domain": {"id": "default"},
                            "password": auth["password"],
                        }
                    },
                },
                "scope": {"project": {"name": auth["project_name"], "domain": {"id": "default"}}},
            }
        }
        self.admin = _header(httpx.post(self.v3 + "/auth/tokens", json=body))
        self.project = self.make("project", {"name": _name("p")})
        self.trustor, self.trustee, self.other = (
            self.make("user", {"name": _name(n), "password": PASSWORD})
            for n in ("trustor", "trustee", "other")
        )
        roles = httpx.get(self.v3 + "/roles", headers=self.admin).json()["roles"]
        self.roles = {r["name"]: r["id"] for r in roles}
        grant = (
            f"{self.v3}/projects/{self.project['id']}/users/{self.trustor['id']}/roles/"
            f"{self.roles['manager']}"
        )
        assert httpx.put(grant, headers=self.admin).status_code == 204

    def make(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = httpx.post(f"{self.v3}/{kind}s", json={kind: body}, headers=self.admin)
        assert resp.status_code == 201, resp.text
        return resp.json()[kind]

    def token(self, user: dict[str, Any], scope: Any = None) -> dict[str, str]:
        return _header(_login(self.cloud, user["id"], PASSWORD, scope))

    def trust_body(self, **over: Any) -> dict[str, Any]:
        body = {
            "trustor_user_id": self.trustor["id"],
            "trustee_user_id": self.trustee["id"],
            "project_id": self.project["id"],
            "impersonation": True,
            "roles": [{"name": "member"}],
        }
        return {"trust": {**body, **over}}

    def cleanup(self) -> None:
        # deleting its trustor or trustee takes a trust along (its rows cascade)
        for user in (self.trustor, self.trustee, self.other):
            resp = httpx.delete(f"{self.v3}/users/{user['id']}", headers=self.admin)
            assert resp.status_code == 204, resp.text
        listed = httpx.get(
            self.v3 + "/OS-TRUST/trusts",
            params={"trustee_user_id": self.trustee["id"]},
            headers=self.admin,
        )
        assert listed.json()["trusts"] == []
        httpx.delete(f"{self.v3}/projects/{self.project['id']}", headers=self.admin)


def test_trust_tokens_impersonation_and_the_cli(running_cloud):
    ps = Parties(running_cloud)
    v3 = ps.v3
    try:
        trustor = ps.token(ps.trustor, {"project": {"id": ps.project["id"]}})
        resp = httpx.post(v3 + "/OS-TRUST/trusts", json=ps.trust_body(), headers=trustor)
        assert resp.status_code == 201, resp.text
        trust = resp.json()["trust"]
        assert trust["impersonation"] is True and trust["remaining_uses"] is None
        assert [r["name"] for r in trust["roles"]] == ["member"]
        assert trust["links"]["self"] == f"{v3}/OS-TRUST/trusts/{trust['id']}"
        assert trust["expires_at"] is None and trust["allow_redelegation"] is False

        # the trustee's token on the trust: the trustor's, with the delegated roles only
        resp = _login(running_cloud, ps.trustee["id"], PASSWORD, _trust_scope(trust["id"]))
        assert resp.status_code == 201, resp.text
        body = resp.json()["token"]
        assert body["user"]["id"] == ps.trustor["id"]
        assert body["project"]["id"] == ps.project["id"]
        assert {r["name"] for r in body["roles"]} == {"member", "reader"}
        assert body["OS-TRUST:trust"] == {
            "id": trust["id"],
            "impersonation": True,
            "trustor_user": {"id": ps.trustor["id"]},
            "trustee_user": {"id": ps.trustee["id"]},
        }
        trust_token = _header(resp)
        # it works on other services, as the trustor's project member
        servers = httpx.get(running_cloud.url + "/compute/v2.1/servers", headers=trust_token)
        assert servers.status_code == 200, servers.text
        # ... but may neither redelegate nor be rescoped (403)
        again = httpx.post(v3 + "/OS-TRUST/trusts", json=ps.trust_body(), headers=trust_token)
        assert again.status_code == 403
        rescope = httpx.post(
            v3 + "/auth/tokens",
            json={
                "auth": {
                    "identity": {
                        "methods": ["token"],
                        "token": {"id": trust_token["X-Auth-Token"]},
                    },
                    "scope": {"project": {"id": ps.project["id"]}},
                }
            },
        )
        assert rescope.status_code == 403
        # the trustee sees the trust and its roles; a bystander does not (403)
        trustee = ps.token(ps.trustee)
        assert httpx.get(f"{v3}/OS-TRUST/trusts/{trust['id']}", headers=trustee).status_code == 200
        roles = httpx.get(f"{v3}/OS-TRUST/trusts/{trust['id']}/roles", headers=trustee).json()
        assert [r["id"] for r in roles["roles"]] == [ps.roles["member"]]
        one = f"{v3}/OS-TRUST/trusts/{trust['id']}/roles/{ps.roles['member']}"
        assert httpx.get(one, headers=trustee).json()["role"]["name"] == "member"
        assert httpx.head(one, headers=trustee).status_code == 200
        missing = f"{v3}/OS-TRUST/trusts/{trust['id']}/roles/{ps.roles['manager']}"
        assert httpx.head(missing, headers=trustee).status_code == 404
        other = ps.token(ps.other)
        assert httpx.get(f"{v3}/OS-TRUST/trusts/{trust['id']}", headers=other).status_code == 403
        # another user than the trustee may not use it (403)
        resp = _login(running_cloud, ps.other["id"], PASSWORD, _trust_scope(trust["id"]))
        assert resp.status_code == 403
        # listing: a user filters on itself (403 otherwise); the admin lists all
        mine = httpx.get(
            v3 + "/OS-TRUST/trusts", params={"trustee_user_id": ps.trustee["id"]}, headers=trustee
        )
        assert [t["id"] for t in mine.json()["trusts"]] == [trust["id"]]
        assert httpx.get(v3 + "/OS-TRUST/trusts", headers=trustee).status_code == 403
        rows = running_cloud.openstack("trust", "list", cloud=ADMIN_CLOUD)
        assert trust["id"] in {r["ID"] for r in rows}
        shown = running_cloud.openstack("trust", "show", trust["id"], cloud=ADMIN_CLOUD)
        assert shown["trustee_user_id"] == ps.trustee["id"]
        # only the trustor or an admin deletes it; its tokens then stop working
        gone = f"{v3}/OS-TRUST/trusts/{trust['id']}"
        assert httpx.delete(gone, headers=trustee).status_code == 403
        running_cloud.openstack(
            "trust", "delete", trust["id"], cloud=ADMIN_CLOUD, json_output=False
        )
        assert httpx.get(gone, headers=ps.admin).status_code == 404
        assert httpx.delete(gone, headers=ps.admin).status_code == 404
        subject = {**ps.admin, "X-Subject-Token": trust_token["X-Auth-Token"]}
        assert httpx.get(v3 + "/auth/tokens", headers=subject).status_code == 404
        resp = _login(running_cloud, ps.trustee["id"], PASSWORD, _trust_scope(trust["id"]))
        assert resp.status_code == 401
    finally:
        ps.cleanup()


def test_trust_create_with_the_cli_and_the_sdk(running_cloud):
    ps = Parties(running_cloud)
    try:
        admin_id = running_cloud.openstack("token", "issue", cloud=ADMIN_CLOUD)["user_id"]
        admin_project = running_cloud.openstack("token", "issue", cloud=ADMIN_CLOUD)["project_id"]
        made = running_cloud.openstack(
            "trust", "create", "--project", admin_project, "--role", ps.roles["reader"],
            admin_id, ps.trustee["id"], cloud=ADMIN_CLOUD,
        )  # fmt: skip
        assert made["trustor_user_id"] == admin_id and made["is_impersonation"] is False
        resp = _login(running_cloud, ps.trustee["id"], PASSWORD, _trust_scope(made["id"]))
        body = resp.json()["token"]
        # without impersonation the token is the trustee's, on the trustor's project
        assert body["user"]["id"] == ps.trustee["id"]
        assert body["project"]["id"] == admin_project
        assert [r["name"] for r in body["roles"]] == ["reader"]
        running_cloud.openstack("trust", "delete", made["id"], cloud=ADMIN_CLOUD, json_output=False)

        conn = running_cloud.sdk(ADMIN_CLOUD)
        trust = conn.identity.create_trust(
            trustor_user_id=admin_id,
            trustee_user_id=ps.trustee["id"],
            project_id=admin_project,
            is_impersonation=True,
            roles=[{"name": "member"}],
            remaining_uses=2,
        )
        assert trust.remaining_uses == 2 and trust.is_impersonation is True
        assert conn.identity.get_trust(trust.id).trustee_user_id == ps.trustee["id"]
        assert trust.id in {t.id for t in conn.identity.trusts()}
        conn.identity.delete_trust(trust)
        assert trust.id not in {t.id for t in conn.identity.trusts()}
    finally:
        ps.cleanup()


def test_trust_errors_and_exhausted_or_expired_trusts(running_cloud):
    ps = Parties(running_cloud)
    v3 = ps.v3
    url = v3 + "/OS-TRUST/trusts"
    try:
        trustor = ps.token(ps.trustor, {"project": {"id": ps.project["id"]}})
        # 400: no impersonation, bad remaining_uses, bad or past expires_at, no roles,
        # redelegation asked for
        t = ps.trust_body()["trust"]
        for body in (
            {"trust": {k: v for k, v in t.items() if k != "impersonation"}},
            {"trust": {**t, "remaining_uses": 0}},
            {"trust": {**t, "remaining_uses": "x"}},
            {"trust": {**t, "expires_at": "tomorrow"}},
            {"trust": {**t, "expires_at": "2001-01-01T00:00:00Z"}},
            {"trust": {**t, "roles": []}},
            {"trust": {**t, "allow_redelegation": True}},
            {"trust": {**t, "unknown": 1}},
            [t],
        ):
            resp = httpx.post(url, json=body, headers=trustor)
            assert resp.status_code == 400, (body, resp.text)
            assert resp.json()["error"]["code"] == 400
        # 403: creating a trust for another trustor; delegating a role it does not hold
        trustee = ps.token(ps.trustee)
        assert httpx.post(url, json=ps.trust_body(), headers=trustee).status_code == 403
        admin_role = ps.trust_body(roles=[{"name": "admin"}])
        assert httpx.post(url, json=admin_role, headers=trustor).status_code == 403
        # 404: unknown trustee, project, role, trust
        unknown = uuid.uuid4().hex
        for body in (
            ps.trust_body(trustee_user_id=unknown),
            ps.trust_body(project_id=unknown),
            ps.trust_body(roles=[{"id": unknown}]),
        ):
            assert httpx.post(url, json=body, headers=trustor).status_code == 404, body
        assert httpx.get(f"{url}/{unknown}", headers=ps.admin).status_code == 404
        assert httpx.delete(f"{url}/{unknown}", headers=ps.admin).status_code == 404
        resp = _login(running_cloud, ps.trustee["id"], PASSWORD, _trust_scope(unknown))
        assert resp.status_code == 401

        # exhausted: one use gives one token, then 403
        once = httpx.post(url, json=ps.trust_body(remaining_uses=1), headers=trustor).json()
        first = _login(running_cloud, ps.trustee["id"], PASSWORD, _trust_scope(once["trust"]["id"]))
        assert first.status_code == 201, first.text
        shown = httpx.get(f"{url}/{once['trust']['id']}", headers=trustor).json()["trust"]
        assert shown["remaining_uses"] == 0
        again = _login(running_cloud, ps.trustee["id"], PASSWORD, _trust_scope(once["trust"]["id"]))
        assert again.status_code == 403, again.text

        # expired: refused, and not found any more
        soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
        body = ps.trust_body(expires_at=soon.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        made = httpx.post(url, json=body, headers=trustor)
        assert made.status_code == 201, made.text
        trust_id = made.json()["trust"]["id"]
        assert made.json()["trust"]["expires_at"].startswith(soon.strftime("%Y-%m-%dT%H:%M:%S"))
        token = _header(_login(running_cloud, ps.trustee["id"], PASSWORD, _trust_scope(trust_id)))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            resp = _login(running_cloud, ps.trustee["id"], PASSWORD, _trust_scope(trust_id))
            if resp.status_code != 201:
                break
            time.sleep(0.2)
        assert resp.status_code == 401, resp.text
        assert httpx.get(f"{url}/{trust_id}", headers=trustor).status_code == 404
        # the token obtained before is refused once its context is recomputed
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            used = httpx.get(running_cloud.url + "/compute/v2.1/servers", headers=token)
            if used.status_code == 401:
                break
            time.sleep(0.5)
        assert used.status_code == 401
    finally:
        ps.cleanup()
