"""The network agent with the real linuxbridge parts (bridge, nftables, dnsmasq) acting in a
throwaway host namespace, pulling from the server side of an in-process cloud: a port bound
to the host goes ACTIVE once its tap is wired, and the guest behind it gets the port's
address from the DHCP server the agent started; deleting it all leaves nothing behind.

Packets go only between namespaces this test (or the drivers) made."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.network.agent_reports import NetworkAgentReports
from pocketstack.network.drivers.dhcp import namespace_name
from pocketstack.network.rpcapi import SERVER_MESSAGES, SERVER_TOPIC
from pocketstack.service import Cloud, NetworkHost
from tests.helpers import wait_until
from tests.unit.network.drivers.sandbox import netns_exists, sh

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")

ADMIN = RequestContext(user_id="u-admin", project_id="admin", roles=("admin",))


@pytest.fixture
def cloud(conf, db, bus):
    """A cloud with the linuxbridge driver (the ``network`` fixture drives it)."""
    conf = conf.replace(
        network_driver="linuxbridge",
        hostname="host1",
        agent_report_interval=60,
        agent_sync_interval=60,
    )
    return Cloud(conf, db, bus)


@pytest.fixture
def lab(cloud, bus, sandbox) -> Iterator[tuple[Cloud, NetworkHost, str]]:
    """(cloud, started network host with every role in the sandbox's host namespace, that
    namespace); the drivers clean up after the test."""
    host_ns = sandbox.netns("host")
    bus.serve(SERVER_TOPIC, NetworkAgentReports(cloud), SERVER_MESSAGES)
    host = NetworkHost(cloud.conf, bus, network_node=True, netns=host_ns)
    host.start()
    try:
        yield cloud, host, host_ns
    finally:
        host.stop()
        agent = host.agent
        for part in (agent.dhcp, agent.l3, agent.l2, agent.firewall):
            part.cleanup()
        bus.unserve(SERVER_TOPIC)


def test_a_port_goes_active_and_its_guest_gets_its_address(network, lab, sandbox):
    cloud, host, host_ns = lab
    net_id = network.networks.create(ADMIN, {"name": "n"})["id"]
    network.subnets.create(ADMIN, {"network_id": net_id, "cidr": "10.9.0.0/24"})
    port = network.ports.create(ADMIN, {"network_id": net_id, "binding:host_id": "host1"})
    assert port["status"] == "DOWN" and port["binding:vif_type"] == "bridge"
    tap = "tap" + port["id"][:11]
    # what the compute driver does: the guest's NIC, its host side named tap<port>
    guest = sandbox.netns("guest")
    sh("ip", "-n", host_ns, "link", "add", tap, "type", "veth", "peer", "name", "eth0",
       "netns", guest)  # fmt: skip
    sh("ip", "-n", guest, "link", "set", "eth0", "address", port["mac_address"], "up")
    cloud.network.notify_dataplane()  # as a spawn's bind would

    def status() -> str:
        return str(network.ports.get(ADMIN, port["id"])["status"])

    wait_until(lambda: status() == "ACTIVE", 20, "the port ACTIVE", detail=status)
    assert f"master brq{net_id[:11]}" in sh("ip", "-n", host_ns, "-o", "link", "show", tap)
    # the DHCP server the agent started (in this round, or the next if the DHCP role's
    # first heartbeat reached the server after this round's host state was built)
    wait_until(lambda: netns_exists(namespace_name(net_id)), 20, "the DHCP namespace")
    lease = sandbox.udhcpc(guest, tries=5)
    assert lease.get("ip") == port["fixed_ips"][0]["ip_address"]

    network.ports.delete(ADMIN, port["id"])
    network.networks.delete(ADMIN, net_id)  # takes its DHCP port: the server goes
    wait_until(lambda: not netns_exists(namespace_name(net_id)), 20, "the DHCP namespace gone")
    wait_until(
        lambda: f"brq{net_id[:11]}" not in sh("ip", "-n", host_ns, "-o", "link"),
        20,
        "the bridge gone",
    )
