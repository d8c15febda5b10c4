"""The lab's namespaces, bridges and veths (docs/network-dataplane.md, "The lab").

    <prefix>-underlay   br-underlay (no address)    <- veth -> each host's eth-underlay
    <prefix>-ext        br-ext 172.24.4.1/24        <- veth -> host1's eth-ext (no address)
    <prefix>-host<i>    lo up, eth-underlay 10.255.0.(10+i)/24 (its local_ip)
    root namespace      ps-ul-<hash> 10.255.0.1/24  <- veth -> br-underlay (u-<hash>-0)

The root namespace's underlay address is the controller's: the object store's proxy there
reaches the storage nodes that run in the hosts' namespaces on their underlay addresses.

host1 is the network node: its ``eth-ext`` is the flat ``public`` network's physical
interface (``physical_interface_mappings = "public:eth-ext"``) and ``br-ext``'s address is
the external network's gateway, "the outside world" that never leaves the machine.

Every name is made here: namespaces ``<prefix>-...``, and inside them short fixed names
(``eth-underlay``, ``br-ext``...) plus the bridge-side veth ends ``u-<hash>-<i>`` and
``x-<hash>-<i>`` (``<hash>``: 6 hex digits of the prefix) and the root namespace's
underlay end ``ps-ul-<hash>`` (its bridge end ``u-<hash>-0``), all within the kernel's 15
characters. Two labs with different prefixes (a developer's ``pocketstack`` and a test's
``pst1a2b``) live side by side. ``setup`` is idempotent and adopts what an earlier run left;
``teardown`` stops the processes inside the lab's namespaces (QEMU, dnsmasq) and deletes
them, which destroys every device inside.

Only root can do this (network namespaces); commands go through
``pocketstack.network.drivers.ip_lib`` and fail with its ``NetworkDriverError``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import signal
import string
import time
from dataclasses import dataclass
from typing import Any

from pocketstack.network.drivers import ip_lib

LOG = logging.getLogger(__name__)

UNDERLAY_BRIDGE = "br-underlay"
EXT_BRIDGE = "br-ext"
UNDERLAY_INTERFACE = "eth-underlay"
EXT_INTERFACE = "eth-ext"
#: The underlay's /24: host i has .(10+i).
UNDERLAY_NET = "10.255.0"
#: The root namespace's (the controller's) underlay address.
CONTROLLER_UNDERLAY_CIDR = f"{UNDERLAY_NET}.1/24"
#: Start of the root namespace's underlay link, ``ps-ul-<hash>`` (tests/leaks.py counts it).
ROOT_UNDERLAY_PREFIX = "ps-ul-"
#: br-ext's address: the external network's gateway (public 172.24.4.0/24, as DevStack's).
EXT_GATEWAY_CIDR = "172.24.4.1/24"
#: Flat physical network on the network node's eth-ext.
PUBLIC_PHYSNET = "public"
#: The most hosts one lab holds (addresses .11 to .254 of the underlay).
MAX_HOSTS = 244
#: Seconds ``teardown`` waits for SIGTERMed processes before SIGKILL.
STOP_TIMEOUT = 5.0


def random_prefix() -> str:
    """A fresh lab prefix for a test: ``pst`` and 4 random lowercase letters/digits."""
    alphabet = string.ascii_lowercase + string.digits
    return "pst" + "".join(secrets.choice(alphabet) for _ in range(4))


@dataclass(frozen=True)
class LabHost:
    """One lab host: what its compute and network agents are configured with.

    Attributes:
        index: 1..N.
        hostname: ``host<index>``, the compute service's and the agents' host name.
        netns: its namespace, ``<prefix>-host<index>``.
        local_ip: its underlay address (VXLAN endpoint), ``10.255.0.(10+index)``.
        tunnel_interface: ``eth-underlay``.
        physical_interface_mappings: ``public:eth-ext`` on the network node, else empty.
        network_node: True for host1 (DHCP and L3 roles).
    """

    index: int
    hostname: str
    netns: str
    local_ip: str
    tunnel_interface: str
    physical_interface_mappings: str
    network_node: bool

    def options(self) -> dict[str, Any]:
        """This host's configuration options (``Config.replace(**host.options())``)."""
        return {
            "hostname": self.hostname,
            "netns": self.netns,
            "local_ip": self.local_ip,
            "tunnel_interface": self.tunnel_interface,
            "physical_interface_mappings": self.physical_interface_mappings,
            "network_node": self.network_node,
        }


class Lab:
    """The lab's namespaces and "physical" links for ``hosts`` hosts.

    Args:
        prefix: start of every namespace name (letters, digits, ``-``; at most 32).
        hosts: number of hosts, 1..``MAX_HOSTS``.
        external_on_host: put the outside world's bridge in the root namespace (a bridge
            ``x-<hash>`` with ``172.24.4.1/24``) instead of ``<prefix>-ext``, so a user on
            this machine reaches floating IPs. Never used by tests.

    Raises:
        ValueError: a bad prefix or host count.
    """

    def __init__(self, prefix: str = "pocketstack", hosts: int = 1, external_on_host: bool = False):
        if not prefix or len(prefix) > 32 or not all(c.isalnum() or c == "-" for c in prefix):
            raise ValueError(f"lab prefix {prefix!r}: use 1 to 32 letters, digits or '-'")
        if not 1 <= hosts <= MAX_HOSTS:
            raise ValueError(f"lab hosts: {hosts} is not between 1 and {MAX_HOSTS}")
        self.prefix = prefix
        self.external_on_host = external_on_host
        self.tag = hashlib.sha256(prefix.encode()).hexdigest()[:6]
        self.underlay_netns = f"{prefix}-underlay"
        self.ext_netns: str | None = None if external_on_host else f"{prefix}-ext"
        self.ext_bridge = f"x-{self.tag}" if external_on_host else EXT_BRIDGE
        self.root_underlay = f"{ROOT_UNDERLAY_PREFIX}{self.tag}"
        self.controller_ip = CONTROLLER_UNDERLAY_CIDR.split("/")[0]
        self.hosts = [
            LabHost(
                index=i,
                hostname=f"host{i}",
                netns=f"{prefix}-host{i}",
                local_ip=f"{UNDERLAY_NET}.{10 + i}",
                tunnel_interface=UNDERLAY_INTERFACE,
                physical_interface_mappings=f"{PUBLIC_PHYSNET}:{EXT_INTERFACE}" if i == 1 else "",
                network_node=i == 1,
            )
            for i in range(1, hosts + 1)
        ]

    @property
    def namespaces(self) -> list[str]:
        """Every namespace of the lab: underlay, ext (unless on the host), the hosts."""
        names = [self.underlay_netns, *([self.ext_netns] if self.ext_netns else [])]
        return names + [h.netns for h in self.hosts]

    def host(self, hostname: str) -> LabHost:
        """The host called ``hostname``; KeyError when the lab has none."""
        for host in self.hosts:
            if host.hostname == hostname:
                return host
        raise KeyError(hostname)

    # -- building ---------------------------------------------------------------------

    def setup(self) -> list[LabHost]:
        """Make the lab exist as described above; what already exists is kept.

        Returns:
            the hosts, host1 first.

        Raises:
            NetworkDriverError: a command failed (not root, iproute2 missing...).
        """
        ip_lib.ensure_netns(self.underlay_netns)
        self._bridge(UNDERLAY_BRIDGE, self.underlay_netns, None)
        self._uplink(
            None, self.root_underlay, f"u-{self.tag}-0", self.underlay_netns, UNDERLAY_BRIDGE
        )
        ip_lib.set_addresses(self.root_underlay, [CONTROLLER_UNDERLAY_CIDR])
        others = [
            str(link["ifname"])
            for link in ip_lib.links()
            if str(link.get("ifname", "")).startswith(ROOT_UNDERLAY_PREFIX)
            and link.get("ifname") != self.root_underlay
        ]
        if others:  # the same /24 on several links: the root namespace routes to one lab only
            LOG.warning(
                "lab %s: other labs' underlay links %s share 10.255.0.0/24", self.prefix, others
            )
        if self.ext_netns:
            ip_lib.ensure_netns(self.ext_netns)
        self._bridge(self.ext_bridge, self.ext_netns, EXT_GATEWAY_CIDR)
        for host in self.hosts:
            ip_lib.ensure_netns(host.netns)
            self._uplink(
                host.netns,
                UNDERLAY_INTERFACE,
                f"u-{self.tag}-{host.index}",
                self.underlay_netns,
                UNDERLAY_BRIDGE,
            )
            ip_lib.add_address(UNDERLAY_INTERFACE, f"{host.local_ip}/24", host.netns)
            if host.network_node:
                self._uplink(
                    host.netns,
                    EXT_INTERFACE,
                    f"x-{self.tag}-{host.index}",
                    self.ext_netns,
                    self.ext_bridge,
                )
        self._drop_extra_hosts()
        LOG.info("lab %s: %d hosts ready", self.prefix, len(self.hosts))
        return list(self.hosts)

    def _drop_extra_hosts(self) -> None:
        """Delete the namespaces of hosts an earlier, larger lab of this prefix had
        (``<prefix>-host<j>``, j > N) when nothing runs in them; one with processes (guests)
        is kept and logged, never killed."""
        pattern = re.compile(re.escape(self.prefix) + r"-host(\d+)")
        for name in ip_lib.list_netns():
            match = pattern.fullmatch(name)
            if not match or int(match.group(1)) <= len(self.hosts):
                continue
            if ip_lib.netns_pids(name):
                LOG.warning(
                    "lab %s: %s is not in the lab any more but runs processes; kept",
                    self.prefix,
                    name,
                )
                continue
            ip_lib.delete_netns(name)

    @staticmethod
    def _bridge(name: str, netns: str | None, cidr: str | None) -> None:
        """Bridge ``name`` in ``netns``, up, with ``cidr`` as its only address (or none)."""
        if not ip_lib.link_exists(name, netns):
            ip_lib.ip(["link", "add", name, "type", "bridge"], netns)
        ip_lib.set_addresses(name, [cidr] if cidr else [], netns)
        ip_lib.set_link(name, netns, up=True)

    @staticmethod
    def _uplink(
        netns: str | None, name: str, peer: str, peer_netns: str | None, bridge: str
    ) -> None:
        """The veth ``name`` (in ``netns``) <-> ``peer`` (in ``peer_netns``, enslaved to
        ``bridge``), both up; a half left by an interrupted run is replaced. ``None``:
        the root namespace."""
        if not ip_lib.link_exists(peer, peer_netns):
            ip_lib.delete_link(name, netns)
            ip_lib.add_veth(name, peer, netns=netns, peer_netns=peer_netns or "1")
        elif not ip_lib.link_exists(name, netns):
            ip_lib.delete_link(peer, peer_netns)
            ip_lib.add_veth(name, peer, netns=netns, peer_netns=peer_netns or "1")
        ip_lib.set_link(peer, peer_netns, master=bridge)
        ip_lib.set_link(peer, peer_netns, up=True)
        ip_lib.set_link(name, netns, up=True)

    # -- tearing down -----------------------------------------------------------------

    def exists(self) -> bool:
        """Whether any namespace of the lab (or its root underlay link) exists."""
        return any(ip_lib.netns_exists(name) for name in self.namespaces) or (
            ip_lib.link_exists(self.root_underlay)
        )

    def teardown(self, extra_namespaces: tuple[str, ...] = ()) -> None:
        """Stop every process inside the lab's namespaces (and ``extra_namespaces``: the
        DHCP and router namespaces of its network node), SIGTERM then SIGKILL after
        ``STOP_TIMEOUT``, then delete those namespaces (and the devices in them). What is
        already gone is skipped.

        Raises:
            NetworkDriverError: a namespace could not be deleted.
        """
        names = [*self.namespaces, *extra_namespaces]
        _stop_processes([pid for name in names for pid in ip_lib.netns_pids(name)])
        for name in names:
            ip_lib.delete_netns(name)
        ip_lib.delete_link(self.root_underlay)  # usually gone with its peer's namespace
        if self.external_on_host:
            ip_lib.delete_link(self.ext_bridge)
        LOG.info("lab %s: torn down", self.prefix)


def _stop_processes(pids: list[int]) -> None:
    """SIGTERM ``pids``, wait up to ``STOP_TIMEOUT`` for them to go, SIGKILL the rest."""
    me = os.getpid()
    pids = [pid for pid in set(pids) if pid != me]
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while pids and time.monotonic() < deadline:
        pids = [pid for pid in pids if _alive(pid)]
        time.sleep(0.05)
    for pid in pids:
        _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie child counts as gone: it is reaped here)."""
    try:
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done:
            return False
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False
