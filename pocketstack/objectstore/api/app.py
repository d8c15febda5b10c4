"""The Swift v1 request pipeline: path, caller, tempurl, authorization, handler, errors.

Swift's API is not JSON: bodies are object bytes streamed both ways and errors are HTML, so
object storage mounts its own small async pipeline instead of ``ServiceAPI``'s threaded JSON
one (still a ``ServiceAPI``, with the same error renderers and request id headers):

1. the path ``/v1/<account>[/<container>[/<object>]]`` is split from the raw bytes (412 for
   a name that is not UTF-8 or holds NUL, 400 for a bad length), as Swift's ``split_path``;
2. the caller: ``X-Auth-Token`` through Identity's token validator (401 if invalid), or
   anonymous; a valid ``temp_url_sig`` authorizes that one object request instead;
3. ``acl.authorize`` with the container's ACLs (keystoneauth's rules);
4. the handler of (level, method): parse, one manager call, render;
5. every answer carries ``X-Trans-Id`` and ``X-Openstack-Request-Id``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, QueryParams
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Mount, Route, Router

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.http import ErrorRenderers, ServiceAPI
from pocketstack.objectstore import acl, constraints, tempurl
from pocketstack.objectstore.exceptions import PreconditionFailed

#: The ``Content-Type`` of an answer without a body of its own (swob's default).
DEFAULT_CONTENT_TYPE = "text/html; charset=UTF-8"


def new_trans_id() -> str:
    """Swift's transaction id: ``tx`` + 21 hex digits + ``-`` + the time in hex."""
    return f"tx{secrets.token_hex(11)[:21]}-{int(time.time()):010x}"


@dataclass
class SwiftRequest:
    """One parsed Swift request handed to a handler.

    Attributes:
        method: HTTP method (COPY included).
        account, container, obj: the names (container/obj None at the upper levels).
        query, headers: the request's.
        ctx: the caller (anonymous: no user).
        store: ``cloud.objectstore``.
        trans_id: X-Trans-Id of the answer.
        body: the request body as it arrives (chunks).
        tempurl: authorized by a temp URL signature.
        authorize: checks the caller on another container (copy source/destination).
    """

    method: str
    account: str
    container: str | None
    obj: str | None
    query: QueryParams
    headers: Headers
    ctx: RequestContext
    store: Any
    trans_id: str
    body: AsyncIterator[bytes]
    public_path: str
    tempurl: bool = False
    authorize: Callable[[str, str, str | None], Awaitable[None]] = field(default=None)  # type: ignore[assignment]

    @property
    def names(self) -> tuple[str, str, str]:
        assert self.container is not None and self.obj is not None
        return self.account, self.container, self.obj

    async def read_body(self, limit: int) -> bytes:
        """The whole body (manifests, bulk deletes), 413 past ``limit`` bytes."""
        parts, size = [], 0
        async for chunk in self.body:
            size += len(chunk)
            if size > limit:
                raise errors.RequestTooLarge(f"Request body over {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)


SwiftHandler = Callable[[SwiftRequest], Awaitable[Response]]


def split_path(raw_path: bytes) -> tuple[str, str | None, str | None]:
    """``(account, container, object)`` from the raw path after ``/v1/``; checks the names."""
    try:
        text = unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        raise PreconditionFailed("Invalid UTF8 or contains NULL") from None
    if "\x00" in text:
        raise PreconditionFailed("Invalid UTF8 or contains NULL")
    account, _, rest = text.partition("/")
    container, _, obj = rest.partition("/")
    if not account:
        raise errors.BadRequest("Invalid path: no account")
    if container:
        constraints.check_container_name(container)
    if obj:
        constraints.check_object_name(obj)
    return account, container or None, obj or None


class SwiftAPI(ServiceAPI):
    """Object storage's ``ServiceAPI``: ``/info`` and ``/v1/...`` served by async handlers.

    Args:
        handlers: ``{(level, method): handler}``, level ``account``/``container``/``object``.
        info: the handler of ``GET /info``.
    """

    def __init__(
        self,
        error_renderers: ErrorRenderers,
        handlers: Mapping[tuple[str, str], SwiftHandler],
        info: SwiftHandler,
    ):
        super().__init__(
            "object-store",
            "/object-store",
            error_renderers,
            [],
            request_id_headers=("X-Trans-Id", "X-Openstack-Request-Id"),
        )
        self.handlers = dict(handlers)
        self.info_handler = info
        self._state: Any = None

    def mount(self, app_state: Any) -> Mount:
        """The ``/object-store`` mount: ``/info`` and ``/v1/...``."""
        self._state = app_state
        self._identity_url = app_state.conf.public_url.rstrip("/") + "/identity"
        everything = ["GET", "HEAD", "PUT", "POST", "DELETE", "COPY", "OPTIONS", "PATCH"]
        router = Router(
            routes=[
                Route("/info", self._endpoint_info, methods=everything),
                Route("/v1/{path:path}", self._endpoint_v1, methods=everything),
            ],
            default=self._not_found,
        )
        return Mount(self.prefix, app=router)

    def _answer(self, response: Response, trans_id: str, method: str) -> Response:
        """Add the request id headers, and Swift's default ``Content-Type`` (``text/html;
        charset=UTF-8``, as every swob answer has) to an answer that names none, such as a
        PUT/POST/DELETE 201/202/204 (tempest's ``ExistsAllResponseHeaders`` checks it)."""
        for name in self.request_id_headers:
            response.headers[name] = trans_id
        if "content-type" not in response.headers and response.status_code != 304:
            response.headers["Content-Type"] = DEFAULT_CONTENT_TYPE
        return response

    def _error(self, exc: Exception, trans_id: str, method: str) -> Response:
        answer = self.error_renderers.render(exc)
        headers = dict(answer.headers)
        if answer.status == 401:
            headers.setdefault("WWW-Authenticate", f'Keystone uri="{self._identity_url}"')
        if method == "HEAD" or answer.status in (204, 304):
            return Response(status_code=answer.status, headers=headers)
        return Response(answer.body, answer.status, headers, media_type="text/html")

    async def _endpoint_info(self, request: Request) -> Response:
        trans_id = new_trans_id()
        try:
            if request.method not in ("GET", "HEAD"):
                raise errors.MethodNotAllowed("Only GET and HEAD are allowed.")
            sreq = await self._request(request, trans_id, "", None, None)
            response = await self.info_handler(sreq)
        except Exception as exc:
            self._log_error(request, exc, 500)
            response = self._error(exc, trans_id, request.method)
        return self._answer(response, trans_id, request.method)

    async def _endpoint_v1(self, request: Request) -> Response:
        trans_id = new_trans_id()
        try:
            raw = request.scope.get("raw_path") or request.url.path.encode()
            raw = raw.split(b"?", 1)[0]
            marker = raw.find(b"/v1/")
            account, container, obj = split_path(raw[marker + 4 :])
            level = "object" if obj else "container" if container else "account"
            handler = self.handlers.get((level, request.method))
            if handler is None:
                raise errors.MethodNotAllowed(f"{request.method} is not allowed here.")
            sreq = await self._request(request, trans_id, account, container, obj)
            await self._authorize(sreq)
            response = await handler(sreq)
        except Exception as exc:
            status = getattr(exc, "status", 500)
            self._log_error(request, exc, status if isinstance(status, int) else 500)
            response = self._error(exc, trans_id, request.method)
        return self._answer(response, trans_id, request.method)

    async def _request(
        self,
        request: Request,
        trans_id: str,
        account: str,
        container: str | None,
        obj: str | None,
    ) -> SwiftRequest:
        ctx = RequestContext(request_id=trans_id)
        token = request.headers.get("x-auth-token") or request.headers.get("x-storage-token")
        if token:
            caller = await run_in_threadpool(self._state.token_validator.validate, token)
            ctx = replace(caller, request_id=trans_id, auth_token=token)
            if ctx.system_scope:
                raise errors.Forbidden(errors.SYSTEM_SCOPE_REFUSED)
        return SwiftRequest(
            method=request.method,
            account=account,
            container=container,
            obj=obj,
            query=request.query_params,
            headers=request.headers,
            ctx=ctx,
            store=self._state.cloud.objectstore,
            trans_id=trans_id,
            body=_body(request),
            public_path=request.url.path,
        )

    async def _authorize(self, sreq: SwiftRequest) -> None:
        """401/403 unless the caller (or a temp URL) may do this request."""
        store = sreq.store

        async def check(method: str, container: str, obj: str | None) -> None:
            info = await store.containers.info(sreq.account, container) if container else None
            acl.authorize(
                sreq.ctx,
                acl.Access(
                    method,
                    sreq.account,
                    container,
                    is_object=obj is not None,
                    read_acl=info.get("x-container-read") if info else None,
                    write_acl=info.get("x-container-write") if info else None,
                    owner_only=obj is None and method not in acl.READ_METHODS,
                    admin_only=_sets_account_quota(sreq),
                    referrer=sreq.headers.get("referer"),
                ),
            )

        sreq.authorize = check
        if "temp_url_sig" in sreq.query and sreq.obj is not None:
            await self._check_tempurl(sreq)
            return
        if sreq.method == "COPY":  # reads this object; the handler checks the Destination
            await check("GET", sreq.container or "", sreq.obj)
            return
        if "x-copy-from" in sreq.headers and sreq.obj is not None:  # reads the source too
            source, _, source_obj = unquote(sreq.headers["x-copy-from"]).lstrip("/").partition("/")
            await check("GET", source, source_obj or sreq.obj)
        await check(sreq.method, sreq.container or "", sreq.obj if sreq.container else None)

    async def _check_tempurl(self, sreq: SwiftRequest) -> None:
        store = sreq.store
        ainfo = await store.accounts.info(sreq.account)
        cinfo = await store.containers.info(sreq.account, sreq.container)
        keys = [
            ainfo.get("x-account-meta-temp-url-key"),
            ainfo.get("x-account-meta-temp-url-key-2"),
            cinfo.get("x-container-meta-temp-url-key"),
            cinfo.get("x-container-meta-temp-url-key-2"),
        ]
        marker = sreq.public_path.find("/v1/")
        paths = [sreq.public_path[marker:], sreq.public_path]
        tempurl.verify(
            sreq.method,
            paths,
            sreq.query["temp_url_sig"],
            sreq.query.get("temp_url_expires", ""),
            [k for k in keys if k],
        )
        sreq.tempurl = True


async def _body(request: Request) -> AsyncIterator[bytes]:
    """The request body's chunks; a client gone mid-body is ``ClientDisconnected`` (400,
    logged as such rather than as a bug)."""
    try:
        async for chunk in request.stream():
            if chunk:
                yield chunk
    except ClientDisconnect:
        raise errors.ClientDisconnected() from None


def _sets_account_quota(sreq: SwiftRequest) -> bool:
    if sreq.container is not None or sreq.method != "POST":
        return False
    return any(
        k.lower() in ("x-account-meta-quota-bytes", "x-remove-account-meta-quota-bytes")
        for k in sreq.headers
    )
