"""LinuxBridgeDriver against the real kernel: two "hosts" (namespaces) joined by a veth
underlay, guests in namespaces of their own on ``tap<port>`` veths, packets across VXLAN."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from pocketstack.network.drivers import ip_lib
from tests.unit.network.drivers.guests import (
    VTEP1,
    VTEP2,
    TwoHosts,
    ping,
    plug_guest,
    port,
    tx_packets,
    unreachable,
    vxlan_network,
    wait_wired,
)
from tests.unit.network.drivers.sandbox import Sandbox, sh

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")


@pytest.fixture
def hosts(sandbox: Sandbox) -> Iterator[TwoHosts]:
    pair = TwoHosts(sandbox)
    yield pair
    pair.close()


def flood_vteps(host: str, device: str) -> set[str]:
    """The destinations of ``device``'s all-zero (flooding) FDB entries in ``host``."""
    entries = json.loads(sh("bridge", "-j", "fdb", "show", "dev", device, netns=host) or "[]")
    return {e["dst"] for e in entries if e["mac"] == "00:00:00:00:00:00" and "dst" in e}


def link(host: str, name: str) -> dict[str, Any] | None:
    return ip_lib.link(name, host)


def test_guests_on_two_hosts_talk_over_vxlan(hosts, sandbox):
    net = vxlan_network(1001)
    p1, p2 = port(net["id"], "10.0.0.5"), port(net["id"], "10.0.0.6")
    g1, g2 = plug_guest(sandbox, hosts.host1, p1), plug_guest(sandbox, hosts.host2, p2)
    wired1 = hosts.drivers[hosts.host1].sync([dict(net, remote_vteps=[VTEP2])], [p1])
    wired2 = hosts.drivers[hosts.host2].sync([dict(net, remote_vteps=[VTEP1])], [p2])
    assert (wired1, wired2) == ({p1["id"]}, {p2["id"]})
    wait_wired(hosts.host1, g1, p1)
    wait_wired(hosts.host2, g2, p2)

    before = tx_packets(hosts.host1, "vxlan-1001")
    assert ping(g1, "10.0.0.6")
    assert ping(g2, "10.0.0.5")
    assert tx_packets(hosts.host1, "vxlan-1001") > before

    bridge = ip_lib.bridge_name(net["id"])
    vxlan = link(hosts.host1, "vxlan-1001")
    assert vxlan is not None and vxlan["master"] == bridge and vxlan["mtu"] == 1450
    data = vxlan["linkinfo"]["info_data"]
    assert (data["id"], data["port"], data["local"], data["learning"]) == (1001, 4789, VTEP1, False)
    tap = link(hosts.host1, ip_lib.tap_name(p1["id"]))
    assert tap is not None and tap["master"] == bridge and "UP" in tap["flags"]


def test_without_the_remote_vtep_the_guests_do_not_reach_each_other(hosts, sandbox):
    """L2 population: no FDB entry towards a host means no flooding there, so no ARP."""
    net = vxlan_network(1002)
    p1, p2 = port(net["id"], "10.0.0.5"), port(net["id"], "10.0.0.6")
    g1, g2 = plug_guest(sandbox, hosts.host1, p1), plug_guest(sandbox, hosts.host2, p2)
    hosts.drivers[hosts.host1].sync([net], [p1])
    hosts.drivers[hosts.host2].sync([dict(net, remote_vteps=[VTEP1])], [p2])
    wait_wired(hosts.host1, g1, p1)
    wait_wired(hosts.host2, g2, p2)
    assert unreachable(g1, "10.0.0.6")
    hosts.drivers[hosts.host1].sync([dict(net, remote_vteps=[VTEP2])], [p1])
    assert ping(g1, "10.0.0.6")


def test_fdb_holds_exactly_the_remote_vteps(hosts):
    driver = hosts.drivers[hosts.host1]
    net = vxlan_network(1003, ["10.255.0.20", "10.255.0.21"])
    driver.sync([net], [])
    assert flood_vteps(hosts.host1, "vxlan-1003") == {"10.255.0.20", "10.255.0.21"}
    driver.sync([dict(net, remote_vteps=["10.255.0.21", "10.255.0.22"])], [])
    assert flood_vteps(hosts.host1, "vxlan-1003") == {"10.255.0.21", "10.255.0.22"}
    driver.sync([dict(net, remote_vteps=[])], [])
    assert flood_vteps(hosts.host1, "vxlan-1003") == set()


def test_a_port_is_wired_once_its_tap_exists(hosts, sandbox):
    driver = hosts.drivers[hosts.host1]
    net = vxlan_network(1004)
    p1 = port(net["id"], "10.0.0.5")
    assert driver.sync([net], [p1]) == set()  # the guest is still booting
    plug_guest(sandbox, hosts.host1, p1)
    assert driver.sync([net], [p1]) == {p1["id"]}


def test_an_admin_down_port_is_attached_but_kept_down(hosts, sandbox):
    driver = hosts.drivers[hosts.host1]
    net = vxlan_network(1005)
    p1 = port(net["id"], "10.0.0.5", admin_state_up=False)
    plug_guest(sandbox, hosts.host1, p1)
    assert driver.sync([net], [p1]) == set()
    tap = link(hosts.host1, ip_lib.tap_name(p1["id"]))
    assert tap is not None and "UP" not in tap["flags"]
    assert driver.sync([net], [dict(p1, admin_state_up=True)]) == {p1["id"]}


def test_a_network_no_longer_wanted_goes_and_nothing_else(hosts, sandbox):
    driver = hosts.drivers[hosts.host1]
    keep, drop = vxlan_network(1006), vxlan_network(1007)
    p1 = port(drop["id"], "10.0.0.5")
    plug_guest(sandbox, hosts.host1, p1)
    sandbox.bridge(hosts.host1, "br-other")  # not pocketstack's: must stay
    driver.sync([keep, drop], [p1])
    driver.sync([keep], [p1])
    assert link(hosts.host1, ip_lib.bridge_name(drop["id"])) is None
    assert link(hosts.host1, "vxlan-1007") is None
    assert link(hosts.host1, ip_lib.bridge_name(keep["id"])) is not None
    assert link(hosts.host1, "vxlan-1006") is not None
    assert link(hosts.host1, "br-other") is not None
    tap = link(hosts.host1, ip_lib.tap_name(p1["id"]))
    assert tap is not None and "master" not in tap  # released, not deleted


def test_a_flat_network_gets_its_mapped_interface(hosts, sandbox):
    driver = hosts.drivers[hosts.host1]
    sh("ip", "-n", hosts.host1, "link", "add", "eth-ext", "type", "veth", "peer", "name", "x")
    net = vxlan_network(0, network_type="flat", segmentation_id=None, physical_network="public")
    driver.sync([net], [])
    ext = link(hosts.host1, "eth-ext")
    assert ext is not None and ext["master"] == ip_lib.bridge_name(net["id"])
    assert not [n for n in ip_lib.links(hosts.host1) if n["ifname"].startswith("vxlan-")]


def test_a_changed_vni_or_mtu_is_applied(hosts):
    driver = hosts.drivers[hosts.host1]
    net = vxlan_network(1008)
    driver.sync([net], [])
    driver.sync([dict(net, segmentation_id=1009, mtu=1400)], [])
    assert link(hosts.host1, "vxlan-1008") is None
    vxlan = link(hosts.host1, "vxlan-1009")
    assert vxlan is not None and vxlan["mtu"] == 1400
    bridge = link(hosts.host1, ip_lib.bridge_name(net["id"]))
    assert bridge is not None and bridge["mtu"] == 1400


def test_a_network_the_kernel_refuses_does_not_stop_the_others(hosts, sandbox):
    driver = hosts.drivers[hosts.host1]
    bad, good = vxlan_network(1012, mtu=9000), vxlan_network(1013)  # above the underlay's
    p_bad, p_good = port(bad["id"], "10.0.0.5"), port(good["id"], "10.0.0.6")
    plug_guest(sandbox, hosts.host1, p_bad)
    plug_guest(sandbox, hosts.host1, p_good)
    assert driver.sync([bad, good], [p_bad, p_good]) == {p_good["id"]}
    assert driver.sync([dict(bad, mtu=1450), good], [p_bad, p_good]) == {p_bad["id"], p_good["id"]}


def test_cleanup_removes_only_pocketstack_names(hosts, sandbox):
    driver = hosts.drivers[hosts.host1]
    sandbox.bridge(hosts.host1, "br-other")
    driver.sync([vxlan_network(1010), vxlan_network(1011)], [])
    driver.cleanup()
    names = {n["ifname"] for n in ip_lib.links(hosts.host1)}
    assert not {n for n in names if n.startswith(("brq", "vxlan-"))}
    assert {"br-other", "eth-underlay"} <= names
