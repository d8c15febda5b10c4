"""A small QMP (QEMU Machine Protocol) client over a unix socket, stdlib only.

Protocol (QEMU's ``docs/interop/qmp-spec``): the server greets with ``{"QMP": {...}}``, the
client sends ``{"execute": "qmp_capabilities"}``, then each ``{"execute": cmd, "arguments":
{...}}`` is answered by ``{"return": ...}`` or ``{"error": {"class", "desc"}}``; asynchronous
``{"event": ...}`` messages may arrive in between and are skipped.

We keep our own ~80 lines instead of the ``qemu.qmp`` package: that library is asyncio-based
(with a sync shim marked unstable) and not installed; the agent only needs four commands.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

# sun_path holds 108 bytes; longer socket paths are reached through /proc/self/fd/<dir fd>.
_MAX_SUN_PATH = 100


class QMPError(Exception):
    """QMP failed: no socket, a closed connection, a timeout or an ``error`` reply."""


class QMPClient:
    """One QMP connection; use as a context manager.

    Args:
        path: the QMP unix socket (``<instance dir>/qmp.sock``).
        timeout: seconds for connect and for each reply.

    Raises:
        QMPError: on connect, when the socket is missing or nobody listens.
    """

    def __init__(self, path: Path | str, timeout: float = 5.0):
        self._sock = _connect(Path(path), timeout)
        self._buf = b""
        try:
            greeting = self._read()
            if "QMP" not in greeting:
                raise QMPError(f"unexpected QMP greeting: {greeting}")
            self.execute("qmp_capabilities")
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> QMPClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        """Run ``command`` and return its ``return`` value.

        Raises:
            QMPError: an ``error`` reply, a closed connection or a timeout.
        """
        msg: dict[str, Any] = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        try:
            self._sock.sendall(json.dumps(msg).encode() + b"\n")
        except OSError as exc:
            raise QMPError(f"QMP send {command}: {exc}") from None
        while True:
            reply = self._read()
            if "event" in reply:
                continue
            if "error" in reply:
                err = reply["error"]
                raise QMPError(f"QMP {command}: {err.get('class')}: {err.get('desc')}")
            return reply.get("return")

    def _read(self) -> dict[str, Any]:
        while b"\n" not in self._buf:
            try:
                chunk = self._sock.recv(65536)
            except OSError as exc:
                raise QMPError(f"QMP read: {exc}") from None
            if not chunk:
                raise QMPError("QMP connection closed")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return json.loads(line)


def connect_unix(path: Path, timeout: float) -> socket.socket:
    """A connected stream socket to the unix socket ``path`` (a path longer than sun_path
    allows is reached through its directory's fd), with ``timeout`` s for each operation.

    Raises:
        QMPError: nobody listens there.
    """
    return _connect(path, timeout)


def _connect(path: Path, timeout: float) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        if len(os.fsencode(path)) <= _MAX_SUN_PATH:
            sock.connect(os.fspath(path))
        else:
            dir_fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
            try:
                sock.connect(f"/proc/self/fd/{dir_fd}/{path.name}")
            finally:
                os.close(dir_fd)
    except OSError as exc:
        sock.close()
        raise QMPError(f"QMP connect {path}: {exc}") from None
    return sock
