"""Remote consoles of a real guest (issue 11 item 4): ``pocketstack up`` with the QEMU
driver, ``openstack console url show --novnc`` then an RFB handshake through the proxy's
websocket to QEMU's VNC server (``-vnc unix:vnc.sock``: the server's ``RFB 003.008``, our
version, its security types), ``--serial`` reading the guest's login prompt from its serial
port (the chardev socket) while ``console log show`` still has the boot log (the chardev's
``logfile``), and a reused token refused."""

from __future__ import annotations

import shutil
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.api.test_remote_consoles import ws_url
from tests.conftest import RunningCloud, launch_cloud
from tests.e2e.browser import CANVAS_PIXELS, CHROMIUM, HeadlessPage, status_text
from tests.helpers import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs QEMU"),
]


class _Stream:
    """The bytes of a websocket's binary frames as a stream (a frame may carry several RFB
    messages, or part of one)."""

    def __init__(self, ws):
        self.ws = ws
        self.buf = b""

    def read(self, size: int) -> bytes:
        while len(self.buf) < size:
            self.buf += self.ws.recv(timeout=20)
        data, self.buf = self.buf[:size], self.buf[size:]
        return data


@pytest.fixture(scope="module")
def guest(tmp_path_factory) -> Iterator[tuple[RunningCloud, dict[str, Any]]]:
    """A qemu cloud and one server whose guest printed its ready line."""
    state = tmp_path_factory.mktemp("consoles") / "state"
    with launch_cloud(state, driver="qemu") as cloud:
        server = cloud.create_server("console-vm", wait=True)
        wait_until(
            lambda: (
                "ready"
                in cloud.openstack("console", "log", "show", server["id"], json_output=False)
            ),
            300,
            "the guest's ready line in its console log",
            interval=2,
            detail=cloud.log,
        )
        yield cloud, server


def test_vnc_and_serial_consoles_of_a_real_guest(guest):
    cloud, server = guest
    url = cloud.openstack("console", "url", "show", "--novnc", server["id"])["url"]
    with connect(ws_url(url), subprotocols=["binary"], open_timeout=20) as ws:
        rfb = _Stream(ws)
        version = rfb.read(12)
        assert version.startswith(b"RFB 003.00"), version
        ws.send(b"RFB 003.008\n")
        count = rfb.read(1)[0]
        assert count >= 1  # security types follow (None: 1, for a unix-socket server)
        types = rfb.read(count)
        assert 1 in types, types
        ws.send(bytes([1]))  # None
        (result,) = struct.unpack(">I", rfb.read(4))
        assert result == 0  # SecurityResult OK: the session is open
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(url), open_timeout=10)
    assert refused.value.response.status_code == 403

    serial = cloud.openstack("console", "url", "show", "--serial", server["id"])["url"]
    with connect(serial, open_timeout=20) as ws:
        got = b""
        deadline = time.monotonic() + 60
        while b"login:" not in got and time.monotonic() < deadline:
            ws.send(b"\r")  # the guest's getty on ttyS0 answers with a login prompt
            try:
                got += ws.recv(timeout=3)
            except TimeoutError:
                continue
        assert b"login:" in got, got
    # the serial port still feeds `console log show`
    log = cloud.openstack("console", "log", "show", server["id"], json_output=False)
    assert "ready" in log


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium")
def test_novnc_page_shows_the_guest_screen_in_a_browser(guest, tmp_path):
    """noVNC's page in headless Chromium, from the URL of ``console url show --novnc``:
    connected to the guest's QEMU, its canvas the guest's 720x400 text screen with text on
    it (the firmware's and the boot loader's lines; the kernel writes to ttyS0 only);
    the screenshot is kept in the test's temporary directory."""
    cloud, server = guest
    url = cloud.openstack("console", "url", "show", "--novnc", server["id"])["url"]
    with HeadlessPage(url) as page:
        connected = "document.getElementById('status').textContent.startsWith('Connected')"
        assert page.wait_for(connected), status_text(page)
        assert status_text(page) == f"Connected to QEMU (pocketstack-{server['id']})"
        drawn = page.wait_for(
            f"(() => {{ const p = {CANVAS_PIXELS}; return p && p.lit > 1000 && p; }})()"
        )
        assert drawn and (drawn["width"], drawn["height"]) == (720, 400), drawn
        shot = page.screenshot(tmp_path / "novnc.png")
    assert shot.read_bytes().startswith(b"\x89PNG")
    print(f"noVNC screenshot: {shot}")
