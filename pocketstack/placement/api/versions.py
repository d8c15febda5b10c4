"""``GET /placement/``: the version document (Placement API reference, "Versions"), what
clients read to negotiate a microversion."""

from __future__ import annotations

from typing import Any

from pocketstack.common.http import ApiRequest
from pocketstack.placement.api.microversions import MAX_VERSION, MIN_VERSION, fmt


def list_versions(req: ApiRequest) -> dict[str, Any]:
    """``{"versions": [{"id": "v1.0", "min_version", "max_version", "status", "links"}]}``."""
    return {
        "versions": [
            {
                "id": "v1.0",
                "min_version": fmt(MIN_VERSION),
                "max_version": fmt(MAX_VERSION),
                "status": "CURRENT",
                "links": [{"rel": "self", "href": ""}],
            }
        ]
    }
