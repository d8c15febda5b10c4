"""VolumeTypeFilter: only backends the volume type asks for (``volume_backend_name``)."""

from __future__ import annotations

from pocketstack.volume.scheduler.backend_state import BackendState, VolumeRequest
from pocketstack.volume.scheduler.filters import BaseBackendFilter

#: extra specs matched against the backend's capabilities (Cinder's
#: CapabilitiesFilter for these keys; scoped keys ``capabilities:<name>`` too)
MATCHED = ("volume_backend_name", "storage_protocol", "thin_provisioning_support")


class VolumeTypeFilter(BaseBackendFilter):
    """Each of the type's extra specs named in ``MATCHED`` (bare or ``capabilities:``
    scoped) must equal the backend's capability of that name (``<is> True`` spelled as
    Cinder's extra specs also matches a true capability)."""

    def backend_passes(self, backend: BackendState, spec: VolumeRequest) -> bool:
        """True when ``backend`` has every capability the type asks for."""
        for key, wanted in spec.extra_specs.items():
            name = key.removeprefix("capabilities:")
            if name not in MATCHED:
                continue
            have = backend.capabilities.get(name)
            if str(wanted).strip().lower() in ("<is> true", "true"):
                if have is not True and str(have).lower() != "true":
                    return False
            elif str(have) != str(wanted):
                return False
        return True
