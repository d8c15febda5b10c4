"""The Network API app in-process for the API-level unit tests: two users (``admin`` of
project ``p-admin``, ``demo`` a member of ``p-demo``), their tokens being their names."""

from __future__ import annotations

import json
from typing import Any

from starlette.testclient import TestClient

from pocketstack.common.auth import RequestContext
from pocketstack.network.api import API
from tests.helpers import FixedTokens, service_app

USERS = {
    "admin": RequestContext(user_id="u-admin", project_id="p-admin", roles=("admin", "member")),
    "demo": RequestContext(user_id="u-demo", project_id="p-demo", roles=("member", "reader")),
}


def serve(cloud: Any, conf: Any) -> TestClient:
    """A client of the Network API of ``cloud`` under ``conf`` (use it in a ``with``)."""
    return TestClient(service_app(API, conf, cloud, FixedTokens(USERS)))


def call(client: TestClient, method: str, path: str, body: Any = None, token: str = "admin"):
    """``method /networking/v2.0<path>`` with ``body`` as JSON, as the user ``token``."""
    headers = {"X-Auth-Token": token, "Content-Type": "application/json"}
    content = None if body is None else json.dumps(body)
    return client.request(method, "/networking/v2.0" + path, content=content, headers=headers)
