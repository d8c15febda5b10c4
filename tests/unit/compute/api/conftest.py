"""The Compute API alone on a TestClient, with a token validator of two fixed users."""

from __future__ import annotations

import types

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext

USERS = {
    "admin-token": RequestContext(
        user_id="u-admin", project_id="p-admin", roles=("admin", "member", "reader")
    ),
    "demo-token": RequestContext(user_id="u-demo", project_id="p-demo", roles=("member", "reader")),
    "reader-token": RequestContext(user_id="u-reader", project_id="p-demo", roles=("reader",)),
}
ADMIN = {"X-Auth-Token": "admin-token"}
DEMO = {"X-Auth-Token": "demo-token"}
READER = {"X-Auth-Token": "reader-token"}


class Validator:
    def validate(self, token: str) -> RequestContext:
        if token not in USERS:
            raise errors.Unauthorized()
        return USERS[token]


@pytest.fixture
def client(cloud, conf):
    from pocketstack.compute.api import API

    cloud.compute.bootstrap()
    state = types.SimpleNamespace(conf=conf, cloud=cloud, token_validator=Validator())
    with TestClient(Starlette(routes=[API.mount(state)])) as test_client:
        yield test_client
