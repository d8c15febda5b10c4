"""OS-OAUTH1 (issue 12) against a running cloud: consumers through the ``openstack`` CLI
(``consumer create/list/show/set/delete``), the delegation flow signed by requests-oauthlib
and by the CLI (``request token create``, ``request token authorize``, ``access token
create``: keystoneclient's ``v3.contrib.oauth1``), a token from the access token (method
``oauth1``, keystoneauth's ``v3oauth1`` plugin under openstacksdk) that works on the
project's servers and images, a user's access tokens, and the refusals Keystone answers:
bad signature 401, a role the authorizing user lacks 401, an unknown role 404, another
user's access token 404 (403 for a non-admin), a deleted consumer's tokens 401.

Expired request and access tokens need time to pass: ``tests/unit/identity/test_oauth1.py``
moves the rows' expiry instead."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs

import httpx
import requests
import yaml
from keystoneauth1 import session as ks_session
from keystoneauth1.extras.oauth1 import V3OAuth1
from oauthlib.oauth1 import SIGNATURE_HMAC
from openstack import connection
from requests_oauthlib import OAuth1

ADMIN_CLOUD = "pocketstack-admin"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _form(resp: requests.Response) -> dict[str, str]:
    assert resp.status_code == 201, resp.text
    assert resp.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    return {k: v[0] for k, v in parse_qs(resp.text).items()}


class Setup:
    """The admin's token, a project the admin holds ``member`` on (an admin authorizes, as
    Keystone's ``admin_required``), and a consumer made through the CLI."""

    def __init__(self, cloud: Any):
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
        resp = httpx.post(self.v3 + "/auth/tokens", json=body)
        assert resp.status_code == 201, resp.text
        self.admin = {"X-Auth-Token": resp.headers["X-Subject-Token"]}
        self.admin_id = resp.json()["token"]["user"]["id"]
        self.project = self.post("projects", {"project": {"name": _name("oauth")}})["project"]
        roles = httpx.get(self.v3 + "/roles", headers=self.admin).json()["roles"]
        self.roles = {r["name"]: r["id"] for r in roles}
        grant = (
            f"{self.v3}/projects/{self.project['id']}/users/{self.admin_id}/roles/"
            f"{self.roles['member']}"
        )
        assert httpx.put(grant, headers=self.admin).status_code == 204
        self.consumer = cloud.openstack(
            "consumer", "create", "--description", "ci app", cloud=ADMIN_CLOUD
        )

    def post(self, path: str, body: Any) -> Any:
        resp = httpx.post(f"{self.v3}/{path}", json=body, headers=self.admin)
        assert resp.status_code == 201, resp.text
        return resp.json()

    def request_token(self, secret: str | None = None) -> dict[str, str]:
        oauth = OAuth1(
            self.consumer["id"],
            client_secret=secret or self.consumer["secret"],
            callback_uri="oob",
            signature_method=SIGNATURE_HMAC,
        )
        return _form(
            requests.post(
                self.v3 + "/OS-OAUTH1/request_token",
                headers={"Requested-Project-Id": self.project["id"]},
                auth=oauth,
                timeout=30,
            )
        )

    def authorize(self, request_key: str, *roles: str) -> httpx.Response:
        return httpx.put(
            f"{self.v3}/OS-OAUTH1/authorize/{request_key}",
            json={"roles": [{"name": r} for r in roles]},
            headers=self.admin,
        )

    def access_token(self, rt: dict[str, str], verifier: str) -> requests.Response:
        oauth = OAuth1(
            self.consumer["id"],
            client_secret=self.consumer["secret"],
            resource_owner_key=rt["oauth_token"],
            resource_owner_secret=rt["oauth_token_secret"],
            verifier=verifier,
            signature_method=SIGNATURE_HMAC,
        )
        return requests.post(self.v3 + "/OS-OAUTH1/access_token", auth=oauth, timeout=30)

    def oauth_sdk(self, at: dict[str, str]) -> Any:
        """openstacksdk on keystoneauth's ``v3oauth1`` plugin (keystoneclient's way)."""
        plugin = V3OAuth1(
            auth_url=self.v3,
            consumer_key=self.consumer["id"],
            consumer_secret=self.consumer["secret"],
            access_key=at["oauth_token"],
            access_secret=at["oauth_token_secret"],
        )
        return connection.Connection(session=ks_session.Session(auth=plugin))

    def cleanup(self) -> None:
        httpx.delete(f"{self.v3}/projects/{self.project['id']}", headers=self.admin)
        self.cloud.openstack(
            "consumer", "delete", self.consumer["id"], cloud=ADMIN_CLOUD, json_output=False
        )


def test_oauth1_flow_gives_a_token_that_works_on_servers_and_images(running_cloud):
    st = Setup(running_cloud)
    v3 = st.v3
    server = network = None
    admin_sdk = running_cloud.sdk(ADMIN_CLOUD)
    try:
        rt = st.request_token()
        assert len(rt["oauth_token"]) == 32 and rt["oauth_expires_at"].endswith("Z")
        resp = st.authorize(rt["oauth_token"], "member")
        assert resp.status_code == 200, resp.text
        verifier = resp.json()["token"]["oauth_verifier"]
        at = _form(st.access_token(rt, verifier))
        # the request token is used up
        assert st.access_token(rt, verifier).status_code == 401

        # a Keystone token from the access token: the admin's, with the delegated role only
        oauth = OAuth1(
            st.consumer["id"],
            client_secret=st.consumer["secret"],
            resource_owner_key=at["oauth_token"],
            resource_owner_secret=at["oauth_token_secret"],
            signature_method=SIGNATURE_HMAC,
        )
        body = {"auth": {"identity": {"methods": ["oauth1"], "oauth1": {}}}}
        resp = requests.post(v3 + "/auth/tokens", json=body, auth=oauth, timeout=30)
        assert resp.status_code == 201, resp.text
        token = resp.json()["token"]
        assert token["methods"] == ["oauth1"] and token["user"]["id"] == st.admin_id
        assert token["project"]["id"] == st.project["id"]
        assert {r["name"] for r in token["roles"]} == {"member", "reader"}
        assert token["OS-OAUTH1"] == {
            "access_token_id": at["oauth_token"],
            "consumer_id": st.consumer["id"],
        }
        headers = {"X-Auth-Token": resp.headers["X-Subject-Token"]}
        # a member, not an admin: the admin-only listing is refused
        assert httpx.get(v3 + "/users", headers=headers).status_code == 403

        # openstacksdk on keystoneauth's oauth1 plugin: the project's servers and images
        conn = st.oauth_sdk(at)
        network = conn.network.create_network(name=_name("oauth-net"))
        conn.network.create_subnet(network_id=network.id, ip_version=4, cidr="10.77.0.0/24")
        image = next(conn.image.images(name="cirros"))
        flavor = conn.compute.find_flavor("m1.tiny")
        server = conn.compute.create_server(
            name=_name("oauth-vm"),
            image_id=image.id,
            flavor_id=flavor.id,
            networks=[{"uuid": network.id}],
        )
        server = conn.compute.wait_for_server(server, wait=90)
        assert server.project_id == st.project["id"]
        assert [s.id for s in conn.compute.servers()] == [server.id]
        assert "cirros" in {i.name for i in conn.image.images()}

        # the user's access tokens (the admin's own here)
        mine = f"{v3}/users/{st.admin_id}/OS-OAUTH1/access_tokens"
        listed = httpx.get(mine, headers=st.admin).json()["access_tokens"]
        one = next(a for a in listed if a["id"] == at["oauth_token"])
        assert one["consumer_id"] == st.consumer["id"]
        assert one["project_id"] == st.project["id"]
        assert one["authorizing_user_id"] == st.admin_id
        assert one["links"]["roles"] == f"{mine}/{at['oauth_token']}/roles"
        shown = httpx.get(f"{mine}/{at['oauth_token']}", headers=st.admin).json()
        assert shown["access_token"]["expires_at"] == one["expires_at"]
        roles = httpx.get(f"{mine}/{at['oauth_token']}/roles", headers=st.admin).json()
        assert [r["name"] for r in roles["roles"]] == ["member"]
        role_url = f"{mine}/{at['oauth_token']}/roles/{st.roles['member']}"
        assert httpx.get(role_url, headers=st.admin).json()["role"]["name"] == "member"
        absent = f"{mine}/{at['oauth_token']}/roles/{st.roles['admin']}"
        assert httpx.get(absent, headers=st.admin).status_code == 404

        # revoking the access token ends the tokens got with it
        conn.compute.delete_server(server.id)
        conn.compute.wait_for_delete(server, wait=60)
        server = None
        assert httpx.delete(f"{mine}/{at['oauth_token']}", headers=st.admin).status_code == 204
        assert httpx.get(v3 + "/auth/projects", headers=headers).status_code == 401
        assert (
            requests.post(v3 + "/auth/tokens", json=body, auth=oauth, timeout=30).status_code == 401
        )
    finally:
        if server is not None:
            admin_sdk.compute.delete_server(server.id, ignore_missing=True)
            admin_sdk.compute.wait_for_delete(server, wait=60)
        if network is not None:
            for port in admin_sdk.network.ports(network_id=network.id):
                admin_sdk.network.delete_port(port.id, ignore_missing=True)
            admin_sdk.network.delete_network(network.id, ignore_missing=True)
        st.cleanup()


def test_consumers_and_the_flow_through_the_cli(running_cloud):
    st = Setup(running_cloud)
    cli = running_cloud.openstack
    try:
        consumer = st.consumer
        assert len(consumer["secret"]) == 32 and consumer["description"] == "ci app"
        # the secret is shown once: neither the listing nor show has it
        rows = cli("consumer", "list", cloud=ADMIN_CLOUD)
        assert consumer["id"] in {r["ID"] for r in rows}
        shown = cli("consumer", "show", consumer["id"], cloud=ADMIN_CLOUD)
        assert "secret" not in shown and shown["description"] == "ci app"
        cli(
            "consumer",
            "set",
            "--description",
            "renamed",
            consumer["id"],
            cloud=ADMIN_CLOUD,
            json_output=False,
        )
        assert cli("consumer", "show", consumer["id"], cloud=ADMIN_CLOUD)["description"] == (
            "renamed"
        )
        # keystoneclient's oauth1 calls sign the identity v3 URL
        v3 = ["--os-auth-url", st.v3]
        rt = cli(
            *v3,
            "request",
            "token",
            "create",
            "--consumer-key",
            consumer["id"],
            "--consumer-secret",
            consumer["secret"],
            "--project",
            st.project["id"],
            cloud=ADMIN_CLOUD,
        )
        verifier = cli(
            "request",
            "token",
            "authorize",
            "--request-key",
            rt["key"],
            "--role",
            "member",
            cloud=ADMIN_CLOUD,
        )["oauth_verifier"]
        at = cli(
            *v3,
            "access",
            "token",
            "create",
            "--consumer-key",
            consumer["id"],
            "--consumer-secret",
            consumer["secret"],
            "--request-key",
            rt["key"],
            "--request-secret",
            rt["secret"],
            "--verifier",
            verifier,
            cloud=ADMIN_CLOUD,
        )
        conn = st.oauth_sdk({"oauth_token": at["key"], "oauth_token_secret": at["secret"]})
        assert list(conn.compute.servers()) == []
        token = conn.session.get_token()
        itself = {"X-Auth-Token": token, "X-Subject-Token": token}
        body = httpx.get(st.v3 + "/auth/tokens", headers=itself).json()["token"]
        assert body["project"]["id"] == st.project["id"]
        assert body["OS-OAUTH1"]["consumer_id"] == consumer["id"]
        # deleting the consumer revokes its access tokens and their Keystone tokens
        cli("consumer", "delete", consumer["id"], cloud=ADMIN_CLOUD, json_output=False)
        assert httpx.get(st.v3 + "/auth/tokens", headers=itself).status_code == 401
        mine = f"{st.v3}/users/{st.admin_id}/OS-OAUTH1/access_tokens/{at['key']}"
        assert httpx.get(mine, headers=st.admin).status_code == 404
        missing = cli("consumer", "show", consumer["id"], cloud=ADMIN_CLOUD, check=False)
        assert missing.returncode != 0
    finally:
        httpx.delete(f"{st.v3}/projects/{st.project['id']}", headers=st.admin)
        httpx.delete(f"{st.v3}/OS-OAUTH1/consumers/{st.consumer['id']}", headers=st.admin)


def test_refusals(running_cloud):
    st = Setup(running_cloud)
    v3 = st.v3
    user = None
    try:
        # a wrong consumer secret: 401
        oauth = OAuth1(
            st.consumer["id"],
            client_secret="0" * 32,
            callback_uri="oob",
            signature_method=SIGNATURE_HMAC,
        )
        resp = requests.post(
            v3 + "/OS-OAUTH1/request_token",
            headers={"Requested-Project-Id": st.project["id"]},
            auth=oauth,
            timeout=30,
        )
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == 401
        # a badly signed request learns nothing of projects: 401 for one that does not exist
        resp = requests.post(
            v3 + "/OS-OAUTH1/request_token",
            headers={"Requested-Project-Id": "f" * 32},
            auth=oauth,
            timeout=30,
        )
        assert resp.status_code == 401
        rt = st.request_token()
        # a role the authorizing admin does not hold on the project: 401 (Keystone); an
        # unknown role: 404; no role: 400
        assert st.authorize(rt["oauth_token"], "manager").status_code == 401
        assert st.authorize(rt["oauth_token"], _name("no-such-role")).status_code == 404
        assert st.authorize(rt["oauth_token"]).status_code == 400
        assert st.authorize("f" * 32, "member").status_code == 404
        # a non-admin may not authorize (Keystone's admin_required)
        pw = "pw-oauth-1"
        user = st.post("users", {"user": {"name": _name("u"), "password": pw}})["user"]
        grant = f"{v3}/projects/{st.project['id']}/users/{user['id']}/roles/{st.roles['member']}"
        assert httpx.put(grant, headers=st.admin).status_code == 204
        login = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {"user": {"id": user["id"], "password": pw}},
                },
                "scope": {"project": {"id": st.project["id"]}},
            }
        }
        resp = httpx.post(v3 + "/auth/tokens", json=login)
        member = {"X-Auth-Token": resp.headers["X-Subject-Token"]}
        url = f"{v3}/OS-OAUTH1/authorize/{rt['oauth_token']}"
        resp = httpx.put(url, json={"roles": [{"name": "member"}]}, headers=member)
        assert resp.status_code == 403
        # the admin's access token is another user's: 404 under the user, 403 for the user
        verifier = st.authorize(rt["oauth_token"], "member").json()["token"]["oauth_verifier"]
        at = _form(st.access_token(rt, verifier))
        others = f"{v3}/users/{user['id']}/OS-OAUTH1/access_tokens"
        assert httpx.get(f"{others}/{at['oauth_token']}", headers=st.admin).status_code == 404
        assert httpx.delete(f"{others}/{at['oauth_token']}", headers=st.admin).status_code == 404
        assert httpx.get(others, headers=st.admin).json()["access_tokens"] == []
        admins = f"{v3}/users/{st.admin_id}/OS-OAUTH1/access_tokens"
        assert httpx.get(admins, headers=member).status_code == 403
        # a consumer's secret cannot change, nor be chosen
        consumer = f"{v3}/OS-OAUTH1/consumers/{st.consumer['id']}"
        resp = httpx.patch(consumer, json={"consumer": {"secret": "x"}}, headers=st.admin)
        assert resp.status_code == 400
        resp = httpx.post(
            v3 + "/OS-OAUTH1/consumers", json={"consumer": {"secret": "x"}}, headers=st.admin
        )
        assert resp.status_code == 400
        # consumers are the admin's
        assert httpx.get(v3 + "/OS-OAUTH1/consumers", headers=member).status_code == 403
    finally:
        if user is not None:
            httpx.delete(f"{v3}/users/{user['id']}", headers=st.admin)
        st.cleanup()
