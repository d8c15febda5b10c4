"""Login cost and lockout (pocketstack.identity.lockout): every failure costs one bcrypt
verification of the same cost, a user is locked out after ``lockout_failure_attempts``
failures in a row, failures are logged without the password."""

from __future__ import annotations

import datetime as dt
import logging
import types

import bcrypt
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from pocketstack.common.auth import RequestContext
from pocketstack.common.errors import Unauthorized
from pocketstack.identity import exceptions as exc
from pocketstack.identity import hashing
from pocketstack.identity.api import API
from pocketstack.identity.hashing import hash_secret

SYS = RequestContext.system()
PASSWORD = "right-pw-4242"


class Clock:
    """A settable naive-UTC clock for the lockout."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 1, 1, 12, 0, 0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def im(cloud):
    cloud.identity.bootstrap("adminpw", "demopw")
    return cloud.identity


@pytest.fixture
def clock(im):
    c = Clock()
    im.auth.passwords.clock = c
    return c


@pytest.fixture
def user(im):
    return im.users.create(SYS, "alice", password=PASSWORD)


@pytest.fixture
def checkpw_calls(monkeypatch):
    """The hashes bcrypt verified against, in order."""
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def spy(secret: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return real(secret, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", spy)
    return calls


def _password_auth(password: str, name: str = "alice", domain: dict | None = None) -> dict:
    ref = {"name": name, "domain": domain or {"id": "default"}, "password": password}
    return {"identity": {"methods": ["password"], "password": {"user": ref}}}


def _login(im, password: str = PASSWORD, name: str = "alice", **kw):
    return im.auth.issue(_password_auth(password, name, **kw), with_catalog=False)


def _fail(im, times: int, password: str = "wrong") -> None:
    for _ in range(times):
        with pytest.raises(Unauthorized):
            _login(im, password)


def _cost(hashed: bytes) -> int:
    return int(hashed.split(b"$")[2])


def test_dummy_hash_has_the_cost_of_real_hashes():
    assert _cost(hashing.DUMMY_HASH.encode()) == hashing.ROUNDS
    assert _cost(hash_secret("x").encode()) == hashing.ROUNDS
    # [identity] password_hash_rounds (the tests' conf sets 4): both follow it
    assert _cost(hashing.dummy_hash(4).encode()) == 4
    assert _cost(hash_secret("x", 4).encode()) == 4
    assert not hashing.check_secret("x", None, 4)


def test_new_hashes_have_the_configured_cost(im):
    user = im.users.create(SYS, "carol", password=PASSWORD)
    assert _cost(user.password_hash.encode()) == im.conf.password_hash_rounds == 4


def test_unknown_user_login_costs_a_bcrypt_verify(im, user, checkpw_calls):
    """An unknown user was refused before any bcrypt (~1 ms) and a wrong password after
    one (~55 ms): the time told which names exist."""
    disabled = im.users.create(SYS, "bob", password=PASSWORD, enabled=False)
    im.users.create(SYS, "nopass")
    cases = {
        "wrong password": _password_auth("wrong"),
        "unknown name": _password_auth(PASSWORD, "ghost"),
        "unknown domain": _password_auth(PASSWORD, domain={"name": "nowhere"}),
        "disabled user": _password_auth(PASSWORD, "bob"),
        "no password": _password_auth(PASSWORD, "nopass"),
        "unknown id": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"id": "no-such-id", "password": PASSWORD}},
            }
        },
    }
    for what, auth in cases.items():
        checkpw_calls.clear()
        with pytest.raises(Unauthorized) as err:
            im.auth.issue(auth, with_catalog=False)
        assert err.value.message == exc.AuthenticationFailed().message, what
        assert [_cost(h) for h in checkpw_calls] == [im.conf.password_hash_rounds], what
    assert disabled.enabled is False


def test_unknown_app_cred_costs_a_bcrypt_verify(im, checkpw_calls):
    for ref in (
        {"id": "no-such-credential", "secret": "s"},
        {"name": "nope", "user": {"name": "ghost", "domain": {"id": "default"}}, "secret": "s"},
    ):
        checkpw_calls.clear()
        auth = {"identity": {"methods": ["application_credential"], "application_credential": ref}}
        with pytest.raises(Unauthorized):
            im.auth.issue(auth, with_catalog=False)
        assert [_cost(h) for h in checkpw_calls] == [im.conf.password_hash_rounds]


def test_locked_user_is_refused_even_with_the_right_password(im, user, clock, conf):
    attempts = conf.lockout_failure_attempts
    assert attempts == 5  # the documented default
    _fail(im, attempts)
    with pytest.raises(exc.AccountLocked) as err:
        _login(im)
    assert err.value.status == 401
    assert err.value.message == f"The account is locked for user: {user.id}."
    # a wrong password while locked is told nothing more (the name's existence included)
    with pytest.raises(Unauthorized) as err2:
        _login(im, "wrong")
    assert not isinstance(err2.value, exc.AccountLocked)
    clock.advance(conf.lockout_duration - 1)
    with pytest.raises(exc.AccountLocked):
        _login(im)


def test_lock_ends_after_lockout_duration(im, user, clock, conf):
    _fail(im, conf.lockout_failure_attempts)
    clock.advance(conf.lockout_duration + 1)
    _login(im)
    _fail(im, conf.lockout_failure_attempts - 1)  # the count started again
    _login(im)


def test_one_failure_after_an_expired_lock_does_not_lock_again(im, user, clock, conf):
    _fail(im, conf.lockout_failure_attempts)
    clock.advance(conf.lockout_duration + 1)
    _fail(im, 1)
    _login(im)


def test_successful_login_resets_the_count(im, user, clock, conf):
    _fail(im, conf.lockout_failure_attempts - 1)
    _login(im)
    _fail(im, conf.lockout_failure_attempts - 1)
    _login(im)


@pytest.mark.parametrize("change", [{"enabled": True}, {"password": "brand-new-pw"}])
def test_admin_update_unlocks(im, user, clock, conf, change):
    _fail(im, conf.lockout_failure_attempts)
    im.users.update(SYS, user.id, change)
    _login(im, change.get("password", PASSWORD))


def test_unknown_user_is_never_locked(im, clock, conf, checkpw_calls):
    for _ in range(conf.lockout_failure_attempts + 1):
        with pytest.raises(Unauthorized) as err:
            _login(im, name="ghost")
        assert not isinstance(err.value, exc.AccountLocked)


def test_lockout_disabled_with_zero_attempts(cloud, conf, db, bus):
    from pocketstack.service import Cloud

    open_cloud = Cloud(conf.replace(lockout_failure_attempts=0), db, bus)
    open_cloud.identity.bootstrap("adminpw", "demopw")
    open_cloud.identity.users.create(SYS, "alice", password=PASSWORD)
    _fail(open_cloud.identity, 8)
    _login(open_cloud.identity)


def test_wrong_original_password_counts_towards_lockout(im, user, clock, conf):
    """A token's holder (say, of a restricted application credential) could guess the
    user's password through POST /v3/users/{id}/password at no cost."""
    ctx = RequestContext(user_id=user.id)
    for _ in range(conf.lockout_failure_attempts):
        with pytest.raises(Unauthorized):
            im.users.change_password(ctx, user.id, "guess", "new-pw")
    with pytest.raises(exc.AccountLocked):
        im.users.change_password(ctx, user.id, PASSWORD, "new-pw")
    with pytest.raises(exc.AccountLocked):
        _login(im)


def test_bootstrap_unlocks_the_admin(im, clock, conf):
    for _ in range(conf.lockout_failure_attempts):
        with pytest.raises(Unauthorized):
            _login(im, "wrong", name="admin")
    with pytest.raises(exc.AccountLocked):
        _login(im, "adminpw", name="admin")
    im.bootstrap("adminpw", "demopw")
    _login(im, "adminpw", name="admin")


def test_failed_logins_are_logged_without_the_password(im, user, cloud, conf, caplog):
    state = types.SimpleNamespace(conf=conf, cloud=cloud, token_validator=im.tokens)
    caplog.set_level(logging.WARNING, logger="pocketstack.identity.lockout")
    with TestClient(Starlette(routes=[API.mount(state)])) as client:
        for password, name in (("s3cr3t-guess", "alice"), ("0ther-guess", "ghost")):
            resp = client.post(
                "/identity/v3/auth/tokens", json={"auth": _password_auth(password, name)}
            )
            assert resp.status_code == 401
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "alice@default" in lines[0] and "testclient" in lines[0]
    assert "wrong password" in lines[0]
    assert "ghost@default" in lines[1] and "unknown user" in lines[1]
    assert not any("guess" in line for line in lines)


def test_locked_account_answer_over_http(im, user, cloud, conf, clock):
    state = types.SimpleNamespace(conf=conf, cloud=cloud, token_validator=im.tokens)
    _fail(im, conf.lockout_failure_attempts)
    with TestClient(Starlette(routes=[API.mount(state)])) as client:
        resp = client.post("/identity/v3/auth/tokens", json={"auth": _password_auth(PASSWORD)})
    assert resp.status_code == 401
    assert resp.json()["error"]["message"] == f"The account is locked for user: {user.id}."
