"""Version documents: ``GET /compute/`` and ``GET /compute/v2.1/`` (API reference
"API Versions"); no token needed, so keystoneauth can discover the microversion range."""

from __future__ import annotations

from typing import Any

from pocketstack.common.http import ApiRequest
from pocketstack.compute.api.microversion import MAX_VERSION, MIN_VERSION, fmt


def version_doc(req: ApiRequest) -> dict[str, Any]:
    """The v2.1 version object: id, status CURRENT, min_version/version, links."""
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": fmt(MAX_VERSION),
        "min_version": fmt(MIN_VERSION),
        "updated": "2013-07-23T11:33:21Z",
        "links": [
            {"rel": "self", "href": f"{req.base_url}/v2.1/"},
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
        ],
        "media-types": [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.compute+json;version=2.1",
            }
        ],
    }


def legacy_version_doc(req: ApiRequest) -> dict[str, Any]:
    """The v2.0 version object Nova lists first (status SUPPORTED, no microversions: empty
    ``version``/``min_version``); tempest's ``test_list_api_versions`` wants it first."""
    return {
        "id": "v2.0",
        "status": "SUPPORTED",
        "version": "",
        "min_version": "",
        "updated": "2011-01-21T11:33:21Z",
        "links": [{"rel": "self", "href": f"{req.base_url}/v2/"}],
    }


def list_versions(req: ApiRequest) -> dict[str, Any]:
    """``GET /compute/``: ``{"versions": [v2.0, v2.1]}`` (API reference "List All Major
    Versions")."""
    return {"versions": [legacy_version_doc(req), version_doc(req)]}


def get_version(req: ApiRequest) -> dict[str, Any]:
    """``GET /compute/v2.1/``: ``{"version": {...}}``."""
    return {"version": version_doc(req)}
