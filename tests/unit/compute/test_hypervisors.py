"""Hypervisors: services, hypervisors, statistics and availability zones."""

from __future__ import annotations

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.compute import liveness
from pocketstack.compute.api.views import hypervisor_statistics_view
from pocketstack.compute.hypervisors import HypervisorNotFound, ServiceNotFound
from pocketstack.compute.scheduler import host_manager

ADMIN = RequestContext(user_id="u-admin", project_id="p-admin", roles=("admin",))


@pytest.fixture
def hosts(cloud, db, conf):
    liveness.report_service(db, "node1")
    liveness.report_service(db, "node2", availability_zone="az2")
    for host in ("node1", "node2"):
        host_manager.report_compute_node(
            db,
            conf,
            host,
            {
                "vcpus": 4,
                "memory_mb": 8192,
                "local_gb": 50,
                "hypervisor_type": "fake",
                "hypervisor_hostname": host,
            },
        )
    return cloud.compute.hypervisors


def test_services_are_listed_up_and_can_be_disabled(hosts):
    services = hosts.list_services(ADMIN)
    assert [(s.host, up) for s, up in services] == [("node1", True), ("node2", True)]
    svc = hosts.update_service(
        ADMIN,
        host="node2",
        binary=services[1][0].binary,
        disabled=True,
        disabled_reason="maintenance",
    )
    assert svc.disabled and svc.disabled_reason == "maintenance"
    assert not hosts.availability_zone_exists("az2")
    with pytest.raises(ServiceNotFound):
        hosts.update_service(ADMIN, host="nope", binary="x", disabled=True)


def test_zones(hosts):
    assert hosts.availability_zone_exists("nova")
    assert hosts.availability_zone_exists("az2")
    assert not hosts.availability_zone_exists("nowhere")
    zones = hosts.availability_zones(ADMIN)
    assert sorted(zones) == ["az2", "nova"]


def test_hypervisors_and_statistics(hosts):
    found = hosts.list(ADMIN)
    assert [n.hypervisor_hostname for n, _s, _up in found] == ["node1", "node2"]
    node, svc, up = hosts.get(ADMIN, str(found[0][0].id))
    assert node.host == "node1" and svc.host == "node1" and up
    with pytest.raises(HypervisorNotFound):
        hosts.get(ADMIN, "999")
    stats = hosts.statistics(ADMIN)
    assert stats.count == 2 and stats.vcpus == 8 and stats.memory_mb == 16384
    view = hypervisor_statistics_view(stats)
    assert view["count"] == 2 and view["free_ram_mb"] == 16384 - stats.memory_mb_used


def test_delete_service(hosts):
    svc_id = str(hosts.list_services(ADMIN)[1][0].id)
    hosts.delete_service(ADMIN, svc_id)
    assert [s.host for s, _up in hosts.list_services(ADMIN)] == ["node1"]
    assert len(hosts.list(ADMIN)) == 1
    with pytest.raises(ServiceNotFound):
        hosts.delete_service(ADMIN, svc_id)
