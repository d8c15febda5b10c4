"""Host bookkeeping: compute node resources, host states."""

import sqlalchemy as sa

from pocketstack.compute.models import Allocation, ComputeNode
from pocketstack.compute.scheduler import host_manager

RESOURCES = {
    "vcpus": 4,
    "memory_mb": 4096,
    "local_gb": 40,
    "hypervisor_type": "QEMU",
    "hypervisor_version": 8002000,
    "cpu_info": "x86_64 (QEMU 8.2)",
}


def node(db, host):
    """The ``compute_nodes`` row of ``host``, detached with its values loaded."""
    with db.transaction() as s:
        return s.execute(sa.select(ComputeNode).where(ComputeNode.host == host)).scalar_one()


def test_report_compute_node_stores_resources_and_ratios(db, conf):
    conf = conf.replace(
        cpu_allocation_ratio=2.0,
        ram_allocation_ratio=1.0,
        disk_allocation_ratio=1.5,
        reserved_host_memory_mb=256,
    )
    host_manager.report_compute_node(db, conf, "node1", RESOURCES)
    n = node(db, "node1")
    assert (n.hypervisor_hostname, n.hypervisor_type, n.hypervisor_version) == (
        "node1",
        "QEMU",
        8002000,
    )
    assert (n.vcpus, n.memory_mb, n.local_gb) == (4, 4096, 40)
    assert (
        n.cpu_allocation_ratio,
        n.ram_allocation_ratio,
        n.disk_allocation_ratio,
        n.reserved_host_memory_mb,
    ) == (2.0, 1.0, 1.5, 256)
    host_manager.report_compute_node(db, conf, "node1", {**RESOURCES, "vcpus": 8})
    assert node(db, "node1").vcpus == 8
    with db.reader() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ComputeNode)) == 1


def test_report_compute_node_recomputes_usage_from_allocations(db, conf):
    host_manager.report_compute_node(db, conf, "node1", RESOURCES)
    with db.transaction() as s:  # drift: counters that no allocation explains (a crash)
        s.add(Allocation(instance_uuid="i1", host="node1", vcpus=1, memory_mb=512, disk_gb=1))
        s.add(Allocation(instance_uuid="i2", host="node1", vcpus=2, memory_mb=256, disk_gb=5))
        s.add(Allocation(instance_uuid="i3", host="other", vcpus=9, memory_mb=999, disk_gb=9))
        n = s.execute(sa.select(ComputeNode)).scalar_one()
        n.vcpus_used, n.memory_mb_used, n.local_gb_used, n.running_vms = 40, 40000, 400, 17
    host_manager.report_compute_node(db, conf, "node1", RESOURCES)
    n = node(db, "node1")
    assert (n.vcpus_used, n.memory_mb_used, n.local_gb_used, n.running_vms) == (3, 768, 6, 2)


def test_list_host_states(db, conf, add_host):
    add_host(db, conf, "b", az="zone-b", vcpus=2)
    add_host(db, conf, "a")
    host_manager.report_compute_node(db, conf, "orphan", RESOURCES)  # no service row
    states = {h.host: h for h in host_manager.list_host_states(db, conf)}
    assert list(states) == ["a", "b", "orphan"]
    assert states["b"].availability_zone == "zone-b"
    assert states["b"].vcpus == 2
    assert states["a"].architecture == "x86_64"
    assert states["a"].service_up and not states["a"].service_disabled
    assert not states["orphan"].service_up and states["orphan"].service_disabled
