"""The fake driver's consoles: a small server per guest and console kind, on an abstract
unix socket (no file to clean up), so the console proxy bridges real bytes in API tests.

- ``vnc``: sends an RFB 3.8 server greeting (``RFB 003.008\\n``), as a VNC server opens the
  handshake, then reads and drops what the client sends;
- ``serial``: sends the guest's console log (``\\r\\n`` line ends, as a serial port), then
  echoes every byte it receives, as a terminal with echo on.

Each connection is served by a daemon thread; ``close`` stops the listener.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

LOG = logging.getLogger(__name__)

#: what an RFB 3.8 server sends first (RFC 6143 section 7.1.1)
RFB_GREETING = b"RFB 003.008\n"


class FakeConsoleServer:
    """One listening abstract unix socket for ``kind`` (``vnc`` or ``serial``) of a guest.

    Args:
        uuid: the guest's uuid (part of the socket's name).
        kind: ``vnc`` or ``serial``.
        log: returns the guest's console lines now (the serial console's first bytes).
    """

    def __init__(self, uuid: str, kind: str, log: Callable[[], list[str]]):
        self.kind = kind
        self._log = log
        # abstract namespace: a leading NUL; the pid keeps two drivers of a test apart
        self.address = f"\0pocketstack-fake-console-{os.getpid()}-{id(self)}-{uuid}-{kind}"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(self.address)
        self._sock.listen(8)
        self._closed = False
        threading.Thread(target=self._accept, name=f"fake-{kind}-{uuid[:8]}", daemon=True).start()

    def close(self) -> None:
        """Stop listening (open sessions end when their client goes)."""
        self._closed = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                if self.kind == "vnc":
                    conn.sendall(RFB_GREETING)
                else:
                    conn.sendall("".join(line + "\r\n" for line in self._log()).encode())
                while data := conn.recv(4096):
                    if self.kind == "serial":
                        conn.sendall(data)
            except OSError as exc:
                LOG.debug("fake %s console session ended: %s", self.kind, exc)
