"""A headless Chromium driven over the DevTools protocol (a websocket; no Selenium or
Playwright): open a page, wait for a JavaScript condition, evaluate, take a screenshot.

Used by the console tests to open noVNC's page as a user's browser would. The browser runs
with a throw-away profile in a temporary directory and is killed (by its pid) on close.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class HeadlessPage:
    """One page of a headless Chromium showing ``url``; use as a context manager.

    Raises:
        RuntimeError: Chromium did not start or its page did not appear within 30 s.
    """

    def __init__(self, url: str, width: int = 1024, height: int = 768):
        if CHROMIUM is None:
            raise RuntimeError("chromium is not installed")
        self._profile = Path(tempfile.mkdtemp(prefix="pocketstack-chromium-"))
        self._proc = subprocess.Popen(
            [
                CHROMIUM,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                f"--window-size={width},{height}",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={self._profile}",
                url,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its renderers share the group, killed with it
        )
        self._ids = itertools.count(1)
        self._stack = contextlib.ExitStack()
        try:
            self._ws = self._stack.enter_context(
                connect(self._page_socket(), open_timeout=30, max_size=None)
            )
        except BaseException:
            self.close()
            raise

    def _page_socket(self) -> str:
        port_file = self._profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if port_file.is_file() and port_file.read_text().strip():
                port = int(port_file.read_text().split()[0])
                pages = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
                for page in pages:
                    if page.get("type") == "page" and page.get("webSocketDebuggerUrl"):
                        return str(page["webSocketDebuggerUrl"])
            time.sleep(0.2)
        raise RuntimeError("chromium's page did not appear within 30 s")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One DevTools command; its ``result``."""
        msg_id = next(self._ids)
        self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self._ws.recv(timeout=30))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result") or {})

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """Poll ``expression`` until it is truthy; its value (None after ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.25)
        return None

    def screenshot(self, path: Path) -> Path:
        """Save the page as a PNG at ``path``."""
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        """Kill the browser (its pid) and remove its profile."""
        self._stack.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)  # the group this Popen started
        self._proc.wait(timeout=10)
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> HeadlessPage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def status_text(page: HeadlessPage) -> str:
    """noVNC ``vnc_lite.html``'s status line."""
    return str(page.evaluate("document.getElementById('status').textContent") or "")


#: JavaScript: noVNC's canvas size and how many of its pixels are lit (text on a black
#: screen), or null before it has a framebuffer
CANVAS_PIXELS = """(() => {
  const c = document.querySelector('#screen canvas');
  if (!c || !c.width) return null;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let lit = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 150) lit++;
  return {width: c.width, height: c.height, lit: lit};
})()"""
