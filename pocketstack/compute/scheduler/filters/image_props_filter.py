"""ImagePropertiesFilter: only hosts that can run the image's architecture and hypervisor."""

from __future__ import annotations

import logging
from typing import Any

from pocketstack.compute.scheduler.filters import BaseHostFilter
from pocketstack.compute.scheduler.host_state import HostState, canonical_arch

LOG = logging.getLogger(__name__)

#: image property names, newest first (Glance's ``hw_``/``img_`` names, then the legacy ones)
ARCH_PROPERTIES = ("hw_architecture", "architecture")
HV_TYPE_PROPERTIES = ("img_hv_type", "hypervisor_type")
VM_MODE_PROPERTIES = ("hw_vm_mode", "vm_mode")
#: the only guest mode our hypervisors run (full virtualisation)
SUPPORTED_VM_MODES = ("hvm",)


def _first(props: dict[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = props.get(name)
        if value:
            return str(value)
    return None


class ImagePropertiesFilter(BaseHostFilter):
    """Matches the image's ``hw_architecture``/``architecture``, ``img_hv_type``/
    ``hypervisor_type`` and ``hw_vm_mode``/``vm_mode`` against the host.

    An image without these properties runs anywhere. A host whose architecture is unknown
    (the fake driver) accepts any architecture. Hypervisor types compare case-insensitively
    (``qemu`` matches a ``QEMU`` host); an architecture the filter does not know never matches.
    """

    def host_passes(self, host_state: HostState, spec: dict[str, Any]) -> bool:
        """True when the host supports every property the image sets."""
        props = spec.get("image_properties") or {}
        arch = _first(props, ARCH_PROPERTIES)
        if arch and host_state.architecture is not None:
            if canonical_arch(arch) != host_state.architecture:
                LOG.debug(
                    "%s runs %s, the image needs %s", host_state, host_state.architecture, arch
                )
                return False
        hv_type = _first(props, HV_TYPE_PROPERTIES)
        if hv_type and hv_type.lower() != host_state.hypervisor_type.lower():
            LOG.debug(
                "%s runs %s, the image needs %s", host_state, host_state.hypervisor_type, hv_type
            )
            return False
        vm_mode = _first(props, VM_MODE_PROPERTIES)
        if vm_mode and vm_mode.lower() not in SUPPORTED_VM_MODES:
            LOG.debug("%s does not run vm_mode %s", host_state, vm_mode)
            return False
        return True
