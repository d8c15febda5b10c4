"""AvailabilityZoneFilter: only backends of the volume's zone."""

from __future__ import annotations

from pocketstack.volume.scheduler.backend_state import BackendState, VolumeRequest
from pocketstack.volume.scheduler.filters import BaseBackendFilter


class AvailabilityZoneFilter(BaseBackendFilter):
    """A volume that names a zone goes to a backend of that zone (Cinder's)."""

    def backend_passes(self, backend: BackendState, spec: VolumeRequest) -> bool:
        """True when ``spec`` names no zone or ``backend``'s zone."""
        return not spec.availability_zone or spec.availability_zone == backend.availability_zone
