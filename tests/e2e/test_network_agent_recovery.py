"""kill -9 of a network agent while ports are being created, then a restart: the agent
converges by the path it takes at every start (docs/network-dataplane.md, "Shape:
level-triggered agents"; issue 7, "Reconciliation").

No QEMU: the "host" is one lab host namespace (``pocketstack.lab.Lab`` with a test prefix)
and ``pocketstack network-agent`` runs as a process of its own acting inside it, with every
role (L2, DHCP, L3). The taps stand in for the compute driver's (``ip_lib.ensure_tap`` in
the host's namespace, as the QEMU driver makes them). The server is ``pocketstack
controller`` with the linuxbridge driver:

- embedded (default): SQLite in its state directory and the filesystem bus the lab's hosts
  use (``filesystem://<state>/bus``): no broker;
- distributed (``POCKETSTACK_TEST_MODE=distributed``): PostgreSQL and RabbitMQ, the agent
  connected to RabbitMQ.

Nothing is sent anywhere: the test only reads the kernel's state in its own namespaces.
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pocketstack.lab.topology import Lab, random_prefix
from pocketstack.network.drivers import ip_lib
from pocketstack.network.drivers.dhcp import namespace_name as dhcp_namespace
from pocketstack.network.drivers.l3 import namespace_name as router_namespace
from tests.conftest import (
    RunningCloud,
    _common_flags,
    _start,
    _stop,
    _wait_ready,
)
from tests.helpers import AMQP_URL, PG_ADMIN_URL, distributed_backends, free_port, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")

ADMIN = "pocketstack-admin"
#: heartbeats every second, a reconciliation pass every 2 s, dead after 4 s without one
AGENT_TIMERS = ["--agent-report-interval", "1", "--agent-sync-interval", "2"]
SERVER_TIMERS = ["--agent-down-time", "4"]


class AgentCloud:
    """``pocketstack controller`` (linuxbridge network driver) and one ``pocketstack
    network-agent`` for lab host ``host1`` that a test can kill -9 and start again.

    Args:
        tmp: a directory of the test's own (state directories go under it).
        mode: ``embedded`` (SQLite, filesystem bus) or ``distributed`` (PostgreSQL,
            RabbitMQ).
    """

    def __init__(self, tmp: Path, mode: str):
        self.mode = mode
        self.state_dir = tmp / "controller"
        self.agent_state = tmp / "host1"
        self.lab = Lab(random_prefix(), 1)
        self.host = self.lab.hosts[0]
        self.name = f"pstest_{uuid.uuid4().hex[:10]}"
        self.backends = False
        port = free_port()
        if mode == "distributed":
            self.transport = f"{AMQP_URL}/{self.name}"
            database = ["--database", f"{PG_ADMIN_URL}/{self.name}"]
        else:
            self.transport = f"filesystem://{self.state_dir / 'bus'}"
            database = []
        common = ["--network-driver", "linuxbridge", "--transport", self.transport]
        self.controller_flags = [
            *_common_flags(self.state_dir, port, "fake"),
            *common,
            *database,
            *SERVER_TIMERS,
        ]
        self.agent_flags = [
            "--state-dir",
            str(self.agent_state),
            *common,
            "--hostname",
            self.host.hostname,
            "--netns",
            self.host.netns,
            "--local-ip",
            self.host.local_ip,
            "--tunnel-interface",
            self.host.tunnel_interface,
            "--physical-interface-mappings",
            self.host.physical_interface_mappings,
            "--network-node",
            *AGENT_TIMERS,
        ]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("POCKETSTACK_")}
        self.controller: subprocess.Popen | None = None
        self.agent: subprocess.Popen | None = None
        self.cloud = RunningCloud(f"http://127.0.0.1:{port}", self.state_dir, [])

    def start(self) -> RunningCloud:
        """The lab's namespaces, the backends (distributed), the controller, the agent."""
        self.lab.setup()
        if self.mode == "distributed":
            self.remove_backends = distributed_backends(self.name)
            self.backends = True
        else:
            (self.state_dir / "bus").mkdir(parents=True, exist_ok=True)
        self.controller = _start(["controller", *self.controller_flags], self.env)
        _wait_ready(self.controller, "ready in", 180)
        self.cloud.procs = [self.controller]
        self.start_agent()
        return self.cloud

    def start_agent(self) -> None:
        """``pocketstack network-agent`` until it says it is ready."""
        self.agent = _start(["network-agent", *self.agent_flags], self.env)
        _wait_ready(self.agent, "ready", 60)

    def kill9_agent(self) -> None:
        assert self.agent is not None
        self.agent.send_signal(signal.SIGKILL)
        self.agent.wait()

    def log(self) -> str:
        """The controller's and the agent's logs, for failure messages."""
        files = sorted((self.state_dir / "logs").glob("*.log"))
        files += sorted((self.agent_state / "logs").glob("*.log"))
        return "\n".join(p.read_text()[-15000:] for p in files)

    def close(self) -> None:
        """Stop both processes, remove the lab (and the DHCP and router namespaces and
        dnsmasq the agent left, found from its markers), the backends and the state."""
        # the agent first: stopped after the controller, it would wait out its round's
        # get_host_state call (30 s) to a server that is gone
        _stop([p for p in (self.controller, self.agent) if p is not None])
        extra = [
            prefix + marker.name
            for folder, prefix in (("dhcp", "qdhcp-"), ("l3", "qrouter-"))
            if (self.agent_state / folder).is_dir()
            for marker in (self.agent_state / folder).iterdir()
        ]
        self.lab.teardown(tuple(extra))
        if self.backends:
            self.remove_backends()


@pytest.fixture
def agent_cloud(tmp_path: Path) -> Iterator[AgentCloud]:
    """A started ``AgentCloud`` in ``$POCKETSTACK_TEST_MODE``; closed after the test."""
    ac = AgentCloud(tmp_path, os.environ.get("POCKETSTACK_TEST_MODE", "embedded"))
    try:
        ac.start()
        yield ac
    finally:
        ac.close()


# ---------------------------------------------------------------------- what the host has


def _link_names(netns: str) -> dict[str, dict[str, Any]]:
    return {entry["ifname"]: entry for entry in ip_lib.links(netns)}


def _port_chains(netns: str) -> set[str]:
    """The chains of table ``bridge pocketstack`` in ``netns`` (empty: no table)."""
    try:
        listing = ip_lib.nft_json(["list", "table", "bridge", "pocketstack"], netns)
    except ip_lib.NetworkDriverError:
        return set()
    return {item["chain"]["name"] for item in listing if "chain" in item}


def _nft_tables(netns: str) -> list[str]:
    listing = ip_lib.nft_json(["list", "tables"], netns)
    return [f"{t['table']['family']} {t['table']['name']}" for t in listing if "table" in t]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _ports(conn: Any, network_ids: set[str]) -> dict[str, str]:
    """{port id: status} of the guests' ports (device_owner empty) on ``network_ids``."""
    return {
        p.id: p.status
        for p in conn.network.ports()
        if p.network_id in network_ids and not p.device_owner
    }


# ---------------------------------------------------------------------- the test


def test_a_killed_agent_restarts_and_wires_every_port_and_removes_what_went(agent_cloud):
    ac = agent_cloud
    ns = ac.host.netns
    conn = ac.cloud.sdk(ADMIN)
    kept = conn.network.create_network(name="kept")
    conn.network.create_subnet(network_id=kept.id, cidr="10.91.0.0/24", ip_version=4)
    gone = conn.network.create_network(name="gone")
    gone_subnet = conn.network.create_subnet(network_id=gone.id, cidr="10.92.0.0/24", ip_version=4)
    router = conn.network.create_router(name="r")
    conn.network.add_interface_to_router(router, subnet_id=gone_subnet.id)

    def bound_port(network_id: str, cli: bool = False) -> str:
        """A port bound to host1 and its tap, as compute's bind and QEMU driver make them
        (with ``cli``: ``openstack port create --host host1``)."""
        if cli:
            args = ("port", "create", "--network", network_id, "--host", "host1", "p")
            port_id = str(ac.cloud.openstack(*args, cloud=ADMIN)["id"])
        else:
            port_id = conn.network.create_port(network_id=network_id, binding_host_id="host1").id
        ip_lib.ensure_tap(ip_lib.tap_name(port_id), 1450, ns)
        return port_id

    # "gone" gets a port, so the agent makes its bridge, VXLAN device, DHCP server and router
    gone_port = bound_port(gone.id)

    def gone_made() -> bool:
        return (
            all(
                ip_lib.netns_exists(name)
                for name in (dhcp_namespace(gone.id), router_namespace(router.id))
            )
            and (ac.agent_state / "dhcp" / gone.id / "pid").exists()
            and f"port-{gone_port[:11]}-ingress" in _port_chains(ns)
        )

    wait_until(gone_made, 30, "gone's DHCP and router namespaces, its port's chain", detail=ac.log)
    dnsmasq = int((ac.agent_state / "dhcp" / gone.id / "pid").read_text())
    assert _alive(dnsmasq)
    # ports while the agent runs; it is killed right after a create (the round that bind
    # fanned out is under way or about to be); the rest are created while it is dead
    first = [bound_port(kept.id) for _ in range(3)]
    ac.kill9_agent()
    rest = [bound_port(kept.id, cli=True)] + [bound_port(kept.id) for _ in range(2)]
    kept_ports = first + rest

    # while the agent is dead, "gone", its port (and the guest's tap, as the compute driver
    # deletes it) and its router are deleted
    conn.network.remove_interface_from_router(router, subnet_id=gone_subnet.id)
    conn.network.delete_router(router)
    conn.network.delete_port(gone_port)
    ip_lib.delete_link(ip_lib.tap_name(gone_port), ns)
    conn.network.delete_network(gone)
    assert _ports(conn, {kept.id}).keys() == set(kept_ports)
    assert "ACTIVE" not in {_ports(conn, {kept.id})[p] for p in rest}  # no agent: not wired

    ac.start_agent()

    def all_active() -> bool:
        return set(_ports(conn, {kept.id}).values()) == {"ACTIVE"}

    wait_until(
        all_active, 30, "every port ACTIVE", detail=lambda: f"{_ports(conn, {kept.id})}\n{ac.log()}"
    )
    links = _link_names(ns)
    bridge = ip_lib.bridge_name(kept.id)
    for port_id in kept_ports:
        tap = links[ip_lib.tap_name(port_id)]
        assert tap.get("master") == bridge, tap
    assert {f"port-{p[:11]}-ingress" for p in kept_ports} <= _port_chains(ns)
    assert {f"port-{p[:11]}-egress" for p in kept_ports} <= _port_chains(ns)
    assert f"port-{gone_port[:11]}-ingress" not in _port_chains(ns)
    # nothing of "gone" is left: the bridge-side taps of its DHCP and router veths, bridge,
    # VXLAN device, DHCP namespace and its dnsmasq, router namespace
    dhcp = [p.id for p in conn.network.ports(network_id=kept.id, device_owner="network:dhcp")]
    taps = {ip_lib.tap_name(p) for p in kept_ports + dhcp}
    assert {name for name in links if name.startswith("tap")} == taps
    assert ip_lib.bridge_name(gone.id) not in links
    assert ip_lib.vxlan_name(gone.provider_segmentation_id) not in links
    assert not ip_lib.netns_exists(dhcp_namespace(gone.id))
    assert not ip_lib.netns_exists(router_namespace(router.id))
    assert not _alive(dnsmasq)
    assert not (ac.agent_state / "dhcp" / gone.id).exists()
    assert not (ac.agent_state / "l3" / router.id).exists()
    assert ip_lib.vxlan_name(kept.provider_segmentation_id) in links
    assert ip_lib.netns_exists(dhcp_namespace(kept.id))

    # the user deletes the rest: the host is left with nothing of pocketstack's
    for port_id in kept_ports:
        conn.network.delete_port(port_id)
        ip_lib.delete_link(ip_lib.tap_name(port_id), ns)
    conn.network.delete_network(kept)

    def clean() -> list[str]:
        names = _link_names(ns)
        left = [n for n in names if n.startswith(("brq", "vxlan-", "tap"))]
        left += [t for t in _nft_tables(ns) if "pocketstack" in t]
        ours = {dhcp_namespace(kept.id), dhcp_namespace(gone.id), router_namespace(router.id)}
        left += [n for n in ip_lib.list_netns() if n in ours]
        return left

    wait_until(lambda: not clean(), 30, "nothing left on the host", detail=lambda: str(clean()))
