"""What the scheduler knows of one backend and of the volume it places."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class VolumeRequest:
    """The volume to place: ``size`` (GiB), its ``availability_zone`` and its type's
    ``extra_specs``."""

    size: int
    availability_zone: str | None
    extra_specs: Mapping[str, str] = field(default_factory=dict)


@dataclass
class BackendState:
    """One ``cinder-volume`` backend as the scheduler sees it.

    Attributes:
        host: the agent's host (``node1``); backend: ``node1@file``; pool: the pool name.
        availability_zone: the backend's zone.
        capabilities: the last ``report_state`` (Cinder's names: ``total_capacity_gb``,
            ``free_capacity_gb``, ``thin_provisioning_support``,
            ``max_over_subscription_ratio``, ``volume_backend_name``...).
        provisioned_gb: GiB of the volumes the database places on it (not deleted).
        pending_gb: GiB of its volumes still ``creating`` (not yet in a report's free).
    """

    host: str
    backend: str
    pool: str
    availability_zone: str
    capabilities: Mapping[str, Any]
    provisioned_gb: float = 0.0
    pending_gb: float = 0.0

    @property
    def cinder_host(self) -> str:
        """Cinder's volume host string: ``<host>@<backend>#<pool>``."""
        return f"{self.backend}#{self.pool}"

    @property
    def total_gb(self) -> float:
        """Reported total capacity (GiB)."""
        return float(self.capabilities.get("total_capacity_gb") or 0)

    @property
    def free_gb(self) -> float:
        """Reported free capacity less the volumes created since (GiB)."""
        return float(self.capabilities.get("free_capacity_gb") or 0) - self.pending_gb

    @property
    def thin(self) -> bool:
        """Whether the backend provisions thinly."""
        return bool(self.capabilities.get("thin_provisioning_support"))

    def ratio(self, default: float) -> float:
        """The over-subscription ratio: the backend's, else ``default`` (at least 1)."""
        value = self.capabilities.get("max_over_subscription_ratio")
        try:
            return max(1.0, float(value if value not in (None, "") else default))
        except (TypeError, ValueError):
            return max(1.0, default)

    def virtual_free_gb(self, default_ratio: float) -> float:
        """What may still be provisioned (GiB): thin, ``total * ratio - provisioned``;
        thick, the free capacity."""
        if self.thin:
            return self.total_gb * self.ratio(default_ratio) - self.provisioned_gb
        return self.free_gb

    def __str__(self) -> str:
        return self.cinder_host
