"""Unit tests of pocketstack.identity.tokens: Fernet tokens, validation, revocation, cache.

Time is injected (``Clock``), never slept through: a second controller is a second
``TokenProvider`` on the same database with a clock the test moves.
"""

from __future__ import annotations

import os
import stat
import time

import pytest
from starlette.testclient import TestClient

from pocketstack.common.auth import RequestContext
from pocketstack.common.errors import Unauthorized
from pocketstack.identity import tokens as tokens_mod
from pocketstack.identity.tokens import TokenProvider

SYS = RequestContext.system()


class Clock:
    """A clock a test moves by hand (monotonic or wall seconds)."""

    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def ids(cloud):
    return cloud.identity.bootstrap("adminpw", "demopw")


@pytest.fixture
def provider(cloud, ids):
    return cloud.identity.tokens


def _password_token(cloud, user="demo", password="demopw", project="demo"):
    auth = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": user, "domain": {"id": "default"}, "password": password}},
        }
    }
    if project:
        auth["scope"] = {"project": {"name": project, "domain": {"name": "Default"}}}
    token, _info, _catalog = cloud.identity.auth.issue(auth)
    return token


def test_round_trip_gives_context_with_implied_roles(cloud, ids, provider):
    ctx = provider.validate(_password_token(cloud))
    assert ctx.user_id == ids["demo_user_id"]
    assert ctx.project_id == ids["demo_project_id"]
    assert ctx.user_name == "demo" and ctx.project_name == "demo"
    assert set(ctx.roles) == {"member", "reader"}
    admin = provider.validate(_password_token(cloud, "admin", "adminpw", "admin"))
    assert set(admin.roles) == {"admin", "manager", "member", "reader"} and admin.is_admin


def test_keys_are_created_private_and_shared_between_providers(cloud, conf, db, provider):
    token = _password_token(cloud)
    keys = list(conf.path("keys").iterdir())
    assert [k.name for k in keys] == ["0"]
    assert stat.S_IMODE(os.stat(keys[0]).st_mode) == 0o600
    other = TokenProvider(conf, db)  # another controller on the same host
    assert other.validate(token).user_name == "demo"


def test_rotation_keeps_old_tokens_valid(cloud, conf, db, provider):
    old = _password_token(cloud)
    provider.rotate_keys()
    new = _password_token(cloud)
    fresh = TokenProvider(conf, db)
    assert fresh.validate(old).user_name == "demo"
    assert fresh.validate(new).user_name == "demo"
    assert sorted(p.name for p in conf.path("keys").iterdir()) == ["0", "1"]


def test_expired_token_is_refused(cloud, conf, db, ids):
    wall = Clock(time.time())
    short = TokenProvider(conf.replace(token_expiration=60), db, wall_clock=wall)
    payload = short.new_payload(
        ids["demo_user_id"], ["password"], project_id=ids["demo_project_id"]
    )
    token = short.issue(payload)
    assert short.validate(token).project_name == "demo"  # now cached
    wall.advance(61)
    with pytest.raises(Unauthorized):
        short.validate(token)
    with pytest.raises(Unauthorized):  # and uncached
        TokenProvider(conf, db, wall_clock=wall).validate(token)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB"),
        lambda t: t[:20],
        lambda t: "not-a-token",
        lambda t: "",
    ],
)
def test_tampered_or_malformed_token_is_refused(cloud, provider, mangle):
    token = _password_token(cloud)
    with pytest.raises(Unauthorized):
        provider.validate(mangle(token))


def test_token_from_other_keys_is_refused(cloud, tmp_path, db, conf, provider):
    token = _password_token(cloud)
    stranger = TokenProvider(conf.replace(state_dir=str(tmp_path / "elsewhere")), db)
    with pytest.raises(Unauthorized):
        stranger.validate(token)


def test_revoke_token(cloud, provider):
    token, other = _password_token(cloud), _password_token(cloud)
    provider.validate(token)  # cached
    provider.revoke_token(token)
    with pytest.raises(Unauthorized):
        provider.validate(token)
    assert provider.validate(other).user_name == "demo"


def test_revoke_by_user_on_delete_disable_and_password_change(cloud, ids, provider):
    im = cloud.identity
    user = im.users.create(SYS, "u1", password="pw1")
    im.roles.grant(
        SYS,
        im.roles.list(SYS, "member")[0].id,
        "user",
        user.id,
        "project",
        ids["demo_project_id"],
    )
    token = _password_token(cloud, "u1", "pw1")
    provider.validate(token)
    im.users.update(SYS, user.id, {"password": "pw2"})
    with pytest.raises(Unauthorized):
        provider.validate(token)
    token = _password_token(cloud, "u1", "pw2")
    provider.validate(token)
    im.users.update(SYS, user.id, {"enabled": False})
    with pytest.raises(Unauthorized):
        provider.validate(token)
    im.users.update(SYS, user.id, {"enabled": True})
    token = _password_token(cloud, "u1", "pw2")
    im.users.delete(SYS, user.id)
    with pytest.raises(Unauthorized):
        provider.validate(token)


def test_revoke_by_project_delete(cloud, ids, provider):
    im = cloud.identity
    project = im.projects.create(SYS, "p1")
    im.roles.grant(
        SYS,
        im.roles.list(SYS, "member")[0].id,
        "user",
        ids["demo_user_id"],
        "project",
        project.id,
    )
    token = _password_token(cloud, project="p1")
    demo_token = _password_token(cloud)
    assert provider.validate(token).project_name == "p1"
    im.projects.delete(SYS, project.id)
    with pytest.raises(Unauthorized):
        provider.validate(token)
    assert provider.validate(demo_token).project_name == "demo"


def test_revoke_by_application_credential_delete(cloud, ids, provider):
    im = cloud.identity
    demo_ctx = provider.validate(_password_token(cloud))
    cred, secret, roles = im.application_credentials.create(demo_ctx, ids["demo_user_id"], "ac")
    assert {r.name for r in roles} == {"member", "reader"}
    token, info, _ = im.auth.issue(
        {
            "identity": {
                "methods": ["application_credential"],
                "application_credential": {"id": cred.id, "secret": secret},
            }
        }
    )
    assert info.context.project_id == ids["demo_project_id"]
    im.application_credentials.delete(demo_ctx, ids["demo_user_id"], cred.id)
    with pytest.raises(Unauthorized):
        provider.validate(token)


def test_cache_honours_revocation_from_another_controller(cloud, conf, db, provider):
    """A revocation written by another process reaches this one's cache within the refresh
    window, not later."""
    clock = Clock()
    here = TokenProvider(conf, db, clock=clock)
    token = _password_token(cloud)
    here.validate(token)  # now cached here
    provider.revoke_token(token)  # by the controller the managers use
    clock.advance(tokens_mod.REVOCATION_REFRESH)
    with pytest.raises(Unauthorized):
        here.validate(token)


def test_cached_validation_decrypts_and_reads_the_database_once(cloud, provider, monkeypatch):
    """Within the cache window a token is decrypted and checked against the database on its
    first validation only; later ones reuse that context (bench/bench_tokens.py measures how
    fast they are)."""
    token = _password_token(cloud)
    first = provider.validate(token)
    work: list[str] = []
    decrypt, build = provider.keys.decrypt, provider._build
    monkeypatch.setattr(provider.keys, "decrypt", lambda t: work.append("decrypt") or decrypt(t))
    monkeypatch.setattr(provider, "_build", lambda p: work.append("build") or build(p))
    contexts = [provider.validate(token) for _ in range(200)]
    assert work == []
    assert all(ctx == first for ctx in contexts)


# -- role changes take effect at once ------------------------------------------------------


def _role(cloud, name):
    return cloud.identity.roles.list(SYS, name)[0].id


def _demo_user(cloud, ids, name="carol", role="member"):
    """A user with ``role`` on project demo; its password is ``<name>-pw``."""
    user = cloud.identity.users.create(SYS, name, password=f"{name}-pw")
    cloud.identity.roles.grant(
        SYS, _role(cloud, role), "user", user.id, "project", ids["demo_project_id"]
    )
    return user


def test_member_token_loses_member_only_calls_on_the_next_request(cloud, ids, provider):
    """A removed role stayed usable for up to 5 s (the token cache): replacing member by
    reader must stop a member-only call (image create) on the very next request."""
    from pocketstack.service import build_app

    user = _demo_user(cloud, ids)
    token = _password_token(cloud, "carol", "carol-pw")
    headers = {"X-Auth-Token": token}
    body = {"name": "img", "disk_format": "raw", "container_format": "bare"}
    with TestClient(build_app(cloud)) as client:
        assert client.post("/image/v2/images", json=body, headers=headers).status_code == 201
        im, demo = cloud.identity, ids["demo_project_id"]
        im.roles.grant(SYS, _role(cloud, "reader"), "user", user.id, "project", demo)
        im.roles.revoke_grant(SYS, _role(cloud, "member"), "user", user.id, "project", demo)
        assert client.post("/image/v2/images", json=body, headers=headers).status_code == 403
        assert client.get("/image/v2/images", headers=headers).status_code == 200  # still valid
    assert provider.validate(token).roles == ("reader",)


def test_token_with_no_role_left_is_refused(cloud, ids, provider):
    user = _demo_user(cloud, ids)
    token = _password_token(cloud, "carol", "carol-pw")
    provider.validate(token)
    cloud.identity.roles.revoke_grant(
        SYS, _role(cloud, "member"), "user", user.id, "project", ids["demo_project_id"]
    )
    with pytest.raises(Unauthorized):
        provider.validate(token)


def test_other_controller_follows_a_role_change_within_the_refresh_interval(cloud, conf, db, ids):
    """Two controllers share the database: the one that did not make the change sees it
    once its revocation refresh runs (every REVOCATION_REFRESH seconds), not after the
    5 s cache lifetime."""
    clock = Clock()
    other = TokenProvider(conf, db, clock=clock)  # the second controller
    user = _demo_user(cloud, ids)
    token = _password_token(cloud, "carol", "carol-pw")
    assert "member" in other.validate(token).roles  # cached there
    im, demo = cloud.identity, ids["demo_project_id"]
    im.roles.grant(SYS, _role(cloud, "reader"), "user", user.id, "project", demo)
    im.roles.revoke_grant(SYS, _role(cloud, "member"), "user", user.id, "project", demo)
    assert "member" in other.validate(token).roles  # the window this design allows
    clock.advance(tokens_mod.REVOCATION_REFRESH)
    assert other.validate(token).roles == ("reader",)
    assert tokens_mod.REVOCATION_REFRESH < tokens_mod.CACHE_TTL


@pytest.mark.parametrize(
    "change",
    ["remove from group", "delete group", "delete role", "delete implied role"],
)
def test_group_and_role_changes_take_effect_at_once(cloud, ids, provider, change):
    """Each of these took up to 5 s to reach a token's roles."""
    im, demo = cloud.identity, ids["demo_project_id"]
    user = im.users.create(SYS, "dave", password="dave-pw")
    group = im.groups.create(SYS, "devs")
    im.groups.add_member(SYS, group.id, user.id)
    extra = im.roles.create(SYS, "extra")
    im.roles.create_implied(SYS, extra.id, _role(cloud, "reader"))
    im.roles.grant(SYS, _role(cloud, "member"), "group", group.id, "project", demo)
    im.roles.grant(SYS, extra.id, "user", user.id, "project", demo)
    token = _password_token(cloud, "dave", "dave-pw")
    assert set(provider.validate(token).roles) == {"extra", "member", "reader"}
    if change == "remove from group":
        im.groups.remove_member(SYS, group.id, user.id)
        expected = {"extra", "reader"}
    elif change == "delete group":
        im.groups.delete(SYS, group.id)
        expected = {"extra", "reader"}
    elif change == "delete role":
        im.roles.delete(SYS, extra.id)
        expected = {"member", "reader"}
    else:
        im.roles.delete_implied(SYS, _role(cloud, "member"), _role(cloud, "reader"))
        expected = {"extra", "member", "reader"}  # extra still implies reader
        im.roles.delete_implied(SYS, extra.id, _role(cloud, "reader"))
        expected = {"extra", "member"}
    assert set(provider.validate(token).roles) == expected


def test_disabling_a_domain_revokes_its_tokens_at_once(cloud, ids, conf, db):
    """Disabling a domain left its users' cached tokens working for up to 5 s (and every
    controller's, since no event told them)."""
    clock = Clock()
    other = TokenProvider(conf, db, clock=clock)
    im = cloud.identity
    dom = im.domains.create(SYS, "acme")
    project = im.projects.create(SYS, "p", dom.id)
    user = im.users.create(SYS, "erin", dom.id, password="erin-pw")
    im.roles.grant(SYS, _role(cloud, "member"), "user", user.id, "project", project.id)
    auth = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"id": user.id, "password": "erin-pw"}},
        },
        "scope": {"project": {"id": project.id}},
    }
    token, _info, _catalog = im.auth.issue(auth, with_catalog=False)
    im.tokens.validate(token)
    other.validate(token)
    im.domains.update(SYS, dom.id, {"enabled": False})
    with pytest.raises(Unauthorized):
        im.tokens.validate(token)
    clock.advance(tokens_mod.REVOCATION_REFRESH)
    with pytest.raises(Unauthorized):
        other.validate(token)
    im.domains.update(SYS, dom.id, {"enabled": True})
    with pytest.raises(Unauthorized):  # revoked, not merely suspended (as Keystone)
        im.tokens.validate(token)


def test_deleting_an_app_cred_reaches_the_other_controller(cloud, ids, conf, db, provider):
    clock = Clock()
    other = TokenProvider(conf, db, clock=clock)
    demo_ctx = provider.validate(_password_token(cloud))
    cred, secret, _roles = cloud.identity.application_credentials.create(
        demo_ctx, ids["demo_user_id"], "ac2"
    )
    auth = {
        "identity": {
            "methods": ["application_credential"],
            "application_credential": {"id": cred.id, "secret": secret},
        }
    }
    token, _info, _catalog = cloud.identity.auth.issue(auth, with_catalog=False)
    assert other.validate(token).app_cred_id == cred.id
    cloud.identity.application_credentials.delete(demo_ctx, ids["demo_user_id"], cred.id)
    clock.advance(tokens_mod.REVOCATION_REFRESH)
    with pytest.raises(Unauthorized):
        other.validate(token)


def test_context_built_during_a_role_change_is_not_kept(cloud, ids, provider, monkeypatch):
    """A validation that read the roles just before a revoke committed must not cache that
    stale context as current."""
    user = _demo_user(cloud, ids)
    token = _password_token(cloud, "carol", "carol-pw")
    build = provider._build
    im, demo = cloud.identity, ids["demo_project_id"]

    def build_then_change(payload):
        info = build(payload)  # roles read: member, reader
        monkeypatch.setattr(provider, "_build", build)
        im.roles.grant(SYS, _role(cloud, "reader"), "user", user.id, "project", demo)
        im.roles.revoke_grant(SYS, _role(cloud, "member"), "user", user.id, "project", demo)
        return info

    provider.invalidate()  # issue_token cached the context: have the next use build it
    monkeypatch.setattr(provider, "_build", build_then_change)
    assert "member" in provider.validate(token).roles  # answered before the change
    assert provider.validate(token).roles == ("reader",)


def test_request_context_carries_app_cred_over_the_bus_without_secrets():
    ctx = RequestContext(
        user_id="u",
        project_id="p",
        roles=("reader",),
        auth_token="tok",
        app_cred_id="c",
        app_cred_restricted=True,
    )
    data = ctx.to_dict()
    assert "auth_token" not in data and "tok" not in data.values()
    back = RequestContext.from_dict(data)
    assert (back.app_cred_id, back.app_cred_restricted, back.may_delegate) == ("c", True, False)
    old = {k: v for k, v in data.items() if not k.startswith("app_cred")}  # an older sender
    assert RequestContext.from_dict(old).may_delegate


def test_invalidation_event_revokes_nothing(cloud, ids, provider):
    token = _password_token(cloud)
    provider.validate(token)
    provider.invalidate()
    assert provider.validate(token).user_name == "demo"
