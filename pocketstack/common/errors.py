"""Project errors: logic raises these, one middleware renders them.

Every error carries an HTTP status and a message. The API layer renders each one with the
error renderers of the service that was called (``<service>/api/errors.py``, registered with
``pocketstack.common.http.ErrorRenderers``), following the OpenStack API references:

- Identity v3:   ``{"error": {"code": 404, "title": "Not Found", "message": "..."}}``
- Compute v2.1:  ``{"itemNotFound": {"code": 404, "message": "..."}}`` (key per status)
- Networking:    ``{"NeutronError": {"type": "NetworkNotFound", "message": "...", "detail": ""}}``
- Image v2:      ``{"code": 404, "title": "Not Found", "message": "..."}``

Subclass by meaning (``ServerNotFound(NotFound)``) so the Neutron ``type`` field and log lines
name the exact failure; never translate errors in handlers.
"""

from __future__ import annotations


class PocketError(Exception):
    """Base of every error that reaches a user.

    Attributes:
        status: HTTP status code (int).
        title: the HTTP reason phrase used by Keystone/Glance bodies.
        message: human-readable explanation; safe to show (no secrets, no tracebacks).
        headers: extra response headers (e.g. ``WWW-Authenticate`` for 401).
    """

    status = 500
    title = "Internal Server Error"

    def __init__(self, message: str | None = None, *, headers: dict[str, str] | None = None):
        self.message = message or self.default_message()
        self.headers = headers or {}
        super().__init__(self.message)

    def default_message(self) -> str:
        return self.title

    @property
    def type_name(self) -> str:
        """The class name, used as Neutron's ``type`` (e.g. ``NetworkNotFound``)."""
        return type(self).__name__


class BadRequest(PocketError):
    """400: malformed JSON, a missing or invalid field."""

    status = 400
    title = "Bad Request"


class ClientDisconnected(BadRequest):
    """400: the client went away before the end of its request body (nobody reads the answer;
    raised so the work under way unwinds without a logged traceback)."""

    def default_message(self) -> str:
        return "The client disconnected before the end of the request body."


class Unauthorized(PocketError):
    """401: no token, an invalid or expired token, wrong credentials."""

    status = 401
    title = "Unauthorized"

    def default_message(self) -> str:
        return "The request you have made requires authentication."


class Forbidden(PocketError):
    """403: authenticated but not allowed by policy."""

    status = 403
    title = "Forbidden"

    def default_message(self) -> str:
        return "You are not authorized to perform the requested action."


#: What a service other than Identity answers a system-scoped token (403): their policies
#: are project-scoped, as OpenStack's services enforcing scope refuse such a token.
SYSTEM_SCOPE_REFUSED = (
    "This service does not accept system-scoped tokens; use a project-scoped token."
)


class PolicyNotAuthorized(Forbidden):
    """403 raised by ``pocketstack.common.policy.enforce``."""


class QuotaExceeded(Forbidden):
    """403: the request would exceed a project quota (Nova renders quota errors as 403)."""


class NotFound(PocketError):
    """404: unknown id, or a resource of another project (never revealed as 403)."""

    status = 404
    title = "Not Found"


class MethodNotAllowed(PocketError):
    """405: the path exists but not with this method."""

    status = 405
    title = "Method Not Allowed"


class Conflict(PocketError):
    """409: duplicate name, resource in use, or an action the current state forbids."""

    status = 409
    title = "Conflict"


class InvalidState(Conflict):
    """409: the resource's state does not allow this action (e.g. start an ACTIVE server)."""


class InUse(Conflict):
    """409: the resource is still referenced (e.g. a network with ports)."""


class RequestTooLarge(PocketError):
    """413: the request body is over the configured limit."""

    status = 413
    title = "Request Entity Too Large"


class UnsupportedMediaType(PocketError):
    """415: a body in a content type the call does not take."""

    status = 415
    title = "Unsupported Media Type"


class NotAcceptable(PocketError):
    """406: e.g. an unsupported compute microversion."""

    status = 406
    title = "Not Acceptable"


class ServiceUnavailable(PocketError):
    """503: a backend (bus peer, agent) did not answer in time."""

    status = 503
    title = "Service Unavailable"


class NoValidHost(PocketError):
    """Scheduler: no host passes the filters or every claim failed.

    Never rendered to an API client directly: the conductor records it as the server's fault.
    """

    status = 500
    title = "No valid host"

    def default_message(self) -> str:
        return "No valid host was found. There are not enough hosts available."
