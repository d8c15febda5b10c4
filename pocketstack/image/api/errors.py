"""How the Image API answers errors: Glance's body.

``{"code": 404, "title": "Not Found", "message": "..."}``, whose ``message`` openstacksdk
shows to the user.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import errors
from pocketstack.common.http import ErrorRenderers


def error_body(err: errors.PocketError) -> dict[str, Any]:
    """``{"code": status, "title": reason phrase, "message": ...}`` for ``err``."""
    return {"code": err.status, "title": err.title, "message": err.message}


RENDERERS = ErrorRenderers(error_body)
