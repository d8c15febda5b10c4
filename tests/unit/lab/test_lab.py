"""The lab on the real kernel: namespaces, bridges and veths with a prefix of the test's own
(``pst`` + 4 random characters), so a developer's ``pocketstack`` lab is never touched."""

from __future__ import annotations

import json
import subprocess

import pytest

from pocketstack.lab import Lab, random_prefix
from tests.helpers import wait_until


def _sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def _netns() -> set[str]:
    return {entry["name"] for entry in json.loads(_sh("ip", "-j", "netns", "list") or "[]")}


def _links(netns: str | None = None) -> dict[str, dict]:
    ns = ["-n", netns] if netns else []
    return {link["ifname"]: link for link in json.loads(_sh("ip", *ns, "-j", "-d", "link"))}


def _ping(netns: str, address: str) -> None:
    """One ping from inside ``netns`` (busybox's: the lab's own namespaces only)."""
    _sh("ip", "netns", "exec", netns, "busybox", "ping", "-c1", "-W2", address)


def _addrs_root(dev: str) -> list[str]:
    out = json.loads(_sh("ip", "-j", "addr", "show", "dev", dev, "scope", "global"))
    return [f"{a['local']}/{a['prefixlen']}" for e in out for a in e["addr_info"] if "local" in a]


def _addrs(netns: str, dev: str) -> list[str]:
    out = json.loads(_sh("ip", "-n", netns, "-j", "addr", "show", "dev", dev, "scope", "global"))
    return [f"{a['local']}/{a['prefixlen']}" for e in out for a in e["addr_info"] if "local" in a]


@pytest.fixture
def lab():
    lab = Lab(prefix=random_prefix(), hosts=2)
    yield lab
    lab.teardown()
    assert not {n for n in _netns() if n.startswith(lab.prefix)}
    # nothing of the lab in the root namespace (its veth ends carry its tag)
    assert not [n for n in _links() if lab.tag in n or n.startswith(("eth-underlay", "eth-ext"))]


def test_setup_builds_the_hosts_underlay_and_outside_world(lab):
    hosts = lab.setup()
    p = lab.prefix
    assert {f"{p}-underlay", f"{p}-ext", f"{p}-host1", f"{p}-host2"} <= _netns()
    assert [h.hostname for h in hosts] == ["host1", "host2"]
    assert hosts[0].options() == {
        "hostname": "host1",
        "netns": f"{p}-host1",
        "local_ip": "10.255.0.11",
        "tunnel_interface": "eth-underlay",
        "physical_interface_mappings": "public:eth-ext",
        "network_node": True,
    }
    assert hosts[1].physical_interface_mappings == "" and not hosts[1].network_node

    underlay = _links(f"{p}-underlay")
    assert underlay["br-underlay"]["linkinfo"]["info_kind"] == "bridge"
    assert _addrs(f"{p}-underlay", "br-underlay") == []
    enslaved = sorted(n for n, link in underlay.items() if link.get("master") == "br-underlay")
    # the two hosts' and the root namespace's (the controller's underlay address)
    assert len(enslaved) == 3 and all(len(n) <= 15 for n in enslaved)
    root = _links()[lab.root_underlay]
    assert "UP" in root["flags"] and len(lab.root_underlay) <= 15
    assert _addrs_root(lab.root_underlay) == ["10.255.0.1/24"]
    assert _addrs(f"{p}-ext", "br-ext") == ["172.24.4.1/24"]
    for host in hosts:
        links = _links(host.netns)
        assert links["lo"]["operstate"] == "UNKNOWN" and "UP" in links["lo"]["flags"]
        assert "UP" in links["eth-underlay"]["flags"]
        assert _addrs(host.netns, "eth-underlay") == [f"{host.local_ip}/24"]
        assert ("eth-ext" in links) == host.network_node
    assert _addrs(f"{p}-host1", "eth-ext") == []

    # the hosts reach each other over the underlay, and the network node's eth-ext reaches
    # the outside world's bridge (an address added for the check, in the lab's namespace)
    _ping(f"{p}-host1", "10.255.0.12")
    _ping(f"{p}-host2", "10.255.0.1")  # the controller's underlay address answers
    _sh("ip", "-n", f"{p}-host1", "addr", "add", "172.24.4.99/24", "dev", "eth-ext")
    _ping(f"{p}-host1", "172.24.4.1")


def test_setup_is_idempotent_and_repairs_a_missing_link(lab):
    lab.setup()
    first = {ns: sorted(_links(ns)) for ns in lab.namespaces}
    lab.setup()
    assert {ns: sorted(_links(ns)) for ns in lab.namespaces} == first
    _sh("ip", "link", "del", lab.root_underlay)  # the root's end (its peer goes with it)
    lab.setup()
    assert {ns: sorted(_links(ns)) for ns in lab.namespaces} == first
    assert _addrs_root(lab.root_underlay) == ["10.255.0.1/24"]
    _sh("ip", "-n", f"{lab.prefix}-host2", "link", "del", "eth-underlay")
    lab.setup()
    assert {ns: sorted(_links(ns)) for ns in lab.namespaces} == first
    _ping(f"{lab.prefix}-host2", "10.255.0.11")


def test_teardown_stops_processes_in_the_namespaces_and_removes_everything(lab):
    lab.setup()
    ns = f"{lab.prefix}-host1"
    sleeper = subprocess.Popen(["ip", "netns", "exec", ns, "sleep", "600"])
    try:
        pids = lambda: _sh("ip", "netns", "pids", ns).split()  # noqa: E731
        assert wait_until(pids, 10, "the sleep in the namespace")
        lab.teardown()
        sleeper.wait(timeout=10)  # the sleep inside was stopped: ip netns exec returned
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()
    assert not lab.exists()
    lab.teardown()  # what is already gone is skipped


def test_a_smaller_lab_drops_the_idle_hosts_of_a_larger_one(lab):
    lab.setup()
    smaller = Lab(prefix=lab.prefix, hosts=1)
    smaller.setup()
    assert f"{lab.prefix}-host2" not in _netns() and f"{lab.prefix}-host1" in _netns()
    # host1's and the root namespace's
    assert len([n for n in _links(f"{lab.prefix}-underlay") if n.startswith("u-")]) == 2


def test_two_labs_live_side_by_side(lab):
    other = Lab(prefix=random_prefix(), hosts=1)
    try:
        lab.setup()
        other.setup()
        assert other.tag != lab.tag
        _ping(f"{lab.prefix}-host1", "10.255.0.12")
    finally:
        other.teardown()
    assert lab.exists() and not other.exists()


@pytest.mark.parametrize(
    ("prefix", "hosts"), [("", 1), ("a" * 33, 1), ("bad/name", 1), ("pst", 0), ("pst", 245)]
)
def test_bad_prefix_or_host_count_is_refused(prefix, hosts):
    with pytest.raises(ValueError):
        Lab(prefix=prefix, hosts=hosts)
