"""The functions Compute calls: validate_networks, allocate/deallocate, security_group_ids,
bootstrap."""

from __future__ import annotations

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.network import exceptions as exc

DEMO = RequestContext(user_id="u-demo", project_id="demo", roles=("member",))
OTHER = RequestContext(user_id="u-other", project_id="other", roles=("member",))


@pytest.fixture
def net(network):
    """The network service of a bootstrapped cloud (admin project 'admin', demo 'demo'),
    its families driven as the API drives them (``conftest.InProcessNetwork``)."""
    network.bootstrap("admin", "demo")
    return network


def test_bootstrap_is_idempotent_and_makes_public_and_private(net):
    ids = net.bootstrap("admin", "demo")
    assert ids == net.bootstrap("admin", "demo")
    public = net.networks.get(DEMO, ids["public_network_id"])
    assert public["router:external"] is True and public["shared"] is False
    private = net.networks.get(DEMO, ids["private_network_id"])
    assert private["project_id"] == "demo"
    subnet = net.subnets.get(DEMO, private["subnets"][0])
    assert (subnet["cidr"], subnet["gateway_ip"], subnet["enable_dhcp"]) == (
        "10.0.0.0/24",
        "10.0.0.1",
        True,
    )
    pub_subnet = net.subnets.get(DEMO, public["subnets"][0])
    assert (pub_subnet["name"], pub_subnet["enable_dhcp"]) == ("public-subnet", False)


def test_validate_empty_request_picks_the_only_private_network(net):
    [item] = net.validate_networks(DEMO, [])
    assert net.networks.get(DEMO, item["uuid"])["name"] == "private"


def test_validate_empty_request_without_or_with_many_networks(net):
    with pytest.raises(exc.NoNetworksAvailable):
        net.validate_networks(OTHER, [])
    net.networks.create(DEMO, {"name": "second"})
    with pytest.raises(exc.NetworkAmbiguous) as err:
        net.validate_networks(DEMO, [])
    assert err.value.status == 409


def test_validate_rejects_unknown_and_foreign_networks_and_bad_ips(net):
    private = net.validate_networks(DEMO, [])[0]["uuid"]
    with pytest.raises(exc.NetworkNotFound):
        net.validate_networks(OTHER, [{"uuid": private}])
    with pytest.raises(exc.PortNotFound):
        net.validate_networks(DEMO, [{"port": "nope"}])
    with pytest.raises(exc.InvalidIpForSubnet):
        net.validate_networks(DEMO, [{"uuid": private, "fixed_ip": "192.168.1.5"}])
    with pytest.raises(exc.InvalidIpForSubnet):
        net.validate_networks(DEMO, [{"uuid": private, "fixed_ip": "10.0.0.1"}])
    assert net.validate_networks(DEMO, [{"uuid": private, "fixed_ip": "10.0.0.50"}]) == [
        {"uuid": private, "fixed_ip": "10.0.0.50"}
    ]


def test_allocate_and_deallocate_for_instance(net):
    requested = net.validate_networks(DEMO, [])
    info = net.allocate_for_instance(DEMO, "vm-1", "demo", "host1", requested, ["default"])
    [vif] = info
    assert vif["network_name"] == "private" and vif["mtu"] == 1450
    assert vif["devname"] == "tap" + vif["port_id"][:11]
    assert vif["mac_address"].startswith("fa:16:3e:")
    assert vif["fixed_ips"][0]["ip_address"] == "10.0.0.2"
    assert vif["fixed_ips"][0]["cidr"] == "10.0.0.0/24"
    assert vif["fixed_ips"][0]["version"] == 4
    port = net.ports.get(DEMO, vif["port_id"])
    assert port["status"] == "ACTIVE" and port["device_owner"] == "compute:nova"
    assert port["device_id"] == "vm-1" and port["binding:host_id"] == "host1"
    assert port["security_groups"] == net.security_group_ids(DEMO, "demo", ["default"])
    assert net.get_instance_network_info(DEMO, "vm-1") == info
    net.deallocate_for_instance(DEMO, "vm-1")
    net.deallocate_for_instance(DEMO, "vm-1")
    assert net.get_instance_network_info(DEMO, "vm-1") == []
    with pytest.raises(exc.PortNotFound):
        net.ports.get(DEMO, vif["port_id"])


def test_user_port_is_bound_then_unbound_not_deleted(net):
    private = net.validate_networks(DEMO, [])[0]["uuid"]
    port = net.ports.create(DEMO, {"network_id": private, "name": "mine"})
    info = net.allocate_for_instance(DEMO, "vm-2", "demo", "h", [{"port": port["id"]}], [])
    assert info[0]["port_id"] == port["id"]
    with pytest.raises(exc.PortInUse):
        net.validate_networks(DEMO, [{"port": port["id"]}])
    net.deallocate_for_instance(DEMO, "vm-2")
    again = net.ports.get(DEMO, port["id"])
    assert again["device_id"] == "" and again["status"] == "DOWN"


def test_failed_allocation_leaves_nothing(net):
    private = net.validate_networks(DEMO, [])[0]["uuid"]
    before = net.ports.list(DEMO)
    with pytest.raises(exc.SecurityGroupNotFound):
        net.allocate_for_instance(DEMO, "vm-3", "demo", "h", [{"uuid": private}], ["nosuch"])
    taken = net.ports.create(
        DEMO, {"network_id": private, "fixed_ips": [{"ip_address": "10.0.0.9"}]}
    )
    with pytest.raises(exc.IpAddressAlreadyAllocated):
        net.allocate_for_instance(
            DEMO,
            "vm-3",
            "demo",
            "h",
            [{"uuid": private}, {"uuid": private, "fixed_ip": "10.0.0.9"}],
            [],
        )
    assert net.ports.list(DEMO) == before + [taken]
    assert net.get_instance_network_info(DEMO, "vm-3") == []


def test_security_group_ids_by_name_or_id(net):
    group = net.security_groups.create(DEMO, {"name": "web"})
    default = net.security_group_ids(DEMO, "demo", ["default"])[0]
    assert net.security_group_ids(DEMO, "demo", ["web", group["id"], "default"]) == [
        group["id"],
        default,
    ]
    with pytest.raises(exc.SecurityGroupNotFound):
        net.security_group_ids(DEMO, "demo", ["nope"])
    net.security_groups.create(DEMO, {"name": "web"})
    with pytest.raises(exc.DuplicateSecurityGroupName) as err:
        net.security_group_ids(DEMO, "demo", ["web"])
    assert err.value.status == 409
