"""The tgt iSCSI target (``pocketstack.volume.targets.tgt``) against a real ``tgtd`` on a
free loopback port, read through QEMU's own initiator (``qemu-img``/``qemu-io`` with
``iscsi://`` URLs, libiscsi from qemu-block-extra), as a guest's QEMU would.

Each test's tgtd has its own control port (from its temp directory) and is stopped by its
PID at the end; no other tgtd is touched.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from pocketstack.volume.targets import TargetError
from pocketstack.volume.targets.tgt import TgtTarget, _is_tgtd
from tests.helpers import wait_until

MiB = 1024 * 1024


@pytest.fixture
def target(tmp_path):
    tgt = TgtTarget(tmp_path / "pool", "127.0.0.1", 0)
    yield tgt
    pid, control = tgt.pid, tgt.control_port
    tgt.stop()
    assert pid is None or not _is_tgtd(pid, control), "tgtd still runs after stop"


def make_file(tmp_path: Path, size: int = 64 * MiB) -> str:
    path = tmp_path / f"volume-{uuid.uuid4()}"
    with open(path, "wb") as f:
        f.truncate(size)
    return str(path)


def url(info: dict, user: str | None = None, password: str | None = None) -> str:
    user = info["auth_username"] if user is None else user
    password = info["auth_password"] if password is None else password
    creds = f"{user}%{password}@" if user else ""
    return f"iscsi://{creds}{info['target_portal']}/{info['target_iqn']}/{info['target_lun']}"


def img_info(iscsi_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["qemu-img", "info", "-f", "raw", iscsi_url], capture_output=True, text=True, timeout=60
    )


def virtual_size(iscsi_url: str) -> int:
    out = img_info(iscsi_url)
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("virtual size"))
    return int(line.split("(")[1].split()[0])


def test_chap_right_secret_reads_wrong_or_none_refused(target, tmp_path):
    path = make_file(tmp_path)
    subprocess.run(["qemu-io", "-f", "raw", "-c", "write -P 0x5a 0 4k", path], check=True)
    info = target.export("v1", path, str(uuid.uuid4()))
    out = subprocess.run(
        ["qemu-io", "-f", "raw", "-c", "read -P 0x5a 0 4k", url(info)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and "verification failed" not in out.stdout, out.stderr
    for bad in (url(info, password="wrong-secret-000"), url(info, user="", password="")):
        refused = img_info(bad)
        assert refused.returncode != 0
        assert "Authentication failure" in refused.stderr or "Failed" in refused.stderr


def test_an_account_is_bound_to_its_own_target_only(target, tmp_path):
    one = target.export("v1", make_file(tmp_path), str(uuid.uuid4()))
    two = target.export("v2", make_file(tmp_path), str(uuid.uuid4()))
    crossed = dict(two, auth_username=one["auth_username"], auth_password=one["auth_password"])
    assert img_info(url(crossed)).returncode != 0
    assert virtual_size(url(two)) == 64 * MiB


def test_extend_is_visible_to_a_live_session(target, tmp_path):
    path = make_file(tmp_path)
    info = target.export("v1", path, str(uuid.uuid4()))
    # one qemu-io session across the extend: it asks for the new size (as QMP block_resize
    # does for a guest) after we grow the file and refresh the LU
    session = subprocess.Popen(
        [
            *("qemu-io", "-f", "raw", "-c", "length", "-c", "sleep 3000"),
            *("-c", "truncate 96M", "-c", "length", "-c", "read -P 0 90M 4k", url(info)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    tid = str(target.list_exports()["v1"]["tid"])
    wait_until(  # logged in (it read the capacity at login), before the extend
        lambda: (
            "Session"
            in target._tgtadm("--lld", "iscsi", "--mode", "conn", "--op", "show", "--tid", tid)
        ),
        30,
        "the qemu-io session's login",
    )
    os.truncate(path, 96 * MiB)
    target.refresh("v1")
    out, _ = session.communicate(timeout=60)
    assert out.splitlines()[0] == "64 MiB", out
    assert "96 MiB" in out and "read 4096/4096 bytes at offset 94371840" in out, out
    assert virtual_size(url(info)) == 96 * MiB


def test_extend_without_refresh_is_not_visible(target, tmp_path):
    """The reason ``refresh`` exists: tgt keeps the size it read when the LU opened."""
    path = make_file(tmp_path)
    info = target.export("v1", path, str(uuid.uuid4()))
    os.truncate(path, 96 * MiB)
    assert virtual_size(url(info)) == 64 * MiB


def test_second_attachment_survives_removing_the_first(target, tmp_path):
    """tgt 1.0.85 dies when a target's first account is unbound; unexport avoids it."""
    path = make_file(tmp_path)
    a1, a2, a3 = (str(uuid.uuid4()) for _ in range(3))
    target.export("v1", path, a1)
    second = target.export("v1", path, a2)
    target.export("v1", path, a3)
    target.unexport("v1", a1)
    assert target.running()
    assert sorted(target.list_exports()["v1"]["users"]) == sorted(
        [f"att-{a2[:8]}", f"att-{a3[:8]}"]
    )
    assert virtual_size(url(second)) == 64 * MiB
    target.unexport("v1", a2)
    target.unexport("v1", a3)
    assert target.list_exports() == {}
    target.unexport("v1", a3)  # gone already: succeeds


def test_restart_adopts_the_running_tgtd_and_its_exports(target, tmp_path):
    path = make_file(tmp_path)
    info = target.export("v1", path, str(uuid.uuid4()))
    again = TgtTarget(target.state_dir, "127.0.0.1", 3260)  # the configured port loses
    assert again.adopt() and again.pid == target.pid and again.portal == info["target_portal"]
    assert "v1" in again.list_exports()
    assert virtual_size(url(info)) == 64 * MiB


def test_reexport_with_stored_secret(target, tmp_path):
    path = make_file(tmp_path)
    attachment = str(uuid.uuid4())
    info = target.export("v1", path, attachment)
    target.remove("v1")
    assert img_info(url(info)).returncode != 0
    again = target.export("v1", path, attachment, password=info["auth_password"])
    assert again["auth_password"] == info["auth_password"]
    assert virtual_size(url(info)) == 64 * MiB


def test_portal_taken_is_refused_and_leaves_no_tgtd(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        tgt = TgtTarget(tmp_path / "pool", "127.0.0.1", port)
        with pytest.raises(TargetError):
            tgt.ensure_running()
    assert tgt.pid is None and not (tmp_path / "pool" / "tgtd.json").exists()


def test_stop_from_a_new_object_stops_the_recorded_tgtd(target, tmp_path):
    """What a lab's teardown does: it never started the tgtd it stops."""
    target.export("v1", make_file(tmp_path), str(uuid.uuid4()))
    pid = target.pid
    assert pid is not None
    TgtTarget(target.state_dir).stop()
    assert not _is_tgtd(pid, target.control_port)
    assert "pid" not in json.loads((target.state_dir / "tgtd.json").read_text())


def test_a_new_tgtd_takes_the_recorded_port(target, tmp_path):
    """After a stop (or a host restart) stored connection_info still names the old portal."""
    path = make_file(tmp_path)
    first = target.export("v1", path, str(uuid.uuid4()))
    target.stop()
    again = TgtTarget(target.state_dir, "127.0.0.1", 0)
    second = again.export("v1", path, str(uuid.uuid4()))
    try:
        assert second["target_portal"] == first["target_portal"]
    finally:
        again.stop()
