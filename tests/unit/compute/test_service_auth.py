"""The compute service user's token (pocketstack.compute.service_auth): asked for with
``POST /v3/auth/tokens``, kept until shortly before it expires, replaced when invalidated; a
missing password or a refusal is a DriverError that says what to configure."""

from __future__ import annotations

import http.server
import json
import threading
import types
from collections.abc import Iterator

import pytest

from pocketstack.compute.drivers.base import DriverError
from pocketstack.compute.service_auth import REFRESH_MARGIN, ServiceAuth

EXPIRES = "2030-01-01T00:00:00.000000Z"
EXPIRES_TS = 1893456000.0


class _Identity(http.server.BaseHTTPRequestHandler):
    issued: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        auth = body["auth"]
        user = auth["identity"]["password"]["user"]
        if self.path != "/identity/v3/auth/tokens" or user["password"] != "secret":
            self.send_error(401)
            return
        self.issued.append(auth)
        data = json.dumps({"token": {"expires_at": EXPIRES}}).encode()
        self.send_response(201)
        self.send_header("X-Subject-Token", f"token-{len(self.issued)}")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def identity() -> Iterator[str]:
    _Identity.issued = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Identity)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _conf(url: str, password: str = "secret", auth_url: str = "") -> types.SimpleNamespace:
    return types.SimpleNamespace(
        service_user_name="nova",
        service_user_password=password,
        service_user_project="service",
        service_auth_url=auth_url,
        public_url=url,
    )


def test_the_token_is_cached_until_shortly_before_it_expires(identity):
    now = [EXPIRES_TS - 3600]
    auth = ServiceAuth(_conf(identity), clock=lambda: now[0])
    assert auth.token() == "token-1" and auth.token() == "token-1"
    (sent,) = _Identity.issued
    assert sent["identity"]["password"]["user"]["name"] == "nova"
    assert sent["scope"] == {"project": {"name": "service", "domain": {"id": "default"}}}
    now[0] = EXPIRES_TS - REFRESH_MARGIN + 1
    assert auth.token() == "token-2"
    auth.invalidate()
    assert auth.token() == "token-3"


def test_auth_url_defaults_to_the_public_identity_and_can_be_set(identity):
    assert ServiceAuth(_conf(identity)).url == f"{identity}/identity/v3/auth/tokens"
    custom = ServiceAuth(_conf("http://elsewhere", auth_url=f"{identity}/identity/"))
    assert custom.token() == "token-1"


def test_no_password_or_a_refusal_is_a_driver_error(identity):
    with pytest.raises(DriverError, match=r"\[service_user\] password"):
        ServiceAuth(_conf(identity, password="")).token()
    with pytest.raises(DriverError, match="could not get a token"):
        ServiceAuth(_conf(identity, password="wrong")).token()
