"""The Compute API alone on a TestClient, with a token validator of two fixed users."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from pocketstack.common.auth import RequestContext
from tests.helpers import FixedTokens, service_app

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


@pytest.fixture
def client(cloud, conf):
    from pocketstack.compute.api import API

    cloud.compute.bootstrap()
    with TestClient(service_app(API, conf, cloud, FixedTokens(USERS))) as test_client:
        yield test_client
