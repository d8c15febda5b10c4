"""How the Compute API answers errors: Nova's body, one key per status.

Compute API reference, "Faults": ``{"itemNotFound": {"code": 404, "message": "..."}}``; the
key names the kind of fault (``badRequest``, ``conflictingRequest``...), ``computeFault``
for any status without a name of its own (a 500 included).
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import errors
from pocketstack.common.http import ErrorRenderers

#: The fault key of each status; any other is ``computeFault``.
FAULT_KEYS = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    406: "notAcceptable",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}


def error_body(err: errors.PocketError) -> dict[str, Any]:
    """``{<fault key>: {"code": status, "message": ...}}`` for ``err``."""
    key = FAULT_KEYS.get(err.status, "computeFault")
    return {key: {"code": err.status, "message": err.message}}


RENDERERS = ErrorRenderers(error_body)
