"""Object storage's error body: Swift answers errors with a short HTML page,
``<html><h1>Not Found</h1><p>The resource could not be found.</p></html>``
(``swift/common/swob.py`` ``HTTPException`` bodies), as ``text/html; charset=UTF-8``."""

from __future__ import annotations

from html import escape

from pocketstack.common import errors
from pocketstack.common.http import ErrorRenderers


def swift_body(err: errors.PocketError) -> str:
    """The HTML page of an error."""
    return f"<html><h1>{escape(err.title)}</h1><p>{escape(err.message)}</p></html>"


RENDERERS = ErrorRenderers(swift_body)
