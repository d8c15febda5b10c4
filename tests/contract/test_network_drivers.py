"""The network driver contract (``pocketstack.network.drivers.base``), run against every driver
registered in ``pocketstack.common.drivers.NETWORK_DRIVERS``.

What a driver does to the host cannot be seen the same way for every driver (the noop driver
wires nothing), so these tests check the rules every driver keeps: idempotent calls, removing
what is gone succeeds, declared capabilities and vif type. A driver that needs privileges or a
namespace (linuxbridge) gets them from ``Harness`` and may add its own checks of the host.
"""

from __future__ import annotations

import uuid as uuidlib
from pathlib import Path
from typing import Any

import pytest

from pocketstack.common.config import Config
from pocketstack.common.drivers import NETWORK_DRIVERS
from pocketstack.network.drivers.base import NetworkDriver

HOST = "test-host"


class Harness:
    """A driver over a temp state directory, plus network and port dicts to give it."""

    def __init__(self, name: str, state_dir: Path):
        self.name = name
        self.conf = Config.load({"state_dir": str(state_dir)}, environ={})
        self.driver: NetworkDriver = NETWORK_DRIVERS.load(name, self.conf)
        self.networks: list[str] = []
        self.ports: list[str] = []

    def network(self, **changes: Any) -> dict[str, Any]:
        """A VXLAN tenant network as the Networking API shows it."""
        net = {
            "id": str(uuidlib.uuid4()),
            "name": "net-" + uuidlib.uuid4().hex[:6],
            "mtu": 1450,
            "admin_state_up": True,
            "provider:network_type": "vxlan",
            "provider:segmentation_id": 1000 + len(self.networks),
            "provider:physical_network": None,
            "router:external": False,
            "shared": False,
            "status": "ACTIVE",
        }
        net.update(changes)
        self.networks.append(net["id"])
        return net

    def port(self, network: dict[str, Any], **changes: Any) -> dict[str, Any]:
        """A compute port of ``network`` bound to this host."""
        port_id = str(uuidlib.uuid4())
        port = {
            "id": port_id,
            "network_id": network["id"],
            "mac_address": "fa:16:3e:" + ":".join(port_id[i : i + 2] for i in (0, 2, 4)),
            "fixed_ips": [{"subnet_id": str(uuidlib.uuid4()), "ip_address": "10.0.0.5"}],
            "device_owner": "compute:nova",
            "device_id": str(uuidlib.uuid4()),
            "admin_state_up": True,
            "binding:host_id": HOST,
            "binding:vif_type": self.driver.vif_type,
            "security_groups": [],
        }
        port.update(changes)
        self.ports.append(port_id)
        return port

    def cleanup(self) -> None:
        """Unplug every port and delete every network the test made."""
        for port_id in self.ports:
            self.driver.unplug_vif(port_id, HOST)
        for network_id in self.networks:
            self.driver.delete_network(network_id)


@pytest.fixture(params=NETWORK_DRIVERS.names)
def h(request, tmp_path):
    harness = Harness(request.param, tmp_path / "state")
    try:
        yield harness
    finally:
        harness.cleanup()


def test_registered_under_its_name(h):
    assert isinstance(h.driver, NetworkDriver)
    assert h.driver.name == h.name


def test_capabilities_declared(h):
    caps = h.driver.capabilities
    assert set(caps) >= {"dhcp", "security_groups", "vxlan", "external"}
    assert all(isinstance(v, bool) for v in caps.values())


def test_vif_type_declared(h):
    assert isinstance(h.driver.vif_type, str) and h.driver.vif_type
    assert h.driver.vif_type != "unbound"


def test_ensure_network_is_idempotent(h):
    net = h.network()
    h.driver.ensure_network(net)
    h.driver.ensure_network(net)
    h.driver.ensure_network(dict(net, mtu=1400))  # a changed network is applied, not refused


def test_delete_network_twice_and_unknown_succeeds(h):
    net = h.network()
    h.driver.ensure_network(net)
    h.driver.delete_network(net["id"])
    h.driver.delete_network(net["id"])
    h.driver.delete_network(str(uuidlib.uuid4()))  # never existed


def test_plug_vif_is_idempotent(h):
    net = h.network()
    h.driver.ensure_network(net)
    port = h.port(net)
    h.driver.plug_vif(port, HOST)
    h.driver.plug_vif(port, HOST)


def test_unplug_twice_and_unknown_succeeds(h):
    net = h.network()
    h.driver.ensure_network(net)
    port = h.port(net)
    h.driver.plug_vif(port, HOST)
    h.driver.unplug_vif(port["id"], HOST)
    h.driver.unplug_vif(port["id"], HOST)
    h.driver.unplug_vif(str(uuidlib.uuid4()), HOST)  # never plugged


def test_network_with_ports_plugged_again_after_delete(h):
    """Deleting a network and making it again (an agent restart's resync) works."""
    net = h.network()
    h.driver.ensure_network(net)
    port = h.port(net)
    h.driver.plug_vif(port, HOST)
    h.driver.unplug_vif(port["id"], HOST)
    h.driver.delete_network(net["id"])
    h.driver.ensure_network(net)
    h.driver.plug_vif(port, HOST)


def test_several_networks_and_ports(h):
    nets = [h.network() for _ in range(3)]
    for net in nets:
        h.driver.ensure_network(net)
    ports = [h.port(net) for net in nets for _ in range(2)]
    for port in ports:
        h.driver.plug_vif(port, HOST)
    for port in ports[::2]:
        h.driver.unplug_vif(port["id"], HOST)
