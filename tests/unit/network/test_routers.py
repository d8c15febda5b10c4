"""Routers through the manager on SQLite: gateway, interfaces, extra routes, and the
conflicts Neutron answers (Networking API v2.0, "Routers").

Bodies go through the handlers' parsers and results through the views, as the API does;
the logic's exceptions propagate as they are.
"""

from __future__ import annotations

from typing import Any

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.network import exceptions as exc
from pocketstack.network.api import routers as api
from pocketstack.network.api import views
from pocketstack.network.lists import ListQuery
from pocketstack.network.networks import NetworkCreate
from pocketstack.network.ports import PortCreate
from pocketstack.network.subnets import SubnetCreate

DEMO = RequestContext(user_id="u1", project_id="demo", roles=("member",))
OTHER = RequestContext(user_id="u2", project_id="other", roles=("member",))
ADMIN = RequestContext(user_id="u0", project_id="admin", roles=("admin",))


class L3:
    """The routers family with request bodies in and rendered dicts out, plus helpers that
    make the networks a test needs."""

    def __init__(self, network: Any):
        self.network = network
        self.routers = network.routers

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        return views.router(self.routers.create(ctx, api.parse_create(body)))

    def update(self, ctx: RequestContext, router_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return views.router(self.routers.update(ctx, router_id, api.parse_update(body)))

    def get(self, ctx: RequestContext, router_id: str) -> dict[str, Any]:
        return views.router(self.routers.get(ctx, router_id))

    def add(self, ctx: RequestContext, router_id: str, **ids: str) -> dict[str, Any]:
        return views.router_interface(self.routers.add_interface(ctx, router_id, **ids))

    def remove(self, ctx: RequestContext, router_id: str, **ids: str) -> dict[str, Any]:
        return views.router_interface(self.routers.remove_interface(ctx, router_id, **ids))

    def subnet(self, ctx: RequestContext, cidr: str, **extra: Any) -> Any:
        """A new network of ``ctx``'s with one subnet on ``cidr``."""
        net = self.network.networks.create(ctx, NetworkCreate(name="n", **extra))
        return self.network.subnets.create(
            ctx, SubnetCreate(network_id=net.network.id, cidr=cidr, enable_dhcp=False)
        )

    def external(self, cidr: str = "172.24.4.0/24") -> Any:
        """An admin's external network and its subnet."""
        return self.subnet(ADMIN, cidr, external=True)


@pytest.fixture
def l3(cloud):
    return L3(cloud.network)


def test_router_lifecycle_with_gateway(l3):
    ext = l3.external()
    router = l3.create(
        DEMO, {"name": "r1", "external_gateway_info": {"network_id": ext.network_id}}
    )
    assert router["status"] == "ACTIVE" and router["project_id"] == "demo"
    gw = router["external_gateway_info"]
    assert gw["network_id"] == ext.network_id and gw["enable_snat"] is True
    assert gw["external_fixed_ips"] == [{"subnet_id": ext.id, "ip_address": "172.24.4.2"}]
    assert router["routes"] == [] and router["distributed"] is False
    # the gateway port is the router's, on the external network, with no project
    ports = l3.network.ports.list(ADMIN, _query(device_id=router["id"])).items
    assert [(p.port.device_owner, p.port.project_id) for p in ports] == [
        ("network:router_gateway", "")
    ]
    updated = l3.update(DEMO, router["id"], {"name": "r2", "external_gateway_info": {}})
    assert updated["name"] == "r2" and updated["external_gateway_info"] is None
    assert updated["revision_number"] > router["revision_number"]
    assert l3.network.ports.list(ADMIN, _query(device_id=router["id"])).items == []
    with pytest.raises(exc.RouterNotFound):
        l3.get(OTHER, router["id"])
    l3.routers.delete(DEMO, router["id"])
    with pytest.raises(exc.RouterNotFound):
        l3.get(DEMO, router["id"])


def _query(**filters: str) -> Any:
    return ListQuery(filters={k: (v,) for k, v in filters.items()}, all_projects=True)


def test_gateway_must_be_an_external_network(l3):
    private = l3.subnet(DEMO, "10.0.0.0/24")
    with pytest.raises(exc.BadRequest, match="is not an external network"):
        l3.create(DEMO, {"external_gateway_info": {"network_id": private.network_id}})
    with pytest.raises(exc.NetworkNotFound):
        l3.create(DEMO, {"external_gateway_info": {"network_id": "no-such-network"}})
    assert l3.routers.list(DEMO, _query()).items == []


def test_interfaces_by_subnet_and_port(l3):
    router = l3.create(DEMO, {"name": "r"})
    one = l3.subnet(DEMO, "10.1.0.0/24")
    two = l3.subnet(DEMO, "10.2.0.0/24")
    info = l3.add(DEMO, router["id"], subnet_id=one.id)
    assert info["subnet_id"] == one.id and info["subnet_ids"] == [one.id]
    assert info["id"] == router["id"] and info["network_id"] == one.network_id
    port = l3.network.ports.get(DEMO, info["port_id"])
    assert port.port.device_owner == "network:router_interface"
    assert [a.ip_address for a in port.fixed_ips] == ["10.1.0.1"]  # the subnet's gateway
    assert port.security_group_ids == []
    # a user's port on the second subnet
    mine = l3.network.ports.create(DEMO, PortCreate(network_id=two.network_id))
    by_port = l3.add(DEMO, router["id"], port_id=mine.port.id)
    assert by_port["port_id"] == mine.port.id and by_port["subnet_id"] == two.id
    # the router is now in use; its ports cannot be deleted through /ports
    with pytest.raises(exc.RouterInUse):
        l3.routers.delete(DEMO, router["id"])
    with pytest.raises(exc.ServicePortInUse, match="network:router_interface"):
        l3.network.ports.delete(DEMO, mine.port.id)
    # nor their subnet or network
    with pytest.raises(exc.SubnetInUse):
        l3.network.subnets.delete(DEMO, one.id)
    with pytest.raises(exc.NetworkInUse):
        l3.network.networks.delete(DEMO, one.network_id)
    removed = l3.remove(DEMO, router["id"], subnet_id=one.id)
    assert removed["port_id"] == info["port_id"]
    l3.remove(DEMO, router["id"], port_id=mine.port.id)
    with pytest.raises(exc.PortNotFound):  # removing an interface deletes its port
        l3.network.ports.get(DEMO, mine.port.id)
    l3.routers.delete(DEMO, router["id"])
    l3.network.subnets.delete(DEMO, one.id)


def test_interface_errors(l3):
    router = l3.create(DEMO, {"name": "r"})
    one = l3.subnet(DEMO, "10.1.0.0/24")
    with pytest.raises(exc.BadRequest, match="Either subnet_id or port_id"):
        l3.add(DEMO, router["id"])
    with pytest.raises(exc.BadRequest, match="Cannot specify both"):
        l3.add(DEMO, router["id"], subnet_id=one.id, port_id="p")
    l3.add(DEMO, router["id"], subnet_id=one.id)
    with pytest.raises(exc.BadRequest, match="already has a port on subnet"):
        l3.add(DEMO, router["id"], subnet_id=one.id)
    overlapping = l3.subnet(DEMO, "10.1.0.0/16")
    with pytest.raises(exc.BadRequest, match="overlaps with cidr 10.1.0.0/24"):
        l3.add(DEMO, router["id"], subnet_id=overlapping.id)
    no_gateway = l3.network.subnets.create(
        DEMO,
        SubnetCreate(
            network_id=l3.subnet(DEMO, "10.3.0.0/24").network_id,
            cidr="10.4.0.0/24",
            gateway_ip=None,
        ),
    )
    with pytest.raises(exc.BadRequest, match="must have a gateway IP"):
        l3.add(DEMO, router["id"], subnet_id=no_gateway.id)
    other = l3.subnet(OTHER, "10.9.0.0/24")
    with pytest.raises(exc.SubnetNotFound):
        l3.add(DEMO, router["id"], subnet_id=other.id)
    with pytest.raises(exc.RouterNotFound):
        l3.add(OTHER, router["id"], subnet_id=other.id)
    with pytest.raises(exc.RouterInterfaceNotFoundForSubnet):
        l3.remove(DEMO, router["id"], subnet_id=no_gateway.id)
    with pytest.raises(exc.RouterInterfaceNotFound):
        l3.remove(DEMO, router["id"], port_id="not-a-port")


def test_gateway_ip_taken_is_409(l3):
    """The gateway IP of a subnet is one interface's: a second router cannot take it."""
    one = l3.subnet(DEMO, "10.1.0.0/24")
    l3.add(DEMO, l3.create(DEMO, {"name": "r"})["id"], subnet_id=one.id)
    second = l3.create(DEMO, {"name": "r2"})
    with pytest.raises(exc.IpAddressAlreadyAllocated):
        l3.add(DEMO, second["id"], subnet_id=one.id)


def test_extra_routes(l3):
    router = l3.create(DEMO, {"name": "r"})
    one = l3.subnet(DEMO, "10.1.0.0/24")
    l3.add(DEMO, router["id"], subnet_id=one.id)
    route = {"destination": "192.168.0.0/16", "nexthop": "10.1.0.5"}
    shown = l3.update(DEMO, router["id"], {"routes": [route]})
    assert shown["routes"] == [route]
    with pytest.raises(exc.InvalidRoutes, match="not connected with router"):
        l3.update(
            DEMO, router["id"], {"routes": [{"destination": "8.8.8.0/24", "nexthop": "1.2.3.4"}]}
        )
    with pytest.raises(exc.InvalidRoutes, match="used by router"):
        l3.update(
            DEMO, router["id"], {"routes": [{"destination": "8.8.8.0/24", "nexthop": "10.1.0.1"}]}
        )
    with pytest.raises(exc.InvalidRoutes):
        l3.update(
            DEMO, router["id"], {"routes": [{"destination": "nonsense", "nexthop": "10.1.0.5"}]}
        )
    many = [{"destination": f"192.0.{i}.0/24", "nexthop": "10.1.0.5"} for i in range(31)]
    with pytest.raises(exc.RoutesExhausted):
        l3.update(DEMO, router["id"], {"routes": many})
    extra = {"destination": "172.16.0.0/12", "nexthop": "10.1.0.6"}
    added = views.router(l3.routers.add_extraroutes(DEMO, router["id"], [extra, route]))
    assert added["routes"] == [extra, route]  # sorted by destination, no duplicate
    # the interface the routes go through stays
    with pytest.raises(exc.RouterInterfaceInUseByRoute):
        l3.remove(DEMO, router["id"], subnet_id=one.id)
    left = views.router(
        l3.routers.remove_extraroutes(
            DEMO, router["id"], [route, {"destination": "1.0.0.0/8", "nexthop": "10.1.0.9"}]
        )
    )
    assert left["routes"] == [extra]
    cleared = l3.update(DEMO, router["id"], {"routes": None})
    assert cleared["routes"] == []
    l3.remove(DEMO, router["id"], subnet_id=one.id)


def test_gateway_overlapping_an_interface_is_400(l3):
    ext = l3.external("10.1.0.0/16")
    router = l3.create(DEMO, {"name": "r"})
    one = l3.subnet(DEMO, "10.1.2.0/24")
    l3.add(DEMO, router["id"], subnet_id=one.id)
    with pytest.raises(exc.BadRequest, match="overlaps"):
        l3.update(DEMO, router["id"], {"external_gateway_info": {"network_id": ext.network_id}})
    assert l3.get(DEMO, router["id"])["external_gateway_info"] is None


def test_gateway_fixed_ip_and_snat(l3):
    ext = l3.external()
    router = l3.create(
        ADMIN,
        {
            "project_id": "demo",
            "external_gateway_info": {
                "network_id": ext.network_id,
                "enable_snat": False,
                "external_fixed_ips": [{"ip_address": "172.24.4.50"}],
            },
        },
    )
    gw = router["external_gateway_info"]
    assert gw["enable_snat"] is False
    assert gw["external_fixed_ips"] == [{"subnet_id": ext.id, "ip_address": "172.24.4.50"}]
    moved = l3.update(
        ADMIN,
        router["id"],
        {
            "external_gateway_info": {
                "network_id": ext.network_id,
                "external_fixed_ips": [{"ip_address": "172.24.4.60"}],
            }
        },
    )
    assert moved["external_gateway_info"]["external_fixed_ips"][0]["ip_address"] == "172.24.4.60"
    assert moved["external_gateway_info"]["enable_snat"] is False
    other = l3.create(DEMO, {"name": "r2"})
    with pytest.raises(exc.IpAddressAlreadyAllocated):
        l3.update(
            DEMO,
            other["id"],
            {
                "external_gateway_info": {
                    "network_id": ext.network_id,
                    "external_fixed_ips": [{"ip_address": "172.24.4.60"}],
                }
            },
        )


def test_list_filters_sort_and_paging(l3):
    for name in ("b", "a", "c"):
        l3.create(DEMO, {"name": name, "admin_state_up": name != "c"})
    l3.create(OTHER, {"name": "theirs"})
    names = [r.router.name for r in l3.routers.list(DEMO, ListQuery(sort_keys=("name",))).items]
    assert names == ["a", "b", "c"]
    down = l3.routers.list(DEMO, ListQuery(filters={"admin_state_up": ("false",)})).items
    assert [r.router.name for r in down] == ["c"]
    page = l3.routers.list(DEMO, ListQuery(sort_keys=("name",), limit=2))
    assert [r.router.name for r in page.items] == ["a", "b"] and page.more
    every = l3.routers.list(ADMIN, ListQuery(all_projects=True)).items
    assert "theirs" in {r.router.name for r in every}
    with pytest.raises(exc.RouterNotFound):
        l3.routers.list(DEMO, ListQuery(marker="nope", limit=1))


def test_parse_refuses_what_neutron_refuses():
    with pytest.raises(exc.InvalidInput):
        api.parse_create({"distributed": True})
    with pytest.raises(exc.InvalidInput):
        api.parse_update({"status": "DOWN"})
    with pytest.raises(exc.BadRequest):
        api.parse_create({"external_gateway_info": {"enable_snat": False}})
    assert api.parse_update({"external_gateway_info": None}).external_gateway_info is None


def test_changes_tell_the_data_plane(cloud, l3):
    calls = []
    cloud.network.notify_dataplane = lambda: calls.append(1)
    router = l3.create(DEMO, {"name": "r"})
    one = l3.subnet(DEMO, "10.1.0.0/24")
    before = len(calls)
    l3.add(DEMO, router["id"], subnet_id=one.id)
    l3.remove(DEMO, router["id"], subnet_id=one.id)
    l3.routers.delete(DEMO, router["id"])
    assert len(calls) - before == 3


def test_policies_keep_neutrons_names_and_personas():
    from pocketstack.common import policy

    reader = RequestContext(user_id="u3", project_id="demo", roles=("reader",))
    for rule in ("get_router", "get_floatingip"):
        assert policy.allowed(reader, rule)
    for rule in ("create_router", "add_router_interface", "add_extraroutes", "create_floatingip"):
        assert not policy.allowed(reader, rule) and policy.allowed(DEMO, rule)
    for rule in (
        "create_router:external_gateway_info:enable_snat",
        "update_router:external_gateway_info:external_fixed_ips",
        "create_floatingip:floating_ip_address",
    ):
        assert not policy.allowed(DEMO, rule) and policy.allowed(ADMIN, rule)


def test_removing_an_interface_by_subnet_on_postgresql(pg_cloud):
    """Regression: the interface's subnets were read with JOIN + DISTINCT, which PostgreSQL
    refuses on the subnets' json columns (a 500 on remove_router_interface)."""
    l3 = L3(pg_cloud.network)
    router = l3.create(DEMO, {"name": "r"})
    one = l3.subnet(DEMO, "10.1.0.0/24")
    info = l3.add(DEMO, router["id"], subnet_id=one.id)
    removed = l3.remove(DEMO, router["id"], subnet_id=one.id)
    assert removed["port_id"] == info["port_id"] and removed["subnet_id"] == one.id
