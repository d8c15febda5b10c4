"""The request bodies object storage parses as JSON: the static large object manifest of
``PUT ?multipart-manifest=put`` (Swift api-ref "Static large objects"). Object bodies are
bytes, never parsed."""

from __future__ import annotations

from typing import Any

SLO_MANIFEST: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "maxItems": 1000,
    "items": {
        "type": "object",
        "properties": {
            "path": {"type": "string", "minLength": 3},
            "etag": {"type": ["string", "null"]},
            "size_bytes": {"type": ["integer", "string", "null"]},
        },
        "required": ["path"],
    },
}
