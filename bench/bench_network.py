"""Network data plane figures, printed as a table.

    .venv/bin/python bench/bench_network.py [--ports 500] [--fw-ports 200] [--skip-qemu]

1. seconds from server create to the guest holding its DHCP lease: real QEMU (TCG here) in a
   ``pocketstack up --hosts 2`` lab; the lease is seen in the network node's dnsmasq lease
   file (``<state>/hosts/host1/dhcp/<network_id>/leases``), for a guest on host1 (the
   network node) and one on host2 (its DHCP crosses VXLAN), beside the seconds to ACTIVE
   and to the guest's console saying it holds the lease;
2. ports wired per second by one network agent with the ``fake`` driver: 500 ports bound to
   its host while no agent runs, then the agent starts; measured from its start to every
   port ``ACTIVE`` on the server (in-process cloud: the network manager, the agents'
   server endpoint and the agent on the in-process bus; no kernel work);
3. seconds for a security group rule change to reach 200 ports: an in-process cloud with the
   ``fake`` L2 driver, the agent's firewall part the real ``NftablesFirewall`` acting in a
   namespace of the bench's own holding 200 ``tap<port_id[:11]>`` veth ends; measured
   from the rule create call (parsed and handled as the API handler does) to the rule in
   ``nft list`` of that namespace (the group's chain ``sg-<id11>-ingress``, polled; then
   every one of the 200 ports' ingress chains is checked to jump to it);
4. ping round trip between two guests on two hosts (over VXLAN) and on one host (one
   bridge): guest A on host1 pings B on host2 and C on host1 from its user_data and prints
   busybox ping's summary on its console.

Packets only flow between the lab's guests, inside namespaces the lab made. Every cloud,
namespace and temporary directory the bench makes is removed at the end, also on failure.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository
from bench_cloud import Cloud, print_figures  # noqa: E402  (same directory)

from pocketstack.common.auth import RequestContext  # noqa: E402
from pocketstack.common.bus import InProcessBus  # noqa: E402
from pocketstack.common.config import Config  # noqa: E402
from pocketstack.common.db import Database  # noqa: E402
from pocketstack.lab import Lab, random_prefix  # noqa: E402
from pocketstack.network.agent import NetworkAgent  # noqa: E402
from pocketstack.network.agent_reports import NetworkAgentReports  # noqa: E402
from pocketstack.network.api import (  # noqa: E402
    networks,
    ports,
    security_group_rules,
    subnets,
    views,
)
from pocketstack.network.drivers import ip_lib  # noqa: E402
from pocketstack.network.drivers.fake import FakeDriver, FakeFirewall  # noqa: E402
from pocketstack.network.drivers.firewall import NftablesFirewall, group_chain  # noqa: E402
from pocketstack.network.lists import ListQuery  # noqa: E402
from pocketstack.network.rpcapi import SERVER_MESSAGES, SERVER_TOPIC  # noqa: E402
from pocketstack.service import Cloud as Managers  # noqa: E402
from tests.helpers import free_port  # noqa: E402

ADMIN = RequestContext(user_id="u-bench", project_id="bench", roles=("admin",))
Row = tuple[str, str, str]


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; RuntimeError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(interval)
    raise RuntimeError(f"no {what} within {timeout:.0f} s")


# ---------------------------------------------------------------- in-process (figures 2, 3)


class InProcessCloud:
    """The network manager and the agents' server endpoint on an in-process bus, over a
    migrated SQLite database in ``state_dir``; agents of ``host`` are started by the caller."""

    def __init__(self, state_dir: Path, host: str):
        self.conf = Config.load(
            {
                "state_dir": str(state_dir),
                "compute_driver": "fake",
                "network_driver": "fake",
                "hostname": host,
                "agent_report_interval": 60,  # the bench's rounds are the ones it causes
                "agent_sync_interval": 60,
            },
            environ={},
        )
        state_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.conf.database)
        self.db.upgrade()
        self.bus = InProcessBus(workers=8)
        self.cloud = Managers(self.conf, self.db, self.bus)
        self.bus.serve(SERVER_TOPIC, NetworkAgentReports(self.cloud), SERVER_MESSAGES)
        self.network = self.cloud.network

    def make_ports(self, count: int, cidr: str) -> list[str]:
        """A network with a subnet of ``cidr`` and ``count`` ports bound to this host."""
        net = self.network.networks.create(ADMIN, networks.parse_create({"name": "bench"}))
        net_id = views.network(net)["id"]
        body = {"network_id": net_id, "cidr": cidr, "ip_version": 4}
        self.network.subnets.create(ADMIN, subnets.parse_create(body))
        made = []
        for i in range(count):
            spec = ports.parse_create(
                {
                    "network_id": net_id,
                    "name": f"p{i}",
                    "binding:host_id": self.conf.hostname,
                }
            )
            made.append(views.port(self.network.ports.create(ADMIN, spec))["id"])
        return made

    def active(self) -> int:
        """How many ports the server shows ACTIVE."""
        query = ListQuery(filters={"status": ["ACTIVE"]})
        return len(self.network.ports.list(ADMIN, query).items)

    def close(self) -> None:
        self.bus.unserve(SERVER_TOPIC)
        self.bus.stop()
        self.db.dispose()


def bench_wiring(tmp: Path, count: int) -> list[Row]:
    """Figure 2: one fake-driver agent wires ``count`` bound ports."""
    ipc = InProcessCloud(tmp / "wiring", "benchhost")
    agent = NetworkAgent(ipc.conf, ipc.bus, FakeDriver(ipc.conf), FakeFirewall(ipc.conf))
    try:
        ipc.make_ports(count, "10.8.0.0/21")
        assert ipc.active() == 0
        t0 = time.monotonic()
        agent.start()
        wait_for(lambda: ipc.active() == count, 120, f"{count} ports ACTIVE", interval=0.01)
        elapsed = time.monotonic() - t0
        rounds = []
        for _ in range(5):  # the periodic reconciliation: nothing to change
            t = time.monotonic()
            agent.run_round()
            rounds.append(time.monotonic() - t)
    finally:
        agent.stop()
        ipc.close()
    return [
        (f"{count} bound ports -> all ACTIVE, one agent (fake)", "", f"{elapsed:.2f} s"),
        ("ports wired per second, one agent (fake)", "", f"{count / elapsed:.0f}"),
        (
            f"agent round with nothing to change, {count} ports",
            "",
            f"{statistics.median(rounds) * 1000:.0f} ms",
        ),
    ]


def _nft(netns: str, *what: str) -> str:
    """``nft list <what>`` in ``netns`` (empty when it is not there)."""
    return subprocess.run(
        ["ip", "netns", "exec", netns, "nft", "list", *what],
        capture_output=True,
        text=True,
    ).stdout


def bench_rule_change(tmp: Path, count: int, changes: int = 5) -> list[Row]:
    """Figure 3: a rule create reaching ``count`` ports' nftables chains in a namespace."""
    netns = f"pstbench-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    ipc = InProcessCloud(tmp / "rules", "benchfw")
    firewall = NftablesFirewall(ipc.conf, netns=netns)
    agent = NetworkAgent(ipc.conf, ipc.bus, FakeDriver(ipc.conf), firewall)
    try:
        port_ids = ipc.make_ports(count, "10.9.0.0/22")
        batch = "".join(  # veth pairs: this kernel has no dummy devices
            f"link add {ip_lib.tap_name(p)} type veth peer name bench{i}\n"
            for i, p in enumerate(port_ids)
        )
        subprocess.run(["ip", "-n", netns, "-batch", "-"], input=batch, text=True, check=True)
        agent.start()
        wait_for(lambda: ipc.active() == count, 120, f"{count} ports ACTIVE", interval=0.05)
        group = views.port(ipc.network.ports.get(ADMIN, port_ids[0]))["security_groups"][0]
        # the rule lands in the group's chain, which every port's ingress chain jumps to
        # (checked after the clock stops, on the table)
        chain = ("chain", "bridge", "pocketstack", group_chain(group, "ingress"))
        jump = re.compile(rf"jump {group_chain(group, 'ingress')}\b")
        latencies = []
        for i in range(changes):
            dport = 18080 + i
            body = {
                "security_group_id": group,
                "direction": "ingress",
                "ethertype": "IPv4",
                "protocol": "tcp",
                "port_range_min": dport,
                "port_range_max": dport,
            }
            needle = re.compile(rf"dport {dport}\b")
            t0 = time.monotonic()
            ipc.network.security_group_rules.create(ADMIN, security_group_rules.parse_create(body))
            wait_for(
                lambda needle=needle: needle.search(_nft(netns, *chain)),
                60,
                f"tcp dport {dport} in the nft chains",
                interval=0.01,
            )
            elapsed = time.monotonic() - t0
            table = _nft(netns, "table", "bridge", "pocketstack")
            found, jumps = len(needle.findall(table)), len(jump.findall(table))
            if found != 1 or jumps != count:
                raise RuntimeError(f"tcp dport {dport} {found} times, {jumps} port jumps")
            latencies.append(elapsed)
    finally:
        agent.stop()
        try:
            firewall.cleanup()
        finally:
            subprocess.run(["ip", "netns", "del", netns], check=False)
            ipc.close()
    return [
        (
            f"rule create -> in nft of {count} ports, median / max of {changes}",
            "< 1 s",
            f"{statistics.median(latencies):.2f} s / {max(latencies):.2f} s",
        )
    ]


# ---------------------------------------------------------------- the lab (figures 1, 4)

#: guest A's user_data: wait until a peer answers, then 20 pings, summary on the console
PINGER = """#!/bin/sh
rtt() {{
    for i in $(seq 1 600); do
        ping -c 1 -W 1 $2 >/dev/null 2>&1 && break
        sleep 1
    done
    ping -c 3 $2 >/dev/null 2>&1
    echo "BENCH-RTT $1 $(ping -q -c 20 $2 | grep round-trip)"
}}
rtt two-hosts {remote}
rtt one-host {local}
"""
RTT = re.compile(r"BENCH-RTT (\S+) round-trip min/avg/max = ([\d.]+)/([\d.]+)/([\d.]+) ms")


class LabCloud(Cloud):
    """``pocketstack up --hosts 2`` with the qemu driver, on a lab prefix of its own."""

    ready_interval = 0.2
    stop_timeout = 120.0  # it shuts its instances down first

    def __init__(self, state_dir: Path, port: int, prefix: str):
        super().__init__(state_dir, "qemu", port)
        self.prefix = prefix

    def up_args(self) -> list[str]:
        return ["--hosts", "2", "--lab-prefix", self.prefix, "--shutdown-instances"]


class Api:
    """Admin calls on a ``LabCloud`` (raises on an error status)."""

    def __init__(self, cloud: LabCloud):
        self.cloud = cloud
        self.headers = {"X-Auth-Token": cloud.token("admin")}

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        r = httpx.request(
            method, self.cloud.url + path, headers=self.headers, json=body, timeout=60
        )
        r.raise_for_status()
        return r.json() if r.content else {}

    def console(self, server_id: str) -> str:
        body = {"os-getConsoleOutput": {"length": 200}}
        return self.call("POST", f"/compute/v2.1/servers/{server_id}/action", body)["output"]


def _lease_file(state_dir: Path, network_id: str) -> Path:
    return state_dir / "hosts" / "host1" / "dhcp" / network_id / "leases"


def _leased(path: Path, mac: str) -> bool:
    try:
        return mac in path.read_text()
    except OSError:
        return False


def _qemu_pids(state_dir: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"qemu-system" in cmdline and str(state_dir).encode() in cmdline:
                pids.append(int(entry.name))
    return pids


def _network_namespaces(state_dir: Path) -> tuple[str, ...]:
    names = []
    for folder, prefix in (("dhcp", "qdhcp-"), ("l3", "qrouter-")):
        path = state_dir / "hosts" / "host1" / folder
        if path.is_dir():
            names += [prefix + p.name for p in path.iterdir()]
    return tuple(names)


def _boot_milestones(
    api: Api, state: Path, net_id: str, port: dict, server_id: str, t0: float
) -> dict[str, float]:
    """Seconds from ``t0`` to the server ``ACTIVE`` (``active``), the port's MAC in the
    network node's dnsmasq lease file (``lease``) and the guest's console saying it holds
    the lease (``console``: the udhcpc script's line)."""
    leases = _lease_file(state, net_id)
    ip = port["fixed_ips"][0]["ip_address"]
    # the guest's udhcpc script prints it on a lease (its static fallback prints no "(dhcp)")
    leased_line = re.compile(rf"eth0 ip {re.escape(ip)} netmask \S+ \(dhcp\)")
    seen: dict[str, float] = {}
    deadline = t0 + 300
    polls = 0
    while len(seen) < 3:
        now = time.monotonic()
        if now > deadline:
            raise RuntimeError(f"only {sorted(seen)} of {port['name']} within 300 s")
        if "lease" not in seen and _leased(leases, port["mac_address"]):
            seen["lease"] = now - t0
        if polls % 10 == 0:  # the API every 0.5 s, the lease file every 0.05 s
            if "active" not in seen:
                server = api.call("GET", f"/compute/v2.1/servers/{server_id}")["server"]
                if server["status"] == "ACTIVE":
                    seen["active"] = time.monotonic() - t0
            if (
                "console" not in seen
                and "active" in seen
                and leased_line.search(api.console(server_id))
            ):
                seen["console"] = time.monotonic() - t0
        polls += 1
        time.sleep(0.05)
    return seen


def bench_guests(tmp: Path) -> list[Row]:
    """Figures 1 and 4 in one two-host lab."""
    prefix = random_prefix()
    state = tmp / "lab"
    lab = Lab(prefix, hosts=2)
    cloud = LabCloud(state, free_port(), prefix)
    dataplane: tuple[str, ...] = ()
    rows: list[Row] = []
    try:
        cloud.start()
        api = Api(cloud)
        net = api.call("POST", "/networking/v2.0/networks", {"network": {"name": "bench"}})
        net_id = net["network"]["id"]
        body = {"network_id": net_id, "cidr": "10.77.0.0/24", "ip_version": 4}
        api.call("POST", "/networking/v2.0/subnets", {"subnet": body})
        made = {}
        for name in ("a", "b", "c"):
            body = {"network_id": net_id, "name": f"bench-{name}"}
            made[name] = api.call("POST", "/networking/v2.0/ports", {"port": body})["port"]
        ip = {n: p["fixed_ips"][0]["ip_address"] for n, p in made.items()}
        user_data = PINGER.format(remote=ip["b"], local=ip["c"])
        flavor = next(
            f["id"]
            for f in api.call("GET", "/compute/v2.1/flavors")["flavors"]
            if f["name"] == "m1.tiny"
        )
        image = api.call("GET", "/image/v2/images?name=cirros")["images"][0]["id"]
        servers = {}
        for name, host in (("a", "host1"), ("b", "host2"), ("c", "host1")):
            server: dict[str, Any] = {
                "name": f"bench-{name}",
                "imageRef": image,
                "flavorRef": flavor,
                "networks": [{"port": made[name]["id"]}],
                "availability_zone": f"nova:{host}",
            }
            if name == "a":
                server["user_data"] = base64.b64encode(user_data.encode()).decode()
            t0 = time.monotonic()
            servers[name] = api.call("POST", "/compute/v2.1/servers", {"server": server})["server"][
                "id"
            ]
            dataplane = _network_namespaces(state)
            if name in ("a", "b"):  # c boots while a pings: its lease is not a figure
                seen = _boot_milestones(api, state, net_id, made[name], servers[name], t0)
                where = "host1, the network node" if host == "host1" else "host2, over VXLAN"
                rows.append(
                    (
                        f"create -> DHCP lease (qemu, TCG; {where})",
                        "",
                        f"{seen['lease']:.2f} s (ACTIVE {seen['active']:.2f} s, "
                        f"lease in the guest {seen['console']:.2f} s)",
                    )
                )
        dataplane = _network_namespaces(state)

        def both() -> dict[str, tuple[str, str, str]] | None:
            found = {m.group(1): m.groups()[1:] for m in RTT.finditer(api.console(servers["a"]))}
            return found if len(found) == 2 else None

        rtt = wait_for(both, 600, "both RTT lines on a's console", interval=2)
        for key, label in (("two-hosts", "two hosts (VXLAN)"), ("one-host", "one host (bridge)")):
            lo, avg, hi = rtt[key]
            rows.append(
                (f"guest ping RTT avg, {label}; 20 pings", "", f"{avg} ms (min {lo}, max {hi})")
            )
        for sid in servers.values():
            api.call("DELETE", f"/compute/v2.1/servers/{sid}")
        wait_for(
            lambda: not api.call("GET", "/compute/v2.1/servers")["servers"],
            120,
            "servers deleted",
            interval=0.5,
        )
    finally:
        cloud.stop()
        for pid in _qemu_pids(state):
            os.kill(pid, signal.SIGKILL)
        lab.teardown(dataplane or _network_namespaces(state))
        if lab.exists():
            raise RuntimeError(f"lab {prefix} still there after the bench")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports", type=int, default=500)
    parser.add_argument("--fw-ports", type=int, default=200)
    parser.add_argument("--skip-qemu", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench_network.py makes namespaces: run it as root")
    rows: list[Row] = []
    load = os.getloadavg()[0]  # the machine may be shared: the figures say how busy it was
    tmp = Path(tempfile.mkdtemp(prefix="pocketstack-bench-net-"))
    try:
        if not args.skip_qemu:
            rows += bench_guests(tmp)
        rows += bench_wiring(tmp, args.ports)
        rows += bench_rule_change(tmp, args.fw_ports)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_figures(
        rows,
        f"{os.cpu_count()} cores, 1-minute load average {load:.1f} at the start and "
        f"{os.getloadavg()[0]:.1f} at the end",
    )


if __name__ == "__main__":
    main()
