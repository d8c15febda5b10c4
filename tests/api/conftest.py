"""API tests use ``running_cloud`` and ``launch_cloud`` from ``tests/conftest.py``; the
routers and floating IP tests share ``made`` here."""

from __future__ import annotations

import openstack.exceptions
import pytest


@pytest.fixture
def made(running_cloud):
    """Records what a test creates (``servers``, ``fips``, ``routers``, ``networks``: lists
    of ids) and deletes it afterwards as the admin, in dependency order (servers, floating
    IPs, routers with their interfaces, networks last made first with their ports), so the
    shared cloud keeps only what it had. A module may define its own ``made``."""
    made: dict[str, list[str]] = {"servers": [], "fips": [], "routers": [], "networks": []}
    yield made
    admin = running_cloud.sdk("pocketstack-admin")
    for server_id in made["servers"]:
        admin.compute.delete_server(server_id, ignore_missing=True)
        try:
            admin.compute.wait_for_delete(admin.compute.get_server(server_id), wait=60)
        except openstack.exceptions.NotFoundException:
            pass
    for fip_id in made["fips"]:
        admin.network.delete_ip(fip_id, ignore_missing=True)
    for router_id in made["routers"]:
        for port in admin.network.ports(device_id=router_id):
            if port.device_owner == "network:router_interface":
                admin.network.remove_interface_from_router(router_id, port_id=port.id)
        admin.network.delete_router(router_id, ignore_missing=True)
    for network_id in reversed(made["networks"]):
        for port in admin.network.ports(network_id=network_id):
            admin.network.delete_port(port.id, ignore_missing=True)
        admin.network.delete_network(network_id, ignore_missing=True)
