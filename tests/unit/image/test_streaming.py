"""Image data over HTTP (the raw-body routes of pocketstack.common.http): the body reaches the
manager as it arrives, so the upload is ``saving`` while it streams, a body over the limits is
answered 413
in Glance's error body without being read further, and a client that goes away leaves the
image ``queued`` with no partial file. Driven in-process (TestClient, or the ASGI app called
with a scripted ``receive``)."""

from __future__ import annotations

import hashlib
import itertools
import types

import anyio
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from pocketstack.common import errors
from pocketstack.image.api import API
from pocketstack.service import Cloud

from .conftest import make_ctx

CAP = 1000
QUOTA = 2500
DATA = {"Content-Type": "application/octet-stream"}


class Tokens:
    def validate(self, token):
        if token != "demo":
            raise errors.Unauthorized()
        return make_ctx("p-demo")


@pytest.fixture
def limited(conf, db, bus):
    return Cloud(conf.replace(image_size_cap=CAP, image_user_storage_quota=QUOTA), db, bus)


@pytest.fixture
def app(conf, limited):
    state = types.SimpleNamespace(conf=conf, cloud=limited, token_validator=Tokens())
    return Starlette(routes=[API.mount(state)])


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def call(client, method, path, **kw):
    headers = {"X-Auth-Token": "demo", **kw.pop("headers", {})}
    return client.request(method, "/image" + path, headers=headers, **kw)


def new_image(client):
    body = {"name": "img", "disk_format": "raw", "container_format": "bare"}
    return call(client, "POST", "/v2/images", json=body).json()["id"]


def assert_queued_and_nothing_kept(client, limited, image_id):
    shown = call(client, "GET", f"/v2/images/{image_id}").json()
    assert (shown["status"], shown["size"], shown["checksum"]) == ("queued", None, None)
    data = limited.image.data
    assert not data.store.exists(image_id)
    assert data.store.partial_files() == [] and data.staging.partial_files() == []


def assert_glance_413(resp, message_start):
    assert resp.status_code == 413
    body = resp.json()
    assert (body["code"], body["title"]) == (413, "Request Entity Too Large")
    assert body["message"].startswith(message_start)


def test_upload_with_content_length_over_the_cap_is_413(client, limited):
    image_id = new_image(client)
    url = f"/v2/images/{image_id}/file"
    resp = call(client, "PUT", url, content=b"x" * (CAP + 1), headers=DATA)
    assert_glance_413(resp, "The incoming image is too large")
    assert_queued_and_nothing_kept(client, limited, image_id)
    data = b"x" * CAP
    assert call(client, "PUT", url, content=data, headers=DATA).status_code == 204
    shown = call(client, "GET", f"/v2/images/{image_id}").json()
    assert (shown["status"], shown["checksum"]) == ("active", hashlib.md5(data).hexdigest())
    assert call(client, "GET", url).content == data


def test_chunked_upload_over_the_cap_is_413(client, limited):
    image_id = new_image(client)

    def body():
        for _ in range(20):
            yield b"y" * 100

    resp = call(client, "PUT", f"/v2/images/{image_id}/file", content=body(), headers=DATA)
    assert_glance_413(resp, "The incoming image is too large")
    assert_queued_and_nothing_kept(client, limited, image_id)


def test_upload_over_the_project_quota_is_413(client, limited):
    for _ in range(2):
        done = call(client, "PUT", f"/v2/images/{new_image(client)}/file", content=b"q" * 1000)
        assert done.status_code == 204
    image_id = new_image(client)
    url = f"/v2/images/{image_id}/file"
    resp = call(client, "PUT", url, content=b"q" * 501, headers=DATA)
    assert_glance_413(resp, "Image exceeds the storage quota")
    assert_queued_and_nothing_kept(client, limited, image_id)
    assert call(client, "PUT", url, content=b"q" * 500, headers=DATA).status_code == 204


def test_stage_over_the_cap_is_413(client, limited):
    image_id = new_image(client)
    resp = call(client, "PUT", f"/v2/images/{image_id}/stage", content=b"s" * (CAP + 1))
    assert_glance_413(resp, "The incoming image is too large")
    assert_queued_and_nothing_kept(client, limited, image_id)


# ---------------------------------------------------------------- the ASGI app, scripted


def put(app, image_id, messages, on_receive=None):
    """PUT ``messages`` (ASGI receive events) as an upload; returns the response status.
    ``on_receive(n)`` runs before the n-th event is handed over."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": f"/image/v2/images/{image_id}/file",
        "raw_path": f"/image/v2/images/{image_id}/file".encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"x-auth-token", b"demo"), (b"content-type", b"application/octet-stream")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    pending = iter(messages)
    sent: list[dict] = []
    received = 0

    async def receive():
        nonlocal received
        if on_receive is not None:
            on_receive(received)
        received += 1
        message = next(pending, None)
        if message is None:
            await anyio.sleep_forever()  # a client that neither sends nor leaves (never reached)
        return message

    async def send(message):
        sent.append(message)

    anyio.run(app, scope, receive, send)
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


def test_upload_is_saving_while_its_body_streams(app, client, limited):
    image_id = new_image(client)
    seen = []
    chunks = [b"a" * 300, b"b" * 300]
    messages = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    messages.append({"type": "http.request", "body": b"", "more_body": False})

    def on_receive(n):
        if n == 1:  # the first chunk is in: the image must already be saving
            seen.append(limited.image.get_image(make_ctx("p-demo"), image_id)["status"])
            seen.append(len(limited.image.data.store.partial_files()))

    assert put(app, image_id, messages, on_receive) == 204
    assert seen == ["saving", 1]
    shown = call(client, "GET", f"/v2/images/{image_id}").json()
    assert shown["checksum"] == hashlib.md5(b"".join(chunks)).hexdigest()


def test_client_gone_mid_upload_leaves_the_image_queued_without_partial_file(app, client, limited):
    image_id = new_image(client)
    messages = [
        {"type": "http.request", "body": b"half", "more_body": True},
        {"type": "http.disconnect"},
    ]
    assert put(app, image_id, messages) == 400
    assert_queued_and_nothing_kept(client, limited, image_id)
    assert call(client, "PUT", f"/v2/images/{image_id}/file", content=b"whole").status_code == 204


def test_endless_chunked_body_is_answered_413_at_the_cap(app, client, limited):
    image_id = new_image(client)
    asked = []

    def on_receive(n):
        asked.append(n)

    endless = itertools.repeat({"type": "http.request", "body": b"e" * 100, "more_body": True})
    assert put(app, image_id, endless, on_receive) == 413
    assert len(asked) == CAP // 100 + 1  # read to one byte past the cap, then answered
    assert_queued_and_nothing_kept(client, limited, image_id)
