"""Remote consoles (API reference "Server Consoles": Create Remote Console, and the older
``os-getVNCConsole`` / ``os-getSerialConsole`` actions), as Nova's consoleauth and its
novncproxy / serialproxy do it.

``cloud.compute.consoles.create`` checks the server and the protocol/type pair, asks the
server's compute agent where its console is (``ComputeDriver.get_console``: a unix socket
on that host: QEMU's VNC server or serial chardev), and issues a **one-time token** for it:
only the token's SHA-256 is kept, with the server, the console kind, where to connect and an
expiry (``TOKEN_TTL`` s). The URL it answers points at the console proxy this process serves
(``console_proxy``): ``<public_url>/novnc/vnc_lite.html?path=vnc/websockify?token=...`` for
``novnc`` (noVNC's page opens the websocket at ``path``), ``ws://<public host>/serial?token=
...`` for ``serial``. The proxy ``redeem``s the token once: a reused, expired, unknown or
other-kind token is refused. An admin reads what a token opens, without spending it, at
``GET /os-console-auth-tokens/{token}`` (``show_token``).

The tokens live in the database (``console_auth_tokens``, as Nova's), so any controller's
proxy redeems a URL another issued, and a restart of the controller keeps them.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.db import Database
from pocketstack.compute import states
from pocketstack.compute.exceptions import (
    ConsoleTypeInvalid,
    ConsoleTypeUnavailable,
    InstanceNotReady,
)
from pocketstack.compute.models import ConsoleAuthToken
from pocketstack.compute.rpcapi import ComputeAgentClient

if TYPE_CHECKING:
    from pocketstack.service import Cloud

#: seconds a console URL's token stays valid (Nova's ``[consoleauth] token_ttl``)
TOKEN_TTL = 600.0

#: protocol -> the one console type this cloud offers for it (Nova: vnc/novnc with
#: ``[vnc] enabled``, serial/serial with ``[serial_console] enabled``); spice, rdp and mks
#: are "unavailable", as in a Nova without those proxies.
OFFERED = {"vnc": "novnc", "serial": "serial"}


class ConsoleTokenNotFound(errors.NotFound):
    """404: ``os-console-auth-tokens`` of an unknown, used or expired token (Nova's message)."""

    def default_message(self) -> str:
        return "Token not found"


class ConsoleTypeNotAccessible(errors.Unauthorized):
    """401: ``os-console-auth-tokens`` before 2.31 of a token that is not ``rdp-html5``
    (Nova's 2.1 answer; this cloud offers no rdp console, so every token below 2.31)."""

    def default_message(self) -> str:
        return "The requested console type details are not accessible"


class ConsoleTokenInvalid(errors.Unauthorized):
    """401: an unknown, used, expired or other-kind console token (the proxy refuses it)."""

    def default_message(self) -> str:
        return "The console token is invalid or has expired."


@dataclass(frozen=True)
class ConsoleGrant:
    """What a token opens: ``kind`` (``vnc``/``serial``) of ``instance_uuid`` on ``host``
    (its compute host), reached at ``connect`` (``{"unix": path}``), until ``expires``
    (a Unix time, s)."""

    instance_uuid: str
    kind: str
    connect: dict[str, Any]
    expires: float
    host: str | None = None

    @property
    def console_type(self) -> str:
        """Nova's console type of the grant: ``novnc`` or ``serial``."""
        return OFFERED.get(self.kind, self.kind)


class ConsoleTokens:
    """One-time console tokens in the database (``console_auth_tokens``), stored by SHA-256
    (the table shows no usable token).

    Args:
        db: the database.
        ttl: seconds a token stays valid.
        clock: the time in Unix seconds (``time.time``; tests inject theirs).
    """

    def __init__(
        self, db: Database, ttl: float = TOKEN_TTL, clock: Callable[[], float] = time.time
    ):
        self.db = db
        self.ttl = ttl
        self.clock = clock

    def issue(
        self, instance_uuid: str, kind: str, connect: dict[str, Any], host: str | None = None
    ) -> str:
        """A new random token (43 URL-safe characters) for ``kind`` of the instance on
        ``host``; expired tokens are purged on the way."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self.db.transaction() as s:
            s.execute(sa.delete(ConsoleAuthToken).where(ConsoleAuthToken.expires <= now))
            s.add(
                ConsoleAuthToken(
                    token_hash=_digest(token),
                    console_type=OFFERED.get(kind, kind),
                    instance_uuid=instance_uuid,
                    host=host,
                    connect=dict(connect),
                    expires=now + self.ttl,
                )
            )
        return token

    def redeem(self, token: str, kind: str) -> ConsoleGrant:
        """The grant of ``token``, consumed (a second redeem fails, on any controller: the
        row is deleted by id, and only the deleting transaction wins).

        Raises:
            ConsoleTokenInvalid: unknown, used or expired token, or one for another kind.
        """
        with self.db.transaction() as s:
            row = s.scalars(
                sa.select(ConsoleAuthToken).where(ConsoleAuthToken.token_hash == _digest(token))
            ).first()
            if row is None:
                raise ConsoleTokenInvalid()
            grant = _grant(row)
            gone = s.execute(sa.delete(ConsoleAuthToken).where(ConsoleAuthToken.id == row.id))
            if getattr(gone, "rowcount", 1) != 1:
                raise ConsoleTokenInvalid()
        if grant.expires <= self.clock() or grant.kind != kind:
            raise ConsoleTokenInvalid()
        return grant

    def get(self, token: str) -> ConsoleGrant | None:
        """The grant of ``token``, not consumed; None when unknown, used or expired."""
        with self.db.reader() as s:
            row = s.scalars(
                sa.select(ConsoleAuthToken).where(ConsoleAuthToken.token_hash == _digest(token))
            ).first()
        if row is None or row.expires <= self.clock():
            return None
        return _grant(row)

    def revoke_instance(self, instance_uuid: str) -> None:
        """Drop every token of an instance (Nova does so when it is deleted)."""
        with self.db.transaction() as s:
            s.execute(
                sa.delete(ConsoleAuthToken).where(ConsoleAuthToken.instance_uuid == instance_uuid)
            )


def _grant(row: ConsoleAuthToken) -> ConsoleGrant:
    kind = {v: k for k, v in OFFERED.items()}.get(row.console_type, row.console_type)
    return ConsoleGrant(row.instance_uuid, kind, dict(row.connect or {}), row.expires, row.host)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Consoles:
    """``cloud.compute.consoles``: ``create`` (a console URL), ``redeem`` (the proxy's
    check of a token)."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.agents = ComputeAgentClient(cloud.bus)
        self.tokens = ConsoleTokens(cloud.db)

    def create(self, ctx: RequestContext, server_id: str, protocol: str, console_type: str) -> str:
        """A one-time URL of the server's ``protocol`` console of type ``console_type``.

        Raises:
            ServerNotFound (404); ConsoleTypeUnavailable (400: spice, rdp, mks, or a guest
            without that console); ConsoleTypeInvalid (400: a type the protocol does not
            have, e.g. vnc/serial); InstanceNotReady (409: building, no host, not running);
            InstanceInvalidState (409: not ACTIVE, PAUSED or RESCUED); MessagingTimeout
            (503) when the agent does not answer.
        """
        server = self.cloud.compute.servers.get(ctx, server_id)
        if protocol not in OFFERED:
            raise ConsoleTypeUnavailable.for_type(console_type)
        if console_type != OFFERED[protocol]:
            raise ConsoleTypeInvalid.for_type(console_type)
        if server.vm_state == states.BUILDING or not server.host:
            raise InstanceNotReady(f"Instance {server.uuid} is not ready yet.")
        states.check_action(server, f"get_{protocol}_console")
        connect = self.agents.get_console(ctx, server.host, server.uuid, protocol)
        token = self.tokens.issue(server.uuid, protocol, connect, server.host)
        return console_url(self.cloud.conf.public_url, protocol, token)

    def redeem(self, token: str, kind: str) -> ConsoleGrant:
        """``ConsoleTokens.redeem`` (raises ``ConsoleTokenInvalid``)."""
        return self.tokens.redeem(token, kind)

    def show_token(self, token: str, any_type: bool) -> ConsoleGrant:
        """What ``token`` opens, without spending it (``os-console-auth-tokens``);
        ``any_type``: 2.31+ (before, only ``rdp-html5`` tokens, which this cloud has none of).

        Raises:
            ConsoleTokenNotFound (404): unknown, used or expired; ConsoleTypeNotAccessible
            (401): a valid token before 2.31.
        """
        grant = self.tokens.get(token)
        if grant is None:
            raise ConsoleTokenNotFound()
        if not any_type and grant.console_type != "rdp-html5":
            raise ConsoleTypeNotAccessible()
        return grant


def console_url(public_url: str, kind: str, token: str) -> str:
    """The URL a user opens: noVNC's page with ``path`` naming the proxy's websocket
    (relative to the page's host, as noVNC joins them) for ``vnc``; the websocket itself
    (``ws``/``wss``) for ``serial``."""
    parts = urlsplit(public_url.rstrip("/"))
    prefix = parts.path.rstrip("/")
    if kind == "vnc":
        path = f"{prefix}/vnc/websockify?token={token}".lstrip("/")
        page = urlunsplit((parts.scheme, parts.netloc, f"{prefix}/novnc/vnc_lite.html", "", ""))
        return f"{page}?path={quote(path, safe='')}"
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, f"{prefix}/serial", f"token={token}", ""))
