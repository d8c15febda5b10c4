"""Image data over HTTP (pocketstack.image.api.streaming): the body reaches the manager as it
arrives, so the upload is ``saving`` while it streams, and a client that goes away leaves the
image ``queued`` with no partial file. Driven in-process (TestClient, or the ASGI app called
with a scripted ``receive``)."""

from __future__ import annotations

import hashlib
import types

import anyio
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from pocketstack.common import errors
from pocketstack.image.api import API

from .conftest import make_ctx

DATA = {"Content-Type": "application/octet-stream"}


class Tokens:
    def validate(self, token):
        if token != "demo":
            raise errors.Unauthorized()
        return make_ctx("p-demo")


@pytest.fixture
def app(conf, cloud):
    state = types.SimpleNamespace(conf=conf, cloud=cloud, token_validator=Tokens())
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


def assert_queued_and_nothing_kept(client, cloud, image_id):
    shown = call(client, "GET", f"/v2/images/{image_id}").json()
    assert (shown["status"], shown["size"], shown["checksum"]) == ("queued", None, None)
    data = cloud.image.data
    assert not data.store.exists(image_id)
    assert data.store.partial_files() == [] and data.staging.partial_files() == []


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


def test_upload_is_saving_while_its_body_streams(app, client, cloud):
    image_id = new_image(client)
    seen = []
    chunks = [b"a" * 300, b"b" * 300]
    messages = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    messages.append({"type": "http.request", "body": b"", "more_body": False})

    def on_receive(n):
        if n == 1:  # the first chunk is in: the image must already be saving
            seen.append(cloud.image.get_image(make_ctx("p-demo"), image_id)["status"])
            seen.append(len(cloud.image.data.store.partial_files()))

    assert put(app, image_id, messages, on_receive) == 204
    assert seen == ["saving", 1]
    shown = call(client, "GET", f"/v2/images/{image_id}").json()
    assert shown["checksum"] == hashlib.md5(b"".join(chunks)).hexdigest()


def test_client_gone_mid_upload_leaves_the_image_queued_without_partial_file(app, client, cloud):
    image_id = new_image(client)
    messages = [
        {"type": "http.request", "body": b"half", "more_body": True},
        {"type": "http.disconnect"},
    ]
    assert put(app, image_id, messages) == 400
    assert_queued_and_nothing_kept(client, cloud, image_id)
    assert call(client, "PUT", f"/v2/images/{image_id}/file", content=b"whole").status_code == 204
