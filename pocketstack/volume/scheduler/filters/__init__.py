"""Backend filters: one class per module, each dropping backends that cannot take a volume.

A filter answers ``backend_passes(backend, spec)``; ``spec`` is the request
(``scheduler.manager.VolumeRequest``: size, zone, the type's extra specs). The enabled
filters are the ``FILTERS`` list of ``pocketstack.volume.scheduler.manager``.
"""

from __future__ import annotations

from pocketstack.volume.scheduler.backend_state import BackendState, VolumeRequest


class BaseBackendFilter:
    """Base of every backend filter (Cinder's ``BaseBackendFilter``)."""

    @property
    def name(self) -> str:
        """The class name, used in logs and the NoValidBackend message."""
        return type(self).__name__

    def backend_passes(self, backend: BackendState, spec: VolumeRequest) -> bool:
        """True when ``backend`` can take the volume ``spec``."""
        raise NotImplementedError

    def filter_all(self, backends: list[BackendState], spec: VolumeRequest) -> list[BackendState]:
        """The backends of ``backends`` that pass, in the same order."""
        return [b for b in backends if self.backend_passes(b, spec)]
