"""A client's mistake is at most a line in the cloud's log, never a traceback: malformed
JSON, an invalid header, an unparsable request, a body that breaks HTTP framing. (A
traceback in the log means a bug of ours.)"""

from __future__ import annotations

import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest

from tests.helpers import wait_until


@pytest.fixture
def new_log(running_cloud) -> Callable[[], str]:
    """What the cloud's log files gained since the fixture was made."""
    logs = running_cloud.state_dir / "logs"
    sizes = {p: p.stat().st_size for p in logs.glob("*.log")}

    def read() -> str:
        parts = []
        for p in sorted(logs.glob("*.log")):
            with open(p, "rb") as f:
                f.seek(sizes.get(p, 0))
                parts.append(f.read().decode("utf-8", "replace"))
        return "".join(parts)

    return read


def _wait_for(read: Callable[[], str], marker: str, timeout: float = 10.0) -> str:
    """What the log gained, once it shows ``marker``."""
    return wait_until(
        lambda: text if marker in (text := read()) else None,
        timeout,
        f"{marker!r} in the cloud's log",
        interval=0.05,
        detail=read,
    )


def _connect(cloud) -> socket.socket:
    url = urlsplit(cloud.url)
    return socket.create_connection((url.hostname, url.port), timeout=10)


def _status_line(s: socket.socket) -> bytes:
    """The next status line the server sends (the socket's 10 s timeout is the deadline)."""
    data = b""
    while b"\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0]


@pytest.fixture(scope="module")
def token(running_cloud) -> str:
    return running_cloud.sdk().auth_token


def test_malformed_json_to_compute_is_a_400_without_traceback(running_cloud, token, new_log):
    r = httpx.post(
        f"{running_cloud.url}/compute/v2.1/servers",
        content=b'{"server": {"name": ',
        headers={"X-Auth-Token": token, "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert "Traceback" not in new_log()


def test_an_invalid_version_header_is_a_400_without_traceback(running_cloud, token, new_log):
    r = httpx.get(
        f"{running_cloud.url}/compute/v2.1/flavors",
        headers={"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.x"},
    )
    assert r.status_code == 400
    assert "Traceback" not in new_log()


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"NOT AN HTTP REQUEST\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Name: 1\r\n\r\n",
        b"POST /compute/v2.1/servers HTTP/1.1\r\nHost: x\r\nContent-Length: many\r\n\r\n",
    ],
    ids=["request-line", "header-name", "content-length"],
)
def test_an_unparsable_request_is_one_log_line(running_cloud, new_log, request_bytes):
    with _connect(running_cloud) as s:
        s.sendall(request_bytes)
        assert _status_line(s) == b"HTTP/1.1 400 Bad Request"
    text = _wait_for(new_log, "Invalid HTTP request received.")
    assert "Invalid HTTP request received." in text
    assert "Traceback" not in text


def test_a_body_breaking_http_framing_is_one_log_line(running_cloud, new_log):
    """Headers accepted, then a malformed chunk: uvicorn answers 400 while the app answers
    401; h11 refuses whichever comes second (logged as an error with a traceback, by
    uvicorn or by asyncio, before pocketstack folded it into one line)."""
    head = b"POST /compute/v2.1/servers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    with _connect(running_cloud) as s:
        s.sendall(head)
        # the app's answer to the headers: the body's framing breaks after it
        assert _status_line(s) == b"HTTP/1.1 401 Unauthorized"
        s.sendall(b"not-a-chunk-size\r\n")
    text = _wait_for(new_log, "A client broke HTTP mid-request")
    assert "A client broke HTTP mid-request" in text
    assert "Traceback" not in text


def test_a_client_hanging_up_mid_body_is_no_traceback(running_cloud, token, new_log):
    head = (
        b"POST /compute/v2.1/servers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"X-Auth-Token: " + token.encode() + b"\r\nContent-Length: 100\r\n"
        b"Expect: 100-continue\r\n\r\n"
    )
    with _connect(running_cloud) as s:
        s.sendall(head)
        # the server says so once the app reads the body: hang up in the middle of it
        assert _status_line(s) == b"HTTP/1.1 100 Continue"
        s.sendall(b'{"server": ')
    text = _wait_for(new_log, "/compute/v2.1/servers", timeout=5)
    assert "Traceback" not in text
