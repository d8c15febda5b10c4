"""Block storage inside real guests (issue 8, "How it is shown"): the `openstack` CLI and
openstacksdk against ``pocketstack up`` with the QEMU driver.

The guests run ``tests/volume_guest.WATCHER``: each volume hot-plugged into them is found by
its serial, formatted when empty, its file ``data`` printed and rewritten
(``<hostname>:<key>:<n>``), its size changes and its removal printed; the assertions read
``openstack console log show``. One cloud for the module and one long-lived guest (``vmw``)
to which the tests attach their volumes; test 1 and boot from volume make guests of their
own. Then the lab (``up --hosts 2``): the volume agent on host1, the guest on host2, the
attachment over host1's iSCSI export on the underlay. Last, project isolation and the API's
refusals on the shared fake-driver cloud (no guest).

No packet leaves the machine: the guests' disks are the host's files or the lab's iSCSI
portal inside its namespaces.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openstack import exceptions

from pocketstack.lab import Lab, random_prefix
from tests import volume_guest
from tests.api.test_image import Project
from tests.conftest import RunningCloud, launch_cloud
from tests.e2e.test_network_dataplane import _leftover_namespaces
from tests.helpers import wait_until

ADMIN = "pocketstack-admin"
DEMO = "pocketstack-demo"
GIB = 2**30


@pytest.fixture(scope="module")
def cloud(tmp_path_factory) -> Iterator[RunningCloud]:
    """The module's cloud (qemu driver); ``launch_cloud`` kills its guests and tgtd after."""
    with launch_cloud(tmp_path_factory.mktemp("volumes") / "state", driver="qemu") as running:
        yield running


def _console(cloud: RunningCloud, server: str, who: str = DEMO) -> str:
    return cloud.openstack("console", "log", "show", server, cloud=who, json_output=False)


def _await(
    cloud: RunningCloud,
    server: str,
    tag: str,
    key: str,
    before: int = 0,
    timeout: float = 300,
    who: str = DEMO,
) -> list[str]:
    """The fields of the guest's ``before + 1``-th ``VOLTEST-<tag> <key>`` console line."""
    log = ""

    def seen() -> list[str] | None:
        nonlocal log
        log = _console(cloud, server, who)
        assert not volume_guest.lines(log, "FAILED", key), log[-3000:]
        found = volume_guest.lines(log, tag, key)
        return found[before] if len(found) > before else None

    return wait_until(
        seen,
        timeout,
        f"VOLTEST-{tag} {key} (#{before + 1}) on {server}'s console",
        interval=2,
        detail=lambda: f"{log[-3000:]}\n{cloud.log()[-6000:]}",
    )


def _volume(cloud: RunningCloud, name: str, status: str, timeout: float = 180, who: str = DEMO):
    """``volume show`` once the volume is ``status`` (fails at once on an ``error*``)."""
    last: dict[str, Any] = {}

    def reached() -> dict[str, Any] | None:
        nonlocal last
        last = cloud.openstack("volume", "show", name, cloud=who)
        assert not str(last["status"]).startswith("error"), last
        return last if last["status"] == status else None

    detail = lambda: f"{last}\n{cloud.log()[-6000:]}"  # noqa: E731
    return wait_until(reached, timeout, f"volume {name} {status}", interval=1, detail=detail)


def _create_volume(cloud: RunningCloud, name: str, size: int = 1, *extra: str, who: str = DEMO):
    """``volume create``; the volume once ``available``."""
    cloud.openstack("volume", "create", "--size", str(size), *extra, name, cloud=who)
    return _volume(cloud, name, "available", who=who)


def _attach(cloud: RunningCloud, server: str, volume: dict, who: str = DEMO) -> str:
    """Attach ``volume`` to ``server``; the key the guest sees it by once it is ``in-use``."""
    cloud.openstack("server", "add", "volume", server, volume["id"], cloud=who)
    shown = _volume(cloud, volume["id"], "in-use", who=who)
    assert [a["server_id"] for a in shown["attachments"]] == [
        cloud.openstack("server", "show", server, cloud=who)["id"]
    ]
    return volume_guest.key(volume["id"])


def _detach(cloud: RunningCloud, server: str, volume: dict, gone_before: int = 0, who=DEMO):
    """Detach ``volume`` from ``server``: the guest saw the disk go, the volume is
    ``available`` with no attachment."""
    cloud.openstack(
        "server", "remove", "volume", server, volume["id"], cloud=who, json_output=False
    )
    _await(cloud, server, "GONE", volume_guest.key(volume["id"]), gone_before, 120, who)
    assert _volume(cloud, volume["id"], "available", who=who)["attachments"] == []


def _boot(cloud: RunningCloud, name: str, *extra: str, who: str = DEMO, tmp: Path) -> dict:
    """``server create`` of a server running the watcher (``tests/volume_guest``); the
    server once ``ACTIVE``."""
    script = tmp / f"{name}.sh"
    script.write_text(volume_guest.WATCHER)
    args = ["server", "create", "--flavor", "m1.tiny", "--user-data", str(script), *extra, name]
    cloud.openstack(*args, cloud=who)
    server = cloud.wait_for_server(name, "ACTIVE", timeout=300, cloud=who)
    return server


def _delete_server(cloud: RunningCloud, name: str, who: str = DEMO) -> None:
    cloud.openstack("server", "delete", "--wait", name, cloud=who, json_output=False)


def _delete_volumes(cloud: RunningCloud, *names: str, who: str = DEMO) -> None:
    for name in names:
        cloud.openstack("volume", "delete", name, cloud=who, check=False, json_output=False)
    for name in names:
        wait_until(
            lambda n=name: cloud.openstack("volume", "show", n, cloud=who, check=False).returncode,
            120,
            f"volume {name} deleted",
            interval=1,
        )


@pytest.fixture(scope="module")
def vmw(cloud, tmp_path_factory) -> Iterator[str]:
    """The module's long-lived guest, ``vmw``, on the demo project's private network."""
    _boot(
        cloud, "vmw", "--image", "cirros", "--network", "private", tmp=tmp_path_factory.mktemp("w")
    )
    _await(cloud, "vmw", "ROOT-NEW", "root-of-vmw")
    yield "vmw"
    _delete_server(cloud, "vmw")


@pytest.mark.slow  # not ci (CI's time budget): the lab's iSCSI test below is CI's volume guest
@pytest.mark.timeout(1200)
def test_a_volume_keeps_its_file_from_one_server_to_the_next(cloud, vmw, tmp_path):
    vol = _create_volume(cloud, "vol-move")
    _boot(cloud, "vm1", "--image", "cirros", "--network", "private", tmp=tmp_path)
    key = _attach(cloud, "vm1", vol)
    assert _await(cloud, "vm1", "MKFS", key) == [key]
    assert _await(cloud, "vm1", "READ", key) == [key, "NONE"]
    written = _await(cloud, "vm1", "WROTE", key)[1]
    assert written.startswith(f"vm1:{key}:")
    assert _await(cloud, "vm1", "DISK", key)[2] == str(GIB)
    _detach(cloud, "vm1", vol)
    _delete_server(cloud, "vm1")
    assert _volume(cloud, vol["id"], "available")["attachments"] == []

    _attach(cloud, vmw, vol)
    assert _await(cloud, vmw, "READ", key) == [key, written]
    log = _console(cloud, vmw)
    assert not volume_guest.lines(log, "MKFS", key)  # the filesystem came along
    _await(cloud, vmw, "WROTE", key)
    _detach(cloud, vmw, vol)
    _delete_volumes(cloud, "vol-move")


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_boot_from_volume_and_boot_the_next_server_from_the_same_volume(cloud, tmp_path):
    _boot(
        cloud, "bfv1", "--image", "cirros", "--boot-from-volume", "1", "--network", "private",
        tmp=tmp_path,
    )  # fmt: skip
    assert _await(cloud, "bfv1", "ROOT-NEW", "root-of-bfv1") == ["root-of-bfv1"]
    attached = cloud.openstack("server", "show", "bfv1")["volumes_attached"]
    assert len(attached) == 1
    boot_volume = attached[0]["id"]
    shown = _volume(cloud, boot_volume, "in-use")
    assert shown["bootable"] in ("true", True) and shown["size"] == 1
    _delete_server(cloud, "bfv1")
    assert _volume(cloud, boot_volume, "available")["attachments"] == []  # kept

    _boot(cloud, "bfv2", "--volume", boot_volume, "--network", "private", tmp=tmp_path)
    assert _await(cloud, "bfv2", "ROOT", "root-of-bfv1") == ["root-of-bfv1"]
    assert _await(cloud, "bfv2", "ROOT-SERIAL", volume_guest.key(boot_volume)) == [
        volume_guest.key(boot_volume)
    ]
    _delete_server(cloud, "bfv2")
    _delete_volumes(cloud, boot_volume)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_volume_from_a_snapshot_has_the_data_of_the_snapshot(cloud, vmw):
    vol = _create_volume(cloud, "vol-snap")
    key = _attach(cloud, vmw, vol)
    at_snapshot = _await(cloud, vmw, "WROTE", key)[1]
    _detach(cloud, vmw, vol)
    cloud.openstack("volume", "snapshot", "create", "--volume", "vol-snap", "snap1")
    wait_until(
        lambda: cloud.openstack("volume", "snapshot", "show", "snap1")["status"] == "available",
        180,
        "snapshot snap1 available",
        interval=1,
    )
    _attach(cloud, vmw, vol)  # the volume changes after the snapshot
    assert _await(cloud, vmw, "READ", key, before=1) == [key, at_snapshot]
    later = _await(cloud, vmw, "WROTE", key, before=1)[1]
    assert later != at_snapshot
    _detach(cloud, vmw, vol, gone_before=1)

    copy = _create_volume(cloud, "vol-from-snap", 1, "--snapshot", "snap1")
    assert copy["snapshot_id"] == cloud.openstack("volume", "snapshot", "show", "snap1")["id"]
    copy_key = _attach(cloud, vmw, copy)
    assert _await(cloud, vmw, "READ", copy_key) == [copy_key, at_snapshot]
    _detach(cloud, vmw, copy)
    _delete_volumes(cloud, "vol-from-snap")
    cloud.openstack("volume", "snapshot", "delete", "snap1", json_output=False)
    wait_until(
        lambda: cloud.openstack("volume", "snapshot", "show", "snap1", check=False).returncode,
        120,
        "snapshot snap1 deleted",
        interval=1,
    )
    _delete_volumes(cloud, "vol-snap")


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_backup_restores_the_data_of_a_deleted_volume(cloud, vmw):
    vol = _create_volume(cloud, "vol-backup")
    key = _attach(cloud, vmw, vol)
    written = _await(cloud, vmw, "WROTE", key)[1]
    _detach(cloud, vmw, vol)
    cloud.openstack("volume", "backup", "create", "--name", "bk1", "vol-backup")
    wait_until(
        lambda: cloud.openstack("volume", "backup", "show", "bk1")["status"] == "available",
        300,
        "backup bk1 available",
        interval=1,
        detail=lambda: cloud.log()[-6000:],
    )
    _delete_volumes(cloud, "vol-backup")

    cloud.openstack("volume", "backup", "restore", "bk1", "vol-restored")
    restored = _volume(cloud, "vol-restored", "available", timeout=300)
    new_key = _attach(cloud, vmw, restored)
    assert _await(cloud, vmw, "READ", new_key) == [new_key, written]
    _detach(cloud, vmw, restored)
    _delete_volumes(cloud, "vol-restored")
    cloud.openstack("volume", "backup", "delete", "bk1", json_output=False)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_extending_an_attached_volume_grows_the_guests_disk(cloud, vmw):
    vol = _create_volume(cloud, "vol-grow")
    key = _attach(cloud, vmw, vol)
    assert _await(cloud, vmw, "DISK", key)[2] == str(GIB)
    _await(cloud, vmw, "WROTE", key)
    cloud.openstack(
        "--os-volume-api-version", "3.42", "volume", "set", "--size", "2", "vol-grow",
        json_output=False,
    )  # fmt: skip
    assert _await(cloud, vmw, "SIZE", key) == [key, str(2 * GIB)]
    assert _volume(cloud, "vol-grow", "in-use")["size"] == 2
    _detach(cloud, vmw, vol)
    _delete_volumes(cloud, "vol-grow")


# ------------------------------------------------------------------------ the lab


def _tgt_show(netns: str, control_port: int) -> str:
    """``tgtadm --op show --mode target`` of the tgtd on ``control_port``, in ``netns``."""
    return subprocess.run(
        ["ip", "netns", "exec", netns, "tgtadm", "-C", str(control_port), "--lld", "iscsi",
         "--mode", "target", "--op", "show"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


@pytest.mark.slow
@pytest.mark.ci  # not `dataplane`: the distributed re-run's volume tests have their own agent
@pytest.mark.timeout(1200)
def test_a_guest_on_host2_uses_its_volume_over_host1s_iscsi_export(cloud_launcher, tmp_path):
    prefix = random_prefix()
    lab = Lab(prefix, hosts=2)
    state = tmp_path / "state"
    dataplane: list[str] = []
    flags = ["--hosts", "2", "--lab-prefix", prefix, "--shutdown-instances"]
    try:
        with cloud_launcher(state, driver="qemu", extra=flags) as cloud:
            cloud.openstack("network", "create", "vl-net", cloud=ADMIN)
            cloud.openstack(
                "subnet", "create", "--network", "vl-net", "--subnet-range", "10.43.0.0/24",
                "vl-subnet", cloud=ADMIN,
            )  # fmt: skip
            _boot(
                cloud, "vml", "--image", "cirros", "--network", "vl-net",
                "--availability-zone", "nova:host2", who=ADMIN, tmp=tmp_path,
            )  # fmt: skip
            dataplane = _leftover_namespaces(state)  # the network node's DHCP namespace
            assert (
                cloud.openstack("server", "show", "vml", cloud=ADMIN)["OS-EXT-SRV-ATTR:host"]
                == "host2"
            )
            vol = _create_volume(cloud, "vol-lab", who=ADMIN)
            assert str(vol["os-vol-host-attr:host"]).startswith("host1")
            key = _attach(cloud, "vml", vol, who=ADMIN)
            _await(cloud, "vml", "WROTE", key, who=ADMIN)

            records = list(state.rglob("tgtd.json"))
            assert len(records) == 1, records
            control_port = int(json.loads(records[0].read_text())["control_port"])
            shown = _tgt_show(lab.host("host1").netns, control_port)
            target = f"iqn.2010-10.org.openstack:volume-{vol['id']}"
            assert target in shown, shown
            section = shown[shown.index(target) :]
            assert "I_T nexus" in section and "IP Address: 10.255.0.12" in section, shown

            _detach(cloud, "vml", vol, who=ADMIN)
            assert target not in _tgt_show(lab.host("host1").netns, control_port)
            dataplane = _leftover_namespaces(state)
            _delete_server(cloud, "vml", who=ADMIN)
            _delete_volumes(cloud, "vol-lab", who=ADMIN)
    finally:  # launch_cloud killed the guests and host1's tgtd
        lab.teardown(tuple(dataplane))
    assert not lab.exists()


# ------------------------------------------------ isolation and refusals (fake driver)


def _refused(proc: subprocess.CompletedProcess, status: int) -> str:
    assert proc.returncode != 0, proc.stdout
    assert re.search(rf"HTTP {status}\b|\b{status}: ", proc.stderr), proc.stderr
    return proc.stderr


@pytest.fixture
def demo_volume(running_cloud) -> Iterator[dict[str, Any]]:
    name = f"iso-{uuid.uuid4().hex[:8]}"
    vol = _create_volume(running_cloud, name)
    made: dict[str, Any] = {"volume": vol}
    yield made
    for server in made.get("servers", []):
        _delete_server(running_cloud, server)
    if "backup" in made:
        running_cloud.openstack(
            "volume", "backup", "delete", made["backup"], check=False, json_output=False
        )
    if "snapshot" in made:
        running_cloud.openstack(
            "volume", "snapshot", "delete", made["snapshot"], check=False, json_output=False
        )
        wait_until(
            lambda: (
                running_cloud.openstack(
                    "volume", "snapshot", "show", made["snapshot"], check=False
                ).returncode
            ),
            120,
            "snapshot deleted",
        )
    _delete_volumes(running_cloud, vol["id"])


def test_another_project_sees_none_of_a_projects_volumes_snapshots_backups(
    running_cloud, demo_volume, tmp_path
):
    cloud = running_cloud
    vol = demo_volume["volume"]
    snap = cloud.openstack("volume", "snapshot", "create", "--volume", vol["id"], "iso-snap")
    demo_volume["snapshot"] = snap["id"]
    wait_until(
        lambda: cloud.openstack("volume", "snapshot", "show", snap["id"])["status"] == "available",
        120,
        "snapshot available",
    )
    backup = cloud.openstack("volume", "backup", "create", "--name", "iso-bk", vol["id"])
    demo_volume["backup"] = backup["id"]
    wait_until(
        lambda: cloud.openstack("volume", "backup", "show", backup["id"])["status"] == "available",
        180,
        "backup available",
    )
    other = Project(cloud, tmp_path, f"voliso{uuid.uuid4().hex[:6]}")

    for kind, rid in (("volume", vol["id"]), ("volume snapshot", snap["id"]),
                      ("volume backup", backup["id"])):  # fmt: skip
        proc = cloud.openstack(*other.flags, *kind.split(), "show", rid, check=False)
        assert proc.returncode != 0 and "No " in proc.stderr, (kind, proc.stderr)
        proc = cloud.openstack(
            *other.flags, *kind.split(), "delete", rid, check=False, json_output=False
        )
        assert proc.returncode != 0 and "No " in proc.stderr, (kind, proc.stderr)
        listed = cloud.openstack(*other.flags, *kind.split(), "list")
        assert rid not in [row["ID"] for row in listed], kind
    with pytest.raises(exceptions.NotFoundException):
        other.conn.block_storage.get_volume(vol["id"])
    with pytest.raises(exceptions.NotFoundException):
        other.conn.block_storage.get_snapshot(snap["id"])
    with pytest.raises(exceptions.NotFoundException):
        other.conn.block_storage.get_backup(backup["id"])
    proc = cloud.openstack(*other.flags, "volume", "create", "--snapshot", snap["id"],
                           "--size", "1", "steal", check=False)  # fmt: skip
    assert proc.returncode != 0
    assert cloud.openstack("volume", "show", vol["id"])["status"] == "available"


def test_the_volume_api_refuses_an_in_use_delete_a_shrink_and_an_over_quota_create(
    running_cloud, demo_volume
):
    cloud = running_cloud
    vol = demo_volume["volume"]
    conn = cloud.sdk()
    with pytest.raises(exceptions.BadRequestException):  # 400: not bigger
        conn.block_storage.extend_volume(vol["id"], 1)

    cloud.create_server("iso-vm", wait=True)
    demo_volume["servers"] = ["iso-vm"]
    _attach(cloud, "iso-vm", vol)
    _refused(cloud.openstack("volume", "delete", vol["id"], check=False, json_output=False), 400)
    assert _volume(cloud, vol["id"], "in-use")["id"] == vol["id"]
    cloud.openstack("server", "remove", "volume", "iso-vm", vol["id"], json_output=False)
    _volume(cloud, vol["id"], "available")

    proc = cloud.openstack("volume", "create", "--size", "100000", "too-big", check=False)
    _refused(proc, 413)
    names = [v["Name"] for v in cloud.openstack("volume", "list")]
    assert "too-big" not in names
