"""Object handlers: PUT (streamed, ``?multipart-manifest=put``, ``X-Copy-From``), GET/HEAD
(Range, conditionals, large objects), POST, DELETE (``?multipart-manifest=delete``), COPY.

Swift api-ref "Objects" and the ``slo``, ``dlo``, ``copy`` and ``tempurl`` middlewares.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from pocketstack.common import errors
from pocketstack.common.validation import BodySchema, load_json
from pocketstack.objectstore import constraints
from pocketstack.objectstore.api import schemas
from pocketstack.objectstore.api.accounts import bulk_answer
from pocketstack.objectstore.api.app import SwiftRequest
from pocketstack.objectstore.exceptions import LengthRequired
from pocketstack.objectstore.largeobjects import MAX_MANIFEST_SIZE, ContainerCheck
from pocketstack.objectstore.objects import client_headers

_MANIFEST = BodySchema(schemas.SLO_MANIFEST)


def _length(req: SwiftRequest) -> int | None:
    """Content-Length as an int, None for a chunked body; 411 for neither, 400 if bad."""
    if "chunked" in req.headers.get("transfer-encoding", "").lower():
        return None
    value = req.headers.get("content-length")
    if value is None:
        raise LengthRequired("Missing Content-Length header.")
    if not value.isdigit():
        raise errors.BadRequest("Invalid Content-Length header value")
    return int(value)


def _split_target(value: str) -> tuple[str, str]:
    """``(container, object)`` of ``X-Copy-From``/``Destination`` (``/c/o`` or ``c/o``)."""
    container, _, obj = unquote(value).lstrip("/").partition("/")
    if not container or not obj:
        raise errors.BadRequest("Header must be of the form /<container name>/<object name>")
    constraints.check_container_name(container)
    constraints.check_object_name(obj)
    return container, obj


def _created(etag: str, last_modified: str, extra: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=201,
        headers={"Etag": etag, "Last-Modified": last_modified, **(extra or {})},
        media_type="text/html; charset=UTF-8",
    )


async def create_object(req: SwiftRequest) -> Response:
    """PUT: store the body (201 + ETag), an SLO manifest, or a server-side copy."""
    constraints.check_metadata(req.headers, "object")
    if req.query.get("multipart-manifest") == "put":
        body = await req.read_body(MAX_MANIFEST_SIZE)
        manifest = load_json(body) if body.strip() else None
        _MANIFEST.validate(manifest)
        written, etag = await req.store.large_objects.put_manifest(
            req.names, dict(req.headers), body, _may(req, "GET")
        )
        return _created(etag, written.timestamp.http)
    if "x-copy-from" in req.headers:
        source = (req.account, *_split_target(req.headers["x-copy-from"]))
        return await _copy(req, source, req.names)  # type: ignore[arg-type]
    written = await req.store.objects.put(req.names, req.headers, req.body, _length(req))
    return _created(written.etag, written.timestamp.http)


async def copy_object(req: SwiftRequest) -> Response:
    """COPY with ``Destination: /<container>/<object>`` (201)."""
    if "destination" not in req.headers:
        raise errors.BadRequest("Destination header required")
    container, obj = _split_target(req.headers["destination"])
    await req.authorize("PUT", container, obj)
    return await _copy(req, req.names, (req.account, container, obj))


async def _copy(
    req: SwiftRequest, source: tuple[str, str, str], dest: tuple[str, str, str]
) -> Response:
    written, src = await req.store.objects.copy(
        source, dest, req.headers, may_read=_may(req, "GET")
    )
    return _created(
        written.etag,
        written.timestamp.http,
        {
            "X-Copied-From": quote(f"{source[1]}/{source[2]}"),
            "X-Copied-From-Last-Modified": src.get("last-modified", ""),
        },
    )


async def get_object(req: SwiftRequest) -> Response:
    """GET/HEAD: the object (or one range of it), a large object joined, 304/412/416."""
    store = req.store
    resp = await store.objects.open(req.names, req.method, req.headers)
    if store.large_objects.is_manifest(resp) and req.query.get("multipart-manifest") != "get":
        if resp.status_code in (304, 412):
            await resp.aclose()
            return Response(status_code=resp.status_code, headers=client_headers(resp.headers))
        if resp.status_code == 206 or req.method == "HEAD":  # the node ranged the manifest
            await resp.aclose()
            resp = await store.objects.open(req.names, "GET", {})
        try:
            joined = await store.large_objects.assemble(
                req.names, resp, req.headers.get("range"), _may(req, "GET")
            )
        finally:
            await resp.aclose()
        _attachment(req, joined.headers)
        if req.method == "HEAD":
            return Response(status_code=joined.status, headers=joined.headers)
        return StreamingResponse(joined.body, joined.status, joined.headers)
    headers = client_headers(resp.headers)
    _attachment(req, headers)
    if req.method == "HEAD" or resp.status_code == 304:
        await resp.aclose()
        return Response(status_code=resp.status_code, headers=headers)
    return StreamingResponse(
        resp.aiter_raw(), resp.status_code, headers, background=BackgroundTask(resp.aclose)
    )


def _may(req: SwiftRequest, method: str) -> ContainerCheck | None:
    """Checks the caller on a large object's segment container, as Swift authorizes each
    segment subrequest; none for a temp URL (it stands for the account's owner)."""
    if req.tempurl:
        return None

    async def check(container: str) -> None:
        await req.authorize(method, container, "*")

    return check


def _attachment(req: SwiftRequest, headers: dict[str, str]) -> None:
    """A temp URL GET downloads as an attachment (``?filename=``, ``?inline`` as Swift)."""
    if not req.tempurl or req.method != "GET" or "inline" in req.query:
        return
    name = req.query.get("filename") or (req.obj or "").rsplit("/", 1)[-1]
    headers["content-disposition"] = f'attachment; filename="{quote(name)}"'


async def update_object(req: SwiftRequest) -> Response:
    """POST: replace the object's metadata (202)."""
    constraints.check_metadata(req.headers, "object")
    await req.store.objects.update(req.names, req.headers)
    return Response(status_code=202, media_type="text/html; charset=UTF-8")


async def delete_object(req: SwiftRequest) -> Response:
    """DELETE: 204; with ``?multipart-manifest=delete`` the segments too (200 + result)."""
    if req.query.get("multipart-manifest") == "delete":
        result = await req.store.large_objects.delete_manifest(req.names, _may(req, "DELETE"))
        return bulk_answer(req, result)
    await req.store.objects.delete(req.names)
    return Response(status_code=204)
