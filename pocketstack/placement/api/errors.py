"""How the Placement API answers errors (Placement API reference, "Errors"):
``{"errors": [{"status": 409, "title": "Conflict", "detail": "...", "code":
"placement.concurrent_update", "request_id": "req-..."}]}``.

``code`` is the error's ``code`` attribute (``placement.undefined_code`` when it has none);
``request_id`` is set on the error by ``PlacementAPI`` (``api/__init__.py``) before it is
rendered.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import errors
from pocketstack.common.http import ErrorRenderers
from pocketstack.placement.exceptions import UNDEFINED


def error_body(err: errors.PocketError) -> dict[str, Any]:
    """The ``errors`` list with the one error ``err``."""
    return {
        "errors": [
            {
                "status": err.status,
                "title": err.title,
                "detail": err.message,
                "code": getattr(err, "code", UNDEFINED),
                "request_id": getattr(err, "request_id", None),
            }
        ]
    }


RENDERERS = ErrorRenderers(error_body)
