"""The network data plane end to end: ``pocketstack up --hosts 2`` (a lab with its own prefix),
two real QEMU guests of one project on one tenant (VXLAN) network, one on each host (admin's
``nova:host1`` / ``nova:host2``). Each gets its address from the network node's dnsmasq, and
a user_data script pings the other guest and prints the answer on its console; the packets
crossed the hosts' ``vxlan-<vni>`` devices, whose counters rose.

Marked ``slow`` (real guests), ``dataplane`` (``pytest -m dataplane`` picks these) and, for
the first, ``ci`` (CI's ``-m 'not slow or ci'`` runs it). With
``POCKETSTACK_TEST_MODE=distributed`` the lab's controller is on PostgreSQL and its hosts'
agents on RabbitMQ (``launch_cloud``); ``scripts/test`` runs the ``ci and dataplane`` tests
that way too.
Pings go only between the guests, inside the lab's namespaces.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pocketstack.lab import Lab, random_prefix
from tests.helpers import wait_until

ADMIN = "pocketstack-admin"
CIDR = "10.42.0.0/24"

#: user_data: ping the other guest until it answers (it may boot later), print the outcome
PINGER = """#!/bin/sh
for i in $(seq 1 240); do
    if ping -c 1 -W 1 {peer} >/dev/null 2>&1; then
        echo "DATAPLANE-PING-OK {peer}"
        exit 0
    fi
    sleep 1
done
echo "DATAPLANE-PING-FAILED {peer}"
"""


def _console(cloud, server: str, text: str, timeout: float) -> str:
    log = ""

    def shown() -> str | None:
        nonlocal log
        log = cloud.openstack("console", "log", "show", server, cloud=ADMIN, json_output=False)
        return log if text in log else None

    detail = lambda: f"{log[-3000:]}\n{cloud.log()[-6000:]}"  # noqa: E731
    return wait_until(shown, timeout, f"{text!r} on {server}'s console", interval=2, detail=detail)


def _vxlan_counters(netns: str) -> dict[str, tuple[int, int]]:
    """``{device: (tx_packets, rx_packets)}`` of the VXLAN devices of ``netns``."""
    out = subprocess.run(
        ["ip", "-n", netns, "-j", "-s", "link", "show", "type", "vxlan"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {
        link["ifname"]: (link["stats64"]["tx"]["packets"], link["stats64"]["rx"]["packets"])
        for link in json.loads(out or "[]")
    }


def _leftover_namespaces(state_dir: Path) -> list[str]:
    """The DHCP/router namespaces the lab's network node made (from its markers)."""
    names = []
    for folder, prefix in (("dhcp", "qdhcp-"), ("l3", "qrouter-")):
        path = state_dir / "hosts" / "host1" / folder
        if path.is_dir():
            names += [prefix + p.name for p in path.iterdir()]
    return names


@pytest.mark.slow
@pytest.mark.ci
@pytest.mark.dataplane
@pytest.mark.timeout(1200)
def test_two_guests_on_two_hosts_get_dhcp_leases_and_ping_over_vxlan(cloud_launcher, tmp_path):
    prefix = random_prefix()
    lab = Lab(prefix, hosts=2)
    state = tmp_path / "state"
    dataplane: list[str] = []
    flags = ["--hosts", "2", "--lab-prefix", prefix, "--shutdown-instances"]
    try:
        with cloud_launcher(state, driver="qemu", extra=flags) as cloud:
            hypervisors = cloud.openstack("hypervisor", "list", cloud=ADMIN)
            assert {h["Hypervisor Hostname"]: h["Host IP"] for h in hypervisors} == {
                "host1": "10.255.0.11",
                "host2": "10.255.0.12",
            }

            cloud.openstack("network", "create", "dp-net", cloud=ADMIN)
            cloud.openstack(
                "subnet",
                "create",
                "--network",
                "dp-net",
                "--subnet-range",
                CIDR,
                "dp-subnet",
                cloud=ADMIN,
            )
            ports = {}
            for name in ("vm1", "vm2"):
                port = cloud.openstack("port", "create", "--network", "dp-net", name, cloud=ADMIN)
                ports[name] = (port["id"], port["fixed_ips"][0]["ip_address"])
            peers = {"vm1": ports["vm2"][1], "vm2": ports["vm1"][1]}
            for name, host in (("vm1", "host1"), ("vm2", "host2")):
                script = tmp_path / f"{name}.sh"
                script.write_text(PINGER.format(peer=peers[name]))
                cloud.openstack(
                    "server",
                    "create",
                    "--flavor",
                    "m1.tiny",
                    "--image",
                    "cirros",
                    "--port",
                    ports[name][0],
                    "--availability-zone",
                    f"nova:{host}",
                    "--user-data",
                    str(script),
                    name,
                    cloud=ADMIN,
                )
            for name, host in (("vm1", "host1"), ("vm2", "host2")):
                server = cloud.wait_for_server(name, "ACTIVE", timeout=300, cloud=ADMIN)
                assert server["OS-EXT-SRV-ATTR:host"] == host
            dataplane = _leftover_namespaces(state)

            for name in ("vm1", "vm2"):
                ip = ports[name][1]
                # the lease itself (udhcpc's script), not the static fallback of the first second
                log = _console(cloud, name, f"eth0 ip {ip} netmask 255.255.255.0 (dhcp)", 600)
                assert f"eth0 ip {ip}" in log
            for name in ("vm1", "vm2"):
                log = _console(cloud, name, "DATAPLANE-PING-", 600)
                assert f"DATAPLANE-PING-OK {peers[name]}" in log, log[-3000:]

            for host in lab.hosts:
                counters = _vxlan_counters(host.netns)
                assert counters, f"no vxlan device in {host.netns}"
                assert any(tx > 0 and rx > 0 for tx, rx in counters.values()), counters

            port_status = cloud.openstack("port", "show", ports["vm1"][0], cloud=ADMIN)["status"]
            assert port_status == "ACTIVE"
            dataplane = _leftover_namespaces(state)
    finally:
        lab.teardown(tuple(dataplane))
    assert not lab.exists()


def _link(netns: str, name: str) -> dict | None:
    out = subprocess.run(
        ["ip", "-n", netns, "-j", "link", "show", "dev", name], capture_output=True, text=True
    )
    return json.loads(out.stdout)[0] if out.returncode == 0 else None


def _netns_pids(netns: str) -> set[int]:
    out = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True).stdout
    return {int(pid) for pid in out.split()}


@pytest.mark.slow
@pytest.mark.dataplane
@pytest.mark.timeout(900)
def test_a_stop_with_guests_keeps_the_lab_and_the_next_up_adopts_it(up_process):
    prefix = random_prefix()
    lab = Lab(prefix, hosts=2)
    up = up_process("qemu", ["--hosts", "2", "--lab-prefix", prefix])
    host2 = lab.host("host2").netns
    try:
        cloud = up.start()
        cloud.openstack("network", "create", "keep-net", cloud=ADMIN)
        cloud.openstack(
            "subnet",
            "create",
            "--network",
            "keep-net",
            "--subnet-range",
            CIDR,
            "keep-subnet",
            cloud=ADMIN,
        )
        port = cloud.openstack("port", "create", "--network", "keep-net", "keep", cloud=ADMIN)
        tap = "tap" + port["id"][:11]
        cloud.openstack(
            "server",
            "create",
            "--flavor",
            "m1.tiny",
            "--image",
            "cirros",
            "--port",
            port["id"],
            "--availability-zone",
            "nova:host2",
            "keep",
            cloud=ADMIN,
        )
        cloud.wait_for_server("keep", "ACTIVE", timeout=300, cloud=ADMIN)
        guests = _netns_pids(host2)
        assert guests and _link(host2, tap) is not None

        up.stop()  # without --shutdown-instances the guest keeps running: so does the lab
        assert lab.exists() and _netns_pids(host2) == guests
        assert _link(host2, tap) is not None

        cloud = up.start()  # adopts the namespaces, the guest and its tap
        server = cloud.wait_for_server("keep", "ACTIVE", timeout=120, cloud=ADMIN)
        assert server["OS-EXT-SRV-ATTR:host"] == "host2"
        assert server["OS-EXT-STS:power_state"] in ("Running", 1)
        assert _netns_pids(host2) == guests
        wait_until(
            lambda: (_link(host2, tap) or {}).get("master", "").startswith("brq"),
            60,
            f"{tap} enslaved to its network's bridge again",
        )

        cloud.openstack("server", "delete", "--wait", "keep", cloud=ADMIN, json_output=False)
        assert _link(host2, tap) is None  # the QEMU driver deleted the guest's tap
        up.stop()  # no guest left: the lab goes
        assert not lab.exists()
    finally:
        up.stop()
        lab.teardown(tuple(_leftover_namespaces(up.state_dir)))
