"""How the Identity API answers errors: Keystone's body.

Identity API v3 reference, "Errors": ``{"error": {"code": 404, "title": "Not Found",
"message": "..."}}``.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import errors
from pocketstack.common.http import ErrorRenderers


def error_body(err: errors.PocketError) -> dict[str, Any]:
    """``{"error": {"code": status, "title": reason phrase, "message": ...}}`` for ``err``."""
    return {"error": {"code": err.status, "title": err.title, "message": err.message}}


RENDERERS = ErrorRenderers(error_body)
