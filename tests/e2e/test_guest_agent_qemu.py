"""changePassword on a real guest through its QEMU guest agent (issue 11): ``pocketstack up``
with the QEMU driver, the project's guest image (registered with ``hw_qemu_guest_agent=yes``;
``files/rcS`` starts Debian's qemu-ga on ``org.qemu.guest_agent.0``), the ``openstack`` CLI.

The guest's user_data starts a watcher that prints root's ``/etc/shadow`` hash on the serial
console whenever it changes; ``openstack server set --password`` (Nova's ``changePassword``)
makes qemu-ga run ``guest-set-user-password``, and the console then shows a SHA-512 crypt hash
that ``openssl passwd -6`` with its salt reproduces from the new password."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator

import pytest

from tests.conftest import RunningCloud, launch_cloud
from tests.helpers import wait_until

ADMIN = "pocketstack-admin"

#: user_data: a background watcher printing root's password hash whenever it changes
WATCHER = r"""#!/bin/sh
(
    last=""
    while true; do
        h=$(awk -F: '$1 == "root" { print $2 }' /etc/shadow)
        if [ "$h" != "$last" ]; then echo "ROOTHASH <$h>"; last=$h; fi
        sleep 1
    done
) </dev/null >/dev/console 2>&1 &
"""


@pytest.fixture
def cloud(tmp_path) -> Iterator[RunningCloud]:
    """A cloud with the qemu driver; ``launch_cloud`` kills its guests afterwards."""
    with launch_cloud(tmp_path / "state", driver="qemu") as running:
        yield running


def _hashes(cloud: RunningCloud, server: str, count: int) -> list[str]:
    """Wait until the console shows ``count`` ROOTHASH lines; return their hashes."""
    log = ""

    def shown() -> list[str] | None:
        nonlocal log
        log = cloud.openstack("console", "log", "show", server, json_output=False)
        found = re.findall(r"ROOTHASH <([^>\r\n]*)>", log)
        return found if len(found) >= count else None

    what = f"{count} ROOTHASH line(s) on {server}'s console"
    return wait_until(shown, 150, what, detail=lambda: log[-2000:])


def _crypt_sha512(password: str, salt: str) -> str:
    out = subprocess.run(
        ["openssl", "passwd", "-6", "-salt", salt, "-stdin"],
        input=password + "\n",
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_change_password_sets_roots_hash_in_the_guest(cloud, tmp_path):
    script = tmp_path / "watch.sh"
    script.write_text(WATCHER)
    boot = ["--flavor", "m1.tiny", "--network", "private", "--user-data", str(script)]
    cloud.openstack("server", "create", "--image", "cirros", *boot, "qga-vm")
    server = cloud.wait_for_server("qga-vm", "ACTIVE", timeout=120)
    (before,) = _hashes(cloud, "qga-vm", 1)
    assert before == "*"  # the image's root has no password

    password = "n3w:pass word"  # a colon and a space: chpasswd splits at the first colon only
    cloud.openstack("server", "set", "--password", password, "qga-vm", json_output=False)
    after = _hashes(cloud, "qga-vm", 2)[1]
    assert after.startswith("$6$"), after
    salt = after.split("$")[2]
    assert _crypt_sha512(password, salt) == after

    admin = cloud.sdk(ADMIN)

    def events() -> list[tuple[str, str]] | None:
        actions = [
            a for a in admin.compute.server_actions(server["id"]) if a.action == "changePassword"
        ]
        resp = admin.compute.get(
            f"/servers/{server['id']}/os-instance-actions/{actions[0].request_id}",
            headers={"OpenStack-API-Version": "compute 2.84"},
        )
        found = [(e["event"], e["result"]) for e in resp.json()["instanceAction"]["events"]]
        return found if found and all(r for _, r in found) else None

    assert wait_until(events, 30, "the changePassword event's result") == [
        ("compute_set_admin_password", "Success")
    ]
    assert cloud.openstack("server", "show", "qga-vm")["status"] == "ACTIVE"
