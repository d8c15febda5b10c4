"""Backend weighers: one class per module, each scoring the backends that passed the
filters; the highest score wins (``weigh`` raw values, summed by the manager)."""

from __future__ import annotations

from pocketstack.volume.scheduler.backend_state import BackendState, VolumeRequest


class BaseBackendWeigher:
    """Base of every backend weigher (Cinder's ``BaseHostWeigher``)."""

    def weigh(self, backend: BackendState, spec: VolumeRequest) -> float:
        """The raw value of ``backend`` for ``spec`` (higher is better)."""
        raise NotImplementedError
