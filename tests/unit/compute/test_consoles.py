"""Console tokens (``compute.consoles``): one-time, expiring, kept only as a hash in the
database (``console_auth_tokens``: another controller, or this one restarted, redeems them),
bound to one console kind; and the URLs users get."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from pocketstack.compute.consoles import ConsoleTokenInvalid, ConsoleTokens, console_url
from pocketstack.compute.models import ConsoleAuthToken


def test_a_token_opens_once_and_only_its_kind(db):
    tokens = ConsoleTokens(db)
    token = tokens.issue("uuid-1", "vnc", {"unix": "/x/vnc.sock"}, "host-1")
    with db.reader() as s:
        rows = s.scalars(sa.select(ConsoleAuthToken)).all()
    assert [(r.console_type, r.host) for r in rows] == [("novnc", "host-1")]
    assert token not in repr([(r.token_hash, r.connect) for r in rows])  # only its SHA-256
    with pytest.raises(ConsoleTokenInvalid):
        tokens.redeem(token, "serial")  # another kind: refused, and spent
    with pytest.raises(ConsoleTokenInvalid):
        tokens.redeem(token, "vnc")
    token = tokens.issue("uuid-1", "vnc", {"unix": "/x/vnc.sock"})
    grant = tokens.redeem(token, "vnc")
    assert (grant.instance_uuid, grant.connect) == ("uuid-1", {"unix": "/x/vnc.sock"})
    with pytest.raises(ConsoleTokenInvalid) as reused:
        tokens.redeem(token, "vnc")
    assert reused.value.status == 401
    with pytest.raises(ConsoleTokenInvalid):
        tokens.redeem("", "vnc")


def test_tokens_expire_and_are_revoked_with_their_instance(db):
    now = [1000.0]
    tokens = ConsoleTokens(db, ttl=600, clock=lambda: now[0])
    old = tokens.issue("uuid-1", "serial", {"unix": "s"})
    now[0] += 600
    with pytest.raises(ConsoleTokenInvalid):
        tokens.redeem(old, "serial")
    kept = tokens.issue("uuid-2", "serial", {"unix": "s"})
    gone = tokens.issue("uuid-1", "serial", {"unix": "s"})
    tokens.revoke_instance("uuid-1")
    with pytest.raises(ConsoleTokenInvalid):
        tokens.redeem(gone, "serial")
    assert tokens.redeem(kept, "serial").instance_uuid == "uuid-2"


def test_another_controller_redeems_a_token_once(db):
    issued = ConsoleTokens(db).issue("uuid-1", "serial", {"unix": "s"}, "h")
    other = ConsoleTokens(db)  # another controller (or this one after a restart)
    assert other.get(issued) is not None  # os-console-auth-tokens: not spent
    grant = other.redeem(issued, "serial")
    assert (grant.instance_uuid, grant.kind, grant.host) == ("uuid-1", "serial", "h")
    assert grant.console_type == "serial"
    with pytest.raises(ConsoleTokenInvalid):
        ConsoleTokens(db).redeem(issued, "serial")
    assert other.get(issued) is None


def test_urls_name_the_proxy_on_the_public_url():
    vnc = console_url("http://cloud.example:8080/", "vnc", "T0k")
    parts = urlsplit(vnc)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "http",
        "cloud.example:8080",
        "/novnc/vnc_lite.html",
    )
    assert parse_qs(parts.query) == {"path": ["vnc/websockify?token=T0k"]}
    # behind a prefix, noVNC's path (relative to the host) keeps it
    prefixed = console_url("https://h/ps", "vnc", "T")
    assert parse_qs(urlsplit(prefixed).query)["path"] == ["ps/vnc/websockify?token=T"]
    assert console_url("https://h/ps", "serial", "T") == "wss://h/ps/serial?token=T"
    assert console_url("http://127.0.0.1:5000", "serial", "T") == (
        "ws://127.0.0.1:5000/serial?token=T"
    )
