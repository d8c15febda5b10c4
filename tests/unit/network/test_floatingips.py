"""Floating IPs through the manager on SQLite: allocation on an external network,
association through a router, and Neutron's errors (Networking API v2.0, "Floating IPs").

Bodies go through the handlers' parsers and results through the views, as the API does.
"""

from __future__ import annotations

from typing import Any

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.network import exceptions as exc
from pocketstack.network.api import floatingips as api
from pocketstack.network.api import views
from pocketstack.network.lists import ListQuery
from pocketstack.network.networks import NetworkCreate
from pocketstack.network.ports import PortCreate
from pocketstack.network.routers import GatewayInfo, RouterCreate, RouterUpdate
from pocketstack.network.subnets import SubnetCreate

DEMO = RequestContext(user_id="u1", project_id="demo", roles=("member",))
OTHER = RequestContext(user_id="u2", project_id="other", roles=("member",))
ADMIN = RequestContext(user_id="u0", project_id="admin", roles=("admin",))


class World:
    """An external network (172.24.4.0/28: 13 addresses to hand out), demo's network
    10.1.0.0/24 with a port, and a helper for the router that connects them."""

    def __init__(self, network: Any):
        self.network = network
        self.fips = network.floating_ips
        self.ext = self.subnet(ADMIN, "172.24.4.0/28", external=True)
        self.private = self.subnet(DEMO, "10.1.0.0/24")
        self.port = network.ports.create(DEMO, PortCreate(network_id=self.private.network_id))

    def subnet(self, ctx: RequestContext, cidr: str, **extra: Any) -> Any:
        net = self.network.networks.create(ctx, NetworkCreate(name="n", **extra))
        return self.network.subnets.create(
            ctx, SubnetCreate(network_id=net.network.id, cidr=cidr, enable_dhcp=False)
        )

    def connect(self) -> str:
        """A demo router with a gateway on the external network and the private subnet."""
        router = self.network.routers.create(
            DEMO, RouterCreate(external_gateway_info=GatewayInfo(self.ext.network_id))
        )
        self.network.routers.add_interface(DEMO, router.router.id, subnet_id=self.private.id)
        return router.router.id

    def create(self, ctx: RequestContext, **body: Any) -> dict[str, Any]:
        body.setdefault("floating_network_id", self.ext.network_id)
        return views.floatingip(self.fips.create(ctx, api.parse_create(body)))

    def update(self, ctx: RequestContext, fip_id: str, **body: Any) -> dict[str, Any]:
        return views.floatingip(self.fips.update(ctx, fip_id, api.parse_update(body)))

    def get(self, ctx: RequestContext, fip_id: str) -> dict[str, Any]:
        return views.floatingip(self.fips.get(ctx, fip_id))


@pytest.fixture
def world(cloud):
    return World(cloud.network)


def test_allocate_associate_disassociate_release(world):
    fip = world.create(DEMO, description="web")
    assert fip["floating_ip_address"] == "172.24.4.2" and fip["status"] == "DOWN"
    assert fip["port_id"] is None and fip["router_id"] is None and fip["port_details"] is None
    assert fip["project_id"] == "demo" and fip["description"] == "web"
    with pytest.raises(exc.ExternalGatewayForFloatingIPNotFound, match="not reachable"):
        world.update(DEMO, fip["id"], port_id=world.port.port.id)
    router_id = world.connect()
    fixed = world.port.fixed_ips[0].ip_address
    shown = world.update(DEMO, fip["id"], port_id=world.port.port.id)
    assert (shown["port_id"], shown["fixed_ip_address"], shown["router_id"]) == (
        world.port.port.id,
        fixed,
        router_id,
    )
    assert shown["status"] == "ACTIVE" and shown["port_details"]["mac_address"]
    # the router's interface and gateway are now needed
    with pytest.raises(exc.RouterInterfaceInUseByFloatingIP):
        world.network.routers.remove_interface(DEMO, router_id, subnet_id=world.private.id)
    with pytest.raises(exc.RouterExternalGatewayInUseByFloatingIp):
        world.network.routers.update(DEMO, router_id, RouterUpdate(external_gateway_info=None))
    # a description change keeps the association
    assert world.update(DEMO, fip["id"], description="x")["port_id"] == world.port.port.id
    cleared = world.update(DEMO, fip["id"], port_id=None)
    assert cleared["port_id"] is None and cleared["status"] == "DOWN"
    assert cleared["router_id"] is None and cleared["fixed_ip_address"] is None
    world.fips.delete(DEMO, fip["id"])
    with pytest.raises(exc.FloatingIPNotFound):
        world.get(DEMO, fip["id"])
    # its address is free again
    assert world.create(DEMO)["floating_ip_address"] == "172.24.4.2"


def test_create_associated_and_one_floating_ip_per_fixed_ip(world):
    world.connect()
    first = world.create(DEMO, port_id=world.port.port.id)
    assert first["status"] == "ACTIVE"
    second = world.create(DEMO)
    with pytest.raises(exc.FloatingIPPortAlreadyAssociated, match="already has a floating IP"):
        world.update(DEMO, second["id"], port_id=world.port.port.id)
    with pytest.raises(exc.BadRequest, match="does not have fixed ip 10.1.0.99"):
        world.update(DEMO, second["id"], port_id=world.port.port.id, fixed_ip_address="10.1.0.99")


def test_deleting_the_fixed_port_disassociates(world):
    world.connect()
    fip = world.create(DEMO, port_id=world.port.port.id)
    world.network.ports.delete(DEMO, world.port.port.id)
    shown = world.get(DEMO, fip["id"])
    assert shown["port_id"] is None and shown["status"] == "DOWN"
    assert shown["revision_number"] > fip["revision_number"]


def test_floating_ip_port_is_the_floating_ips(world):
    fip = world.create(DEMO)
    ports = world.network.ports.list(
        ADMIN, ListQuery(filters={"device_id": (fip["id"],)}, all_projects=True)
    ).items
    assert [(p.port.device_owner, p.port.project_id) for p in ports] == [("network:floatingip", "")]
    with pytest.raises(exc.ServicePortInUse, match="network:floatingip"):
        world.network.ports.delete(ADMIN, ports[0].port.id)
    with pytest.raises(exc.NetworkInUse):
        world.network.networks.delete(ADMIN, world.ext.network_id)


def test_errors(world):
    with pytest.raises(exc.BadRequest, match="is not a valid external network"):
        world.create(DEMO, floating_network_id=world.private.network_id)
    with pytest.raises(exc.NetworkNotFound):
        world.create(DEMO, floating_network_id="nope")
    picked = world.create(ADMIN, floating_ip_address="172.24.4.9", project_id="demo")
    assert picked["floating_ip_address"] == "172.24.4.9" and picked["project_id"] == "demo"
    with pytest.raises(exc.IpAddressAlreadyAllocated):
        world.create(ADMIN, floating_ip_address="172.24.4.9")
    with pytest.raises(exc.InvalidIpForSubnet):
        world.create(ADMIN, floating_ip_address="10.9.9.9", subnet_id=world.ext.id)
    with pytest.raises(exc.FloatingIPNotFound):
        world.get(OTHER, picked["id"])
    with pytest.raises(exc.PortNotFound):  # another project's port
        world.update(OTHER, world.create(OTHER)["id"], port_id=world.port.port.id)
    with pytest.raises(exc.InvalidInput):
        api.parse_create({"floating_network_id": world.ext.network_id, "name": "x"})
    with pytest.raises(exc.BadRequest, match="without a port_id"):
        world.update(DEMO, picked["id"], fixed_ip_address="10.1.0.2")


def test_exhaustion_is_409(world):
    made = [world.create(DEMO) for _ in range(13)]  # 172.24.4.2..14 (.1 is the gateway)
    assert made[-1]["floating_ip_address"] == "172.24.4.14"
    with pytest.raises(exc.IpAddressGenerationFailure):
        world.create(DEMO)


def test_list_filters_and_paging(world):
    world.connect()
    associated = world.create(DEMO, port_id=world.port.port.id)
    free = world.create(DEMO)
    world.create(OTHER)
    by_port = world.fips.list(DEMO, ListQuery(filters={"port_id": (world.port.port.id,)}))
    assert [r.floatingip.id for r in by_port.items] == [associated["id"]]
    down = world.fips.list(DEMO, ListQuery(filters={"status": ("DOWN",)}))
    assert [r.floatingip.id for r in down.items] == [free["id"]]
    page = world.fips.list(DEMO, ListQuery(sort_keys=("floating_ip_address",), limit=1))
    lowest = min(associated["floating_ip_address"], free["floating_ip_address"])
    assert [r.floatingip.floating_ip_address for r in page.items] == [lowest] and page.more
    assert len(world.fips.list(ADMIN, ListQuery(all_projects=True)).items) == 3


def test_router_and_floating_ip_quotas(cloud, world):
    cloud.network.quotas.update(ADMIN, "demo", {"router": 1, "floatingip": 1})
    world.create(DEMO)
    with pytest.raises(exc.OverQuota, match="floatingip"):
        world.create(DEMO)
    world.connect()
    with pytest.raises(exc.OverQuota, match="router"):
        world.network.routers.create(DEMO, RouterCreate(name="second"))
    assert world.create(OTHER)["project_id"] == "other"  # others' quotas are their own
