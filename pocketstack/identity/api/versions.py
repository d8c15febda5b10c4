"""Version discovery (Identity API v3 "Versions")."""

from __future__ import annotations

from typing import Any

from pocketstack.common.http import ApiRequest, ApiResponse, route
from pocketstack.identity.api import views


def list_versions(req: ApiRequest) -> ApiResponse:
    """GET /identity/ : 300 Multiple Choices with the v3 document."""
    return ApiResponse(300, {"versions": {"values": [views.version(req)]}})


def get_version(req: ApiRequest) -> dict[str, Any]:
    """GET /identity/v3 : the v3 version document."""
    return {"version": views.version(req)}


ROUTES = [
    route("GET", "/", list_versions, auth=False),
    route("GET", "/v3", get_version, auth=False),
    route("GET", "/v3/", get_version, auth=False),
]
