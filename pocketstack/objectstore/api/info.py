"""``GET /info``: the cluster's capabilities (Swift api-ref "List activated capabilities"),
read by python-swiftclient to choose static large objects for ``--segment-size``."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from pocketstack.objectstore import bulk, constraints, largeobjects, tempurl
from pocketstack.objectstore.api.app import SwiftRequest

CAPABILITIES = {
    "swift": {
        "version": "2.34.0",
        "strict_cors_mode": True,
        "policies": [{"name": "Policy-0", "aliases": "Policy-0", "default": True}],
        **constraints.LIMITS,
    },
    "slo": {
        "max_manifest_segments": largeobjects.MAX_MANIFEST_SEGMENTS,
        "max_manifest_size": largeobjects.MAX_MANIFEST_SIZE,
        "min_segment_size": 1,
        "yield_frequency": 10,
    },
    "dlo": {"max_segments": 10000},
    "tempurl": {
        "methods": list(tempurl.METHODS),
        "allowed_digests": ["sha1", "sha256", "sha512"],
        "incoming_remove_headers": ["x-timestamp"],
        "incoming_allow_headers": [],
        "outgoing_remove_headers": ["x-object-meta-*"],
        "outgoing_allow_headers": ["x-object-meta-public-*"],
    },
    "bulk_delete": {"max_deletes_per_request": bulk.MAX_DELETES, "max_failed_deletes": 1000},
    "versioned_writes": {"allowed_flags": ["x-versions-location", "x-history-location"]},
    "container_quotas": {},
    "account_quotas": {},
    "keystoneauth": {},
}


async def get_info(req: SwiftRequest) -> Response:
    """The capabilities as JSON (no authentication)."""
    return JSONResponse(CAPABILITIES)
