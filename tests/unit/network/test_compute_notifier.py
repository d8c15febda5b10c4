"""The network service tells Compute when a server's ports change (Neutron's Nova
notifier): a floating IP associated, disassociated or deleted, a port's fixed IPs changed or
the port deleted. Checked on what Compute then shows: the server's ``addresses`` rendered
from its refreshed ``network_info``, with the real compute manager on SQLite."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.compute.api.views import addresses
from pocketstack.compute.models import Instance
from pocketstack.network.floatingips import FloatingIPCreate, FloatingIPUpdate
from pocketstack.network.networks import NetworkCreate
from pocketstack.network.ports import PortCreate, PortUpdate
from pocketstack.network.routers import GatewayInfo, RouterCreate
from pocketstack.network.subnets import SubnetCreate
from tests.unit.compute import builders

DEMO = RequestContext(user_id="u1", project_id="demo", roles=("member",))
ADMIN = RequestContext(user_id="u0", project_id="admin", roles=("admin",))


class World:
    """An external network 172.24.4.0/28, demo's 10.1.0.0/24 behind a router to it, and
    a server ``vm1`` on host1 with one port there (its network_info stored as the conductor
    stores it)."""

    def __init__(self, cloud: Any):
        self.cloud = cloud
        net = cloud.network
        self.ext = self.subnet(ADMIN, "172.24.4.0/28", external=True)
        self.private = self.subnet(DEMO, "10.1.0.0/24")
        router = net.routers.create(
            DEMO, RouterCreate(external_gateway_info=GatewayInfo(self.ext.network_id))
        )
        net.routers.add_interface(DEMO, router.router.id, subnet_id=self.private.id)
        self.server = builders.plant(cloud.db, project_id="demo", host="host1")
        info = net.allocate_for_instance(
            RequestContext.system(),
            self.server,
            "demo",
            "host1",
            [{"uuid": self.private.network_id}],
            [],
        )
        self.port_id = info[0]["port_id"]
        with cloud.db.transaction() as s:
            s.get(Instance, self.server).network_info = info

    def subnet(self, ctx: RequestContext, cidr: str, **extra: Any) -> Any:
        net = self.cloud.network.networks.create(ctx, NetworkCreate(name="n", **extra))
        return self.cloud.network.subnets.create(
            ctx, SubnetCreate(network_id=net.network.id, cidr=cidr, enable_dhcp=False)
        )

    def shown(self) -> list[tuple[str, str]]:
        """(addr, OS-EXT-IPS:type) of the server, as the Compute API renders them."""
        with self.cloud.db.reader() as s:
            row = s.get(Instance, self.server)
        return [
            (a["addr"], a["OS-EXT-IPS:type"])
            for v in addresses(row.network_info).values()
            for a in v
        ]

    def floating_ip(self, **extra: Any) -> tuple[str, str]:
        """A new floating IP of demo: (id, address)."""
        record = self.cloud.network.floating_ips.create(
            DEMO, FloatingIPCreate(floating_network_id=self.ext.network_id, **extra)
        )
        return record.floatingip.id, record.floatingip.floating_ip_address


@pytest.fixture
def world(cloud):
    return World(cloud)


def test_associate_and_disassociate_show_on_the_server(world):
    fixed = world.shown()[0][0]
    fip, address = world.floating_ip()
    assert world.shown() == [(fixed, "fixed")]
    world.cloud.network.floating_ips.update(DEMO, fip, FloatingIPUpdate(port_id=world.port_id))
    assert world.shown() == [(fixed, "fixed"), (address, "floating")]
    with world.cloud.db.reader() as s:
        [vif] = s.get(Instance, world.server).network_info
    assert vif["fixed_ips"][0]["floating_ips"] == [
        {"address": address, "type": "floating", "version": 4}
    ]
    world.cloud.network.floating_ips.update(DEMO, fip, FloatingIPUpdate(port_id=None))
    assert world.shown() == [(fixed, "fixed")]


def test_created_associated_then_deleted_floating_ip(world):
    fip, address = world.floating_ip(port_id=world.port_id)
    assert (address, "floating") in world.shown()
    world.cloud.network.floating_ips.delete(DEMO, fip)
    assert [t for _a, t in world.shown()] == ["fixed"]


def test_new_fixed_ips_and_a_deleted_port_show_on_the_server(world):
    world.cloud.network.ports.update(
        DEMO, world.port_id, PortUpdate(fixed_ips=[{"ip_address": "10.1.0.20"}])
    )
    assert world.shown() == [("10.1.0.20", "fixed")]
    world.cloud.network.ports.delete(DEMO, world.port_id)
    assert world.shown() == []


def test_ports_of_no_server_send_nothing(world, monkeypatch):
    sent: list[Any] = []
    monkeypatch.setattr(
        world.cloud.compute.server_external_events, "create", lambda ctx, ev: sent.append(ev)
    )
    other = world.cloud.network.ports.create(DEMO, PortCreate(network_id=world.private.network_id))
    fip, _address = world.floating_ip(port_id=other.port.id)
    world.cloud.network.ports.update(
        DEMO, other.port.id, PortUpdate(fixed_ips=[{"ip_address": "10.1.0.30"}])
    )
    world.cloud.network.floating_ips.update(DEMO, fip, FloatingIPUpdate(description="x"))
    world.cloud.network.ports.delete(DEMO, other.port.id)
    assert sent == []


def test_a_compute_failure_is_logged_and_the_association_stands(world, monkeypatch, caplog):
    def broken(ctx: RequestContext, events: Any) -> Any:
        raise RuntimeError("compute is down")

    monkeypatch.setattr(world.cloud.compute.server_external_events, "create", broken)
    fip, _address = world.floating_ip()
    with caplog.at_level(logging.WARNING, logger="pocketstack.network.manager"):
        shown = world.cloud.network.floating_ips.update(
            DEMO, fip, FloatingIPUpdate(port_id=world.port_id)
        )
    assert shown.floatingip.port_id == world.port_id
    assert world.cloud.network.floating_ips.get(DEMO, fip).floatingip.status == "ACTIVE"
    assert "sending events" in caplog.text and "compute is down" in caplog.text
    assert [t for _a, t in world.shown()] == ["fixed"]  # the cache stays as it was


def test_a_deleted_server_is_not_an_error(world):
    with world.cloud.db.transaction() as s:
        s.get(Instance, world.server).deleted = True
    fip, _address = world.floating_ip(port_id=world.port_id)
    assert world.cloud.network.floating_ips.get(DEMO, fip).floatingip.port_id == world.port_id
