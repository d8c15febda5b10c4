"""ip_lib against the real kernel, in throwaway namespaces: what the data-plane drivers rely on
(errors carry the tool's stderr, idempotent creates and deletes, per-namespace sysctls,
atomic nft scripts)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from pocketstack.network.drivers import ip_lib
from pocketstack.network.drivers.base import NetworkDriverError

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces")


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"pti-{uuid.uuid4().hex[:8]}"
    ip_lib.ensure_netns(name)
    yield name
    ip_lib.delete_netns(name)


def test_a_failing_command_raises_with_its_stderr(netns):
    with pytest.raises(NetworkDriverError, match='Cannot find device "nope"'):
        ip_lib.set_link("nope", netns, up=True)
    with pytest.raises(NetworkDriverError, match="no-such-tool"):
        ip_lib.run(["no-such-tool"])
    assert ip_lib.run(["false"], check=False) == ""


def test_namespaces_come_and_go_idempotently(netns):
    ip_lib.ensure_netns(netns)  # again: nothing happens
    assert netns in ip_lib.list_netns()
    lo = ip_lib.link("lo", netns)
    assert lo is not None and "UP" in lo["flags"]
    other = f"pti-{uuid.uuid4().hex[:8]}"
    ip_lib.delete_netns(other)  # never existed
    assert not ip_lib.netns_exists(other)


def test_links_addresses_and_deletes(netns):
    ip_lib.add_veth("pti-a", "pti-b", netns=netns)
    ip_lib.set_link("pti-a", netns, up=True, mtu=1400)
    ip_lib.add_address("pti-a", "10.9.0.1/24", netns)
    ip_lib.add_address("pti-a", "10.9.0.1/24", netns)  # again: no error
    assert ip_lib.addresses("pti-a", netns) == ["10.9.0.1/24"]
    a = ip_lib.link("pti-a", netns)
    assert a is not None and a["mtu"] == 1400 and ip_lib.link_kind(a) == "veth"
    assert {"lo", "pti-a", "pti-b"} <= {entry["ifname"] for entry in ip_lib.links(netns)}
    ip_lib.delete_link("pti-a", netns)
    ip_lib.delete_link("pti-a", netns)  # gone already: no error
    assert not ip_lib.link_exists("pti-b", netns)  # its peer went with it


def test_sysctl_is_per_namespace(netns):
    root = ip_lib.get_sysctl("net.ipv4.ip_forward")
    ip_lib.set_sysctl("net.ipv4.ip_forward", 0 if root == "1" else 1, netns)
    assert ip_lib.get_sysctl("net.ipv4.ip_forward", netns) != root
    assert ip_lib.get_sysctl("net.ipv4.ip_forward") == root


def test_an_nft_script_applies_whole_or_not_at_all(netns):
    with pytest.raises(NetworkDriverError, match="nft"):
        script = "add table inet pti\nadd chain inet pti c\n"
        ip_lib.nft_apply(script + "add rule inet pti c ip saddr @missing accept\n", netns)
    assert not [e for e in ip_lib.nft_json(["list", "tables"], netns) if "table" in e]
    ip_lib.nft_apply("add table inet pti\n", netns)
    tables = [
        e["table"]["name"] for e in ip_lib.nft_json(["list", "tables"], netns) if "table" in e
    ]
    assert tables == ["pti"]


def test_kernel_names_fit_ifnamsiz():
    port_id = str(uuid.uuid4())
    names = [ip_lib.tap_name(port_id), ip_lib.bridge_name(port_id), ip_lib.vxlan_name(16000000)]
    assert names[0] == "tap" + port_id[:11] and names[1] == "brq" + port_id[:11]
    assert all(len(n) <= 15 for n in names)
