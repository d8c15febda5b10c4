"""How the Block Storage API answers errors: Cinder's fault body, one key per status.

Block Storage API v3 reference, "Faults": ``{"itemNotFound": {"code": 404, "message":
"Volume x could not be found."}}``; Cinder's WSGI layer names the faults as Nova's does
(``badRequest``, ``overLimit`` for a quota's 413...), so the keys are Compute's table.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import errors
from pocketstack.common.http import ErrorRenderers
from pocketstack.compute.api.errors import FAULT_KEYS


def error_body(err: errors.PocketError) -> dict[str, Any]:
    """``{<fault key>: {"code": status, "message": ...}}`` for ``err``."""
    key = FAULT_KEYS.get(err.status, "computeFault")
    return {key: {"code": err.status, "message": err.message}}


RENDERERS = ErrorRenderers(error_body)
