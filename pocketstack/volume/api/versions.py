"""Version documents: ``GET /volume/`` (300, Cinder's "List All Api Versions") and ``GET
/volume/v3`` (its one version); no token needed, so keystoneauth discovers the range."""

from __future__ import annotations

from typing import Any

from pocketstack.common.http import ApiRequest, ApiResponse
from pocketstack.volume.api.microversions import MAX_VERSION, MIN_VERSION, fmt


def version_doc(req: ApiRequest) -> dict[str, Any]:
    """The v3.0 version object (id, status CURRENT, version/min_version, links)."""
    return {
        "id": "v3.0",
        "status": "CURRENT",
        "version": fmt(MAX_VERSION),
        "min_version": fmt(MIN_VERSION),
        "updated": "2023-08-31T00:00:00Z",
        "links": [
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
            {"rel": "self", "href": f"{req.base_url}/v3/"},
        ],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}
        ],
    }


def list_versions(req: ApiRequest) -> ApiResponse:
    """``GET /volume/``: 300 Multiple Choices with ``{"versions": [v3.0]}``."""
    return ApiResponse(300, {"versions": [version_doc(req)]})


def get_version(req: ApiRequest) -> dict[str, Any]:
    """``GET /volume/v3/``: ``{"versions": [v3.0]}`` (Cinder's shape for one version)."""
    return {"versions": [version_doc(req)]}
