"""Who may do what (keystoneauth's rules) and temp URL signatures, without nodes."""

from __future__ import annotations

import pytest

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.objectstore import acl, tempurl

MEMBER = RequestContext(user_id="u1", project_id="p1", roles=("member", "reader"))
READER = RequestContext(user_id="u2", project_id="p1", roles=("reader",))
OTHER = RequestContext(
    user_id="u3", user_name="carol", project_id="p2", project_name="two", roles=("member",)
)
ADMIN = RequestContext(user_id="u4", project_id="p9", roles=("admin",))
ANON = RequestContext()


def _allowed(ctx, method, container="c", is_object=True, **kw) -> bool:
    try:
        acl.authorize(ctx, acl.Access(method, "AUTH_p1", container, is_object, **kw))
    except (errors.Unauthorized, errors.Forbidden):
        return False
    return True


@pytest.mark.parametrize(
    ("ctx", "method", "expected"),
    [
        (MEMBER, "PUT", True),
        (MEMBER, "GET", True),
        (READER, "GET", True),
        (READER, "PUT", False),
        (READER, "DELETE", False),
        (OTHER, "GET", False),
        (ADMIN, "DELETE", True),
        (ANON, "GET", False),
    ],
)
def test_roles_on_own_account(ctx, method, expected):
    assert _allowed(ctx, method) is expected


def test_anonymous_gets_401_and_others_403():
    with pytest.raises(errors.Unauthorized):
        acl.authorize(ANON, acl.Access("GET", "AUTH_p1", "c", True))
    with pytest.raises(errors.Forbidden):
        acl.authorize(OTHER, acl.Access("GET", "AUTH_p1", "c", True))


@pytest.mark.parametrize(
    ("read_acl", "ctx", "is_object", "expected"),
    [
        ("p2:u3", OTHER, True, True),
        ("two:carol", OTHER, True, True),
        ("p2:*", OTHER, False, True),
        ("*:u3", OTHER, True, True),
        ("p3:*", OTHER, True, False),
        (".r:*", ANON, True, True),
        (".r:*", ANON, False, False),
        (".r:*,.rlistings", ANON, False, True),
        (".r:*,.r:-evil.com", ANON, True, True),
    ],
)
def test_read_acls(read_acl, ctx, is_object, expected):
    assert _allowed(ctx, "GET", is_object=is_object, read_acl=read_acl) is expected


def test_write_acl_grants_objects_but_never_the_container_or_account():
    assert _allowed(OTHER, "PUT", write_acl="p2:*")
    assert not _allowed(OTHER, "PUT", write_acl=".r:*")
    assert not _allowed(OTHER, "POST", is_object=False, write_acl="p2:*", owner_only=True)
    assert not _allowed(OTHER, "GET", container=None, is_object=False, read_acl="p2:*")
    assert not _allowed(MEMBER, "POST", container=None, is_object=False, admin_only=True)


def test_tempurl_binds_method_path_key_and_time():
    path = "/v1/AUTH_p1/c/o"
    sig = tempurl.sign("key", "GET", 1000, path)
    tempurl.verify("GET", [path], sig, "1000", ["key"], now=lambda: 999)
    tempurl.verify("HEAD", [path], sig, "1000", ["key"], now=lambda: 999)
    for method, paths, keys, now in [
        ("PUT", [path], ["key"], 999),
        ("GET", ["/v1/AUTH_p1/c/other"], ["key"], 999),
        ("GET", [path], ["other-key"], 999),
        ("GET", [path], ["key"], 1001),
    ]:
        with pytest.raises(errors.Unauthorized):
            tempurl.verify(method, paths, sig, "1000", keys, now=lambda now=now: now)
    sha1 = tempurl.sign("key", "GET", 1000, path, "sha1")
    assert len(sha1) == 40
    tempurl.verify("GET", [path], sha1, "1970-01-01T00:16:40Z", ["key"], now=lambda: 999)


def test_referrer_rules_read_in_order():
    def anon(read_acl, referrer):
        return _allowed(ANON, "GET", read_acl=read_acl, referrer=referrer)

    assert not anon(".r:*,.r:-evil.com", "http://evil.com/page")
    assert anon(".r:*,.r:-evil.com", "http://good.com/page")
    assert anon(".r:.example.com", "https://www.example.com/")
    assert not anon(".r:.example.com", None)
