"""Subnet pools and address scopes (``/v2.0/subnetpools``, ``/v2.0/address-scopes``)
through the real clients: a subnet takes the next free block of its pool, prefix-length
bounds and exhaustion answer as Neutron does, pools and scopes in use are not deleted, and
another project sees neither a project's pool nor its scope.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import openstack.exceptions
import pytest

from tests.api.test_network_rbac import B, clouds  # noqa: F401  (the module's projects)

ADMIN = "pocketstack-admin"


def _name(prefix: str) -> str:
    return f"pool-{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def made(clouds: Any) -> Iterator[dict[str, list[str]]]:  # noqa: F811
    """Ids a test made (``networks``, ``pools``, ``scopes``), deleted after as the admin."""
    cloud, _ = clouds
    made: dict[str, list[str]] = {"networks": [], "pools": [], "scopes": []}
    yield made
    admin = cloud.sdk(ADMIN)
    for net_id in made["networks"]:
        for port in admin.network.ports(network_id=net_id):
            admin.network.delete_port(port.id, ignore_missing=True)
        for subnet in admin.network.subnets(network_id=net_id):
            admin.network.delete_subnet(subnet.id, ignore_missing=True)
        admin.network.delete_network(net_id, ignore_missing=True)
    for pool_id in made["pools"]:
        admin.network.delete_subnet_pool(pool_id, ignore_missing=True)
    for scope_id in made["scopes"]:
        admin.network.delete_address_scope(scope_id, ignore_missing=True)


def _fails(cloud: Any, *args: str, cloud_name: str = "pocketstack-demo") -> str:
    proc = cloud.openstack(*args, cloud=cloud_name, check=False, json_output=False)
    assert proc.returncode != 0, proc.stdout
    return str(proc.stderr)


def test_extensions_listed(clouds):  # noqa: F811
    cloud, _ = clouds
    aliases = {e["alias"] for e in cloud.sdk().network.extensions()}
    assert {"subnet_allocation", "address-scope"} <= aliases


def test_subnets_from_a_pool(clouds, made):  # noqa: F811
    cloud, _ = clouds
    cli = cloud.openstack
    name = _name("p")
    pool = cli(
        "subnet", "pool", "create", "--pool-prefix", "10.90.0.0/16",
        "--default-prefix-length", "26", "--min-prefix-length", "24",
        "--max-prefix-length", "28", name,
    )  # fmt: skip
    made["pools"].append(pool["id"])
    assert pool["prefixes"] == ["10.90.0.0/16"] and pool["ip_version"] == 4
    assert (pool["min_prefixlen"], pool["default_prefixlen"], pool["max_prefixlen"]) == (
        24,
        26,
        28,
    )
    assert name in [p["Name"] for p in cli("subnet", "pool", "list")]
    assert cli("subnet", "pool", "show", name)["id"] == pool["id"]
    net = cli("network", "create", _name("net"))
    made["networks"].append(net["id"])

    def subnet(*extra: str) -> dict[str, Any]:
        return cli(
            "subnet", "create", "--network", net["id"], "--subnet-pool", name, *extra,
            _name("s"),
        )  # fmt: skip

    first = subnet("--prefix-length", "26")
    assert first["cidr"] == "10.90.0.0/26" and first["subnetpool_id"] == pool["id"]
    assert subnet("--prefix-length", "26")["cidr"] == "10.90.0.64/26"
    assert subnet("--prefix-length", "24")["cidr"] == "10.90.1.0/24"
    assert subnet()["cidr"] == "10.90.0.128/26"  # the pool's default length
    assert subnet("--subnet-range", "10.90.2.0/25")["cidr"] == "10.90.2.0/25"
    err = _fails(
        cloud, "subnet", "create", "--network", net["id"], "--subnet-pool", name,
        "--subnet-range", "10.90.0.0/26", _name("s"),
    )  # fmt: skip
    assert "Failed to allocate subnet" in err
    for length, bound in (("30", "maximum"), ("20", "minimum")):
        err = _fails(
            cloud, "subnet", "create", "--network", net["id"], "--subnet-pool", name,
            "--prefix-length", length, _name("s"),
        )  # fmt: skip
        assert f"{bound} allowed prefix is" in err
    sdk = cloud.sdk()
    with pytest.raises(openstack.exceptions.BadRequestException):  # outside the prefixes
        sdk.network.create_subnet(
            network_id=net["id"], ip_version=4, subnet_pool_id=pool["id"], cidr="10.91.0.0/26"
        )
    assert "Unable to complete operation on subnet pool" in _fails(
        cloud, "subnet", "pool", "delete", name
    )
    assert {s.subnet_pool_id for s in sdk.network.subnets(subnetpool_id=pool["id"])} == {pool["id"]}
    for s in sdk.network.subnets(network_id=net["id"]):
        sdk.network.delete_subnet(s.id)
    cli("subnet", "pool", "delete", name, json_output=False)
    assert "No SubnetPool found" in _fails(cloud, "subnet", "pool", "show", name)


def test_pool_exhausted(clouds, made):  # noqa: F811
    cloud, _ = clouds
    sdk = cloud.sdk()
    pool = sdk.network.create_subnet_pool(name=_name("p"), prefixes=["10.92.0.0/24"])
    made["pools"].append(pool.id)
    assert (pool.minimum_prefix_length, pool.default_prefix_length) == (8, 8)
    assert pool.maximum_prefix_length == 32
    net = sdk.network.create_network(name=_name("net"))
    made["networks"].append(net.id)
    for cidr in ("10.92.0.0/25", "10.92.0.128/25"):
        got = sdk.network.create_subnet(
            network_id=net.id, ip_version=4, subnet_pool_id=pool.id, prefixlen=25
        )
        assert got.cidr == cidr
    with pytest.raises(openstack.exceptions.ConflictException) as full:
        sdk.network.create_subnet(
            network_id=net.id, ip_version=4, subnet_pool_id=pool.id, prefixlen=25
        )
    assert "Insufficient prefix space to allocate subnet size /25" in str(full.value)


def test_pool_bounds_and_updates(clouds, made):  # noqa: F811
    cloud, _ = clouds
    sdk = cloud.sdk()
    bad = (
        {"prefixes": ["10.93.0.0/16"], "min_prefixlen": 24, "default_prefixlen": 20},
        {"prefixes": ["10.93.0.0/16"], "min_prefixlen": 24, "max_prefixlen": 22},
        {"prefixes": ["10.93.0.0/16"], "max_prefixlen": 12},
        {"prefixes": ["10.93.0.0/16"], "max_prefixlen": 33},
        {"prefixes": ["not-a-cidr"]},
        {"prefixes": []},
        {"prefixes": ["fd00::/48"]},
        {"min_prefixlen": 24},
    )
    for body in bad:
        resp = sdk.network.post("/subnetpools", json={"subnetpool": body})
        assert resp.status_code == 400, (body, resp.text)
    with pytest.raises(openstack.exceptions.ForbiddenException):
        sdk.network.create_subnet_pool(name=_name("p"), prefixes=["10.93.0.0/16"], shared=True)
    pool = sdk.network.create_subnet_pool(
        name=_name("p"), prefixes=["10.93.0.0/16"], min_prefixlen=16
    )
    made["pools"].append(pool.id)
    grown = sdk.network.update_subnet_pool(pool.id, prefixes=["10.93.0.0/16", "10.94.0.0/16"])
    assert sorted(grown.prefixes) == ["10.93.0.0/16", "10.94.0.0/16"]
    with pytest.raises(openstack.exceptions.BadRequestException) as shrink:
        sdk.network.update_subnet_pool(pool.id, prefixes=["10.94.0.0/16"])
    assert "Illegal update to prefixes" in str(shrink.value)
    with pytest.raises(openstack.exceptions.BadRequestException):
        sdk.network.update_subnet_pool(pool.id, default_prefixlen=8)
    assert sdk.network.update_subnet_pool(pool.id, name="renamed").name == "renamed"
    cloud.openstack("subnet", "pool", "set", "--tag", "blue", pool.id, json_output=False)
    assert sdk.network.get_subnet_pool(pool.id).tags == ["blue"]
    assert [p.id for p in sdk.network.subnet_pools(tags="blue")] == [pool.id]


def test_address_scopes(clouds, made):  # noqa: F811
    cloud, _ = clouds
    cli, sdk = cloud.openstack, cloud.sdk()
    name = _name("scope")
    scope = cli("address", "scope", "create", "--ip-version", "4", name)
    made["scopes"].append(scope["id"])
    assert scope["ip_version"] == 4 and scope["shared"] is False
    assert name in [s["Name"] for s in cli("address", "scope", "list")]
    pool = cli(
        "subnet", "pool", "create", "--pool-prefix", "10.95.0.0/16", "--address-scope", name,
        _name("p"),
    )  # fmt: skip
    made["pools"].append(pool["id"])
    assert pool["address_scope_id"] == scope["id"]
    with pytest.raises(openstack.exceptions.BadRequestException) as overlap:
        sdk.network.create_subnet_pool(
            name=_name("p"), prefixes=["10.95.128.0/17"], address_scope_id=scope["id"]
        )
    assert "must have unique prefixes" in str(overlap.value)
    v6 = sdk.network.create_address_scope(name=_name("scope6"), ip_version=6)
    made["scopes"].append(v6.id)
    with pytest.raises(openstack.exceptions.BadRequestException):
        sdk.network.create_subnet_pool(
            name=_name("p"), prefixes=["10.96.0.0/16"], address_scope_id=v6.id
        )
    with pytest.raises(openstack.exceptions.ConflictException):
        sdk.network.delete_address_scope(scope["id"], ignore_missing=False)
    with pytest.raises(openstack.exceptions.ForbiddenException):
        sdk.network.create_address_scope(name=_name("s"), ip_version=4, shared=True)

    # another project sees neither the scope nor the pool, nor allocates from it
    other = cloud.sdk(B)
    assert scope["id"] not in [s.id for s in other.network.address_scopes()]
    with pytest.raises(openstack.exceptions.NotFoundException):
        other.network.get_address_scope(scope["id"])
    assert pool["id"] not in [p.id for p in other.network.subnet_pools()]
    with pytest.raises(openstack.exceptions.NotFoundException):
        other.network.get_subnet_pool(pool["id"])
    net = other.network.create_network(name=_name("net"))
    made["networks"].append(net.id)
    with pytest.raises(openstack.exceptions.NotFoundException):
        other.network.create_subnet(
            network_id=net.id, ip_version=4, subnet_pool_id=pool["id"], prefixlen=24
        )
    with pytest.raises(openstack.exceptions.NotFoundException):
        other.network.delete_subnet_pool(pool["id"], ignore_missing=False)
    # shared by an admin, the scope is seen by every project (but changed by its owner only)
    cloud.sdk(ADMIN).network.update_address_scope(scope["id"], shared=True)
    assert other.network.get_address_scope(scope["id"]).is_shared
    with pytest.raises(openstack.exceptions.ForbiddenException):
        other.network.update_address_scope(scope["id"], name="mine")
    sdk.network.delete_subnet_pool(pool["id"])
    cli("address", "scope", "delete", name, json_output=False)
