"""Bulk delete: ``POST /v1/<account>?bulk-delete`` with one URL-encoded
``/<container>[/<object>]`` per line.

Follows Swift's ``bulk`` middleware (``swift/common/middleware/bulk.py``) and the api-ref's
"Bulk delete": at most 10000 names; the answer counts what was deleted and what was not found
and lists the errors (a container not empty: 409).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from pocketstack.common import errors

if TYPE_CHECKING:
    from pocketstack.objectstore.manager import ObjectStoreManager

MAX_DELETES = 10000


def parse_paths(account: str, body: bytes) -> list[tuple[str, str, str | None]]:
    """``(account, container, object or None)`` per line. Raises BadRequest past the limit."""
    out: list[tuple[str, str, str | None]] = []
    for line in body.decode("utf-8", "replace").splitlines():
        path = unquote(line.strip()).lstrip("/")
        if not path:
            continue
        container, _, obj = path.partition("/")
        out.append((account, container, obj or None))
    if len(out) > MAX_DELETES:
        raise errors.BadRequest(f"Maximum Bulk Deletes: {MAX_DELETES} per request")
    return out


class Bulk:
    """Deleting many objects and containers in one request."""

    def __init__(self, store: ObjectStoreManager):
        self.store = store

    async def delete_paths(self, paths: list[tuple[str, str, str | None]]) -> dict[str, Any]:
        """Delete each (objects first, as listed); Swift's result dict."""
        deleted = not_found = 0
        failures: list[list[str]] = []
        for account, container, obj in paths:
            try:
                if obj is None:
                    await self.store.containers.delete(account, container)
                else:
                    await self.store.objects.delete((account, container, obj))
                deleted += 1
            except errors.NotFound:
                not_found += 1
            except errors.PocketError as err:
                shown = f"/{container}" + (f"/{obj}" if obj else "")
                failures.append([shown, f"{err.status} {err.title}"])
        status = "400 Bad Request" if failures else "200 OK"
        return {
            "Number Deleted": deleted,
            "Number Not Found": not_found,
            "Response Status": status,
            "Response Body": "",
            "Errors": failures,
        }
