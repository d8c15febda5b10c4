"""Console tokens survive a restart of the controller (issue 11: Nova keeps them in its
database, ``console_auth_tokens``): ``pocketstack up`` (qemu driver: the guest's QEMU and its
serial socket outlive ``up``) issues a serial console URL with ``openstack console url show
--serial``, is killed -9 and started again on the same state directory; an admin still reads
the token with ``openstack console connection show``, and the URL still opens the guest's
serial console (its getty answers), once."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.helpers import wait_until

ADMIN = "pocketstack-admin"
LATEST = ("--os-compute-api-version", "2.latest")


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_console_url_works_after_a_kill9_of_up(up_process):
    up = up_process("qemu")
    cloud = up.start()
    server = cloud.create_server("ctok-restart", wait=True)
    wait_until(
        lambda: (
            "ready" in cloud.openstack("console", "log", "show", server["id"], json_output=False)
        ),
        150,
        "the guest's ready line",
    )
    url = cloud.openstack("console", "url", "show", "--serial", server["id"])["url"]
    token = parse_qs(urlsplit(url).query)["token"][0]
    up.kill9()
    cloud = up.start()
    cloud.wait_for_server(server["id"], "ACTIVE")
    shown = cloud.openstack(*LATEST, "console", "connection", "show", token, cloud=ADMIN)
    assert shown["instance_uuid"] == server["id"]
    with connect(url, open_timeout=10) as ws:
        ws.send(b"\r")
        seen = b""
        while b"login:" not in seen:
            seen += ws.recv(timeout=20)
    with pytest.raises(InvalidStatus):  # still one-time
        connect(url, open_timeout=10)
