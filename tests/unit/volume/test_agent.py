"""The volume agent (``pocketstack.volume.agent``) on the in-process bus, against a stub
controller serving ``volume_server`` (it answers ``get_host_state`` with what a test says
the host holds and records every result cast), with the fake driver and with the file
driver (raw files; exports on a real tgtd on a free loopback port, stopped by its PID).

Recovery: a child process that writes the journal entry and a partial file of a create and
is then killed with SIGKILL is what an agent killed mid-create leaves; a new agent must
settle every state the doc lists, and leave no orphan file or export.
"""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pocketstack.common.bus import InProcessBus
from pocketstack.common.drivers import VOLUME_DRIVERS
from pocketstack.volume import rpcapi
from pocketstack.volume.agent import VolumeAgent
from pocketstack.volume.drivers.base import GiB
from pocketstack.volume.drivers.fake import FakeVolumeDriver
from tests.helpers import wait_until

HOST = "storage1"
CTX = rpcapi.RequestContext.system()
CONNECTOR = {"host": "c1", "ip": "127.0.0.1", "initiator": "iqn.2010-10.org.pocketstack:c1"}


class Controller:
    """The ``volume_server`` side: ``state`` is what ``get_host_state`` answers, ``results``
    every result cast as ``(message, args)``, ``reports`` every ``report_state``."""

    def __init__(self) -> None:
        self.state: dict[str, list[dict[str, Any]]] = {
            "volumes": [],
            "snapshots": [],
            "backups": [],
            "attachments": [],
        }
        self.results: list[tuple[str, dict[str, Any]]] = []
        self.reports: list[dict[str, Any]] = []

    def report_state(self, ctx, service):
        self.reports.append(service)

    def get_host_state(self, ctx, host):
        assert host == HOST
        return self.state

    def __getattr__(self, name: str):
        if name not in rpcapi.RESULT_MESSAGES:
            raise AttributeError(name)
        return lambda ctx, **args: self.results.append((name, args))

    def result(self, message: str, key: str, value: str, timeout: float = 30) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for name, args in self.results:
                if name == message and args.get(key) == value:
                    return args
            return None

        return wait_until(
            found, timeout, f"{message} for {value}", detail=lambda: str(self.results)
        )


def conf_for(tmp_path: Path, **extra: Any) -> SimpleNamespace:
    values = {
        "hostname": HOST,
        "state_dir": str(tmp_path / "state"),
        "periodic_interval": 0.5,
        "volume_sync_interval": 3600.0,
        "volume_format": "raw",
        "iscsi_ip": "127.0.0.1",
        "iscsi_port": 0,
        "tgt_control_port": 0,
        "netns": None,
        "storage_availability_zone": "nova",
        "max_over_subscription_ratio": 20.0,
    }
    conf = SimpleNamespace(**(values | extra))
    conf.path = lambda *parts: Path(conf.state_dir, *parts)
    return conf


class Harness:
    """A bus with the stub controller; ``agent()`` starts an agent on one pool."""

    def __init__(self, tmp_path: Path, driver_name: str):
        self.tmp_path, self.driver_name = tmp_path, driver_name
        self.bus = InProcessBus()
        self.controller = Controller()
        self.bus.serve(rpcapi.SERVER_TOPIC, self.controller, rpcapi.SERVER_MESSAGES)
        self.pool = tmp_path / "pool"
        self.agents: list[VolumeAgent] = []
        self.client = rpcapi.VolumeAgentClient(self.bus)

    def agent(self, **kwargs: Any) -> VolumeAgent:
        conf = conf_for(self.tmp_path)
        driver = VOLUME_DRIVERS.load(self.driver_name, conf, self.pool)
        agent = VolumeAgent(conf, self.bus, driver, **kwargs)
        agent.start()
        self.agents.append(agent)
        return agent

    def cast(self, method: str, **args: Any) -> None:
        self.client.cast(CTX, HOST, method, **args)

    def close(self) -> None:
        for agent in self.agents:
            agent.stop()
        if self.agents:
            self.agents[-1].driver.stop()  # tgtd by its pid
        self.bus.stop()
        FakeVolumeDriver.shared.pop(str(self.pool), None)


@pytest.fixture(params=["fake", "file"])
def harness(request, tmp_path):
    h = Harness(tmp_path, request.param)
    yield h
    h.close()


@pytest.fixture
def file_harness(tmp_path):
    h = Harness(tmp_path, "file")
    yield h
    h.close()


def new_id() -> str:
    return str(uuid.uuid4())


def test_reports_capacity_with_start_flag_first(harness):
    harness.agent()
    ctl = harness.controller
    wait_until(lambda: len(ctl.reports) >= 2, 10, "two heartbeats")
    first, later = ctl.reports[0], ctl.reports[-1]
    assert first["start_flag"] is True and later["start_flag"] is False
    assert first["host"] == HOST and first["binary"] == "cinder-volume"
    caps = first["capabilities"]
    assert caps["total_capacity_gb"] > 0 and caps["thin_provisioning_support"] is True
    assert caps["volume_backend_name"] == harness.driver_name


def test_volume_lifecycle_casts_each_result(harness):
    agent = harness.agent()
    ctl = harness.controller
    vid, sid, copy = new_id(), new_id(), new_id()
    harness.cast("create_volume", volume={"id": vid, "size": 1}, source={"type": "blank"})
    created = ctl.result("volume_created", "volume_id", vid)
    assert created["status"] == "available" and created["size"] == 1 and created["fault"] is None
    harness.cast("extend_volume", volume_id=vid, new_size=2)
    assert ctl.result("volume_extended", "volume_id", vid)["new_size"] == 2
    harness.cast("create_snapshot", snapshot={"id": sid, "volume_id": vid})
    assert ctl.result("snapshot_created", "snapshot_id", sid)["status"] == "available"
    harness.cast(
        "create_volume",
        volume={"id": copy, "size": 3},
        source={"type": "snapshot", "snapshot_id": sid},
    )
    assert ctl.result("volume_created", "volume_id", copy)["size"] == 3
    harness.cast("delete_snapshot", snapshot_id=sid, volume_id=vid)
    assert ctl.result("snapshot_deleted", "snapshot_id", sid)["status"] == "deleted"
    harness.cast("delete_volume", volume_id=vid)
    assert ctl.result("volume_deleted", "volume_id", vid)["status"] == "deleted"
    assert set(agent.driver.list_volumes()) == {copy}
    assert not list((harness.pool / ".ops").iterdir())  # no journal entry left


def test_a_repeated_create_keeps_the_volume(harness):
    agent = harness.agent()
    vid = new_id()
    for n in (1, 2):
        harness.cast("create_volume", volume={"id": vid, "size": n}, source={"type": "blank"})
        wait_until(
            lambda n=n: (
                len([a for m, a in harness.controller.results if m == "volume_created"]) == n
            ),
            10,
            f"result {n}",
        )
    sizes = [a["size"] for m, a in harness.controller.results if m == "volume_created"]
    assert sizes == [1, 1] and agent.driver.list_volumes()[vid] == 1


def test_failure_casts_error_with_fault_and_leaves_nothing(harness):
    agent = harness.agent()
    vid = new_id()
    harness.cast(
        "create_volume",
        volume={"id": vid, "size": 1},
        source={"type": "snapshot", "snapshot_id": new_id()},
    )
    result = harness.controller.result("volume_created", "volume_id", vid)
    assert result["status"] == "error" and "could not be found" in result["fault"]
    assert vid not in agent.driver.list_volumes()
    harness.cast("extend_volume", volume_id=new_id(), new_size=2)
    wait_until(
        lambda: any(n == "volume_extended" for n, _ in harness.controller.results), 10, "extend"
    )
    extended = [a for n, a in harness.controller.results if n == "volume_extended"][0]
    assert extended["status"] == "error_extending"


def test_connections_are_calls_returning_connection_info(harness):
    agent = harness.agent()
    vid, att = new_id(), new_id()
    agent.driver.create_volume(vid, 1)
    info = harness.client.initialize_connection(CTX, HOST, vid, att, CONNECTOR)
    assert info["driver_volume_type"] == "iscsi"
    data = info["data"]
    assert (
        data["target_iqn"].endswith(f":volume-{vid}") and data["auth_username"] == f"att-{att[:8]}"
    )
    assert data["target_portal"].startswith("127.0.0.1:")
    assert agent.driver.list_exports() == {vid: [f"att-{att[:8]}"]}
    harness.client.terminate_connection(CTX, HOST, vid, att)
    harness.client.terminate_connection(CTX, HOST, vid, att)  # gone already: succeeds
    assert agent.driver.list_exports() == {}


def test_backups_dispatch_to_the_backup_service(harness):
    calls: list[tuple[str, Any]] = []

    class Backups:
        def create(self, backup, volume_path, parent):
            calls.append(("create", volume_path))
            return {"object_count": 1, "size": 1}

        def restore(self, backup, volume_path):
            calls.append(("restore", volume_path))
            return {}

        def delete(self, backup):
            raise RuntimeError("store down")

    agent = harness.agent(backups=Backups())
    vid, bid = new_id(), new_id()
    agent.driver.create_volume(vid, 1)
    harness.cast("create_backup", backup={"id": bid}, volume_id=vid, parent=None)
    done = harness.controller.result("backup_finished", "backup_id", bid)
    assert done["operation"] == "create" and done["status"] == "available"
    assert done["result"]["object_count"] == 1 and calls[0] == (
        "create",
        agent.driver.volume_path(vid),
    )
    harness.controller.results.clear()
    harness.cast("delete_backup", backup={"id": bid}, volume_id=vid, parent=None)
    failed = harness.controller.result("backup_finished", "backup_id", bid)
    assert failed["operation"] == "delete" and failed["status"] == "error"
    assert "store down" in failed["fault"]


def test_volume_from_local_image_and_upload_with_service_token(file_harness, tmp_path):
    image = tmp_path / "image.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(image), "32M"], check=True)
    received: dict[str, Any] = {}

    class Glance(http.server.BaseHTTPRequestHandler):
        def do_PUT(self):  # noqa: N802 - http.server's name
            received["token"] = self.headers["X-Auth-Token"]
            received["body"] = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Glance)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    auth = SimpleNamespace(token=lambda: "service-token", invalidate=lambda: None)
    try:
        file_harness.agent(images_auth=auth)
        vid, img = new_id(), new_id()
        source = {"type": "image", "image_id": img, "path": str(image), "disk_format": "qcow2"}
        file_harness.cast("create_volume", volume={"id": vid, "size": 1}, source=source)
        created = file_harness.controller.result("volume_created", "volume_id", vid)
        assert created["status"] == "available" and created["bootable"] is True
        url = f"http://127.0.0.1:{server.server_port}/image/v2/images/{img}/file"
        target = {"id": img, "disk_format": "qcow2", "container_format": "bare", "url": url}
        file_harness.cast("copy_volume_to_image", volume_id=vid, image=target)
        uploaded = file_harness.controller.result("volume_uploaded", "volume_id", vid)
        assert uploaded["status"] == "available", uploaded
        assert received["token"] == "service-token" and received["body"][:4] == b"QFI\xfb"
    finally:
        server.shutdown()


KILLED_MID_CREATE = """
import os, signal, sys
from pathlib import Path
from pocketstack.volume.agent_sync import Journal
pool, vid = Path(sys.argv[1]), sys.argv[2]
entry = Journal(pool / ".ops").entry("create_volume", vid)
entry.__enter__()
with open(pool / f"volume-{vid}", "wb") as f:  # half a volume, under its name
    f.truncate(1 << 30)
    f.write(b"partial")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_restart_after_kill_converges_to_stable_states(file_harness):
    h, ctl = file_harness, file_harness.controller
    first = h.agent()
    driver = first.driver
    finished, deleting, extending, orphan = new_id(), new_id(), new_id(), new_id()
    for vid in (finished, deleting, extending, orphan):
        driver.create_volume(vid, 1)
    live_att, dead_att = new_id(), new_id()
    live_info = driver.initialize_connection(extending, live_att, CONNECTOR)
    driver.initialize_connection(finished, dead_att, CONNECTOR)
    first.stop()  # tgtd keeps running
    killed, never, snap, backup = new_id(), new_id(), new_id(), new_id()
    proc = subprocess.run([sys.executable, "-c", KILLED_MID_CREATE, str(h.pool), killed])
    assert proc.returncode == -9 and (h.pool / f"volume-{killed}").exists()
    driver.iscsi.remove(extending)  # the export of a live attachment vanished (tgtd restart)
    time.sleep(0.01)  # the files predate the new agent's start (mtime resolution)
    ctl.state = {
        "volumes": [
            {"id": killed, "size": 1, "status": "creating"},
            {"id": finished, "size": 1, "status": "creating"},
            {"id": never, "size": 1, "status": "creating"},
            {"id": deleting, "size": 1, "status": "deleting"},
            {"id": extending, "size": 1, "status": "extending"},
        ],
        "snapshots": [{"id": snap, "volume_id": finished, "status": "creating"}],
        "backups": [{"id": backup, "volume_id": finished, "status": "creating"}],
        "attachments": [
            {
                "id": live_att,
                "volume_id": extending,
                "attach_status": "attached",
                "connection_info": live_info,
            }
        ],
    }
    second = h.agent()
    assert ctl.result("volume_created", "volume_id", killed)["status"] == "error"
    assert ctl.result("volume_created", "volume_id", finished)["status"] == "available"
    assert ctl.result("volume_created", "volume_id", never)["status"] == "error"
    assert ctl.result("volume_deleted", "volume_id", deleting)["status"] == "deleted"
    back = ctl.result("volume_extended", "volume_id", extending)
    assert back["status"] == "available" and back["new_size"] == 1
    assert ctl.result("snapshot_created", "snapshot_id", snap)["status"] == "error"
    assert ctl.result("backup_finished", "backup_id", backup)["status"] == "error"
    # files: the partial create, the deleted and the orphan are gone; nothing half-made
    assert set(second.driver.list_volumes()) == {finished, extending}
    assert not list((h.pool / ".ops").iterdir())
    assert not list(h.pool.glob(".tmp-*"))
    # exports: the dead attachment's is gone, the live one's is back with its secret
    exports = second.driver.list_exports()
    assert exports == {extending: [f"att-{live_att[:8]}"]}
    url = (
        f"iscsi://{live_info['data']['auth_username']}%{live_info['data']['auth_password']}@"
        f"{live_info['data']['target_portal']}/{live_info['data']['target_iqn']}/1"
    )
    out = subprocess.run(["qemu-img", "info", "-f", "raw", url], capture_output=True, text=True)
    assert out.returncode == 0 and f"({GiB} bytes)" in out.stdout, out.stderr
    assert second.driver.iscsi.pid == driver.iscsi.pid  # the same tgtd, adopted


def test_sync_fanout_runs_a_round(harness):
    agent = harness.agent()
    rounds = agent.syncer.rounds
    harness.client.sync(CTX)  # fanout to every agent
    wait_until(lambda: agent.syncer.rounds > rounds, 10, "a sync round")


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
def test_backup_and_volume_from_backup_with_the_backup_service(tmp_path, fmt):
    """The real ``BackupService`` (file store in the state directory): a qcow2 volume is
    backed up and restored through a raw view of its data."""
    h = Harness(tmp_path, "file")
    try:
        conf = conf_for(tmp_path, volume_format=fmt)
        driver = VOLUME_DRIVERS.load("file", conf, h.pool)
        agent = VolumeAgent(conf, h.bus, driver)
        agent.start()
        h.agents.append(agent)
        vid, bid, restored = new_id(), new_id(), new_id()
        driver.create_volume(vid, 1)
        path = driver.volume_path(vid)
        fmt_flag = "qcow2" if fmt == "qcow2" else "raw"
        write = ["qemu-io", "-f", fmt_flag, "-c", "write -P 0x6b 1M 64k", path]
        subprocess.run(write, check=True, capture_output=True)
        backup = {"id": bid, "volume_id": vid}
        h.cast("create_backup", backup=backup, volume_id=vid, parent=None)
        done = h.controller.result("backup_finished", "backup_id", bid)
        assert done["status"] == "available", done
        backup |= done["result"]
        source = {"type": "backup", "backup": backup}
        h.cast("create_volume", volume={"id": restored, "size": 1}, source=source)
        created = h.controller.result("volume_created", "volume_id", restored)
        assert created["status"] == "available", created
        new_path = driver.volume_path(restored)
        with open(new_path, "rb") as f:
            assert (f.read(4) == b"QFI\xfb") == (fmt == "qcow2")  # the format it was made in
        check = ["qemu-io", "-f", fmt_flag, "-c", "read -P 0x6b 1M 64k", new_path]
        out = subprocess.run(check, capture_output=True, text=True)
        assert out.returncode == 0 and "verification failed" not in out.stdout, out.stdout
        assert not list(h.pool.glob(".tmp-*"))
    finally:
        h.close()
