"""The HTTP layer shared by every service API: routing, auth, errors, JSON.

A service API is a list of ``Route``s made with ``route(...)``, mounted under the service's
prefix by ``ServiceAPI``. Handlers are plain synchronous functions (they run in a worker
thread) that take an ``ApiRequest`` and return an ``ApiResponse`` (or a dict, rendered as a
200 JSON body, or a Starlette ``Response`` for streams)::

    def get_flavor(req: ApiRequest) -> dict:
        policy.enforce(req.ctx, "compute:flavors:show")
        flavor = req.cloud.compute.flavors.get(req.ctx, req.params["flavor_id"])
        return {"flavor": views.flavor(req, flavor)}

    ROUTES = [route("GET", "/flavors/{flavor_id}", get_flavor)]

Handlers parse, authorize, call one manager function and render the view; ``req.cloud`` is
the typed ``Cloud``, so mypy checks every handler's manager call. Errors are raised
as ``PocketError`` and rendered here, once, by the ``ErrorRenderers`` the service registers
(its ``api/errors.py``: exception class -> its OpenStack error body, most specific class
wins). An unexpected exception becomes a 500 with a generic message and a logged traceback,
never a traceback in the body.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio.from_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext, new_request_id
from pocketstack.common.validation import BodySchema, InvalidInput, load_json

if TYPE_CHECKING:  # service.py imports this module
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)


@dataclass
class ApiRequest:
    """One parsed API request, handed to a handler.

    Attributes:
        method: HTTP method.
        params: path parameters (``{"server_id": "..."}``).
        query: query parameters; ``query_all(name)`` gives repeated ones.
        body: parsed JSON body, or ``None`` when there was none (raw-body routes: ``None``).
        body_file: for ``raw_body`` routes, the body as it arrives: a ``RequestBodyStream``
            read with blocking ``read(n)`` calls (nothing is buffered before the handler).
        headers: request headers (case-insensitive).
        ctx: the caller; on routes with ``auth=False`` an anonymous context (no user, no
            roles), so policy checks on it fail closed.
        cloud: the ``pocketstack.service.Cloud`` with every manager (typed, so mypy checks
            the handlers' manager calls).
        base_url: the service's public base URL, e.g. ``http://127.0.0.1:8780/compute/v2.1``.
        client_addr: the peer's address (``host:port``), or None when unknown; for logs.
    """

    method: str
    params: dict[str, str]
    query: Any
    body: Any
    headers: Any
    ctx: RequestContext
    cloud: Cloud
    base_url: str
    root_url: str
    body_file: Any = None
    request_id: str = field(default_factory=new_request_id)
    client_addr: str | None = None

    def query_all(self, name: str) -> list[str]:
        return self.query.getlist(name)

    def require_body(self, key: str) -> dict[str, Any]:
        """``body[key]`` as a dict, or ``BadRequest`` naming what is missing."""
        if not isinstance(self.body, dict) or not isinstance(self.body.get(key), dict):
            raise errors.BadRequest(f"Request body must contain a '{key}' object.")
        return self.body[key]


@dataclass
class ApiResponse:
    """A handler's answer: status, JSON body (or None for an empty body) and headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


#: Turns one exception into the answer a client gets (``ApiResponse``: status, JSON body,
#: headers). Takes the exception class it is registered for, or a subclass of it.
ErrorRenderer = Callable[[Any], ApiResponse]

#: What an unexpected exception (a bug) tells the client; the traceback goes to the log only.
UNEXPECTED_MESSAGE = (
    "The server has either erred or is incapable of performing the requested operation."
)


class ErrorRenderers:
    """A service's error renderers, keyed by exception class; the most specific class wins.

    As Starlette's ``ExceptionMiddleware`` looks its handlers up, ``render(exc)`` walks
    ``type(exc).__mro__`` and uses the first class registered, so a service renders all of
    ``PocketError`` in its OpenStack shape and may give any subclass its own answer without
    ``pocketstack.common.http`` knowing about it::

        RENDERERS = ErrorRenderers(
            lambda err: {"error": {"code": err.status, "message": err.message}},
            {InvalidInput: _bad_input},  # a subclass answered its own way
        )

    Args:
        body: the service's JSON body for a ``PocketError`` (its OpenStack API reference's
            error shape); the answer's status is ``err.status``, its headers ``err.headers``.
        more: ``{exception class: ErrorRenderer}`` for classes answered another way.

    Every registry also answers any other ``Exception`` (a bug): a 500 in the service's shape
    with ``UNEXPECTED_MESSAGE``, never the exception's text; ``ServiceAPI`` logs its traceback.
    """

    def __init__(
        self,
        body: Callable[[errors.PocketError], Any],
        more: Mapping[type[BaseException], ErrorRenderer] | None = None,
    ):
        self.body = body
        self._renderers: dict[type[BaseException], ErrorRenderer] = {
            Exception: self._unexpected,
            errors.PocketError: self._pocket_error,
        }
        self._renderers.update(more or {})

    def register(self, exc_class: type[BaseException], renderer: ErrorRenderer) -> None:
        """Answer ``exc_class`` (and its subclasses not registered themselves) with
        ``renderer``."""
        self._renderers[exc_class] = renderer

    def lookup(self, exc: BaseException) -> ErrorRenderer:
        """The renderer of the most specific registered class in ``type(exc).__mro__``.

        Raises ``LookupError`` for a ``BaseException`` that is no ``Exception`` (e.g.
        ``KeyboardInterrupt``): those are not errors to answer.
        """
        for cls in type(exc).__mro__:
            renderer = self._renderers.get(cls)
            if renderer is not None:
                return renderer
        raise LookupError(f"no error renderer for {type(exc).__name__}")

    def is_unexpected(self, exc: BaseException) -> bool:
        """True when only the last resort (``Exception``) answers ``exc``: a bug."""
        return self.lookup(exc) == self._unexpected

    def render(self, exc: BaseException) -> ApiResponse:
        """The answer to ``exc`` (see ``lookup``)."""
        return self.lookup(exc)(exc)

    def _pocket_error(self, err: errors.PocketError) -> ApiResponse:
        return ApiResponse(err.status, self.body(err), dict(err.headers))

    def _unexpected(self, _exc: BaseException) -> ApiResponse:
        return self.render(errors.PocketError(UNEXPECTED_MESSAGE))


def plain_error_body(err: errors.PocketError) -> dict[str, Any]:
    """``{"code": 404, "title": "Not Found", "message": ...}``: the body of an error outside
    every service (an unknown path under ``/``)."""
    return {"code": err.status, "title": err.title, "message": err.message}


#: The answers of paths outside every service (``pocketstack.service.build_app``).
PLAIN_ERRORS = ErrorRenderers(plain_error_body)


Handler = Callable[[ApiRequest], Any]

_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@dataclass(frozen=True)
class RouteSpec:
    """One route before mounting.

    Attributes:
        auth: False for version documents and token issue (no ``X-Auth-Token`` needed).
        raw_body: the body is handed to the handler unread, as ``ApiRequest.body_file``.
        status: the status of a bare-dict answer.
        schema: the request body's JSON schema (``pocketstack.common.validation``); every
            route that takes a JSON body declares one.
        content_types: media types the body may have; None means the service's default.
    """

    method: str
    path: str
    handler: Handler
    auth: bool = True
    raw_body: bool = False
    status: int = 200
    schema: BodySchema | None = None
    content_types: tuple[str, ...] | None = None


def route(
    method: str,
    path: str,
    handler: Handler,
    *,
    auth: bool = True,
    raw_body: bool = False,
    status: int = 200,
    schema: Mapping[str, Any] | None = None,
    content_types: Sequence[str] | None = None,
) -> RouteSpec:
    """Declare a route; ``status`` is used when the handler returns a bare dict, ``schema``
    is the body's JSON schema (compiled and checked now, so a broken one fails at import)."""
    return RouteSpec(
        method,
        path,
        handler,
        auth,
        raw_body,
        status,
        BodySchema(schema) if schema is not None else None,
        tuple(content_types) if content_types is not None else None,
    )


class ServiceAPI:
    """One OpenStack service mounted under a path prefix.

    Args:
        name: service name for logs (``compute``).
        prefix: mount path, e.g. ``/compute``.
        error_renderers: how the service answers each exception (``ErrorRenderers``, from
            its ``api/errors.py``): its OpenStack error body.
        routes: ``RouteSpec``s; paths relative to the prefix, e.g. ``/v2.1/servers``.
        request_id_headers: headers that carry the request id back
            (Nova also sends ``X-Compute-Request-Id``).
        content_types: media types a JSON body may be sent as (a request without
            ``Content-Type`` is taken as JSON); a route may name others.
        media_type_error: the error for a body in another type: 415 by default; Keystone
            answers 400 ``ValidationError`` instead.
        response_headers: called with the request's headers before anything else; returns
            headers every answer to it carries, errors included (Nova's microversion
            headers), or raises the service's error (406 for a version it doesn't serve).
        system_scope: whether system-scoped tokens are accepted (Identity's); every other
            service answers them 403 (``errors.SYSTEM_SCOPE_REFUSED``).
    """

    def __init__(
        self,
        name: str,
        prefix: str,
        error_renderers: ErrorRenderers,
        routes: Sequence[RouteSpec],
        request_id_headers: Sequence[str] = ("X-Openstack-Request-Id",),
        content_types: Sequence[str] = ("application/json",),
        media_type_error: Callable[[str], errors.PocketError] | None = None,
        response_headers: Callable[[Any], dict[str, str]] | None = None,
        system_scope: bool = False,
    ):
        self.name = name
        self.system_scope = system_scope
        self.prefix = prefix
        self.error_renderers = error_renderers
        self.specs = list(routes)
        self.request_id_headers = tuple(request_id_headers)
        self.content_types = tuple(content_types)
        self.media_type_error = media_type_error or _unsupported_media_type
        self.response_headers = response_headers
        self._identity_url = "/identity"

    def mount(self, app_state: Any) -> Mount:
        """A Starlette ``Mount`` serving these routes with auth and error rendering."""
        self._identity_url = app_state.conf.public_url.rstrip("/") + "/identity"
        by_path: dict[str, list[RouteSpec]] = {}
        for spec in self.specs:
            by_path.setdefault(spec.path, []).append(spec)
        routes: list[BaseRoute] = []
        for path, specs in by_path.items():
            # Every method reaches the endpoint (Starlette would allow only GET for a function
            # endpoint): it answers 405 itself, in the service's error style.
            routes.append(Route(path, self._endpoint(specs, app_state), methods=_ALL_METHODS))
        router = Router(routes=routes, default=self._not_found)
        return Mount(self.prefix, app=router)

    async def _not_found(self, scope: Any, receive: Any, send: Any) -> None:
        err = errors.NotFound("The resource could not be found.")
        response = self._error_response(err, new_request_id())
        await response(scope, receive, send)

    def _error_response(self, exc: Exception, request_id: str) -> Response:
        """``exc`` answered by the service's renderer, with the request id headers (and
        where to authenticate on a 401)."""
        answer = self.error_renderers.render(exc)
        headers = {h: request_id for h in self.request_id_headers}
        headers.update(answer.headers)
        if answer.status == 401 and "WWW-Authenticate" not in headers:
            headers["WWW-Authenticate"] = f'Keystone uri="{self._identity_url}"'
        if answer.body is None:
            return Response(status_code=answer.status, headers=headers)
        return JSONResponse(answer.body, status_code=answer.status, headers=headers)

    def _log_error(self, request: Request, exc: Exception, status: int) -> None:
        """A bug (an exception no renderer but the last resort knows) is logged once, with
        its traceback; a known error that is still a 5xx (a peer that did not answer) without.
        """
        if self.error_renderers.is_unexpected(exc):
            LOG.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        elif status >= 500:
            LOG.warning("%s %s: %s", request.method, request.url.path, exc)

    def _endpoint(self, specs: list[RouteSpec], state: Any) -> Callable[[Request], Any]:
        by_method = {s.method: s for s in specs}
        if "GET" in by_method and "HEAD" not in by_method:
            by_method["HEAD"] = by_method["GET"]

        async def endpoint(request: Request) -> Response:
            request_id = new_request_id()
            spec = by_method.get(request.method)
            always: dict[str, str] = {}
            try:
                if self.response_headers is not None:
                    always = self.response_headers(request.headers)
                if spec is None:
                    raise errors.MethodNotAllowed(
                        f"The method {request.method} is not allowed for this resource."
                    )
                api_req = await self._parse(request, spec, state, request_id)
                result = await run_in_threadpool(spec.handler, api_req)
                response = _to_response(result, spec.status)
            except ClientDisconnect:
                # The client hung up before sending its whole body: nobody to answer.
                LOG.info("%s %s: client disconnected mid-request", request.method, request.url.path)
                return Response(status_code=400)
            except Exception as exc:  # every error is answered here, and only here
                response = self._error_response(exc, request_id)
                self._log_error(request, exc, response.status_code)
            for h in self.request_id_headers:
                response.headers.setdefault(h, request_id)
            for name, value in always.items():
                response.headers.setdefault(name, value)
            if request.method == "HEAD":
                response = Response(
                    status_code=response.status_code, headers=dict(response.headers)
                )
            return response

        return endpoint

    async def _parse(
        self, request: Request, spec: RouteSpec, state: Any, request_id: str
    ) -> ApiRequest:
        ctx = RequestContext(request_id=request_id)
        if spec.auth:
            token = request.headers.get("x-auth-token")
            if not token:
                raise errors.Unauthorized()
            caller = await run_in_threadpool(state.token_validator.validate, token)
            ctx = dataclasses.replace(caller, request_id=request_id, auth_token=token)
            if ctx.system_scope and not self.system_scope:
                raise errors.Forbidden(errors.SYSTEM_SCOPE_REFUSED)
        body: Any = None
        body_file = None
        if request.method in ("POST", "PUT", "PATCH"):
            self._check_media_type(request, spec)
        if spec.raw_body:
            body_file = RequestBodyStream(request)
        elif request.method in ("POST", "PUT", "PATCH"):
            raw = await _read_limited(request, state.conf.max_request_body_size)
            if raw.strip():
                body = load_json(raw)
                if not isinstance(body, dict | list):  # a literal null, number or string
                    raise InvalidInput("The request body must be a JSON object.")
            if spec.schema is not None:
                spec.schema.validate(body)
        root = state.conf.public_url.rstrip("/")
        return ApiRequest(
            method=request.method,
            params=dict(request.path_params),
            query=request.query_params,
            body=body,
            headers=request.headers,
            ctx=ctx,
            cloud=state.cloud,
            base_url=root + self.prefix,
            root_url=root,
            body_file=body_file,
            request_id=request_id,
            client_addr=f"{request.client.host}:{request.client.port}" if request.client else None,
        )

    def _check_media_type(self, request: Request, spec: RouteSpec) -> None:
        """Raise the service's media-type error for a body in a type the route doesn't take."""
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        accepted = spec.content_types if spec.content_types is not None else self.content_types
        if media_type in accepted:
            return
        if media_type == "" and "application/json" in accepted:
            return  # no Content-Type: JSON is assumed, as the OpenStack services do
        if request.headers.get("content-length") == "0":
            return  # no body at all: nothing to misread
        raise self.media_type_error(media_type)


class RequestBodyStream:
    """The body of a request being received, read from a handler's worker thread with
    blocking ``read(n)`` calls, so a handler sees each chunk as it arrives (an image upload
    can stop at a size limit, and is under way while it streams).

    Each call that needs data waits on the event loop once, for as many chunks as make ``n``
    bytes (a large upload crosses threads once per ``read``, not once per network chunk);
    what is over ``n`` is kept for the next call.

    Raises ``errors.ClientDisconnected`` from ``read`` when the client goes away mid-body.
    """

    def __init__(self, request: Request):
        self._chunks: AsyncIterator[bytes] = request.stream()
        self._buffer = b""
        self._eof = False

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (``-1``/``None``: all the rest); ``b""`` only at the end."""
        if size is None or size < 0:
            parts = [self._buffer]
            self._buffer = b""
            while not self._eof:
                parts.append(self._fetch(1 << 20))
            return b"".join(parts)
        while not self._buffer and not self._eof:
            self._buffer = self._fetch(size)
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    def _fetch(self, want: int) -> bytes:
        data, self._eof = anyio.from_thread.run(self._receive, want)
        return data

    async def _receive(self, want: int) -> tuple[bytes, bool]:
        """At least ``want`` bytes unless the body ends first; and whether it ended."""
        parts: list[bytes] = []
        got = 0
        try:
            while got < want:
                chunk = await self._chunks.__anext__()
                parts.append(chunk)
                got += len(chunk)
        except StopAsyncIteration:
            return b"".join(parts), True
        except ClientDisconnect:
            raise errors.ClientDisconnected() from None
        return b"".join(parts), False


def _unsupported_media_type(media_type: str) -> errors.PocketError:
    return errors.UnsupportedMediaType(f"Unsupported Content-Type {media_type!r}.")


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise errors.RequestTooLarge(f"Request is too large (over {limit} bytes).")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise errors.RequestTooLarge(f"Request is too large (over {limit} bytes).")
        chunks.append(chunk)
    return b"".join(chunks)


def _to_response(result: Any, default_status: int) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, ApiResponse):
        if result.body is None:
            return Response(status_code=result.status, headers=result.headers)
        return JSONResponse(result.body, status_code=result.status, headers=result.headers)
    if result is None:
        return Response(status_code=204 if default_status == 200 else default_status)
    return JSONResponse(result, status_code=default_status)


def parse_bool(value: Any, name: str) -> bool:
    """Parse a boolean query/body value (``true``/``false``/``1``/``0``), or 400."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise errors.BadRequest(f"Invalid value {value!r} for {name}: expected a boolean.")


def parse_int(value: Any, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """Parse an integer field with optional bounds, or 400 naming the field."""
    if isinstance(value, bool):
        raise errors.BadRequest(f"Invalid value for {name}: expected an integer.")
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise errors.BadRequest(
            f"Invalid value {value!r} for {name}: expected an integer."
        ) from None
    if minimum is not None and number < minimum:
        raise errors.BadRequest(f"Invalid value for {name}: must be >= {minimum}.")
    if maximum is not None and number > maximum:
        raise errors.BadRequest(f"Invalid value for {name}: must be <= {maximum}.")
    return number
