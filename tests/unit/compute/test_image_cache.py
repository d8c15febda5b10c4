"""Images on a compute host (pocketstack.compute.image_cache): the local file when there is
one, else a download into the cache; a failed download is a DriverError and leaves no file,
and a bug is not reported as a download failure."""

from __future__ import annotations

import http.server
import threading
import types
from collections.abc import Iterator

import pytest

from pocketstack.compute import image_cache
from pocketstack.compute.drivers.base import DriverError

DATA = b"qcow2 bytes " * 1000


class _Images(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.headers["X-Auth-Token"] != "tok":
            self.send_error(401)
        elif self.path == "/ok":
            self.send_response(200)
            self.send_header("Content-Length", str(len(DATA)))
            self.end_headers()
            self.wfile.write(DATA)
        elif self.path == "/truncated":
            self.send_response(200)
            self.send_header("Content-Length", str(len(DATA) * 2))
            self.end_headers()
            self.wfile.write(DATA)
        else:
            self.send_error(404)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _image(url: str, image_id: str = "img-1", path: str = "") -> dict:
    return {"id": image_id, "path": path, "url": url}


def test_a_local_file_is_used_and_otherwise_the_image_is_downloaded_once(tmp_path, server):
    conf = types.SimpleNamespace(state_dir=str(tmp_path))
    local = tmp_path / "store-file"
    local.write_bytes(b"x")
    assert image_cache.ensure_image(conf, _image("", path=str(local)), None) == str(local)
    got = image_cache.ensure_image(conf, _image(server + "/ok", path="/elsewhere"), "tok")
    assert open(got, "rb").read() == DATA
    assert image_cache.ensure_image(conf, _image(server + "/gone"), "tok") == got  # cached


@pytest.mark.parametrize("path", ["/missing", "/truncated"])
def test_a_failed_download_is_a_driver_error_and_leaves_no_file(tmp_path, server, path):
    conf = types.SimpleNamespace(state_dir=str(tmp_path))
    with pytest.raises(DriverError, match="Downloading image from"):
        image_cache.ensure_image(conf, _image(server + path), "tok")
    assert list((tmp_path / "images" / "cache").iterdir()) == []
    with pytest.raises(DriverError):
        image_cache.ensure_image(conf, _image(server + "/ok", image_id="img-2"), "bad")


def test_a_bug_is_not_reported_as_a_failed_download(tmp_path, server, monkeypatch):
    def broken(*_args: object) -> None:
        raise TypeError("a bug")

    monkeypatch.setattr(image_cache.shutil, "copyfileobj", broken)
    conf = types.SimpleNamespace(state_dir=str(tmp_path))
    with pytest.raises(TypeError):
        image_cache.ensure_image(conf, _image(server + "/ok"), "tok")
    assert list((tmp_path / "images" / "cache").iterdir()) == []


class _Tokens:
    """A token source whose first token the image service refuses (revoked)."""

    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.invalidated = 0

    def token(self) -> str:
        return self.tokens[0]

    def invalidate(self) -> None:
        self.invalidated += 1
        self.tokens.pop(0)


def test_a_refused_service_token_is_replaced_once(tmp_path, server):
    conf = types.SimpleNamespace(state_dir=str(tmp_path))
    tokens = _Tokens(["revoked", "tok"])
    got = image_cache.ensure_image(conf, _image(server + "/ok"), tokens)
    assert open(got, "rb").read() == DATA and tokens.invalidated == 1
    with pytest.raises(DriverError):  # refused again: a failure, not a loop
        image_cache.ensure_image(conf, _image(server + "/ok", "img-2"), _Tokens(["a", "b"]))


def test_no_token_is_asked_for_a_local_image(tmp_path):
    class _NoTokens(_Tokens):
        def token(self) -> str:
            raise AssertionError("a token was asked for")

    conf = types.SimpleNamespace(state_dir=str(tmp_path))
    local = tmp_path / "store-file"
    local.write_bytes(b"x")
    assert image_cache.ensure_image(conf, _image("", path=str(local)), _NoTokens([])) == str(local)
