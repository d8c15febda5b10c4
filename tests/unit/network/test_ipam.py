"""IPAM: pools, requested addresses, exhaustion, and allocation under concurrency on SQLite
and PostgreSQL."""

from __future__ import annotations

import ipaddress
import threading
from collections import Counter

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.network import exceptions as exc
from pocketstack.network import ipam

DEMO = RequestContext(user_id="u", project_id="demo", roles=("member",))


def _subnet(net, cidr: str, **extra):
    network = net.networks.create(DEMO, {"name": "n"})
    return net.subnets.create(DEMO, {"network_id": network["id"], "cidr": cidr, **extra})


def test_default_pool_is_every_host_but_the_gateway(network):
    subnet = _subnet(network, "10.1.0.7/24")
    assert subnet["cidr"] == "10.1.0.0/24"
    assert subnet["gateway_ip"] == "10.1.0.1"
    assert subnet["allocation_pools"] == [{"start": "10.1.0.2", "end": "10.1.0.254"}]
    middle = ipam.default_pools(ipaddress.ip_network("10.1.0.0/29"), "10.1.0.3")
    assert middle == [
        {"start": "10.1.0.1", "end": "10.1.0.2"},
        {"start": "10.1.0.4", "end": "10.1.0.6"},
    ]


@pytest.mark.parametrize(
    "pools, gateway",
    [
        ([{"start": "10.1.0.2", "end": "10.1.1.5"}], "10.1.0.1"),  # beyond the cidr
        ([{"start": "10.1.0.9", "end": "10.1.0.5"}], "10.1.0.1"),  # inverted
        (
            [{"start": "10.1.0.2", "end": "10.1.0.9"}, {"start": "10.1.0.9", "end": "10.1.0.20"}],
            "10.1.0.1",
        ),  # overlapping
        ([{"start": "10.1.0.1", "end": "10.1.0.9"}], "10.1.0.1"),  # holds the gateway
    ],
)
def test_invalid_pools_are_400(pools, gateway):
    with pytest.raises(exc.InvalidAllocationPool) as err:
        ipam.validate_pools(ipaddress.ip_network("10.1.0.0/24"), gateway, pools)
    assert err.value.status == 400


@pytest.mark.parametrize("cidr", ["10.300.0.0/24", "10.0.0.0", "fd00::/64", "10.0.0.0/31", 5])
def test_invalid_cidrs_are_400(cidr):
    with pytest.raises(exc.InvalidInput):
        ipam.parse_cidr(cidr)


def test_requested_addresses_are_checked(network):
    subnet = _subnet(network, "10.2.0.0/24")
    ports = network.ports
    for bad in ("10.2.0.0", "10.2.0.255", "10.2.0.1", "10.3.0.5"):
        with pytest.raises((exc.InvalidIpForSubnet, exc.InvalidIpForNetwork)) as err:
            ports.create(
                DEMO,
                {
                    "network_id": subnet["network_id"],
                    "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": bad}]
                    if bad != "10.3.0.5"
                    else [{"ip_address": bad}],
                },
            )
        assert err.value.status == 400
    ports.create(
        DEMO, {"network_id": subnet["network_id"], "fixed_ips": [{"ip_address": "10.2.0.77"}]}
    )
    with pytest.raises(exc.IpAddressAlreadyAllocated) as err:
        ports.create(
            DEMO, {"network_id": subnet["network_id"], "fixed_ips": [{"ip_address": "10.2.0.77"}]}
        )
    assert err.value.status == 409


def test_exhaustion_and_release(network):
    subnet = _subnet(network, "10.4.0.0/29")  # 6 hosts, 5 after the gateway
    net_id = subnet["network_id"]
    made = [network.ports.create(DEMO, {"network_id": net_id}) for _ in range(5)]
    assert [p["fixed_ips"][0]["ip_address"] for p in made] == [f"10.4.0.{i}" for i in range(2, 7)]
    with pytest.raises(exc.IpAddressGenerationFailure) as err:
        network.ports.create(DEMO, {"network_id": net_id})
    assert err.value.status == 409
    network.ports.delete(DEMO, made[2]["id"])
    again = network.ports.create(DEMO, {"network_id": net_id})
    assert again["fixed_ips"][0]["ip_address"] == "10.4.0.4"


def _race(network, threads: int = 50, per_thread: int = 2) -> tuple[list[str], Counter]:
    """``threads`` threads each create ``per_thread`` ports on a /26 at once."""
    subnet = _subnet(network, "10.5.0.0/26")  # 62 hosts, 61 after the gateway
    got: list[str] = []
    failures: Counter = Counter()
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def work() -> None:
        start.wait()
        for _ in range(per_thread):
            try:
                port = network.ports.create(DEMO, {"network_id": subnet["network_id"]})
                with lock:
                    got.append(port["fixed_ips"][0]["ip_address"])
            except Exception as error:  # noqa: BLE001 - counted and asserted below
                with lock:
                    failures[type(error).__name__] += 1

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=120)
    return got, failures


def _check_race(got: list[str], failures: Counter) -> None:
    assert len(got) == 61 and len(set(got)) == 61
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("10.5.0.0/26") for ip in got)
    assert "10.5.0.1" not in got
    assert failures == Counter({"IpAddressGenerationFailure": 100 - 61})


def test_concurrent_allocation_sqlite(network):
    _check_race(*_race(network))


def test_concurrent_allocation_postgresql(pg_cloud, in_process):
    _check_race(*_race(in_process(pg_cloud.network)))
