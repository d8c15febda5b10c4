"""Image data straight from the connection: the request body as a blocking stream.

``pocketstack.common.http`` reads a ``raw_body`` route's whole body into a temporary file
before its handler runs. For image data that is wrong twice: a 100 GB upload was read (and
written to /tmp) in full before any limit or status check could refuse it, and the image only
became ``saving`` once the client had sent everything. ``ImageServiceAPI`` authenticates and
checks the media type as usual, but hands raw-body handlers a ``RequestBodyStream`` over the
live body: the manager sees each chunk as it arrives, can stop at a limit, and the upload is
in ``saving`` (under its lease) while it streams.

(The natural home of this is ``http.py``'s ``raw_body``; it lives here until that layer
streams.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import anyio.from_thread
from starlette.requests import ClientDisconnect, Request

from pocketstack.common.http import ApiRequest, RouteSpec, ServiceAPI
from pocketstack.image.exceptions import ImageUploadInterrupted


class RequestBodyStream:
    """The body of a request being received, read with blocking ``read(n)`` calls from a
    handler's worker thread. Each call that needs data waits on the event loop once, for as
    many chunks as make ``n`` bytes (so a large upload crosses threads once per ``read``, not
    once per network chunk); what is over ``n`` is kept for the next call.

    Raises ``ImageUploadInterrupted`` from ``read`` when the client disconnects before the end.
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
            raise ImageUploadInterrupted(
                "The client disconnected before the end of the image data."
            ) from None
        return b"".join(parts), False


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


class ImageServiceAPI(ServiceAPI):
    """The Image API's ``ServiceAPI``: raw-body routes get the live body as
    ``ApiRequest.body_file`` (a ``RequestBodyStream``) instead of a spooled copy."""

    async def _parse(
        self, request: Request, spec: RouteSpec, state: Any, request_id: str
    ) -> ApiRequest:
        if not spec.raw_body:
            return await super()._parse(request, spec, state, request_id)
        # Authenticate and check the media type as for every route, with the body left unread.
        headers_only = Request(request.scope, _no_body)
        parsed = await super()._parse(headers_only, spec, state, request_id)
        return dataclasses.replace(parsed, body_file=RequestBodyStream(request))
