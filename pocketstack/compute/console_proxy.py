"""The console proxy (Nova's novncproxy and serialproxy), served by the API process itself:

- ``/vnc/websockify?token=...``: a websocket bridged to the guest's VNC server (RFB bytes in
  binary frames, as websockify does, so noVNC talks to it directly);
- ``/serial?token=...``: a websocket bridged to the guest's serial port (binary frames out;
  text or binary frames in are typed into the guest);
- ``/novnc/``: noVNC's static files (Debian's ``novnc`` package, ``NOVNC_DIRS``), so the URL
  of ``console url show --novnc`` (``.../novnc/vnc_lite.html?path=...``) opens a console.

A browser's websocket from another site (an ``Origin`` not naming the host asked for) is
refused before its token is looked at. A connection's token is redeemed once
(``consoles.Consoles.redeem``) before the websocket is accepted: an unknown, reused, expired
or other-kind token closes it unaccepted (the client sees HTTP 403). The guest side is the
unix socket the compute agent named for the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from starlette.routing import BaseRoute, Mount, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from pocketstack.common import errors

LOG = logging.getLogger(__name__)

#: where noVNC's files may be installed (Debian ``novnc``; npm's ``@novnc/novnc``)
NOVNC_DIRS = (Path("/usr/share/novnc"), Path("/usr/share/javascript/novnc"))
#: sun_path holds 108 bytes; a longer path is reached through its directory's fd
_MAX_SUN_PATH = 107


def routes() -> list[BaseRoute]:
    """The proxy's websocket routes and, when noVNC is installed, its static files."""
    found: list[BaseRoute] = [
        WebSocketRoute("/vnc/websockify", vnc_proxy),
        WebSocketRoute("/serial", serial_proxy),
    ]
    for directory in NOVNC_DIRS:
        if (directory / "vnc_lite.html").is_file():
            found.append(Mount("/novnc", app=StaticFiles(directory=directory), name="novnc"))
            break
    return found


async def vnc_proxy(ws: WebSocket) -> None:
    """``/vnc/websockify?token=``: bridge to the guest's VNC server."""
    await _bridge(ws, "vnc")


async def serial_proxy(ws: WebSocket) -> None:
    """``/serial?token=``: bridge to the guest's serial port."""
    await _bridge(ws, "serial")


def _same_origin(ws: WebSocket) -> bool:
    """False for a browser's cross-site websocket: an ``Origin`` whose host is not the one
    the client asked for (Nova's proxies check it the same way); clients that send no
    ``Origin`` (not browsers) pass."""
    origin = ws.headers.get("origin")
    if not origin:
        return True
    asked = urlsplit(f"//{ws.headers.get('host', '')}").hostname
    return urlsplit(origin).hostname == asked and urlsplit(origin).scheme in ("http", "https")


async def _bridge(ws: WebSocket, kind: str) -> None:
    cloud = ws.app.state.cloud
    if not _same_origin(ws):
        LOG.info("%s console: refused a cross-origin websocket (%s)", kind, ws.headers["origin"])
        await ws.close(code=1008)
        return
    try:
        grant = cloud.compute.consoles.redeem(ws.query_params.get("token", ""), kind)
    except errors.PocketError:
        LOG.info("%s console: refused a bad or used token", kind)
        await ws.close(code=1008)  # before accept: the handshake is answered 403
        return
    try:
        sock = _connect_unix(str(grant.connect.get("unix", "")))
        reader, writer = await asyncio.open_unix_connection(sock=sock)
    except OSError as exc:
        LOG.warning("%s console of %s unreachable: %s", kind, grant.instance_uuid, exc)
        await ws.close(code=1011)
        return
    offered = ws.scope.get("subprotocols") or []
    await ws.accept(subprotocol="binary" if "binary" in offered else None)
    LOG.info("%s console of %s opened", kind, grant.instance_uuid)
    tasks = [
        asyncio.create_task(_guest_to_client(reader, ws)),
        asyncio.create_task(_client_to_guest(ws, writer)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        writer.close()
        with contextlib.suppress(Exception):
            await ws.close()
        LOG.info("%s console of %s closed", kind, grant.instance_uuid)


async def _guest_to_client(reader: asyncio.StreamReader, ws: WebSocket) -> None:
    while data := await reader.read(65536):
        await ws.send_bytes(data)


async def _client_to_guest(ws: WebSocket, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            if data is None:
                data = (message.get("text") or "").encode()
            writer.write(data)
            await writer.drain()


def _connect_unix(path: str) -> socket.socket:
    """A connected non-blocking stream socket to ``path`` (abstract when it starts with
    NUL; a path too long for sun_path through its directory's fd).

    Raises:
        OSError: nobody listens there.
    """
    if not path:
        raise OSError("no console socket")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if path.startswith("\0") or len(os.fsencode(path)) <= _MAX_SUN_PATH:
            sock.connect(path)
        else:
            parent, name = os.path.split(path)
            dir_fd = os.open(parent, os.O_PATH | os.O_DIRECTORY)
            try:
                sock.connect(f"/proc/self/fd/{dir_fd}/{name}")
            finally:
                os.close(dir_fd)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock
