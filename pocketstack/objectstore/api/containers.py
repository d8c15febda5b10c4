"""Container handlers: PUT, GET (object listing), HEAD, POST, DELETE (Swift api-ref
"Containers"): 201/202 for a PUT, 204 for HEAD/POST/DELETE, 409 to delete a container that
holds objects, 404 for one that does not exist."""

from __future__ import annotations

from starlette.responses import Response

from pocketstack.objectstore import acl, constraints
from pocketstack.objectstore.api import views
from pocketstack.objectstore.api.accounts import listing_params
from pocketstack.objectstore.api.app import SwiftRequest
from pocketstack.objectstore.exceptions import ContainerNotFound


def _check(req: SwiftRequest) -> None:
    constraints.check_metadata(req.headers, "container")
    for name in ("x-container-read", "x-container-write"):
        if name in req.headers:
            acl.check_acl_syntax(req.headers[name])


def _headers(req: SwiftRequest, found: dict[str, str]) -> dict[str, str]:
    owner = acl.owns_account(req.ctx, req.account) or acl.is_reseller_admin(req.ctx)
    return views.visible_headers(found, "container", owner)


async def create_container(req: SwiftRequest) -> Response:
    """PUT: 201 created, 202 when it existed (metadata updated)."""
    _check(req)
    status = await req.store.containers.create(req.account, req.container, req.headers)
    return Response(status_code=201 if status == 201 else 202)


async def list_objects(req: SwiftRequest) -> Response:
    """GET: the container's objects in the asked format."""
    fmt = views.listing_format(req.query, req.headers)
    params = listing_params(req, constraints.CONTAINER_LISTING_LIMIT)
    page = await req.store.containers.list(req.account, req.container, params)
    return views.listing(
        "container", req.container or "", page.items, fmt, _headers(req, page.headers)
    )


async def get_container(req: SwiftRequest) -> Response:
    """HEAD: counts, metadata (and ACLs to the owner)."""
    info = await req.store.containers.info(req.account, req.container)
    if not info.exists:
        raise ContainerNotFound()
    fmt = views.listing_format(req.query, req.headers)
    return Response(
        status_code=204, headers=_headers(req, info.headers), media_type=views.MEDIA[fmt]
    )


async def update_container(req: SwiftRequest) -> Response:
    """POST: metadata and ACLs."""
    _check(req)
    await req.store.containers.update(req.account, req.container, req.headers)
    return Response(status_code=204)


async def delete_container(req: SwiftRequest) -> Response:
    """DELETE: only an empty container (409 otherwise)."""
    await req.store.containers.delete(req.account, req.container)
    return Response(status_code=204)
