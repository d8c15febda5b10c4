"""The network driver contract (``pocketstack.network.drivers.base``), run against every driver
registered in ``pocketstack.common.drivers.NETWORK_DRIVERS``.

The contract is level-triggered: ``sync(networks, ports)`` makes the host match and returns the
ports it wired. What a driver does to the host cannot be seen the same way for every driver
(the noop driver wires nothing), so these tests check what every driver promises through
``sync``'s answer: idempotence, removal of what is no longer wanted, ports of unlisted networks
never wired, ``cleanup`` twice. Drivers that touch the kernel (linuxbridge) run inside a
throwaway network namespace; ``Harness.make_device`` gives them the port's tap device the
compute driver would have made.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pocketstack.common.config import Config
from pocketstack.common.drivers import NETWORK_DRIVERS
from pocketstack.network.drivers import ip_lib
from pocketstack.network.drivers.base import NetworkDriver

#: drivers that change the kernel, so run in a namespace of their own
KERNEL_DRIVERS = {"linuxbridge"}


class Harness:
    """A driver (in its own netns when it touches the kernel), plus the host-state dicts to
    give it."""

    def __init__(self, name: str, state_dir: Path):
        self.name = name
        self.netns = f"pstc-{uuidlib.uuid4().hex[:8]}" if name in KERNEL_DRIVERS else None
        if self.netns:
            ip_lib.ensure_netns(self.netns)
        self.conf = Config.load({"state_dir": str(state_dir)}, environ={})
        self.driver: NetworkDriver = NETWORK_DRIVERS.load_class(name)(self.conf, netns=self.netns)
        self.vni = 1000

    def network(self, **changes: Any) -> dict[str, Any]:
        """A VXLAN tenant network as ``get_host_state`` lists it."""
        self.vni += 1
        net = {
            "id": str(uuidlib.uuid4()),
            "name": "net-" + uuidlib.uuid4().hex[:6],
            "mtu": 1450,
            "network_type": "vxlan",
            "segmentation_id": self.vni,
            "physical_network": None,
            "remote_vteps": [],
        }
        net.update(changes)
        return net

    def port(self, network: dict[str, Any], **changes: Any) -> dict[str, Any]:
        """A compute port of ``network`` bound to this host, with its device made."""
        port_id = str(uuidlib.uuid4())
        port = {
            "id": port_id,
            "network_id": network["id"],
            "mac_address": "fa:16:3e:" + ":".join(port_id[i : i + 2] for i in (0, 2, 4)),
            "fixed_ips": [{"subnet_id": str(uuidlib.uuid4()), "ip_address": "10.0.0.5"}],
            "device_owner": "compute:nova",
            "admin_state_up": True,
            "port_security_enabled": True,
            "allowed_address_pairs": [],
            "security_group_ids": [],
        }
        port.update(changes)
        self.make_device(port)
        return port

    def make_device(self, port: dict[str, Any]) -> None:
        """What the compute driver does before the agent wires the port: its tap exists."""
        if self.netns:
            tap = ip_lib.tap_name(port["id"])
            ip_lib.ip(["tuntap", "add", "dev", tap, "mode", "tap"], self.netns)

    def close(self) -> None:
        self.driver.cleanup()
        if self.netns:
            ip_lib.delete_netns(self.netns)


@pytest.fixture(params=NETWORK_DRIVERS.names)
def h(request, tmp_path) -> Iterator[Harness]:
    harness = Harness(request.param, tmp_path / "state")
    try:
        yield harness
    finally:
        harness.close()


def test_registered_under_its_name(h):
    assert isinstance(h.driver, NetworkDriver)
    assert h.driver.name == h.name
    assert h.driver.netns == h.netns


def test_capabilities_declared(h):
    caps = h.driver.capabilities
    assert set(caps) >= {"dhcp", "security_groups", "vxlan", "external"}
    assert all(isinstance(v, bool) for v in caps.values())


def test_vif_type_declared(h):
    assert isinstance(h.driver.vif_type, str) and h.driver.vif_type
    assert h.driver.vif_type != "unbound"


def test_sync_wires_the_ports_and_is_idempotent(h):
    net = h.network()
    ports = [h.port(net), h.port(net)]
    wired = h.driver.sync([net], ports)
    assert wired == {p["id"] for p in ports}
    assert h.driver.sync([net], ports) == wired


def test_a_changed_network_is_applied_not_refused(h):
    net = h.network()
    port = h.port(net)
    h.driver.sync([net], [port])
    assert h.driver.sync([dict(net, mtu=1400)], [port]) == {port["id"]}


def test_ports_of_networks_not_listed_are_not_wired(h):
    net, other = h.network(), h.network()
    port, stray = h.port(net), h.port(other)
    assert h.driver.sync([net], [port, stray]) == {port["id"]}


def test_a_network_no_longer_wanted_is_removed_and_can_come_back(h):
    """An agent's resync after a network was deleted and made again converges."""
    net = h.network()
    port = h.port(net)
    h.driver.sync([net], [port])
    assert h.driver.sync([], []) == set()
    assert h.driver.sync([net], [port]) == {port["id"]}


def test_cleanup_twice_succeeds(h):
    net = h.network()
    h.driver.sync([net], [h.port(net)])
    h.driver.cleanup()
    h.driver.cleanup()


def test_several_networks_and_ports(h):
    nets = [h.network() for _ in range(3)]
    ports = [h.port(net) for net in nets for _ in range(2)]
    assert h.driver.sync(nets, ports) == {p["id"] for p in ports}
    kept = nets[::2]
    assert h.driver.sync(kept, ports) == {
        p["id"] for p in ports if p["network_id"] != nets[1]["id"]
    }
