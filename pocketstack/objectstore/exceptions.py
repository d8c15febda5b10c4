"""Object storage errors (Swift's status codes), rendered once by ``api/errors.py``.

Swift answers errors with a short HTML body (``<html><h1>Not Found</h1><p>...</p></html>``);
the status codes follow Swift's proxy (``swift/proxy/controllers/*.py``) and api-ref.
"""

from __future__ import annotations

from pocketstack.common import errors


class AccountNotFound(errors.NotFound):
    """404: no such account (only when autocreate does not apply)."""


class ContainerNotFound(errors.NotFound):
    """404: no such container."""


class ObjectNotFound(errors.NotFound):
    """404: no such object, or it expired (``X-Delete-At`` passed)."""


class ContainerNotEmpty(errors.Conflict):
    """409: DELETE of a container that still holds objects."""

    def default_message(self) -> str:
        return "There was a conflict when trying to complete your request."


class BadName(errors.BadRequest):
    """400: a container or object name too long, ``.``/``..`` as a container name..."""


class PreconditionFailed(errors.PocketError):
    """412: a failed If-Match / If-Unmodified-Since, or a path that is not UTF-8 / holds NUL."""

    status = 412
    title = "Precondition Failed"


class NotModified(errors.PocketError):
    """304: If-None-Match / If-Modified-Since matched (no body)."""

    status = 304
    title = "Not Modified"


class LengthRequired(errors.PocketError):
    """411: an object PUT with neither Content-Length nor chunked transfer encoding."""

    status = 411
    title = "Length Required"


class EtagMismatch(errors.PocketError):
    """422: the body's MD5 is not the ETag the client sent."""

    status = 422
    title = "Unprocessable Entity"


class RangeNotSatisfiable(errors.PocketError):
    """416: a Range header no byte of the object satisfies."""

    status = 416
    title = "Requested Range Not Satisfiable"


class QuotaExceeded(errors.RequestTooLarge):
    """413: the upload would pass a container or account quota."""

    def default_message(self) -> str:
        return "Upload exceeds quota."


class InsufficientReplicas(errors.ServiceUnavailable):
    """503: fewer nodes than a quorum answered."""
