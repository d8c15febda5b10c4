"""Remote consoles (API reference "Server Consoles") through the ``openstack`` CLI and
openstacksdk (session cloud, fake driver, whose consoles are small servers: VNC greets as
an RFB 3.8 server, serial sends the boot log then echoes): ``console url show --novnc`` and
``--serial``, the 2.6 remote-consoles shapes and the 2.1-2.5 actions, Nova's 400/404/409,
and the proxy's websockets: real bytes through, a reused or bad token refused."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import openstack.exceptions
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

ADMIN = "pocketstack-admin"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def server(running_cloud):
    """A demo server, ACTIVE; deleted afterwards."""
    made = running_cloud.create_server(_name("console"), wait=True)
    yield made
    admin = running_cloud.sdk(ADMIN)
    admin.compute.delete_server(made["id"], ignore_missing=True)
    try:
        admin.compute.wait_for_delete(admin.compute.get_server(made["id"]), wait=60)
    except openstack.exceptions.NotFoundException:
        pass


def _remote(conn, server_id: str, body: dict, version: str = "2.6"):
    return conn.compute.post(
        f"/servers/{server_id}/remote-consoles",
        json={"remote_console": body},
        headers={"OpenStack-API-Version": f"compute {version}"},
        raise_exc=False,
    )


def _action(conn, server_id: str, body: dict, version: str = "2.1"):
    return conn.compute.post(
        f"/servers/{server_id}/action",
        json=body,
        headers={"OpenStack-API-Version": f"compute {version}"},
        raise_exc=False,
    )


def ws_url(console_url: str) -> str:
    """The websocket of a console URL: noVNC's ``path`` joined to the page's host (as
    ``vnc_lite.html`` does), or the serial URL itself."""
    parts = urlsplit(console_url)
    if parts.scheme in ("ws", "wss"):
        return console_url
    path = parse_qs(parts.query)["path"][0]
    return f"ws://{parts.netloc}/{path}"


def _error(resp) -> tuple[int, str]:
    ((_kind, body),) = resp.json().items()
    return resp.status_code, body["message"]


def test_console_url_show_novnc_opens_an_rfb_session_once(running_cloud, server):
    shown = running_cloud.openstack("console", "url", "show", "--novnc", server["id"])
    assert shown["type"] == "novnc" and shown["protocol"] == "vnc"
    url = shown["url"]
    assert url.startswith(f"{running_cloud.url}/novnc/vnc_lite.html?path=vnc%2Fwebsockify")
    with connect(ws_url(url), subprotocols=["binary"], open_timeout=10) as ws:
        assert ws.subprotocol == "binary"
        greeting = ws.recv(timeout=10)
        assert isinstance(greeting, bytes) and greeting.startswith(b"RFB 003.00")
    with pytest.raises(InvalidStatus) as refused:  # one-time token
        connect(ws_url(url), open_timeout=10)
    assert refused.value.response.status_code == 403


def test_console_url_show_serial_streams_the_console(running_cloud, server):
    shown = running_cloud.openstack("console", "url", "show", "--serial", server["id"])
    assert shown["type"] == "serial" and shown["protocol"] == "serial"
    assert shown["url"].startswith(running_cloud.url.replace("http", "ws", 1) + "/serial?token=")
    with connect(shown["url"], open_timeout=10) as ws:
        seen = b""
        while b"ready" not in seen:
            seen += ws.recv(timeout=10)
        assert f"pocketstack guest {server['name']}".encode() in seen
        ws.send(b"typed\n")  # the fake port echoes
        echoed = b""
        while b"typed" not in echoed:
            echoed += ws.recv(timeout=10)


def test_bad_wrong_kind_and_cross_origin_connections_are_refused(running_cloud, server):
    for path in ("/vnc/websockify?token=nope", "/serial", "/serial?token="):
        with pytest.raises(InvalidStatus) as refused:
            connect(running_cloud.url.replace("http", "ws", 1) + path, open_timeout=10)
        assert refused.value.response.status_code == 403
    serial = running_cloud.openstack("console", "url", "show", "--serial", server["id"])["url"]
    # a page of another site cannot open it (and the token is not spent by trying)
    with pytest.raises(InvalidStatus) as refused:
        connect(serial, origin="http://evil.example", open_timeout=10)
    assert refused.value.response.status_code == 403
    with connect(serial, origin=running_cloud.url, open_timeout=10) as ws:
        assert ws.recv(timeout=10)
    serial = running_cloud.openstack("console", "url", "show", "--serial", server["id"])["url"]
    token = parse_qs(urlsplit(serial).query)["token"][0]
    with pytest.raises(InvalidStatus):  # a serial token does not open the VNC console
        connect(f"{running_cloud.url.replace('http', 'ws', 1)}/vnc/websockify?token={token}")


def test_novnc_page_is_served(running_cloud):
    import urllib.request

    with urllib.request.urlopen(f"{running_cloud.url}/novnc/vnc_lite.html", timeout=10) as r:
        assert r.status == 200 and b"noVNC" in r.read()


def test_remote_consoles_shapes_and_errors(running_cloud, server):
    conn = running_cloud.sdk()
    sid = server["id"]
    resp = _remote(conn, sid, {"protocol": "vnc", "type": "novnc"})
    assert resp.status_code == 200, resp.text
    body = resp.json()["remote_console"]
    assert set(body) == {"protocol", "type", "url"} and body["protocol"] == "vnc"
    # the SDK's own call (2.6+)
    sdk_console = conn.compute.create_console(sid, console_type="serial")
    assert sdk_console["url"].startswith("ws://")
    # 400s: schema, protocols this cloud lacks, a type the protocol lacks
    assert _remote(conn, sid, {"protocol": "vnc"}).status_code == 400
    assert _remote(conn, sid, {"protocol": "telnet", "type": "novnc"}).status_code == 400
    assert _error(_remote(conn, sid, {"protocol": "spice", "type": "spice-html5"})) == (
        400,
        "Unavailable console type spice-html5.",
    )
    assert _error(_remote(conn, sid, {"protocol": "vnc", "type": "serial"})) == (
        400,
        "Invalid console type serial",
    )
    # 404: before 2.6, an unknown server, another project's server
    assert _remote(conn, sid, {"protocol": "vnc", "type": "novnc"}, "2.5").status_code == 404
    assert _remote(conn, str(uuid.uuid4()), {"protocol": "vnc", "type": "novnc"}).status_code == 404
    admin = running_cloud.sdk(ADMIN)
    assert _remote(admin, sid, {"protocol": "vnc", "type": "novnc"}).status_code == 200
    # 409: a stopped server has no console
    running_cloud.openstack("server", "stop", sid, json_output=False)
    running_cloud.wait_for_server(sid, "SHUTOFF")
    code, message = _error(_remote(conn, sid, {"protocol": "serial", "type": "serial"}))
    assert code == 409 and "vm_state stopped" in message


def test_legacy_console_actions(running_cloud, server):
    conn = running_cloud.sdk()
    sid = server["id"]
    resp = _action(conn, sid, {"os-getVNCConsole": {"type": "novnc"}})
    assert resp.status_code == 200, resp.text
    assert set(resp.json()["console"]) == {"type", "url"}
    resp = _action(conn, sid, {"os-getSerialConsole": {"type": "serial"}}, "2.5")
    assert resp.status_code == 200 and resp.json()["console"]["type"] == "serial"
    assert _action(conn, sid, {"os-getVNCConsole": {"type": "bogus"}}).status_code == 400
    assert _error(_action(conn, sid, {"os-getVNCConsole": {"type": "xvpvnc"}})) == (
        400,
        "Invalid console type xvpvnc",
    )
    # removed at 2.6 (remote-consoles replaces them)
    assert _action(conn, sid, {"os-getVNCConsole": {"type": "novnc"}}, "2.6").status_code == 404


def test_other_projects_server_is_404(running_cloud):
    admin = running_cloud.sdk(ADMIN)
    made = running_cloud.create_server(_name("admin-console"), wait=True, cloud=ADMIN)
    try:
        demo = running_cloud.sdk()
        resp = _remote(demo, made["id"], {"protocol": "vnc", "type": "novnc"})
        assert resp.status_code == 404
    finally:
        admin.compute.delete_server(made["id"], ignore_missing=True)
