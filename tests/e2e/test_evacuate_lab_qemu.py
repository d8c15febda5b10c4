"""Evacuation of a real guest whose host died, in a lab of two hosts (``pocketstack up
--hosts 2``, issue 10 "How it is shown"), once with shared and once with local instance
storage (``--shared-instance-storage``: both hosts keep their guests in one directory).

A guest on host2 runs a user_data script that writes a file (the guest image runs user_data
once per instance and remembers it on its disk; it also counts its boots there). host2 then
dies: its agents are killed (SIGKILL) and so is its guest's QEMU, and an admin marks its
compute service down (``openstack compute service set --down``). ``openstack server
evacuate`` brings the server back on host1 with its id and fixed IP. With shared storage it
boots the disk host2 left: the console says ``boot 2`` and that user_data already ran (the
guest's files survived); with local storage it comes back from the image: ``boot 1`` and
user_data runs again (they are gone). The conductor's ``rebuild_server`` event says which.

No packet leaves the machine: the guests' network is the lab's namespaces.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from pocketstack.lab import Lab, random_prefix
from tests.conftest import qemu_pids
from tests.e2e.test_network_dataplane import _leftover_namespaces
from tests.helpers import wait_until

ADMIN = "pocketstack-admin"

#: the guest's user data: a file written once (user_data runs once per instance)
WRITER = r"""#!/bin/sh
echo "evacuate-mark" > /root/evac-file
sync
echo "EVAC-WROTE $(cat /root/evac-file)"
"""

BOOT = re.compile(r"pocketstack guest: boot (\d+)")


def _console(cloud) -> str:
    return cloud.openstack("console", "log", "show", "vm-ev", cloud=ADMIN, json_output=False)


def _lab_host_pid(state: Path, host: str) -> int:
    """The pid of ``pocketstack lab-host`` of ``host`` (its state directory on its argv)."""
    wanted = str(state / "hosts" / host).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"lab-host" in argv and wanted in argv:
            return int(entry.name)
    raise AssertionError(f"no lab-host process for {host}")


def _netns_of(pid: int) -> str:
    out = subprocess.run(
        ["ip", "netns", "identify", str(pid)], capture_output=True, text=True, check=False
    )
    return out.stdout.strip()


def _evacuate_event(cloud, server_id: str) -> dict:
    admin = cloud.sdk(ADMIN)
    (action,) = [a for a in admin.compute.server_actions(server_id) if a.action == "evacuate"]
    resp = admin.compute.get(
        f"/servers/{server_id}/os-instance-actions/{action.request_id}",
        headers={"OpenStack-API-Version": "compute 2.84"},
    )
    (event,) = [
        e for e in resp.json()["instanceAction"]["events"] if e["event"] == "rebuild_server"
    ]
    return event


@pytest.mark.slow
@pytest.mark.timeout(1500)
@pytest.mark.parametrize("storage", ["shared", "local"])
def test_evacuate_keeps_the_guests_files_only_on_shared_storage(
    cloud_launcher, tmp_path: Path, storage: str
):
    prefix = random_prefix()
    lab = Lab(prefix, hosts=2)
    state = tmp_path / "state"
    dataplane: list[str] = []
    flags = ["--hosts", "2", "--lab-prefix", prefix]
    if storage == "shared":
        flags.append("--shared-instance-storage")
    script = tmp_path / "writer.sh"
    script.write_text(WRITER)
    try:
        with cloud_launcher(state, driver="qemu", extra=flags) as cloud:
            cloud.openstack("network", "create", "ev-net", cloud=ADMIN)
            cloud.openstack(
                "subnet", "create", "--network", "ev-net", "--subnet-range", "10.45.0.0/24",
                "ev-subnet", cloud=ADMIN,
            )  # fmt: skip
            cloud.openstack(
                "server", "create", "--flavor", "m1.tiny", "--image", "cirros",
                "--network", "ev-net", "--availability-zone", "nova:host2",
                "--user-data", str(script), "vm-ev", cloud=ADMIN,
            )  # fmt: skip
            server = cloud.wait_for_server("vm-ev", "ACTIVE", timeout=300, cloud=ADMIN)
            assert server["OS-EXT-SRV-ATTR:host"] == "host2"
            wait_until(lambda: "EVAC-WROTE evacuate-mark" in _console(cloud), 300, "the file")
            wait_until(lambda: "ready" in _console(cloud).split("EVAC-WROTE")[-1], 120, "ready")
            dataplane = _leftover_namespaces(state)

            before = _console(cloud)
            # host2 dies: its agents, then its guest (a dead host runs nothing)
            os.kill(_lab_host_pid(state, "host2"), signal.SIGKILL)
            (pid,) = qemu_pids(state)
            assert _netns_of(pid) == lab.host("host2").netns
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not qemu_pids(state), 30, "host2's QEMU to end")
            cloud.openstack(
                "--os-compute-api-version", "2.53", "compute", "service", "set", "--down",
                "host2", "nova-compute", cloud=ADMIN, json_output=False,
            )  # fmt: skip
            cloud.openstack(
                "--os-compute-api-version", "2.29", "server", "evacuate", "--host", "host1",
                "vm-ev", cloud=ADMIN, json_output=False,
            )  # fmt: skip

            def evacuated():
                shown = cloud.openstack("server", "show", "vm-ev", cloud=ADMIN)
                return shown if shown["OS-EXT-STS:task_state"] is None else None

            shown = wait_until(evacuated, 600, "the evacuation to end")
            assert shown["status"] == "ACTIVE", shown.get("fault")
            assert shown["OS-EXT-SRV-ATTR:host"] == "host1"
            assert (shown["id"], shown["addresses"]) == (server["id"], server["addresses"])
            (pid,) = qemu_pids(state)
            assert _netns_of(pid) == lab.host("host1").netns

            def booted_again():
                log = _console(cloud)  # shared storage: the same console.log, appended to
                new = log[len(before) :] if log.startswith(before) else log
                tail = new[new.rfind("pocketstack guest: boot") :]
                boots = BOOT.findall(new)
                return (boots, tail) if boots and "ready" in tail else None

            boots, tail = wait_until(booted_again, 300, "the evacuated guest to boot")
            event = _evacuate_event(cloud, server["id"])
            assert event["result"] == "Success" and event["host"] == "host1"
            if storage == "shared":  # the disk host2 left: its boot counter, user_data done
                assert boots[-1] == "2", boots
                assert "user_data already ran" in tail and "EVAC-WROTE" not in tail
                assert event["details"].startswith("shared instance storage")
            else:  # from the image: a first boot, user_data runs again on a fresh disk
                assert boots[-1] == "1", boots
                assert "running user_data" in tail
                assert event["details"].startswith("local instance storage")
            dataplane = _leftover_namespaces(state)
            cloud.openstack("server", "delete", "--wait", "vm-ev", cloud=ADMIN, json_output=False)
    finally:  # launch_cloud killed the guests
        lab.teardown(tuple(dataplane))
    assert not lab.exists()
