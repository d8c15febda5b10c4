"""Account handlers: GET (container listing), HEAD, POST (metadata, ``?bulk-delete``).

Swift api-ref "Accounts"; an account that does not exist yet answers as an empty one
(``account_autocreate``).
"""

from __future__ import annotations

import time

from starlette.responses import JSONResponse, Response

from pocketstack.common import errors
from pocketstack.objectstore import acl, bulk, constraints
from pocketstack.objectstore.api import views
from pocketstack.objectstore.api.app import SwiftRequest

LISTING_PARAMS = ("prefix", "delimiter", "marker", "end_marker", "limit", "reverse")
EMPTY = {
    "x-account-container-count": "0",
    "x-account-object-count": "0",
    "x-account-bytes-used": "0",
}


def listing_params(req: SwiftRequest, maximum: int) -> dict[str, str]:
    """The listing query (412 for a limit over ``maximum``, as Swift)."""
    params = {k: req.query[k] for k in LISTING_PARAMS if k in req.query}
    if "limit" in params:
        if not params["limit"].isdigit():
            raise errors.BadRequest("Value of limit must be a positive integer")
        if int(params["limit"]) > maximum:
            from pocketstack.objectstore.exceptions import PreconditionFailed

            raise PreconditionFailed(f"Maximum limit is {maximum}")
    return params


def _headers(req: SwiftRequest, found: dict[str, str] | None) -> dict[str, str]:
    """What the caller sees of the account; one not created yet answers as Swift's
    autocreated listing does: zero counts, ``X-Timestamp``/``X-Put-Timestamp`` now."""
    owner = acl.owns_account(req.ctx, req.account) or acl.is_reseller_admin(req.ctx)
    if not found:
        now = f"{time.time():016.5f}"
        found = {**EMPTY, "x-timestamp": now, "x-put-timestamp": now}
    return views.visible_headers(found, "account", owner)


async def list_containers(req: SwiftRequest) -> Response:
    """GET: the account's containers in the asked format."""
    fmt = views.listing_format(req.query, req.headers)
    params = listing_params(req, constraints.ACCOUNT_LISTING_LIMIT)
    page = await req.store.accounts.list(req.account, params)
    items = page.items if page else []
    return views.listing(
        "account", req.account, items, fmt, _headers(req, page.headers if page else None)
    )


async def get_account(req: SwiftRequest) -> Response:
    """HEAD: counts and metadata."""
    info = await req.store.accounts.info(req.account)
    fmt = views.listing_format(req.query, req.headers)
    headers = _headers(req, info.headers if info.exists else None)
    return Response(status_code=204, headers=headers, media_type=views.MEDIA[fmt])


async def update_account(req: SwiftRequest) -> Response:
    """POST: metadata (204), or ``?bulk-delete`` (200 with the result)."""
    if "bulk-delete" in req.query:
        return await bulk_delete(req)
    constraints.check_metadata(req.headers, "account")
    await req.store.accounts.update(req.account, req.headers)
    return Response(status_code=204)


async def bulk_delete(req: SwiftRequest) -> Response:
    """Delete the listed objects/containers of this account (each checked as a DELETE)."""
    paths = bulk.parse_paths(req.account, await req.read_body(2 * 1024 * 1024))
    for _account, container, obj in paths:
        await req.authorize("DELETE", container, obj)
    result = await req.store.bulk.delete_paths(paths)
    return bulk_answer(req, result)


def bulk_answer(req: SwiftRequest, result: dict) -> Response:
    """Swift's bulk result: JSON when asked for (``Accept``), else plain text."""
    if "json" in req.headers.get("accept", "") or req.query.get("format") == "json":
        return JSONResponse(result)
    lines = [f"{k}: {v}" for k, v in result.items() if k != "Errors"]
    lines.append("Errors:\n" + "\n".join(", ".join(e) for e in result["Errors"]))
    return Response("\n".join(lines) + "\n", media_type="text/plain")
