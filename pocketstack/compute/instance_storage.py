"""Where a compute host keeps its guests' files, and whether that storage is shared with
other hosts (issue 10: shared vs local instance storage; Nova's ``instances_path`` and the
shared-storage check its live migration and evacuation make).

Configuration, per host (``[compute]``): ``instances_path`` (default
``<state_dir>/instances``) and ``instances_shared_storage`` (default false: local disks).
The agent reports both with its resources (``report``); the conductor writes them on the
host's compute node (``compute_nodes.instances_path``/``instances_shared_storage``,
migration 0018); ``openstack hypervisor show`` shows them as the extra fields
``instances_path`` and ``instances_shared_storage`` (admins); the scheduler and the move
workflows read them with ``instance_storage_shared``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pocketstack.service import Cloud


def instances_path(conf: Any) -> str:
    """The host's instances directory: ``[compute] instances_path`` or
    ``<state_dir>/instances`` (absolute)."""
    configured = str(getattr(conf, "instances_path", "") or "")
    return str(Path(configured or Path(conf.state_dir, "instances")).absolute())


def report(conf: Any) -> dict[str, Any]:
    """What the agent adds to its resources report: ``{"instances_path": str,
    "instances_shared_storage": bool}``."""
    return {
        "instances_path": instances_path(conf),
        "instances_shared_storage": bool(getattr(conf, "instances_shared_storage", False)),
    }


def instance_storage_shared(cloud: Cloud, source_host: str, dest_host: str) -> bool:
    """Whether a guest's files on ``source_host`` are already on ``dest_host``: both compute
    hosts report shared instance storage and the same instances directory (a live migration
    then moves memory only, an evacuation keeps the disk). False for an unknown host, a host
    with local storage, or one host with itself (its storage is not "shared" with a
    destination it already is).

    Args:
        cloud: the controller's ``Cloud`` (reads ``compute_nodes``).
        source_host, dest_host: compute service host names (``Instance.host``).
    """
    import sqlalchemy as sa  # here: the agent imports this module and no database module

    from pocketstack.compute.models import ComputeNode

    if source_host == dest_host:
        return False
    with cloud.db.reader() as s:
        rows = s.execute(
            sa.select(
                ComputeNode.host, ComputeNode.instances_path, ComputeNode.instances_shared_storage
            ).where(ComputeNode.host.in_([source_host, dest_host]))
        ).all()
    found = {host: (path, shared) for host, path, shared in rows}
    if len(found) != 2:
        return False
    (src_path, src_shared), (dst_path, dst_shared) = found[source_host], found[dest_host]
    return bool(src_shared and dst_shared and src_path and src_path == dst_path)
