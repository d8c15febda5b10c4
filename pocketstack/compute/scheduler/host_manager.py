"""Host bookkeeping: compute node resources and the host states the scheduler reads.

The conductor calls ``report_compute_node`` when a compute agent reports its host over the bus
(``agent_reports``: from the agent's periodic task, and once at start);
the scheduler reads ``list_host_states``, each host marked up or down by ``liveness``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from pocketstack.common.db import Database
from pocketstack.compute.liveness import COMPUTE_BINARY, service_is_up
from pocketstack.compute.models import ComputeNode, Service
from pocketstack.compute.scheduler.claims import recompute_usage
from pocketstack.compute.scheduler.host_state import HostState, arch_from_cpu_info


def report_compute_node(db: Database, conf: Any, host: str, resources: dict[str, Any]) -> None:
    """Create or update ``host``'s compute node from the driver and recompute its usage.

    Args:
        conf: supplies ``cpu_allocation_ratio``, ``ram_allocation_ratio``,
            ``disk_allocation_ratio`` and ``reserved_host_memory_mb``.
        resources: the driver's ``get_host_resources()``: ``{"vcpus", "memory_mb" (MiB),
            "local_gb" (GiB), "hypervisor_type", "hypervisor_version", "cpu_info"}``;
            optional ``"hypervisor_hostname"`` (default ``host``) and ``"host_ip"``.

    The used counters are set to the sums of the host's allocations in the same transaction,
    with the node row locked, which repairs any drift left by a crash.
    """
    with db.transaction() as s:
        node = s.execute(
            sa.select(ComputeNode).where(ComputeNode.host == host).with_for_update()
        ).scalar_one_or_none()
        if node is None:
            node = ComputeNode(host=host)
            s.add(node)
        node.hypervisor_hostname = resources.get("hypervisor_hostname") or host
        node.hypervisor_type = str(resources.get("hypervisor_type") or "")
        node.hypervisor_version = int(resources.get("hypervisor_version") or 0)
        node.cpu_info = resources.get("cpu_info")
        node.host_ip = resources.get("host_ip", node.host_ip)
        node.vcpus = int(resources["vcpus"])
        node.memory_mb = int(resources["memory_mb"])
        node.local_gb = int(resources["local_gb"])
        node.cpu_allocation_ratio = float(conf.cpu_allocation_ratio)
        node.ram_allocation_ratio = float(conf.ram_allocation_ratio)
        node.disk_allocation_ratio = float(conf.disk_allocation_ratio)
        node.reserved_host_memory_mb = int(conf.reserved_host_memory_mb)
        s.flush()
        recompute_usage(s, node)


def _host_state(node: ComputeNode, svc: Service | None, conf: Any) -> HostState:
    return HostState(
        host=node.host,
        nodename=node.hypervisor_hostname,
        availability_zone=svc.availability_zone if svc else "nova",
        service_disabled=svc.disabled if svc else True,
        service_up=service_is_up(svc, conf) if svc else False,
        hypervisor_type=node.hypervisor_type,
        hypervisor_version=node.hypervisor_version,
        architecture=arch_from_cpu_info(node.cpu_info),
        vcpus=node.vcpus,
        memory_mb=node.memory_mb,
        local_gb=node.local_gb,
        vcpus_used=node.vcpus_used,
        memory_mb_used=node.memory_mb_used,
        local_gb_used=node.local_gb_used,
        running_vms=node.running_vms,
        cpu_allocation_ratio=node.cpu_allocation_ratio,
        ram_allocation_ratio=node.ram_allocation_ratio,
        disk_allocation_ratio=node.disk_allocation_ratio,
        reserved_host_memory_mb=node.reserved_host_memory_mb,
    )


def list_host_states(db: Database, conf: Any) -> list[HostState]:
    """Every compute node with its compute service's state, ordered by host name.

    A node without a ``nova-compute`` service row is listed as disabled and down.
    """
    with db.reader() as s:
        rows = s.execute(
            sa.select(ComputeNode, Service)
            .outerjoin(
                Service, sa.and_(Service.host == ComputeNode.host, Service.binary == COMPUTE_BINARY)
            )
            .order_by(ComputeNode.host)
        ).all()
        return [_host_state(node, svc, conf) for node, svc in rows]
