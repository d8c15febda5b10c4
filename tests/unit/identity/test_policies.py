"""Who may call what on the Identity API: every route, called by every persona, against
Keystone's default policies (``pocketstack/identity/policies.py``). The real Identity API
runs in-process (Starlette TestClient) with real tokens from POST /v3/auth/tokens.

Personas: ``admin`` (admin on project admin), ``member`` (demo, member on demo), ``reader``
(reader on demo), tokens from demo's application credentials restricted to [reader]
(``ac_reader``) and [member] (``ac_member``), from an unrestricted one (``ac_unrestricted``,
[member]), and ``other``, a member of another project. ``{me}`` is the persona's own user
(demo for the application credentials), ``{someone}`` a user that is none of them.

A row that must succeed acts on objects made for that one request (``{new_...}``,
``{fresh_...}``), so rows do not depend on each other's order.
"""

from __future__ import annotations

import json
import re
import types
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import compile_path
from starlette.testclient import TestClient

from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import InProcessBus
from pocketstack.common.config import Config
from pocketstack.common.db import Base, Database, import_all_models
from pocketstack.common.errors import Unauthorized
from pocketstack.identity.api import API
from pocketstack.identity.oauth1_models import AccessToken, RequestToken
from tests.helpers import FAST_HASHES

SYS = RequestContext.system()
PERSONAS = ("admin", "member", "reader", "ac_reader", "ac_member", "ac_unrestricted", "other")


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(PERSONAS, status)


def admin_only(status: int) -> dict[str, int]:
    return {p: status if p == "admin" else 403 for p in PERSONAS}


def not_other(status: int) -> dict[str, int]:
    return {p: 403 if p == "other" else status for p in PERSONAS}


def delegators(status: int) -> dict[str, int]:
    """``status`` for all but the restricted application credentials' tokens (403)."""
    return {p: 403 if p in ("ac_reader", "ac_member") else status for p in PERSONAS}


@dataclass
class Op:
    """One call: method, path and body templates (``{placeholder}``s), expected statuses."""

    method: str
    path: str
    expect: dict[str, int]
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    note: str = ""

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}{' ' + self.note if self.note else ''}"


_P = "/v3/projects/{demo_project}"
_D = "/v3/domains/default"
_AC = "/v3/users/{me}/application_credentials"
_SAC = "/v3/users/{someone}/application_credentials"
_EC2 = "/v3/users/{me}/credentials/OS-EC2"
_SEC2 = "/v3/users/{someone}/credentials/OS-EC2"
_TR = "/v3/OS-TRUST/trusts"
_OA = "/v3/OS-OAUTH1"
_MAT = "/v3/users/{me}/OS-OAUTH1/access_tokens"

TABLE = [
    # versions and tokens
    Op("GET", "/", everyone(300)),
    Op("GET", "/v3", everyone(200)),
    Op("GET", "/v3/", everyone(200)),
    Op(
        "POST",
        "/v3/auth/tokens",
        everyone(201),
        {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {"user": {"id": "{login_user}", "password": "loginpw"}},
                }
            }
        },
    ),
    Op("GET", "/v3/auth/tokens", everyone(200), headers={"X-Subject-Token": "{my_token}"}),
    Op(
        "GET",
        "/v3/auth/tokens",
        admin_only(200),
        headers={"X-Subject-Token": "{other_token}"},
        note="another user's token",
    ),
    Op(
        "GET",
        "/v3/auth/tokens",
        everyone(404),
        headers={"X-Subject-Token": "not-a-token"},
        note="invalid subject",
    ),
    Op("DELETE", "/v3/auth/tokens", everyone(204), headers={"X-Subject-Token": "{my_fresh_token}"}),
    Op(
        "DELETE",
        "/v3/auth/tokens",
        admin_only(204),
        headers={"X-Subject-Token": "{other_token}"},
        note="another user's token",
    ),
    Op("GET", "/v3/auth/catalog", everyone(200)),
    Op("GET", "/v3/auth/projects", everyone(200)),
    Op("GET", "/v3/auth/domains", everyone(200)),
    Op("GET", "/v3/auth/system", everyone(200)),
    # domains
    Op("GET", "/v3/domains", admin_only(200)),
    Op("POST", "/v3/domains", admin_only(201), {"domain": {"name": "d-{uniq}"}}),
    Op("GET", "/v3/domains/default", everyone(200), note="the token project's domain"),
    Op("GET", "/v3/domains/{new_domain}", admin_only(200)),
    Op("PATCH", "/v3/domains/{new_domain}", admin_only(200), {"domain": {"description": "x"}}),
    Op("DELETE", "/v3/domains/{disabled_domain}", admin_only(204)),
    # projects
    Op("GET", "/v3/projects", admin_only(200)),
    Op("POST", "/v3/projects", admin_only(201), {"project": {"name": "p-{uniq}"}}),
    Op("GET", "/v3/projects/{my_project}", everyone(200)),
    Op("GET", "/v3/projects/{demo_project}", not_other(200), note="demo's project"),
    Op("GET", "/v3/projects/{someones_project}", admin_only(200), note="a project of mine"),
    Op("PATCH", "/v3/projects/{new_project}", admin_only(200), {"project": {"description": "x"}}),
    Op("DELETE", "/v3/projects/{new_project}", admin_only(204)),
    Op("GET", "/v3/users/{me}/projects", everyone(200)),
    Op("GET", "/v3/users/{someone}/projects", admin_only(200)),
    # users
    Op("GET", "/v3/users", admin_only(200)),
    Op("POST", "/v3/users", admin_only(201), {"user": {"name": "u-{uniq}"}}),
    Op("GET", "/v3/users/{me}", everyone(200)),
    Op("GET", "/v3/users/{someone}", admin_only(200)),
    Op(
        "PATCH",
        "/v3/users/{me}",
        admin_only(200),
        {"user": {"password": "{my_password}"}},
        note="own password",
    ),
    Op("PATCH", "/v3/users/{me}", admin_only(200), {"user": {"description": "x"}}, note="self"),
    Op("PATCH", "/v3/users/{someone}", admin_only(200), {"user": {"description": "x"}}),
    Op("DELETE", "/v3/users/{new_user}", admin_only(204)),
    Op(
        "POST",
        "/v3/users/{me}/password",
        everyone(204),
        {"user": {"original_password": "{my_password}", "password": "{my_password}"}},
    ),
    Op(
        "POST",
        "/v3/users/{me}/password",
        everyone(401),
        {"user": {"original_password": "wrong", "password": "new-password"}},
        note="wrong original",
    ),
    Op(
        "POST",
        "/v3/users/{someone}/password",
        everyone(403),
        {"user": {"original_password": "whatever", "password": "new-password"}},
    ),
    Op("GET", "/v3/users/{me}/groups", everyone(200)),
    Op("GET", "/v3/users/{someone}/groups", admin_only(200)),
    # groups
    Op("GET", "/v3/groups", admin_only(200)),
    Op("POST", "/v3/groups", admin_only(201), {"group": {"name": "g-{uniq}"}}),
    Op("GET", "/v3/groups/{group}", admin_only(200)),
    Op("PATCH", "/v3/groups/{group}", admin_only(200), {"group": {"description": "x"}}),
    Op("DELETE", "/v3/groups/{new_group}", admin_only(204)),
    Op("GET", "/v3/groups/{group}/users", admin_only(200)),
    Op("PUT", "/v3/groups/{new_group}/users/{someone}", admin_only(204)),
    Op("HEAD", "/v3/groups/{group}/users/{someone}", admin_only(204)),
    Op("DELETE", "/v3/groups/{fresh_member_group}/users/{someone}", admin_only(204)),
    # application credentials
    Op("GET", _AC, everyone(200)),
    Op("GET", _SAC, admin_only(200)),
    Op("POST", _AC, delegators(201), {"application_credential": {"name": "ac-{uniq}"}}),
    Op("POST", _SAC, everyone(403), {"application_credential": {"name": "ac-{uniq}"}}),
    Op("GET", _AC + "/{my_cred}", everyone(200)),
    Op("GET", _SAC + "/{someones_cred}", admin_only(200)),
    Op("GET", _AC + "/{someones_cred}", everyone(404), note="another's credential"),
    Op("DELETE", _AC + "/{my_fresh_cred}", delegators(204)),
    Op("DELETE", _SAC + "/{someones_fresh_cred}", admin_only(204)),
    # project tags
    Op("GET", "/v3/projects/{my_project}/tags", everyone(200)),
    Op("GET", "/v3/projects/{someones_project}/tags", admin_only(200)),
    Op("PUT", "/v3/projects/{new_project}/tags", admin_only(200), {"tags": ["a", "b"]}),
    Op("DELETE", "/v3/projects/{new_project}/tags", admin_only(204)),
    Op("GET", "/v3/projects/{tagged_project}/tags/blue", admin_only(204)),
    Op("HEAD", "/v3/projects/{tagged_project}/tags/blue", admin_only(204)),
    Op("PUT", "/v3/projects/{new_project}/tags/blue", admin_only(201)),
    Op("DELETE", "/v3/projects/{tagged_project}/tags/blue", admin_only(204)),
    # credentials and EC2 credentials
    Op("GET", "/v3/credentials", everyone(200)),
    Op(
        "POST",
        "/v3/credentials",
        everyone(201),
        {"credential": {"user_id": "{me}", "type": "cert", "blob": "x"}},
    ),
    Op(
        "POST",
        "/v3/credentials",
        admin_only(201),
        {"credential": {"user_id": "{someone}", "type": "cert", "blob": "x"}},
        note="for someone",
    ),
    Op("GET", "/v3/credentials/{my_credential}", everyone(200)),
    Op("GET", "/v3/credentials/{someones_credential}", admin_only(200)),
    Op("PATCH", "/v3/credentials/{my_credential}", everyone(200), {"credential": {"blob": "y"}}),
    Op("DELETE", "/v3/credentials/{my_credential}", everyone(204)),
    Op("DELETE", "/v3/credentials/{someones_credential}", admin_only(204)),
    Op("GET", _EC2, everyone(200)),
    Op("GET", _SEC2, admin_only(200)),
    Op("POST", _EC2, delegators(201), {"tenant_id": "{my_project}"}),
    Op("POST", _SEC2, admin_only(201), {"tenant_id": "{demo_project}"}),
    Op("GET", _EC2 + "/{my_ec2}", everyone(200)),
    Op("GET", _SEC2 + "/{someones_ec2}", admin_only(200)),
    Op("DELETE", _EC2 + "/{my_ec2}", everyone(204)),
    # roles and implied roles
    Op("GET", "/v3/roles", admin_only(200)),
    Op("POST", "/v3/roles", admin_only(201), {"role": {"name": "r-{uniq}"}}),
    Op("GET", "/v3/roles/{observer}", admin_only(200)),
    Op("PATCH", "/v3/roles/{new_role}", admin_only(200), {"role": {"description": "x"}}),
    Op("DELETE", "/v3/roles/{new_role}", admin_only(204)),
    Op("GET", "/v3/roles/{admin_role}/implies", admin_only(200)),
    Op("PUT", "/v3/roles/{new_role}/implies/{new_role2}", admin_only(201)),
    Op("GET", "/v3/roles/{member_role}/implies/{reader_role}", admin_only(200)),
    Op("HEAD", "/v3/roles/{member_role}/implies/{reader_role}", admin_only(204)),
    Op("DELETE", "/v3/roles/{fresh_prior}/implies/{fresh_implied}", admin_only(204)),
    Op("GET", "/v3/role_inferences", admin_only(200)),
    Op("GET", "/v3/role_assignments", admin_only(200)),
    Op("GET", "/v3/role_assignments?user.id={me}", admin_only(200), note="own"),
    # grants, on a project, a domain and the system, to a user and a group
    *[
        op
        for target, actor in (
            (_P, "/users/{someone}"),
            (_P, "/groups/{group}"),
            (_D, "/users/{someone}"),
            (_D, "/groups/{group}"),
            ("/v3/system", "/users/{someone}"),
            ("/v3/system", "/groups/{group}"),
        )
        for op in (
            Op("GET", target + actor + "/roles", admin_only(200)),
            Op("PUT", target + actor + "/roles/{new_role}", admin_only(204)),
            Op("GET", target + actor + "/roles/{observer}", admin_only(204)),
            Op("HEAD", target + actor + "/roles/{observer}", admin_only(204)),
            Op(
                "DELETE",
                target + actor + "/roles/{fresh_grant}",
                admin_only(204),
            ),
        )
    ],
    # OS-INHERIT grants, on a project and a domain, to a user and a group (the same rules)
    *[
        op
        for target, actor in (
            ("/v3/OS-INHERIT/projects/{demo_project}", "/users/{someone}"),
            ("/v3/OS-INHERIT/projects/{demo_project}", "/groups/{group}"),
            ("/v3/OS-INHERIT/domains/default", "/users/{someone}"),
            ("/v3/OS-INHERIT/domains/default", "/groups/{group}"),
        )
        for op in (
            Op("GET", target + actor + "/roles/inherited_to_projects", admin_only(200)),
            Op("PUT", target + actor + "/roles/{new_role}/inherited_to_projects", admin_only(204)),
            *[
                Op(m, target + actor + "/roles/{fresh_grant}/inherited_to_projects", admin_only(s))
                for m, s in (("GET", 204), ("HEAD", 204), ("DELETE", 204))
            ],
        )
    ],
    # trusts (OS-TRUST): the trustor creates and deletes, trustor and trustee read
    Op(
        "POST",
        _TR,
        delegators(201),
        {
            "trust": {
                "trustor_user_id": "{me}",
                "trustee_user_id": "{someone}",
                "project_id": "{my_project}",
                "impersonation": False,
                "roles": [{"name": "reader"}],
            }
        },
    ),
    Op("GET", _TR, admin_only(200)),
    Op("GET", _TR + "?trustor_user_id={me}", everyone(200), note="own"),
    Op("GET", _TR + "/{my_trust}", everyone(200)),
    Op("GET", _TR + "/{someones_trust}", admin_only(200), note="another's trust"),
    Op("GET", _TR + "/{my_trust}/roles", everyone(200)),
    Op("GET", _TR + "/{my_trust}/roles/{reader_role}", everyone(200)),
    Op("HEAD", _TR + "/{my_trust}/roles/{reader_role}", everyone(200)),
    Op("DELETE", _TR + "/{my_trust}", delegators(204)),
    Op("DELETE", _TR + "/{someones_trust}", admin_only(204), note="another's trust"),
    # OS-OAUTH1: consumers, authorizing and users' access tokens are the admin's; the
    # request and access token calls take no token (unsigned here: 401 for everyone)
    Op("POST", _OA + "/consumers", admin_only(201), {"consumer": {"description": "x"}}),
    Op("GET", _OA + "/consumers", admin_only(200)),
    Op("GET", _OA + "/consumers/{new_consumer}", admin_only(200)),
    Op(
        "PATCH",
        _OA + "/consumers/{new_consumer}",
        admin_only(200),
        {"consumer": {"description": "y"}},
    ),
    Op("DELETE", _OA + "/consumers/{new_consumer}", admin_only(204)),
    Op(
        "POST",
        _OA + "/request_token",
        everyone(401),
        headers={"Requested-Project-Id": "{my_project}"},
        note="unsigned",
    ),
    Op(
        "POST",
        _OA + "/access_token",
        everyone(401),
        headers={"Requested-Project-Id": "{my_project}"},
        note="unsigned",
    ),
    Op(
        "PUT",
        _OA + "/authorize/{my_request_token}",
        admin_only(200),
        {"roles": [{"name": "reader"}]},
    ),
    Op("GET", _MAT, admin_only(200)),
    Op("GET", "/v3/users/{someone}/OS-OAUTH1/access_tokens", admin_only(200)),
    Op("GET", _MAT + "/{my_access_token}", admin_only(200)),
    Op("GET", _MAT + "/{my_access_token}/roles", admin_only(200)),
    Op("GET", _MAT + "/{my_access_token}/roles/{reader_role}", admin_only(200)),
    Op("DELETE", _MAT + "/{my_access_token}", admin_only(204)),
    # catalog
    Op("GET", "/v3/regions", everyone(200)),
    Op("POST", "/v3/regions", admin_only(201), {"region": {"id": "r-{uniq}"}}),
    Op("GET", "/v3/regions/RegionOne", everyone(200)),
    Op("PATCH", "/v3/regions/{new_region}", admin_only(200), {"region": {"description": "x"}}),
    Op("DELETE", "/v3/regions/{new_region}", admin_only(204)),
    Op("GET", "/v3/services", admin_only(200)),
    Op("POST", "/v3/services", admin_only(201), {"service": {"type": "t-{uniq}"}}),
    Op("GET", "/v3/services/{service}", admin_only(200)),
    Op("PATCH", "/v3/services/{new_service}", admin_only(200), {"service": {"name": "x"}}),
    Op("DELETE", "/v3/services/{new_service}", admin_only(204)),
    Op("GET", "/v3/endpoints", admin_only(200)),
    Op(
        "POST",
        "/v3/endpoints",
        admin_only(201),
        {
            "endpoint": {
                "service_id": "{service}",
                "interface": "public",
                "url": "http://127.0.0.1/{uniq}",
                "region_id": "RegionOne",
            }
        },
    ),
    Op("GET", "/v3/endpoints/{endpoint}", admin_only(200)),
    Op("PATCH", "/v3/endpoints/{new_endpoint}", admin_only(200), {"endpoint": {"enabled": False}}),
    Op("DELETE", "/v3/endpoints/{new_endpoint}", admin_only(204)),
    # policies (admin writes, admin and system reader read)
    Op("GET", "/v3/policies", admin_only(200)),
    Op("POST", "/v3/policies", admin_only(201), {"policy": {"blob": "{}", "type": "t/x"}}),
    Op("GET", "/v3/policies/nope", admin_only(404)),
    Op("PATCH", "/v3/policies/nope", admin_only(404), {"policy": {"type": "t/y"}}),
    Op("DELETE", "/v3/policies/nope", admin_only(404)),
    # domain configuration (the defaults: anyone)
    Op("GET", "/v3/domains/config/default", everyone(200)),
    Op("GET", "/v3/domains/config/default/ldap", everyone(200)),
    Op("GET", "/v3/domains/config/default/ldap/url", everyone(200)),
    Op(
        "PUT",
        "/v3/domains/{new_domain}/config",
        admin_only(201),
        {"config": {"identity": {"driver": "ldap"}}},
    ),
    *(
        Op(method, "/v3/domains/default/config" + tail, admin_only(404), body)
        for tail, patch in (
            ("", {"identity": {"driver": "sql"}}),
            ("/identity", {"identity": {"driver": "sql"}}),
            ("/identity/driver", {"driver": "sql"}),
        )
        for method, body in (("GET", None), ("PATCH", {"config": patch}), ("DELETE", None))
    ),
    # unified limits (reads open; writes admin's)
    Op("GET", "/v3/registered_limits", everyone(200)),
    Op("GET", "/v3/registered_limits/nope", everyone(404)),
    Op(
        "POST",
        "/v3/registered_limits",
        admin_only(400),
        {"registered_limits": [{"service_id": "nope", "resource_name": "r", "default_limit": 1}]},
    ),
    Op(
        "PATCH",
        "/v3/registered_limits/nope",
        admin_only(404),
        {"registered_limit": {"default_limit": 2}},
    ),
    Op("DELETE", "/v3/registered_limits/nope", admin_only(404)),
    Op("GET", "/v3/limits/model", everyone(200)),
    Op("GET", "/v3/limits", everyone(200)),
    Op("GET", "/v3/limits/nope", everyone(404)),
    Op(
        "POST",
        "/v3/limits",
        admin_only(400),
        {
            "limits": [
                {
                    "service_id": "nope",
                    "project_id": "{demo_project}",
                    "resource_name": "r",
                    "resource_limit": 1,
                }
            ]
        },
    ),
    Op("PATCH", "/v3/limits/nope", admin_only(404), {"limit": {"resource_limit": 2}}),
    Op("DELETE", "/v3/limits/nope", admin_only(404)),
    # OS-EP-FILTER (admin writes, admin and system reader read)
    *(
        Op(method, "/v3/OS-EP-FILTER/projects/{demo_project}/endpoints/nope", admin_only(404))
        for method in ("PUT", "GET", "DELETE")
    ),
    Op("GET", "/v3/OS-EP-FILTER/projects/{demo_project}/endpoints", admin_only(200)),
    Op("GET", "/v3/OS-EP-FILTER/projects/{demo_project}/endpoint_groups", admin_only(200)),
    Op("GET", "/v3/OS-EP-FILTER/endpoints/nope/projects", admin_only(404)),
    Op("GET", "/v3/OS-EP-FILTER/endpoint_groups", admin_only(200)),
    Op(
        "POST",
        "/v3/OS-EP-FILTER/endpoint_groups",
        admin_only(201),
        {"endpoint_group": {"name": "eg", "filters": {"interface": "public"}}},
    ),
    Op("GET", "/v3/OS-EP-FILTER/endpoint_groups/nope", admin_only(404)),
    Op(
        "PATCH",
        "/v3/OS-EP-FILTER/endpoint_groups/nope",
        admin_only(404),
        {"endpoint_group": {"name": "x"}},
    ),
    Op("DELETE", "/v3/OS-EP-FILTER/endpoint_groups/nope", admin_only(404)),
    Op("GET", "/v3/OS-EP-FILTER/endpoint_groups/nope/projects", admin_only(404)),
    Op("GET", "/v3/OS-EP-FILTER/endpoint_groups/nope/endpoints", admin_only(404)),
    *(
        Op(method, "/v3/OS-EP-FILTER/endpoint_groups/nope/projects/{demo_project}", admin_only(404))
        for method in ("PUT", "GET", "DELETE")
    ),
]


@dataclass
class Persona:
    """A caller: its user and project, how it logs in, its current token."""

    name: str
    user_id: str
    project_id: str
    password: str
    login: Callable[[], str]
    token: str = ""


class Env:
    """The cloud, its API client, the personas and the objects rows act on."""

    def __init__(self, client: TestClient, cloud: Any, ids: dict[str, str]):
        self.client = client
        self.cloud = cloud
        self.im = cloud.identity
        self.ids = ids
        self.personas: dict[str, Persona] = {}
        self.fixed: dict[str, str] = {}

    # -- requests --------------------------------------------------------------------------
    def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
        headers = {**({"X-Auth-Token": token} if token else {}), **kw.pop("headers", {})}
        return self.client.request(method, "/identity" + path, headers=headers, **kw)

    def password_login(self, user_id: str, password: str, project_id: str | None) -> str:
        auth: dict[str, Any] = {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"id": user_id, "password": password}},
            }
        }
        if project_id:
            auth["scope"] = {"project": {"id": project_id}}
        resp = self.call("POST", "/v3/auth/tokens", json={"auth": auth})
        assert resp.status_code == 201, resp.text
        return resp.headers["X-Subject-Token"]

    def app_cred_login(self, cred_id: str, secret: str) -> str:
        auth = {
            "identity": {
                "methods": ["application_credential"],
                "application_credential": {"id": cred_id, "secret": secret},
            }
        }
        resp = self.call("POST", "/v3/auth/tokens", json={"auth": auth})
        assert resp.status_code == 201, resp.text
        return resp.headers["X-Subject-Token"]

    def token(self, persona: Persona) -> str:
        """The persona's token, issued again when a row revoked it (password change)."""
        try:
            self.im.tokens.validate(persona.token)
        except Unauthorized:
            persona.token = persona.login()
        return persona.token

    # -- set-up ----------------------------------------------------------------------------
    def role(self, name: str) -> str:
        return self.im.roles.list(SYS, name)[0].id

    def add_system_persona(self, name: str, user_id: str, password: str) -> None:
        """A persona with a system-scoped token (``"scope": {"system": {"all": true}}``)."""

        def login() -> str:
            auth = {
                "identity": {
                    "methods": ["password"],
                    "password": {"user": {"id": user_id, "password": password}},
                },
                "scope": {"system": {"all": True}},
            }
            resp = self.call("POST", "/v3/auth/tokens", json={"auth": auth})
            assert resp.status_code == 201, resp.text
            assert resp.json()["token"]["system"] == {"all": True}
            return str(resp.headers["X-Subject-Token"])

        self.personas[name] = Persona(name, user_id, "", password, login, login())

    def add_password_persona(self, name: str, user_id: str, password: str, project: str) -> None:
        p = Persona(name, user_id, project, password, lambda: "")
        p.login = lambda: self.password_login(user_id, password, project)
        p.token = p.login()
        self.personas[name] = p

    def add_app_cred_persona(self, name: str, roles: list[str], unrestricted: bool) -> None:
        member = self.personas["member"]
        body = {
            "application_credential": {
                "name": name,
                "roles": [{"name": r} for r in roles],
                "unrestricted": unrestricted,
            }
        }
        resp = self.call(
            "POST",
            f"/v3/users/{member.user_id}/application_credentials",
            member.token,
            json=body,
        )
        assert resp.status_code == 201, resp.text
        cred = resp.json()["application_credential"]
        p = Persona(name, member.user_id, member.project_id, member.password, lambda: "")
        p.login = lambda: self.app_cred_login(cred["id"], cred["secret"])
        p.token = p.login()
        self.personas[name] = p

    def cred_of(self, user_id: str, project_id: str) -> str:
        ctx = RequestContext(user_id=user_id, project_id=project_id, roles=("reader",))
        return self.im.application_credentials.create(ctx, user_id, f"c-{uuid.uuid4().hex}")[0].id

    # -- placeholders ----------------------------------------------------------------------
    def value(self, name: str, persona: Persona, scratch: dict[str, str]) -> str:
        """The value of ``{name}`` for one request of ``persona`` (see the module doc)."""
        if name in self.fixed:
            return self.fixed[name]
        im, uniq = self.im, uuid.uuid4().hex[:12]
        someone, group = self.fixed["someone"], self.fixed["group"]
        if name == "fresh_grant":  # a role held by the row's actor on the row's target
            role = im.roles.create(SYS, f"r-{uniq}").id
            path = scratch["_path"].replace("/v3/OS-INHERIT/", "/v3/", 1)
            target = ("project", self.ids["demo_project_id"])
            if path.startswith("/v3/domains"):
                target = ("domain", "default")
            if path.startswith("/v3/system"):
                target = ("system", "system")
            actor = ("group", group) if "/groups/" in path else ("user", someone)
            inherited = scratch["_path"].startswith("/v3/OS-INHERIT")
            im.roles.grant(SYS, role, *actor, *target, inherited=inherited)
            return role
        if name in ("my_trust", "someones_trust"):  # a fresh trust delegating reader
            mine = name == "my_trust"
            trustor = persona.user_id if mine else someone
            project = persona.project_id if mine else self.ids["demo_project_id"]
            trustee = someone if mine else self.fixed["login_user"]
            ctx = RequestContext(user_id=trustor, project_id=project, roles=("reader",))
            role = [{"name": "reader"}]
            return im.trusts.create(ctx, trustor, trustee, project, False, role)[0].id
        if name in ("my_request_token", "my_access_token"):
            return self._oauth_row(name, persona)
        if name == "fresh_prior":
            prior, implied = (im.roles.create(SYS, f"r{i}-{uniq}").id for i in (1, 2))
            im.roles.create_implied(SYS, prior, implied)
            scratch["fresh_implied"] = implied
            return prior
        makers: dict[str, Callable[[], str]] = {
            "uniq": lambda: uniq,
            "me": lambda: persona.user_id,
            "my_project": lambda: persona.project_id,
            "my_password": lambda: persona.password,
            "my_token": lambda: self.token(persona),
            "my_fresh_token": persona.login,
            "other_token": lambda: self.password_login(self.fixed["login_user"], "loginpw", None),
            "my_cred": lambda: self.fixed[f"cred_of_{persona.user_id}"],
            "my_fresh_cred": lambda: self.cred_of(persona.user_id, persona.project_id),
            "someones_fresh_cred": lambda: self.cred_of(someone, self.ids["demo_project_id"]),
            "new_user": lambda: im.users.create(SYS, f"u-{uniq}").id,
            "new_consumer": lambda: im.oauth1.create_consumer(SYS, "c", {})[0].id,
            "new_group": lambda: im.groups.create(SYS, f"g-{uniq}").id,
            "fresh_member_group": lambda: self._group_with(someone, uniq),
            "new_project": lambda: im.projects.create(SYS, f"p-{uniq}").id,
            "tagged_project": lambda: im.projects.create(SYS, f"p-{uniq}", tags=["blue"]).id,
            "my_credential": lambda: im.credentials.create(SYS, persona.user_id, "cert", "x").id,
            "someones_credential": lambda: im.credentials.create(SYS, someone, "cert", "x").id,
            "my_ec2": lambda: self._ec2(persona.user_id, persona.project_id),
            "someones_ec2": lambda: self._ec2(someone, self.ids["demo_project_id"]),
            "new_domain": lambda: im.domains.create(SYS, f"d-{uniq}").id,
            "disabled_domain": lambda: im.domains.create(SYS, f"d-{uniq}", enabled=False).id,
            "new_role": lambda: im.roles.create(SYS, f"r-{uniq}").id,
            "new_role2": lambda: im.roles.create(SYS, f"r2-{uniq}").id,
            "new_region": lambda: im.regions.create(SYS, f"r-{uniq}").id,
            "new_service": lambda: im.services.create(SYS, f"t-{uniq}").id,
            "new_endpoint": lambda: (
                im.endpoints.create(
                    SYS, self.fixed["service"], "public", f"http://127.0.0.1/{uniq}"
                ).id
            ),
        }
        return makers[name]()

    def _oauth_row(self, name: str, persona: Persona) -> str:
        """A consumer's request token for the persona's project, or an access token of
        the persona delegating reader there (rows written directly: no signature here)."""
        im = self.im
        consumer, _secret = im.oauth1.create_consumer(SYS, None, {})
        secret = im.oauth1.keys.encrypt(b"s")
        row: RequestToken | AccessToken
        if name == "my_request_token":
            row = RequestToken(
                consumer_id=consumer.id,
                encrypted_secret=secret,
                requested_project_id=persona.project_id,
            )
        else:
            row = AccessToken(
                consumer_id=consumer.id,
                encrypted_secret=secret,
                authorizing_user_id=persona.user_id,
                project_id=persona.project_id,
                role_ids=[self.fixed["reader_role"]],
            )
        with im.db.transaction() as s:
            s.add(row)
            s.flush()
            return row.id

    def _ec2(self, user_id: str, project_id: str) -> str:
        blob = self.im.credentials.ec2_create(SYS, user_id, project_id).blob
        return str(json.loads(blob)["access"])

    def _group_with(self, user_id: str, uniq: str) -> str:
        group = self.im.groups.create(SYS, f"g-{uniq}").id
        self.im.groups.add_member(SYS, group, user_id)
        return group

    def fill(self, template: Any, persona: Persona, scratch: dict[str, str]) -> Any:
        """``template`` (str, dict or list) with its ``{placeholders}`` replaced."""
        if isinstance(template, dict):
            return {k: self.fill(v, persona, scratch) for k, v in template.items()}
        if isinstance(template, list):
            return [self.fill(v, persona, scratch) for v in template]
        if not isinstance(template, str):
            return template

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in scratch:
                scratch[name] = self.value(name, persona, scratch)
            return scratch[name]

        return re.sub(r"\{(\w+)\}", one, template)

    def run(self, op: Op, persona: Persona) -> int:
        scratch = {"_path": op.path}
        path = self.fill(op.path, persona, scratch)
        headers = self.fill(op.headers, persona, scratch)
        body = self.fill(op.body, persona, scratch)
        kw: dict[str, Any] = {"headers": headers}
        if body is not None:
            kw["json"] = body
        return self.call(op.method, path, self.token(persona), **kw).status_code


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    from pocketstack.service import Cloud

    state = tmp_path_factory.mktemp("policy") / "state"
    # no lockout: the rows' wrong original passwords would lock demo out (test_lockout.py)
    flags = {
        "state_dir": str(state),
        "compute_driver": "fake",
        "lockout_failure_attempts": 0,
        **FAST_HASHES,
    }
    conf = Config.load(flags, environ={})
    import_all_models()
    db = Database(conf.database)
    Base.metadata.create_all(db.engine)
    bus = InProcessBus(workers=2)
    cloud = Cloud(conf, db, bus)
    ids = cloud.identity.bootstrap("adminpw", "demopw")
    app_state = types.SimpleNamespace(conf=conf, cloud=cloud, token_validator=cloud.identity.tokens)
    with TestClient(Starlette(routes=[API.mount(app_state)])) as client:
        e = Env(client, cloud, ids)
        _set_up(e)
        yield e
    bus.stop()
    db.dispose()


def _set_up(e: Env) -> None:
    im, ids = e.im, e.ids
    demo_project = ids["demo_project_id"]
    reader = im.users.create(SYS, "reader", password="readerpw").id
    im.roles.grant(SYS, e.role("reader"), "user", reader, "project", demo_project)
    alt = im.projects.create(SYS, "alt").id
    other = im.users.create(SYS, "other", password="otherpw").id
    im.roles.grant(SYS, e.role("member"), "user", other, "project", alt)
    someone = im.users.create(SYS, "bystander").id
    im.roles.grant(SYS, e.role("member"), "user", someone, "project", demo_project)
    someones_project = im.projects.create(SYS, "bystanders").id
    im.roles.grant(SYS, e.role("member"), "user", someone, "project", someones_project)
    group = im.groups.create(SYS, "staff").id
    im.groups.add_member(SYS, group, someone)
    observer = im.roles.create(SYS, "observer").id
    for actor in (("user", someone), ("group", group)):
        im.roles.grant(SYS, observer, *actor, "project", demo_project)
        im.roles.grant(SYS, observer, *actor, "domain", "default")
        im.roles.grant(SYS, observer, *actor, "system", "system")
    service = im.services.create(SYS, "policy-test").id
    e.fixed.update(
        demo_project=demo_project,
        someones_project=someones_project,
        someone=someone,
        group=group,
        observer=observer,
        service=service,
        endpoint=im.endpoints.create(SYS, service, "public", "http://127.0.0.1/x").id,
        login_user=im.users.create(SYS, "login", password="loginpw").id,
        admin_role=e.role("admin"),
        member_role=e.role("member"),
        reader_role=e.role("reader"),
        someones_cred=e.cred_of(someone, demo_project),
    )
    e.add_password_persona("admin", ids["admin_user_id"], "adminpw", ids["admin_project_id"])
    e.add_password_persona("member", ids["demo_user_id"], "demopw", demo_project)
    e.add_password_persona("reader", reader, "readerpw", demo_project)
    e.add_password_persona("other", other, "otherpw", alt)
    e.add_app_cred_persona("ac_reader", ["reader"], unrestricted=False)
    e.add_app_cred_persona("ac_member", ["member"], unrestricted=False)
    e.add_app_cred_persona("ac_unrestricted", ["member"], unrestricted=True)
    for p in e.personas.values():
        key = f"cred_of_{p.user_id}"
        if key not in e.fixed:
            e.fixed[key] = e.cred_of(p.user_id, p.project_id)
    # the system personas (no project: rows naming the caller's own things leave them out)
    for name, role in (("system_reader", "reader"), ("system_admin", "admin")):
        user = im.users.create(SYS, name, password=f"{name}-pw").id
        im.roles.grant(SYS, e.role(role), "user", user, "system", "system")
        e.add_system_persona(name, user, f"{name}-pw")


@pytest.mark.parametrize("op", TABLE, ids=lambda op: op.id)
def test_policy_table(env: Env, op: Op) -> None:
    got = {name: env.run(op, env.personas[name]) for name in PERSONAS}
    assert got == op.expect


def _not_about_the_caller(op: Op) -> bool:
    text = json.dumps([op.path, op.body, op.headers])
    return "{me}" not in text and "{my_" not in text


@pytest.mark.parametrize(
    "op", [op for op in TABLE if _not_about_the_caller(op)], ids=lambda op: op.id
)
def test_system_personas(env: Env, op: Op) -> None:
    """Keystone's system personas on every row that is not about the caller's own things:
    the system admin gets what the (project) admin gets; the system reader too when
    reading (and logging in), and 403 for every change (``role:reader and
    system_scope:all`` reads only)."""
    admin = op.expect["admin"]
    logs_in = (op.method, op.path) == ("POST", "/v3/auth/tokens")  # anyone, no token
    reader = admin if op.method in ("GET", "HEAD") or logs_in else 403
    got = {name: env.run(op, env.personas[name]) for name in ("system_admin", "system_reader")}
    assert got == {"system_admin": admin, "system_reader": reader}


def test_table_covers_every_identity_route() -> None:
    """A new route without a row fails here (its policy would go untested)."""
    declared = {(spec.method, spec.path) for spec in API.specs}
    covered = set()
    for op in TABLE:
        concrete = re.sub(r"\{\w+\}", "x", op.path.split("?")[0])
        for spec in API.specs:
            regex, _fmt, _conv = compile_path(spec.path)
            if spec.method == op.method and regex.match(concrete):
                covered.add((spec.method, spec.path))
    assert declared - covered == set()


# -- regressions, named after what broke ---------------------------------------------------


def test_reader_app_cred_cannot_patch_own_password(env: Env) -> None:
    """A [reader] application credential's token could PATCH its user's password and the new
    password then logged in with every role of the user."""
    p = env.personas["ac_reader"]
    resp = env.call(
        "PATCH", f"/v3/users/{p.user_id}", env.token(p), json={"user": {"password": "taken-over"}}
    )
    assert resp.status_code == 403, resp.text
    denied = env.call(
        "POST",
        "/v3/auth/tokens",
        json={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {"user": {"id": p.user_id, "password": "taken-over"}},
                }
            }
        },
    )
    assert denied.status_code == 401


def test_member_changes_own_password_only_with_the_original(env: Env) -> None:
    p = env.personas["member"]
    url = f"/v3/users/{p.user_id}/password"
    wrong = {"user": {"original_password": "not-it", "password": "new-pw"}}
    assert env.call("POST", url, env.token(p), json=wrong).status_code == 401
    right = {"user": {"original_password": p.password, "password": p.password}}
    assert env.call("POST", url, env.token(p), json=right).status_code == 204


def test_restricted_app_cred_cannot_create_or_delete_app_creds(env: Env) -> None:
    p = env.personas["ac_member"]
    resp = env.call(
        "POST",
        f"/v3/users/{p.user_id}/application_credentials",
        env.token(p),
        json={"application_credential": {"name": f"nested-{uuid.uuid4().hex}"}},
    )
    assert resp.status_code == 403
    assert "restricted application credential" in resp.json()["error"]["message"]
    cred = env.cred_of(p.user_id, p.project_id)
    url = f"/v3/users/{p.user_id}/application_credentials/{cred}"
    assert env.call("DELETE", url, env.token(p)).status_code == 403
    assert env.call("GET", url, env.token(p)).status_code == 200


def test_unrestricted_app_cred_cannot_mint_a_role_its_token_lacks(env: Env) -> None:
    """Creating a credential delegated the user's roles, not the token's: a [reader]
    unrestricted credential could make a [member] one."""
    member = env.personas["member"]
    resp = env.call(
        "POST",
        f"/v3/users/{member.user_id}/application_credentials",
        env.token(member),
        json={
            "application_credential": {
                "name": f"ro-{uuid.uuid4().hex}",
                "roles": [{"name": "reader"}],
                "unrestricted": True,
            }
        },
    )
    cred = resp.json()["application_credential"]
    token = env.app_cred_login(cred["id"], cred["secret"])
    url = f"/v3/users/{member.user_id}/application_credentials"
    up = {
        "application_credential": {"name": f"up-{uuid.uuid4().hex}", "roles": [{"name": "member"}]}
    }
    assert env.call("POST", url, token, json=up).status_code == 400
    same = {"application_credential": {"name": f"same-{uuid.uuid4().hex}"}}
    made = env.call("POST", url, token, json=same)
    assert made.status_code == 201
    assert [r["name"] for r in made.json()["application_credential"]["roles"]] == ["reader"]


def test_admin_cannot_create_an_app_cred_for_another_user(env: Env) -> None:
    admin = env.personas["admin"]
    resp = env.call(
        "POST",
        f"/v3/users/{env.personas['member'].user_id}/application_credentials",
        env.token(admin),
        json={"application_credential": {"name": f"x-{uuid.uuid4().hex}"}},
    )
    assert resp.status_code == 403
