"""The vocabulary of the storage node protocol that the node and its handlers share: the
error a handler raises (rendered once by ``node.StorageNode``), what a node path names, and
the ``X-Timestamp`` every write carries (docs/object-storage.md "Storage node protocol").
Kept apart from ``node.py`` so the handler modules need not import the app that routes to
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from starlette.requests import Request

from pocketstack.objectstore.utils import SERVERS, InvalidName, Timestamp, check_name


class NodeError(Exception):
    """An answer other than success, raised by handlers and rendered once by the app.

    Args:
        status: HTTP status.
        message: plain-text body.
        headers: extra response headers (``X-Backend-Timestamp``...).
    """

    def __init__(self, status: int, message: str = "", headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True)
class Target:
    """What a node path names."""

    server: str
    device: str
    partition: int
    account: str
    container: str | None = None
    obj: str | None = None


def parse_path(raw_path: bytes) -> Target:
    """Split and check a node path (percent-decoded per segment, UTF-8).

    Raises:
        NodeError: 400 for a malformed path or bad name, 404 for an unknown server.
    """
    try:
        text = raw_path.decode("ascii")
    except UnicodeDecodeError:
        raise NodeError(400, "bad path") from None
    parts = text.split("/", 6)
    if len(parts) < 5 or parts[0] != "":
        raise NodeError(400, "bad path")
    try:
        segments = [unquote(p, errors="strict") for p in parts[1:]]
    except UnicodeDecodeError:
        raise NodeError(400, "path is not UTF-8") from None
    server, device, part_text, account = segments[:4]
    container = segments[4] if len(segments) > 4 else None
    obj = segments[5] if len(segments) > 5 else None
    if server not in SERVERS:
        raise NodeError(404, f"no server {server!r}")
    if not part_text.isdigit():
        raise NodeError(400, "bad partition")
    if server == "object" and (container is None or obj is None):
        raise NodeError(400, "an object path needs account, container and object")
    if server == "container" and container is None:
        raise NodeError(400, "a container path needs account and container")
    if server == "account" and obj is not None:
        raise NodeError(400, "an account path holds at most a container")
    try:
        check_name("account", account)
        if container is not None:
            check_name("container", container)
        if obj is not None:
            check_name("object", obj)
    except InvalidName as exc:
        raise NodeError(400, str(exc)) from None
    return Target(server, device, int(part_text), account, container, obj)


def require_timestamp(request: Request, header: str = "x-timestamp") -> Timestamp:
    """The request's ``X-Timestamp``.

    Raises:
        NodeError: 400 when missing or invalid.
    """
    raw = request.headers.get(header)
    if raw is None:
        raise NodeError(400, f"missing {header}")
    try:
        return Timestamp(raw)
    except ValueError:
        raise NodeError(400, f"bad {header}: {raw!r}") from None
