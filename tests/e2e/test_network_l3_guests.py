"""Routers, floating IPs, security groups, anti-spoofing and tenant isolation with real QEMU
guests on ``pocketstack up --hosts 2`` (a lab with its own prefix; issue 7).

One cloud and three guests serve the whole module (TCG boots are slow):

- project A (``l3-a``): networks ``a-net1`` 10.10.1.0/24 and ``a-net2`` 10.10.2.0/24 joined by
  router ``a-router`` whose gateway is on ``public`` (the lab's ``<prefix>-ext`` namespace
  holds 172.24.4.1). Guest ``a1`` (10.10.1.10, host1, groups default + ``a-mgmt`` which lets
  ssh and ping in) and ``a2`` (10.10.2.10, host2, default group only); each has a floating IP.
- project B (``l3-b``): network ``b-net`` with A's CIDR 10.10.1.0/24, no router; guest ``b1``
  (10.10.1.20, host1, next to ``a1``) pings every address of A in rounds and prints them.

The tests: (a) a1 and a2 ping each other through the router and 172.24.4.1 through its SNAT;
(b) ssh and ping to a2's floating IP from outside fail with the default group, work within
seconds of a rule and fail again once it is deleted (the one ``ci`` runs); (c) a1 taking
another address loses its peer until it takes its own back (and keeps it with that address
as an allowed address pair: the drops were anti-spoofing's); a1 reaches a2's floating IP
and its own (hairpin NAT); (d) b1 reaches nothing of A while A still works; a floating IP
removed from its server stops answering until added back.

Guests are booted by the admin user with a role in each project (``nova:hostN`` placement
is an admin's); networks, routers, floating IPs and rules are made by A's member user, as a
tenant does. Every packet a test sends leaves from ``<prefix>-ext`` (``ip netns exec``) or
from a guest; nothing from the root namespace. The module's cloud, lab, taps and dnsmasq are
checked gone at its end. With ``POCKETSTACK_TEST_MODE=distributed`` the lab's controller is on
PostgreSQL and its hosts' agents on RabbitMQ (``launch_cloud``).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from pocketstack.lab import Lab, random_prefix
from tests.conftest import RunningCloud, launch_cloud
from tests.e2e.test_network_dataplane import _leftover_namespaces
from tests.helpers import wait_until

ADMIN = "pocketstack-admin"
A_MEMBER = "l3-a"  # A's member user, scoped to project l3-a
A_ADMIN = "l3-a-admin"  # the admin user, scoped to project l3-a
B_ADMIN = "l3-b-admin"  # the admin user, scoped to project l3-b
PASSWORD = "l3-member-secret"
EXT_GATEWAY = "172.24.4.1"

A1_IP, A2_IP, B1_IP = "10.10.1.10", "10.10.2.10", "10.10.1.20"
SPOOFED_IP = "10.10.1.99"

#: a1/a2: ping the other guest (through the router) and the outside (SNAT), print outcomes
ROUTED = """#!/bin/sh
for target in {peer} {outside}; do
    ok=""
    for i in $(seq 1 240); do
        if ping -c 1 -W 1 $target >/dev/null 2>&1; then ok=1; break; fi
        sleep 1
    done
    if [ -n "$ok" ]; then echo "L3-PING-OK $target"; else echo "L3-PING-FAILED $target"; fi
done
"""

#: b1: after its own DHCP server answers (it works), ping A's addresses in rounds, forever
ISOLATION = """#!/bin/sh
for i in $(seq 1 240); do
    ping -c 1 -W 1 {dhcp} >/dev/null 2>&1 && break
    sleep 1
done
if ping -c 1 -W 1 {dhcp} >/dev/null 2>&1; then echo "ISO-CONTROL-OK {dhcp}"; fi
r=0
while [ $r -lt 400 ]; do
    r=$((r + 1))
    line="ISO-ROUND $r"
    for ip in {targets}; do
        out=fail
        ping -c 1 -W 1 $ip >/dev/null 2>&1 && out=ok
        line="$line $ip=$out"
    done
    echo "$line END"
    sleep 1
done
"""

#: run in a1 (detached, over ssh): take another address, ping, take its own back, ping
SPOOF = """#!/bin/sh
trap '' HUP PIPE
say() {{ echo "$*" >>/tmp/spoof.out; echo "$*" >/dev/console 2>/dev/null; }}
sleep 1
ip addr flush dev eth0
ip addr add {spoofed}/24 dev eth0
ip route add default via {gateway}
n=0
for i in 1 2 3 4 5 6; do ping -c 1 -W 1 {peer} >/dev/null 2>&1 && n=$((n + 1)); done
say "SPOOF-REPLIES-AS-{spoofed} $n"
ip addr flush dev eth0
ip addr add {own}/24 dev eth0
ip route add default via {gateway}
for i in $(seq 1 30); do
    if ping -c 1 -W 1 {peer} >/dev/null 2>&1; then say "SPOOF-RESTORED-OK {own}"; exit 0; fi
done
say "SPOOF-RESTORED-FAILED {own}"
"""


@dataclass
class L3Cloud:
    """What the module's tests share: the cloud, the lab, the guests' ids and addresses."""

    cloud: RunningCloud
    lab: Lab
    key: Path
    servers: dict[str, str] = field(default_factory=dict)  # name -> server id
    fips: dict[str, str] = field(default_factory=dict)  # name -> floating IP address
    a_default_sg: str = ""
    b_dhcp_ip: str = ""
    ports: dict[str, str] = field(default_factory=dict)  # name -> port id

    @property
    def ext(self) -> str:
        assert self.lab.ext_netns
        return self.lab.ext_netns

    def openstack(self, *args: str, cloud: str = A_MEMBER, **kw):
        return self.cloud.openstack(*args, cloud=cloud, **kw)

    def console(self, name: str) -> str:
        return self.openstack(
            "console",
            "log",
            "show",
            self.servers[name],
            cloud=A_ADMIN if name != "b1" else B_ADMIN,
            json_output=False,
        )

    def wait_console(self, name: str, text: str, timeout: float, also: str = "") -> str:
        """``name``'s console log once it shows ``text`` (and ``also``); fails at once on a
        line that says FAILED."""
        log = ""

        def shown() -> str | None:
            nonlocal log
            log = self.console(name)
            assert "-FAILED" not in log, f"{name}: {log[-3000:]}"
            return log if text in log and also in log else None

        detail = lambda: f"{log[-3000:]}\n{self.cloud.log()[-6000:]}"  # noqa: E731
        return wait_until(
            shown, timeout, f"{text!r} on {name}'s console", interval=2, detail=detail
        )

    def ext_run(self, *cmd: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """``cmd`` inside the lab's outside namespace (the only place tests send from)."""
        return subprocess.run(
            ["ip", "netns", "exec", self.ext, *cmd], capture_output=True, text=True, timeout=timeout
        )

    def ssh(self, name: str, command: str = "true", timeout: float = 30):
        """``ssh root@<name's floating IP> command`` from ``<prefix>-ext``."""
        return self.ext_run(
            "ssh",
            "-o", "ConnectTimeout=3",
            "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes",
            "-o", "LogLevel=ERROR",
            "-i", str(self.key),
            f"root@{self.fips[name]}",
            command,
            timeout=timeout,
        )  # fmt: skip

    def ping_from_ext(self, address: str) -> bool:
        return self.ext_run("busybox", "ping", "-c", "1", "-W", "2", address).returncode == 0


def _add_projects(cloud: RunningCloud) -> None:
    """Projects l3-a (a member user) and l3-b; the admin user gets the admin role in both, and
    the cloud's clouds.yaml gets the clouds A_MEMBER, A_ADMIN and B_ADMIN."""
    for project in ("l3-a", "l3-b"):
        cloud.openstack("project", "create", project, cloud=ADMIN)
        cloud.openstack(
            "role", "add", "--user", "admin", "--project", project, "admin",
            cloud=ADMIN, json_output=False,
        )  # fmt: skip
    cloud.openstack(
        "user", "create", "--project", "l3-a", "--password", PASSWORD, "l3-a-user", cloud=ADMIN
    )
    cloud.openstack(
        "role", "add", "--user", "l3-a-user", "--project", "l3-a", "member",
        cloud=ADMIN, json_output=False,
    )  # fmt: skip
    config = yaml.safe_load(cloud.clouds_yaml.read_text())
    admin = config["clouds"][ADMIN]
    for name, user, password, project in (
        (A_MEMBER, "l3-a-user", PASSWORD, "l3-a"),
        (A_ADMIN, "admin", admin["auth"]["password"], "l3-a"),
        (B_ADMIN, "admin", admin["auth"]["password"], "l3-b"),
    ):
        auth = {**admin["auth"], "username": user, "password": password, "project_name": project}
        config["clouds"][name] = {**admin, "auth": auth}
    cloud.clouds_yaml.write_text(yaml.safe_dump(config))


def _network(w: L3Cloud, cloud: str, name: str, cidr: str) -> str:
    w.openstack("network", "create", name, cloud=cloud)
    return w.openstack(
        "subnet", "create", "--network", name, "--subnet-range", cidr, f"{name}-sub", cloud=cloud
    )["id"]


def _port(w: L3Cloud, cloud: str, network: str, subnet: str, ip: str, *groups: str) -> str:
    args = ["--network", network, "--fixed-ip", f"subnet={subnet},ip-address={ip}"]
    for group in groups:
        args += ["--security-group", group]
    return w.openstack("port", "create", *args, f"port-{ip}", cloud=cloud)["id"]


def _boot(w: L3Cloud, cloud: str, name: str, port: str, host: str, user_data: str, tmp: Path):
    script = tmp / f"{name}.sh"
    script.write_text(user_data)
    w.servers[name] = w.openstack(
        "server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--port", port,
        "--availability-zone", f"nova:{host}", "--key-name", "l3-key",
        "--user-data", str(script), name, cloud=cloud,
    )["id"]  # fmt: skip


def _build(w: L3Cloud, tmp: Path) -> None:
    """Projects, networks, router, guests and floating IPs (module docstring)."""
    _add_projects(w.cloud)
    w.openstack("keypair", "create", "--public-key", f"{w.key}.pub", "l3-key", cloud=A_ADMIN)
    sub1 = _network(w, A_MEMBER, "a-net1", "10.10.1.0/24")
    sub2 = _network(w, A_MEMBER, "a-net2", "10.10.2.0/24")
    w.openstack("router", "create", "a-router")
    w.openstack("router", "set", "--external-gateway", "public", "a-router", json_output=False)
    for sub in (sub1, sub2):
        w.openstack("router", "add", "subnet", "a-router", sub, json_output=False)
    w.a_default_sg = w.openstack("security", "group", "show", "default")["id"]
    mgmt = w.openstack("security", "group", "create", "a-mgmt")["id"]
    for proto in (["tcp", "--dst-port", "22"], ["icmp"]):
        w.openstack("security", "group", "rule", "create", "--protocol", *proto, mgmt)
    for name in ("a1", "a2"):
        w.fips[name] = w.openstack("floating", "ip", "create", "public")["floating_ip_address"]
    b_sub = _network(w, B_ADMIN, "b-net", "10.10.1.0/24")

    a1_port = _port(w, A_ADMIN, "a-net1", sub1, A1_IP, w.a_default_sg, mgmt)
    a2_port = _port(w, A_ADMIN, "a-net2", sub2, A2_IP)
    b1_port = _port(w, B_ADMIN, "b-net", b_sub, B1_IP)
    w.ports = {"a1": a1_port, "a2": a2_port, "b1": b1_port}
    _boot(w, A_ADMIN, "a1", a1_port, "host1", ROUTED.format(peer=A2_IP, outside=EXT_GATEWAY), tmp)
    _boot(w, A_ADMIN, "a2", a2_port, "host2", ROUTED.format(peer=A1_IP, outside=EXT_GATEWAY), tmp)

    def b_dhcp() -> str | None:  # made by the server for the network's first port
        ports = w.openstack(
            "port", "list", "--network", "b-net", "--device-owner", "network:dhcp", "--long",
            cloud=B_ADMIN,
        )  # fmt: skip
        return ports[0]["Fixed IP Addresses"][0]["ip_address"] if ports else None

    w.b_dhcp_ip = wait_until(b_dhcp, 60, "b-net's DHCP port", interval=1)
    targets = [A1_IP, A2_IP, "10.10.1.1", "10.10.2.1", *w.fips.values()]
    script = ISOLATION.format(dhcp=w.b_dhcp_ip, targets=" ".join(targets))
    _boot(w, B_ADMIN, "b1", b1_port, "host1", script, tmp)

    for name, cloud, host in (
        ("a1", A_ADMIN, "host1"),
        ("a2", A_ADMIN, "host2"),
        ("b1", B_ADMIN, "host1"),
    ):
        server = w.cloud.wait_for_server(w.servers[name], "ACTIVE", timeout=300, cloud=cloud)
        assert server["OS-EXT-SRV-ATTR:host"] == host
    for name in ("a1", "a2"):
        w.openstack(
            "server", "add", "floating", "ip", w.servers[name], w.fips[name], json_output=False
        )


def _taps(netns: str) -> list[str]:
    out = subprocess.run(
        ["ip", "-n", netns, "-o", "link", "show"], capture_output=True, text=True, check=True
    ).stdout
    return [
        line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ": tap" in line
    ]


def _delete_guests(w: L3Cloud) -> None:
    """Delete the module's guests (so ``up`` stops at once); their taps go with them."""
    for name, server in w.servers.items():
        cloud = B_ADMIN if name == "b1" else A_ADMIN
        w.openstack("server", "delete", "--wait", server, cloud=cloud, json_output=False)
    for host in w.lab.hosts:  # the network node keeps its DHCP/router veths' tap ends
        guests = [t for t in _taps(host.netns) if not _is_veth(host.netns, t)]
        assert not guests, f"guest taps left in {host.netns}: {guests}"


def _is_veth(netns: str, name: str) -> bool:
    out = subprocess.run(
        ["ip", "-n", netns, "-d", "-o", "link", "show", "dev", name], capture_output=True, text=True
    ).stdout
    return " veth " in out


def _pids_naming(text: str) -> list[int]:
    """Processes whose command line contains ``text`` (this module's dnsmasq, QEMU)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline and entry.name != str(os.getpid()):
                pids.append(int(entry.name))
    return pids


def _netns_list() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


@pytest.fixture(scope="module")
def l3(tmp_path_factory) -> Iterator[L3Cloud]:
    """The module's lab cloud with its guests (module docstring); after the last test, checks
    that no namespace, tap or dnsmasq of it is left."""
    tmp = tmp_path_factory.mktemp("l3")
    prefix = random_prefix()
    lab = Lab(prefix, hosts=2)
    state = tmp / "state"
    key = tmp / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    flags = ["--hosts", "2", "--lab-prefix", prefix, "--shutdown-instances"]
    dataplane: list[str] = []
    try:
        with launch_cloud(state, driver="qemu", extra=flags) as cloud:
            try:
                w = L3Cloud(cloud, lab, key)
                started = time.monotonic()
                _build(w, tmp)
                print(f"l3 lab built and guests ACTIVE in {time.monotonic() - started:.0f}s")
                yield w
                _delete_guests(w)
            finally:
                dataplane = _leftover_namespaces(state)
    finally:
        lab.teardown(tuple(dataplane))
    left = _netns_list() & ({*lab.namespaces, *dataplane})
    assert not left, f"namespaces left behind: {left}"
    assert not lab.exists()
    # the hosts' processes (agents, dnsmasq, QEMU) die with ``up``, a moment after it
    wait_until(lambda: not _pids_naming(str(state)), 30, "the lab's processes gone")


def _poll(check: Callable[[], bool], want: bool, timeout: float, what: str) -> None:
    wait_until(lambda: check() == want, timeout, what, interval=0.5)


@pytest.mark.slow
@pytest.mark.dataplane
@pytest.mark.timeout(900)
def test_a_router_joins_two_subnets_and_snats_them_to_the_outside(l3):
    for name, peer in (("a1", A2_IP), ("a2", A1_IP)):
        # the script pings the peer, then the outside, and prints one line for each
        log = l3.wait_console(name, f"L3-PING-OK {peer}", 300, also=f"L3-PING-OK {EXT_GATEWAY}")
        assert f"L3-PING-OK {EXT_GATEWAY}" in log, log[-3000:]
    # the outside namespace has no route to 10.10.0.0/16: a2's packets came from the router
    assert "10.10." not in l3.ext_run("ip", "route").stdout


@pytest.mark.slow
@pytest.mark.dataplane
@pytest.mark.ci
@pytest.mark.timeout(600)
def test_floating_ip_reachable_only_while_a_security_group_rule_allows_it(l3):
    l3.wait_console("a2", "ssh host key SHA256:", 300)
    # the way in works (a1 has a group letting ssh in): a2's refusals are its security group's
    wait_until(lambda: l3.ssh("a1").returncode == 0, 120, "ssh to a1's floating IP")
    assert l3.ssh("a2").returncode != 0
    assert not l3.ping_from_ext(l3.fips["a2"])

    for proto, check in (
        (["tcp", "--dst-port", "22"], lambda: l3.ssh("a2").returncode == 0),
        (["icmp"], lambda: l3.ping_from_ext(l3.fips["a2"])),
    ):
        rule = l3.openstack("security", "group", "rule", "create", "--protocol", *proto, "default")
        try:
            _poll(check, True, 20, f"{proto} to a2's floating IP allowed by rule {rule['id']}")
        finally:
            l3.openstack("security", "group", "rule", "delete", rule["id"], json_output=False)
        _poll(check, False, 20, f"{proto} to a2's floating IP refused again")
    assert l3.ssh("a1").returncode == 0  # a1's own group still lets it in


def _run_spoof(l3: L3Cloud) -> str:
    """Run :data:`SPOOF` in a1 (detached: a1's ssh session dies with its address) and return
    what it wrote, once a1 answers ssh again."""
    script = SPOOF.format(spoofed=SPOOFED_IP, own=A1_IP, gateway="10.10.1.1", peer=A2_IP)
    started = l3.ssh(
        "a1",
        f"rm -f /tmp/spoof.out; cat > /tmp/spoof.sh <<'EOF'\n{script}EOF\n"
        "sh /tmp/spoof.sh </dev/null >/dev/null 2>&1 &",
    )
    assert started.returncode == 0, started.stderr
    return wait_until(
        lambda: (
            (r := l3.ssh("a1", "cat /tmp/spoof.out")).returncode == 0
            and "SPOOF-RESTORED-" in r.stdout
            and r.stdout
        ),
        120,
        "a1's spoofing script done and a1 reachable again",
        interval=1,
    )


@pytest.mark.slow
@pytest.mark.dataplane
@pytest.mark.timeout(600)
def test_a_guest_that_takes_another_address_loses_its_connectivity_until_it_takes_back_its_own(l3):
    wait_until(lambda: l3.ssh("a1").returncode == 0, 120, "ssh to a1's floating IP")
    out = l3.ssh("a1", f"ping -c 1 -W 2 {A2_IP}")
    assert out.returncode == 0, out.stdout + out.stderr  # a1 reaches a2 with its own address

    out = _run_spoof(l3)
    assert f"SPOOF-REPLIES-AS-{SPOOFED_IP} 0" in out, out
    assert f"SPOOF-RESTORED-OK {A1_IP}" in out, out

    # the same script with the address allowed on a1's port: the drops were anti-spoofing's
    pair = f"ip-address={SPOOFED_IP}"
    l3.openstack("port", "set", "--allowed-address", pair, l3.ports["a1"], json_output=False)
    try:
        out = _run_spoof(l3)
    finally:
        l3.openstack("port", "unset", "--allowed-address", pair, l3.ports["a1"], json_output=False)
    assert f"SPOOF-REPLIES-AS-{SPOOFED_IP} 0" not in out, out
    assert f"SPOOF-REPLIES-AS-{SPOOFED_IP} " in out and f"SPOOF-RESTORED-OK {A1_IP}" in out, out


@pytest.mark.slow
@pytest.mark.dataplane
@pytest.mark.timeout(600)
def test_guests_reach_floating_ips_through_their_router(l3):
    wait_until(lambda: l3.ssh("a1").returncode == 0, 120, "ssh to a1's floating IP")
    for name in ("a2", "a1"):  # another subnet's guest, then a1's own (hairpin) floating IP
        out = l3.ssh("a1", f"ping -c 2 -W 2 {l3.fips[name]}")
        assert out.returncode == 0, f"a1 -> {name}'s {l3.fips[name]}: {out.stdout}{out.stderr}"


@pytest.mark.slow
@pytest.mark.dataplane
@pytest.mark.timeout(600)
def test_a_project_with_the_same_cidr_on_the_same_host_reaches_nothing_of_another(l3):
    log = l3.wait_console("b1", f"ISO-CONTROL-OK {l3.b_dhcp_ip}", 300)  # b1's network works
    # A works now (a1 pings a2 and the outside), and b1's rounds from now on reach none of A
    for target in (A2_IP, EXT_GATEWAY):
        out = l3.ssh("a1", f"ping -c 1 -W 2 {target}")
        assert out.returncode == 0, f"a1 -> {target}: {out.stdout}{out.stderr}"
    done = log.count(" END")
    log = l3.wait_console("b1", f"ISO-ROUND {done + 2} ", 120)
    rounds = [line for line in log.splitlines() if "ISO-ROUND" in line and line.endswith("END")]
    assert len(rounds) >= 2
    assert all("=ok" not in line for line in rounds), "\n".join(rounds)
    assert f"{A1_IP}=fail" in rounds[-1] and f"{l3.fips['a1']}=fail" in rounds[-1]
    # a1 (whose group lets ping in from anywhere) is still reachable through its floating IP
    assert l3.ping_from_ext(l3.fips["a1"])


@pytest.mark.slow
@pytest.mark.dataplane
@pytest.mark.timeout(600)
def test_a_floating_ip_removed_from_a_server_stops_answering_until_added_back(l3):
    fip, server = l3.fips["a1"], l3.servers["a1"]
    _poll(lambda: l3.ping_from_ext(fip), True, 60, f"a1's {fip} answering")
    l3.openstack("server", "remove", "floating", "ip", server, fip, json_output=False)
    try:
        _poll(lambda: l3.ping_from_ext(fip), False, 20, f"{fip} silent once removed from a1")
        assert l3.openstack("floating", "ip", "show", fip)["fixed_ip_address"] is None
    finally:
        l3.openstack("server", "add", "floating", "ip", server, fip, json_output=False)
    _poll(lambda: l3.ping_from_ext(fip), True, 20, f"{fip} answering again once added back")
