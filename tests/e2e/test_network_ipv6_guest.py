"""A dual-stack server end to end: ``pocketstack up --hosts 1`` (a lab with its own prefix),
a network with an IPv4 subnet and a SLAAC IPv6 subnet, both on a router, and one real QEMU
guest on it. The guest takes its IPv4 address over DHCP and autoconfigures the IPv6 one from
the router advertisement the network node sends; a user_data script prints the addresses
its kernel has, which must be the ones the port shows (the IPv6 one its EUI-64 address).

Marked ``slow`` (a real guest). Packets stay inside the lab's namespaces.
"""

from __future__ import annotations

import ipaddress

import pytest

from pocketstack.lab import Lab, random_prefix
from tests.helpers import wait_until

ADMIN = "pocketstack-admin"

#: user_data: wait for a global address of the SLAAC prefix, print what the kernel has
SHOW_V6 = """#!/bin/sh
for i in $(seq 1 180); do
    found=$(grep '^{prefix}' /proc/net/if_inet6 | awk '{{print $1}}')
    if [ -n "$found" ]; then
        echo "IPV6-ADDRESS $found"
        exit 0
    fi
    sleep 1
done
echo "IPV6-ADDRESS-NONE"
"""


def _console(cloud, server: str, text: str, timeout: float) -> str:
    log = ""

    def shown() -> str | None:
        nonlocal log
        log = cloud.openstack("console", "log", "show", server, cloud=ADMIN, json_output=False)
        return log if text in log else None

    detail = lambda: f"{log[-3000:]}\n{cloud.log()[-6000:]}"  # noqa: E731
    return wait_until(shown, timeout, f"{text!r} on {server}'s console", interval=2, detail=detail)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_dual_stack_guest_has_its_dhcp_ipv4_and_slaac_ipv6_addresses(cloud_launcher, tmp_path):
    prefix = random_prefix()
    lab = Lab(prefix, hosts=1)
    state = tmp_path / "state"
    dataplane: list[str] = []
    flags = ["--hosts", "1", "--lab-prefix", prefix, "--shutdown-instances"]
    try:
        with cloud_launcher(state, driver="qemu", extra=flags) as cloud:

            def admin(*args: str, **kwargs):
                return cloud.openstack(*args, cloud=ADMIN, **kwargs)

            admin("network", "create", "ds-net")
            admin("subnet", "create", "--network", "ds-net", "--subnet-range", "10.46.0.0/24",
                  "ds-v4")  # fmt: skip
            admin("subnet", "create", "--network", "ds-net", "--ip-version", "6",
                  "--subnet-range", "fd00:46::/64", "--ipv6-ra-mode", "slaac",
                  "--ipv6-address-mode", "slaac", "ds-v6")  # fmt: skip
            admin("router", "create", "ds-router")
            for subnet in ("ds-v4", "ds-v6"):
                admin("router", "add", "subnet", "ds-router", subnet, json_output=False)
            port = admin("port", "create", "--network", "ds-net", "ds-port")
            addresses = {
                ipaddress.ip_address(ip["ip_address"]).version: ip["ip_address"]
                for ip in port["fixed_ips"]
            }
            assert set(addresses) == {4, 6}, port["fixed_ips"]
            v6 = ipaddress.IPv6Address(addresses[6])
            script = tmp_path / "show-v6.sh"
            script.write_text(SHOW_V6.format(prefix="fd00004600000000"))
            admin("server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--port",
                  port["id"], "--user-data", str(script), "ds-vm")  # fmt: skip
            cloud.wait_for_server("ds-vm", "ACTIVE", timeout=300, cloud=ADMIN)
            dataplane = _dataplane_namespaces(state)

            log = _console(
                cloud, "ds-vm", f"eth0 ip {addresses[4]} netmask 255.255.255.0 (dhcp)", 600
            )
            log = _console(cloud, "ds-vm", "IPV6-ADDRESS", 600)
            assert f"IPV6-ADDRESS {v6.exploded.replace(':', '')}" in log, log[-3000:]
            dataplane = _dataplane_namespaces(state)
    finally:
        lab.teardown(tuple(dataplane))
    assert not lab.exists()


def _dataplane_namespaces(state_dir) -> list[str]:
    """The DHCP/router namespaces the lab's network node made (from its markers)."""
    names = []
    for folder, prefix in (("dhcp", "qdhcp-"), ("l3", "qrouter-")):
        path = state_dir / "hosts" / "host1" / folder
        if path.is_dir():
            names += [prefix + p.name for p in path.iterdir()]
    return names
