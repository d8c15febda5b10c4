"""CapacityFilter: only backends with room for the volume (Cinder's, thin-aware)."""

from __future__ import annotations

import logging

from pocketstack.volume.scheduler.backend_state import BackendState, VolumeRequest
from pocketstack.volume.scheduler.filters import BaseBackendFilter

LOG = logging.getLogger(__name__)


class CapacityFilter(BaseBackendFilter):
    """Thick: the free capacity must hold the size. Thin: the free capacity must be
    positive and the provisioned GiB plus the size must stay within ``total *
    max_over_subscription_ratio`` (the backend's ratio, else ``[volume]
    max_over_subscription_ratio``)."""

    def __init__(self, default_ratio: float):
        self.default_ratio = default_ratio

    def backend_passes(self, backend: BackendState, spec: VolumeRequest) -> bool:
        """True when ``backend`` has room for ``spec.size`` GiB."""
        if backend.total_gb <= 0:
            LOG.debug("%s reports no capacity", backend)
            return False
        if backend.thin:
            room = backend.virtual_free_gb(self.default_ratio)
            fits = backend.free_gb > 0 and spec.size <= room
        else:
            room = backend.free_gb
            fits = spec.size <= room
        if not fits:
            LOG.debug("%s: %.1f GiB free for %d GiB", backend, room, spec.size)
        return fits
