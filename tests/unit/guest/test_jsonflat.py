"""jsonflat.awk (the guest's JSON reader) checked with the host's busybox awk."""

from __future__ import annotations

import json
import subprocess

import pytest

from pocketstack.guest.build import BUSYBOX, FILES

pytestmark = pytest.mark.skipif(not BUSYBOX.exists(), reason="needs busybox-static")


def flatten(doc: str) -> tuple[int, list[tuple[str, str]]]:
    """Run jsonflat.awk on ``doc``; (exit status, [(path, value)])."""
    out = subprocess.run(
        [str(BUSYBOX), "awk", "-f", str(FILES / "jsonflat.awk")],
        input=doc,
        capture_output=True,
        text=True,
    )
    pairs = [tuple(line.split("\t", 1)) for line in out.stdout.splitlines()]
    return out.returncode, pairs


def reference(value, path=""):
    """What jsonflat.awk should print, computed from Python's json module."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in reference(v, f"{path}/{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in reference(v, f"{path}/{i}")]
    if isinstance(value, str):
        text = " ".join(value.replace("\r", "\n").replace("\t", "\n").split("\n")).rstrip()
        return [(path.lstrip("/"), text)]
    return [(path.lstrip("/"), json.dumps(value))]


NETWORK = {
    "links": [
        {
            "id": "tap1",
            "type": "ovs",
            "ethernet_mac_address": "fa:16:3e:00:00:01",
            "mtu": 1450,
            "vif_id": "p-1",
        }
    ],
    "networks": [
        {
            "id": "network0",
            "type": "ipv4",
            "link": "tap1",
            "ip_address": "10.0.0.5",
            "netmask": "255.255.255.0",
            "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.0.1"}],
            "services": [],
        }
    ],
    "services": [{"type": "dns", "address": "10.0.0.3"}],
}
META = {
    "uuid": "8c1b-4f",
    "hostname": "vm1",
    "name": "vm 1",
    "launch_index": 0,
    "public_keys": {"mykey": "ssh-ed25519 AAAA me@host\n", "k/2": 'ssh-rsa BBB "q" x'},
    "meta": {},
    "devices": [],
    "availability_zone": None,
    "flag": True,
}


@pytest.mark.parametrize("doc", [NETWORK, META], ids=["network_data", "meta_data"])
@pytest.mark.parametrize("indent", [None, 2, "\t"], ids=["compact", "pretty", "tabs"])
def test_matches_python_json(doc, indent):
    seps = (",", ":") if indent is None else None
    status, pairs = flatten(json.dumps(doc, indent=indent, separators=seps))
    assert status == 0
    assert pairs == reference(doc)


def test_unescapes_strings_and_keeps_one_value_per_line():
    status, pairs = flatten(r'{"a": "x\"y\\z\/w", "b": "line1\nline2\n", "c": "\u00e9"}')
    assert status == 0
    assert pairs == [("a", 'x"y\\z/w'), ("b", "line1 line2"), ("c", "\\u00e9")]


@pytest.mark.parametrize("bad", ['{"a": ', '{"a" 1}', "[1, 2", '{"a": "open'])
def test_malformed_input_exits_nonzero(bad):
    assert flatten(bad)[0] != 0


def test_empty_containers_print_nothing():
    assert flatten('{"a": {}, "b": [], "c": [[]]}') == (0, [])
