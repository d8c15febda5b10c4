"""CapacityWeigher: prefer the backend with the most room (Cinder's default, spreading)."""

from __future__ import annotations

from pocketstack.volume.scheduler.backend_state import BackendState, VolumeRequest
from pocketstack.volume.scheduler.weighers import BaseBackendWeigher


class CapacityWeigher(BaseBackendWeigher):
    """The room left (GiB): thin, the virtual free capacity (``total * ratio -
    provisioned``); thick, the free capacity."""

    def __init__(self, default_ratio: float):
        self.default_ratio = default_ratio

    def weigh(self, backend: BackendState, spec: VolumeRequest) -> float:
        """Room left on ``backend`` after the volume (GiB)."""
        return backend.virtual_free_gb(self.default_ratio) - spec.size
