"""Unit tests of pocketstack.identity.tokens: Fernet tokens, validation, revocation, cache."""

from __future__ import annotations

import os
import stat
import time

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.common.errors import Unauthorized
from pocketstack.identity import tokens as tokens_mod
from pocketstack.identity.tokens import TokenProvider

SYS = RequestContext.system()


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
    token, _info, _catalog = cloud.identity.auth.issue_token(auth)
    return token


def test_round_trip_gives_context_with_implied_roles(cloud, ids, provider):
    ctx = provider.validate(_password_token(cloud))
    assert ctx.user_id == ids["demo_user_id"]
    assert ctx.project_id == ids["demo_project_id"]
    assert ctx.user_name == "demo" and ctx.project_name == "demo"
    assert set(ctx.roles) == {"member", "reader"}
    admin = provider.validate(_password_token(cloud, "admin", "adminpw", "admin"))
    assert set(admin.roles) == {"admin", "member", "reader"} and admin.is_admin


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
    short = TokenProvider(conf.replace(token_expiration=1), db)
    payload = short.new_payload(
        ids["demo_user_id"], ["password"], project_id=ids["demo_project_id"]
    )
    token = short.issue(payload)
    assert short.validate(token).project_name == "demo"
    time.sleep(1.1)
    with pytest.raises(Unauthorized):
        short.validate(token)


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
    user = im.users.create_user(SYS, "u1", password="pw1")
    im.roles.grant(
        SYS,
        im.roles.list_roles(SYS, "member")[0].id,
        "user",
        user.id,
        "project",
        ids["demo_project_id"],
    )
    token = _password_token(cloud, "u1", "pw1")
    provider.validate(token)
    im.users.update_user(SYS, user.id, {"password": "pw2"})
    with pytest.raises(Unauthorized):
        provider.validate(token)
    token = _password_token(cloud, "u1", "pw2")
    provider.validate(token)
    im.users.update_user(SYS, user.id, {"enabled": False})
    with pytest.raises(Unauthorized):
        provider.validate(token)
    im.users.update_user(SYS, user.id, {"enabled": True})
    token = _password_token(cloud, "u1", "pw2")
    im.users.delete_user(SYS, user.id)
    with pytest.raises(Unauthorized):
        provider.validate(token)


def test_revoke_by_project_delete(cloud, ids, provider):
    im = cloud.identity
    project = im.projects.create_project(SYS, "p1")
    im.roles.grant(
        SYS,
        im.roles.list_roles(SYS, "member")[0].id,
        "user",
        ids["demo_user_id"],
        "project",
        project.id,
    )
    token = _password_token(cloud, project="p1")
    demo_token = _password_token(cloud)
    assert provider.validate(token).project_name == "p1"
    im.projects.delete_project(SYS, project.id)
    with pytest.raises(Unauthorized):
        provider.validate(token)
    assert provider.validate(demo_token).project_name == "demo"


def test_revoke_by_application_credential_delete(cloud, ids, provider):
    im = cloud.identity
    demo_ctx = provider.validate(_password_token(cloud))
    cred, secret, roles = im.app_creds.create_app_cred(demo_ctx, ids["demo_user_id"], "ac")
    assert {r["name"] for r in roles} == {"member", "reader"}
    token, info, _ = im.auth.issue_token(
        {
            "identity": {
                "methods": ["application_credential"],
                "application_credential": {"id": cred.id, "secret": secret},
            }
        }
    )
    assert info.context.project_id == ids["demo_project_id"]
    im.app_creds.delete_app_cred(demo_ctx, ids["demo_user_id"], cred.id)
    with pytest.raises(Unauthorized):
        provider.validate(token)


def test_cache_honours_revocation_from_another_controller(cloud, conf, db, provider):
    """A revocation written by another process reaches this one's cache within the refresh
    window, not later."""
    token = _password_token(cloud)
    provider.validate(token)  # now cached here
    other = TokenProvider(conf, db)  # a second controller
    other.revoke_token(token)
    time.sleep(tokens_mod.REVOCATION_REFRESH + 0.1)
    with pytest.raises(Unauthorized):
        provider.validate(token)


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
