"""Hosts and guests for the L2 and firewall driver tests, on top of ``sandbox.Sandbox``.

A *host* is a namespace standing in for a hypervisor (what ``netns`` of a driver names); a
*guest* is a namespace whose ``eth0`` is one end of a veth pair whose other end, in the host,
is called ``tap<port_id[:11]>`` as the compute driver names a guest's NIC. Packets only travel
between these namespaces (``ip netns exec <guest> ...``).
"""

from __future__ import annotations

import json
import math
import subprocess
import uuid
from types import SimpleNamespace
from typing import Any

from pocketstack.network.drivers import ip_lib
from pocketstack.network.drivers.linuxbridge import LinuxBridgeDriver
from tests.helpers import wait_until
from tests.unit.network.drivers.sandbox import Sandbox, sh


def port(network_id: str, ip: str, **changes: Any) -> dict[str, Any]:
    """A compute port of the host state with one fixed IP."""
    port_id = str(uuid.uuid4())
    body = {
        "id": port_id,
        "network_id": network_id,
        "mac_address": "fa:16:3e:" + ":".join(port_id[i : i + 2] for i in (0, 2, 4)),
        "device_owner": "compute:nova",
        "admin_state_up": True,
        "fixed_ips": [{"subnet_id": "subnet-1", "ip_address": ip}],
        "port_security_enabled": True,
        "allowed_address_pairs": [],
        "security_group_ids": [],
    }
    body.update(changes)
    return body


def vxlan_network(
    vni: int, remote_vteps: list[str] | None = None, **changes: Any
) -> dict[str, Any]:
    """A VXLAN tenant network of the host state."""
    net = {
        "id": str(uuid.uuid4()),
        "name": f"net{vni}",
        "mtu": 1450,
        "network_type": "vxlan",
        "segmentation_id": vni,
        "physical_network": None,
        "remote_vteps": list(remote_vteps or []),
    }
    net.update(changes)
    return net


def plug_guest(box: Sandbox, host: str, port: dict[str, Any], prefixlen: int = 24) -> str:
    """A guest namespace for ``port``: ``eth0`` with the port's MAC and first fixed IP, its
    peer ``tap<port_id[:11]>`` left unattached in ``host`` (the L2 driver's job)."""
    guest = box.netns("g" + port["id"][:6])
    tap = ip_lib.tap_name(port["id"])
    sh("ip", "-n", host, "link", "add", tap, "type", "veth", "peer", "name", "eth0",
       "netns", guest)  # fmt: skip
    sh("ip", "-n", guest, "link", "set", "eth0", "address", port["mac_address"], "up")
    ip = port["fixed_ips"][0]["ip_address"]
    sh("ip", "-n", guest, "addr", "add", f"{ip}/{prefixlen}", "dev", "eth0")
    return guest


def link_ready(netns: str, device: str) -> bool:
    """Whether ``device`` in ``netns`` is up with its queue activated: the kernel activates a
    device's qdisc from linkwatch, up to a second after carrier, and drops what is sent
    before (so a first ping right after wiring would be lost)."""
    out = json.loads(sh("ip", "-j", "link", "show", "dev", device, netns=netns))
    return out[0]["operstate"] == "UP" and out[0].get("qdisc") != "noop"


def wait_wired(host: str, guest: str, port: dict[str, Any]) -> None:
    """Wait until both ends of ``port``'s veth can carry packets."""
    tap = ip_lib.tap_name(port["id"])
    wait_until(
        lambda: link_ready(guest, "eth0") and link_ready(host, tap), 5, f"{tap} carries packets"
    )


def ping(guest: str, address: str, wait: float = 2.0) -> bool:
    """Whether one ICMP echo from ``guest`` to ``address`` is answered within ``wait`` s
    (an answer ends the wait at once)."""
    argv = ["timeout", str(wait), "ip", "netns", "exec", guest, "busybox", "ping", "-c1",
            f"-W{math.ceil(wait)}", address]  # fmt: skip
    return subprocess.run(argv, capture_output=True, timeout=30, check=False).returncode == 0


def unreachable(guest: str, address: str) -> bool:
    """Whether an ICMP echo from ``guest`` to ``address`` goes unanswered for half a second
    (between namespaces of one machine an answer, ARP included, takes milliseconds)."""
    return not ping(guest, address, wait=0.5)


def tx_packets(host: str, device: str) -> int:
    """The transmitted-packets counter of ``device`` in ``host``."""
    out = json.loads(sh("ip", "-s", "-j", "link", "show", "dev", device, netns=host))
    return int(out[0]["stats64"]["tx"]["packets"])


VTEP1, VTEP2 = "10.255.0.11", "10.255.0.12"


class TwoHosts:
    """host1 and host2 with ``eth-underlay`` (a veth between them, VTEP1/VTEP2 /24), each
    with a LinuxBridgeDriver acting in it."""

    def __init__(self, box: Sandbox):
        self.box = box
        self.host1, self.host2 = box.netns("host1"), box.netns("host2")
        sh("ip", "-n", self.host1, "link", "add", "eth-underlay", "type", "veth",
           "peer", "name", "eth-underlay", "netns", self.host2)  # fmt: skip
        self.drivers = {}
        for host, vtep in ((self.host1, VTEP1), (self.host2, VTEP2)):
            sh("ip", "-n", host, "addr", "add", f"{vtep}/24", "dev", "eth-underlay")
            sh("ip", "-n", host, "link", "set", "eth-underlay", "up")
            conf = SimpleNamespace(
                local_ip=vtep,
                tunnel_interface="eth-underlay",
                physical_interface_mappings="public:eth-ext",
            )
            self.drivers[host] = LinuxBridgeDriver(conf, netns=host)

    def close(self) -> None:
        for driver in self.drivers.values():
            driver.cleanup()
