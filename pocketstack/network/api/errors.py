"""How the Networking API answers errors: Neutron's ``NeutronError`` body.

Networking API v2.0 reference, "Faults": ``{"NeutronError": {"type": "NetworkNotFound",
"message": "...", "detail": ""}}``. The ``type`` is the error's class name
(``pocketstack.network.exceptions`` names them as Neutron does), except for a request body
refused before any handler ran, which Neutron's WSGI layer calls ``HTTPBadRequest``.
"""

from __future__ import annotations

from typing import Any

from pocketstack.common import errors
from pocketstack.common.http import ApiResponse, ErrorRenderers
from pocketstack.common.validation import InvalidInput


def neutron_error(err: errors.PocketError, kind: str) -> dict[str, Any]:
    """``{"NeutronError": {"type": kind, "message": ..., "detail": ""}}`` for ``err``."""
    return {"NeutronError": {"type": kind, "message": err.message, "detail": ""}}


def error_body(err: errors.PocketError) -> dict[str, Any]:
    """The ``NeutronError`` body of ``err``, typed by its class name."""
    return neutron_error(err, err.type_name)


def _invalid_input(err: InvalidInput) -> ApiResponse:
    """Malformed JSON or a schema mismatch: ``HTTPBadRequest``, as Neutron types it."""
    return ApiResponse(err.status, neutron_error(err, "HTTPBadRequest"), dict(err.headers))


RENDERERS = ErrorRenderers(error_body, {InvalidInput: _invalid_input})
