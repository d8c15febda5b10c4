"""DnsmasqDhcp against the real kernel and a real dnsmasq: guests in throwaway namespaces on a
bridge ask for leases with busybox udhcpc and get what the host state says."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pocketstack.common.config import Config
from pocketstack.network.drivers.base import NetworkDriverError
from pocketstack.network.drivers.dhcp import DnsmasqDhcp, namespace_name
from tests.helpers import wait_until
from tests.unit.network.drivers.sandbox import Sandbox, netns_exists, process_runs, sh

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")

GUEST1_MAC = "fa:16:3e:00:00:05"
GUEST2_MAC = "fa:16:3e:00:00:06"


@pytest.fixture
def dhcp(tmp_path: Path, sandbox: Sandbox) -> Iterator[DnsmasqDhcp]:
    """The driver acting in the sandbox's ``host`` namespace; cleaned up after the test."""
    host = sandbox.netns("host")
    conf = Config.load({"state_dir": str(tmp_path / "state")}, environ={})
    driver = DnsmasqDhcp(conf, netns=host, state_dir=str(tmp_path / "state"))
    yield driver
    driver.cleanup()


def network(network_id: str, hosts: list[dict[str, Any]], **subnet: Any) -> dict[str, Any]:
    """A host state ``dhcp`` item: one subnet 10.0.0.0/24, the DHCP port on 10.0.0.2."""
    subnet_id = str(uuid.uuid4())
    return {
        "network_id": network_id,
        "mtu": 1450,
        "port": {
            "id": str(uuid.uuid4()),
            "mac_address": "fa:16:3e:00:00:02",
            "fixed_ips": [{"subnet_id": subnet_id, "ip_address": "10.0.0.2"}],
        },
        "subnets": [
            {
                "id": subnet_id,
                "cidr": "10.0.0.0/24",
                "gateway_ip": "10.0.0.1",
                "dns_nameservers": [],
                "host_routes": [],
                **subnet,
            }
        ],
        "hosts": hosts,
    }


def host(mac: str, ip: str, hostname: str = "", **opts: str) -> dict[str, Any]:
    """A host entry as ``host_state`` sends it (a port's IPv4 extra DHCP options)."""
    return {
        "mac_address": mac,
        "ip_address": ip,
        "hostname": hostname,
        "extra_dhcp_opts": [
            {"opt_name": k, "opt_value": v, "ip_version": 4} for k, v in opts.items()
        ],
    }


def bridged_guests(
    sandbox: Sandbox, dhcp: DnsmasqDhcp, *macs: str, mtu: int = 1500
) -> tuple[str, list[str]]:
    """A new network id, its bridge ``brq<id>`` in the driver's namespace and a guest
    (``g1``, ``g2``...) on it per MAC; returns the id and the guests' namespaces."""
    net_id = str(uuid.uuid4())
    host_ns = dhcp.netns
    assert host_ns
    bridge = sandbox.bridge(host_ns, "brq" + net_id[:11], mtu=mtu)
    guests = [sandbox.guest(f"g{i}", host_ns, bridge, mac) for i, mac in enumerate(macs, 1)]
    return net_id, guests


def test_guests_get_their_fixed_ip_router_mtu_and_a_new_port_without_a_restart(
    sandbox: Sandbox, dhcp: DnsmasqDhcp
) -> None:
    net_id, (guest1, guest2) = bridged_guests(sandbox, dhcp, GUEST1_MAC, GUEST2_MAC, mtu=1450)
    wanted = network(
        net_id,
        [host(GUEST1_MAC, "10.0.0.5", "vm-one")],
        dns_nameservers=["10.0.0.53"],
        host_routes=[{"destination": "192.168.7.0/24", "nexthop": "10.0.0.7"}],
    )

    assert dhcp.sync([wanted]) == {net_id: "started"}

    lease = sandbox.udhcpc(guest1)
    assert lease["ip"] == "10.0.0.5"
    assert lease["mask"] == "24"
    assert lease["router"] == "10.0.0.1"
    assert lease["mtu"] == "1450"
    assert lease["dns"] == "10.0.0.53"
    assert lease["hostname"] == "vm-one"
    assert lease["staticroutes"] == "192.168.7.0/24 10.0.0.7 0.0.0.0/0 10.0.0.1"
    assert sandbox.udhcpc(guest2, tries=1) == {}  # not a host of the network yet
    assert dhcp.sync([wanted]) == {net_id: "unchanged"}
    pid = dhcp.pid(net_id)

    wanted["hosts"].append(host(GUEST2_MAC, "10.0.0.6", **{"domain-name": "example.test"}))
    assert dhcp.sync([wanted]) == {net_id: "reloaded"}

    lease = sandbox.udhcpc(guest2)
    assert lease["ip"] == "10.0.0.6"
    assert lease["hostname"] == "host-10-0-0-6"
    assert lease["domain"] == "example.test"
    assert sandbox.udhcpc(guest1)["domain"] == ""  # extra options are per port
    assert dhcp.pid(net_id) == pid
    # dnsmasq also answers for the hosts' names
    sh("ip", "addr", "add", "10.0.0.6/24", "dev", "eth0", netns=guest2)
    answer = sh("busybox", "nslookup", "vm-one", "10.0.0.2", netns=guest2, check=False)
    assert "Address: 10.0.0.5" in answer


def test_subnet_changes_restart_dnsmasq_and_removal_kills_it(
    sandbox: Sandbox, dhcp: DnsmasqDhcp
) -> None:
    net_id, (guest,) = bridged_guests(sandbox, dhcp, GUEST1_MAC)
    wanted = network(net_id, [host(GUEST1_MAC, "10.0.0.5")])
    dhcp.sync([wanted])
    first = dhcp.pid(net_id)

    wanted["subnets"][0]["gateway_ip"] = None
    assert dhcp.sync([wanted]) == {net_id: "restarted"}

    assert dhcp.pid(net_id) not in (None, first)
    lease = sandbox.udhcpc(guest)
    assert lease["ip"] == "10.0.0.5"
    assert lease["router"] == ""  # no gateway: no router, not dnsmasq's own address

    pid = dhcp.pid(net_id)
    foreign = namespace_name(str(uuid.uuid4()))  # a qdhcp- namespace that is not ours
    sandbox.namespaces.append(foreign)
    sh("ip", "netns", "add", foreign)
    assert dhcp.sync([]) == {net_id: "removed"}

    assert pid is not None and not process_runs(pid)
    assert not netns_exists(namespace_name(net_id))
    assert not os.path.exists(os.path.join(dhcp.root, net_id))
    assert netns_exists(foreign)
    assert sandbox.udhcpc(guest, tries=1) == {}


def test_a_killed_dnsmasq_or_a_deleted_namespace_converge_on_the_next_sync(
    sandbox: Sandbox, dhcp: DnsmasqDhcp
) -> None:
    net_id, (guest,) = bridged_guests(sandbox, dhcp, GUEST1_MAC)
    wanted = network(net_id, [host(GUEST1_MAC, "10.0.0.5")])
    dhcp.sync([wanted])
    killed = dhcp.pid(net_id)
    assert killed is not None
    os.kill(killed, signal.SIGKILL)
    wait_until(lambda: not process_runs(killed), 5, "dnsmasq to die")

    assert dhcp.sync([wanted]) == {net_id: "started"}
    assert sandbox.udhcpc(guest)["ip"] == "10.0.0.5"

    orphaned = dhcp.pid(net_id)
    assert orphaned is not None
    sh("ip", "netns", "delete", namespace_name(net_id))  # dnsmasq keeps the old one alive
    assert dhcp.sync([wanted]) == {net_id: "restarted"}

    assert not process_runs(orphaned)
    assert sandbox.udhcpc(guest)["ip"] == "10.0.0.5"


def test_an_address_of_a_deleted_port_is_served_to_the_new_port_that_gets_it(
    sandbox: Sandbox, dhcp: DnsmasqDhcp
) -> None:
    net_id, (old_guest, new_guest) = bridged_guests(sandbox, dhcp, GUEST1_MAC, GUEST2_MAC)
    wanted = network(net_id, [host(GUEST1_MAC, "10.0.0.5")])
    dhcp.sync([wanted])
    assert sandbox.udhcpc(old_guest)["ip"] == "10.0.0.5"

    wanted["hosts"] = [host(GUEST2_MAC, "10.0.0.5")]
    dhcp.sync([wanted])

    assert sandbox.udhcpc(new_guest)["ip"] == "10.0.0.5"
    assert sandbox.udhcpc(old_guest, tries=1) == {}


def test_a_bad_network_fails_alone(dhcp: DnsmasqDhcp) -> None:
    good = network(str(uuid.uuid4()), [host(GUEST1_MAC, "10.0.0.5")])
    bad = network("../../etc", [])

    with pytest.raises(NetworkDriverError, match=r"\.\./\.\./etc: invalid network id"):
        dhcp.sync([bad, good])

    assert dhcp.pid(good["network_id"]) is not None
    assert dhcp.networks() == {good["network_id"]}
