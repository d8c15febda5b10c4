"""README's first tour, end to end through the real `openstack` CLI.

With the fake driver on the shared cloud (fast), and with the qemu driver booting the real
guest image (slow): the console log must show the guest read its config drive (hostname,
key) and ran user_data.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.helpers import wait_until


def _keypair(cloud, tmp_path, name="mykey"):
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    cloud.openstack("keypair", "create", "--public-key", f"{key}.pub", name)
    return (tmp_path / "id_ed25519.pub").read_text().split()[1]


def _wait_console(cloud, server, text, timeout=90.0):
    log = ""

    def shown() -> str | None:
        nonlocal log
        log = cloud.openstack("console", "log", "show", server, json_output=False)
        return log if text in log else None

    return wait_until(
        shown, timeout, f"{text!r} in {server}'s console log", interval=1, detail=lambda: log
    )


def test_tour_with_fake_driver(running_cloud, tmp_path):
    cloud = running_cloud
    images = cloud.openstack("image", "list", "--public")
    assert "cirros" in [i["Name"] for i in images]
    _keypair(cloud, tmp_path, "tourkey")
    server = cloud.create_server("tour-vm", "--key-name", "tourkey", wait=True)
    try:
        assert server["status"] == "ACTIVE"
        assert server["addresses"]["private"][0].startswith("10.0.0.") or "10.0.0." in str(
            server["addresses"]
        )
        log = _wait_console(cloud, "tour-vm", "pocketstack guest tour-vm ready")
        assert "tourkey" in log
        events = cloud.openstack("server", "event", "list", "tour-vm")
        assert [e["Action"] for e in events] == ["create"]
        detail = cloud.openstack("server", "event", "show", "tour-vm", events[0]["Request ID"])
        names = [e["event"] for e in detail["events"]]
        for step in ("schedule", "network", "block_device", "spawn"):
            assert any(step in n for n in names), (step, names)
        assert all(e["result"] == "Success" and e["finish_time"] for e in detail["events"])
    finally:
        cloud.openstack("server", "delete", "--wait", "tour-vm", json_output=False)
        cloud.openstack("keypair", "delete", "tourkey", json_output=False)


@pytest.mark.slow
@pytest.mark.ci
def test_tour_with_qemu_boots_the_real_guest(cloud_launcher, tmp_path):
    with cloud_launcher(tmp_path / "state", driver="qemu") as cloud:
        key = _keypair(cloud, tmp_path)
        user_data = tmp_path / "user_data.sh"
        user_data.write_text("#!/bin/sh\necho USERDATA-SIDE-EFFECT-$(hostname)\n")
        server = cloud.create_server(
            "vm1", "--key-name", "mykey", "--user-data", str(user_data), wait=True
        )
        assert server["status"] == "ACTIVE"
        log = _wait_console(cloud, "vm1", "pocketstack guest vm1 ready")
        assert "USERDATA-SIDE-EFFECT-vm1" in log
        assert "installed 1 ssh key(s)" in log
        fixed_ip = cloud.openstack("server", "show", "vm1")["addresses"]["private"][0]
        assert f"eth0 ip {fixed_ip} " in log
        assert key  # the public key the guest installed came from this keypair
        instance_dir = cloud.state_dir / "instances" / server["id"]
        assert (instance_dir / "disk").exists()

        cloud.openstack("server", "stop", "vm1", json_output=False)
        cloud.wait_for_server("vm1", "SHUTOFF")
        cloud.openstack("server", "start", "vm1", json_output=False)
        cloud.wait_for_server("vm1", "ACTIVE")

        cloud.openstack("server", "delete", "--wait", "vm1", json_output=False)
        assert not instance_dir.exists()
        assert not _qemu_running(cloud.state_dir)


def _qemu_running(state_dir) -> bool:
    out = subprocess.run(["pgrep", "-af", "qemu-system"], capture_output=True, text=True).stdout
    return str(state_dir) in out
