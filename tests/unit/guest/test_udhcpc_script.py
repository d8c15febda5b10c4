"""The guest's udhcpc event script applies a lease: address, default route, MTU (option 26),
classless static routes (option 121) and DNS. Run by busybox sh inside a namespace of the
test's own, with /etc/resolv.conf and /dev/console bind-mounted over by temp files (``ip netns
exec`` gives the command a private mount namespace, so the host's files are untouched)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pocketstack.lab import random_prefix

SCRIPT = Path(__file__).parents[3] / "pocketstack" / "guest" / "files" / "udhcpc.script"


@pytest.fixture
def netns():
    name = random_prefix() + "-guest"
    subprocess.run(["ip", "netns", "add", name], check=True)
    veth = ["link", "add", "eth0", "type", "veth", "peer", "name", "peer0"]
    subprocess.run(["ip", "-n", name, *veth], check=True)
    yield name
    subprocess.run(["ip", "netns", "del", name], check=True)


def test_a_lease_sets_address_routes_mtu_and_dns(tmp_path, netns):
    resolv, console = tmp_path / "resolv.conf", tmp_path / "console"
    resolv.write_text("nameserver 192.0.2.99\n")
    console.write_text("")
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "interface": "eth0",
        "ip": "10.0.0.5",
        "subnet": "255.255.255.0",
        "router": "10.0.0.1",
        "dns": "10.0.0.2 10.0.0.3",
        "mtu": "1450",
        "staticroutes": "10.9.0.0/16 10.0.0.254 192.168.7.0/24 10.0.0.253",
    }
    inner = (
        f"mount --bind {resolv} /etc/resolv.conf && mount --bind {console} /dev/console && "
        f"busybox sh {SCRIPT} bound"
    )
    subprocess.run(["ip", "netns", "exec", netns, "sh", "-c", inner], env=env, check=True)

    def ip(*args):
        out = subprocess.run(["ip", "-n", netns, "-j", *args], capture_output=True, text=True)
        return json.loads(out.stdout)

    addrs = ip("addr", "show", "dev", "eth0")[0]
    assert addrs["mtu"] == 1450
    assert [(a["local"], a["prefixlen"]) for a in addrs["addr_info"] if a["family"] == "inet"] == [
        ("10.0.0.5", 24)
    ]
    routes = {(r["dst"], r.get("gateway")) for r in ip("route", "show")}
    assert {("default", "10.0.0.1"), ("10.9.0.0/16", "10.0.0.254")} <= routes
    assert ("192.168.7.0/24", "10.0.0.253") in routes
    assert resolv.read_text() == "nameserver 10.0.0.2\nnameserver 10.0.0.3\n"
    assert "eth0 ip 10.0.0.5 netmask 255.255.255.0 (dhcp)" in console.read_text()
