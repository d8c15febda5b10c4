"""``HostState``: what the scheduler knows about one compute host while it decides.

Built by ``host_manager.HostStateCache`` (the scheduler: from cached ``compute_nodes`` and
``services`` rows, with the usage of the Placement candidate) or ``host_manager.list_host_states``;
filters and weighers read it, nothing writes it back (claims go through ``claims``).
"""

from __future__ import annotations

from dataclasses import dataclass

#: spellings of CPU architectures, mapped to the canonical names Nova uses
_ARCH_ALIASES = {
    "amd64": "x86_64",
    "x64": "x86_64",
    "x86-64": "x86_64",
    "x86_64": "x86_64",
    "i386": "i686",
    "i486": "i686",
    "i586": "i686",
    "i686": "i686",
    "x86": "i686",
    "arm64": "aarch64",
    "aarch64": "aarch64",
    "armv7l": "armv7l",
    "armhf": "armv7l",
    "ppc64le": "ppc64le",
    "ppc64": "ppc64",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "mips64el": "mips64el",
}


def canonical_arch(name: str | None) -> str | None:
    """The canonical architecture name (``amd64`` -> ``x86_64``), or None when unknown."""
    if not name:
        return None
    return _ARCH_ALIASES.get(name.strip().lower())


def arch_from_cpu_info(cpu_info: str | None) -> str | None:
    """The host architecture from the driver's ``cpu_info`` (first word, e.g. ``x86_64 (...)``).

    Returns None when ``cpu_info`` names no known architecture (the fake driver's ``"fake"``):
    the host then accepts any requested architecture.
    """
    if not cpu_info or not cpu_info.split():
        return None
    return canonical_arch(cpu_info.split()[0])


@dataclass
class HostState:
    """One compute host as the filters and weighers see it.

    Attributes:
        host: the compute service's host name (bus target ``compute.<host>``).
        nodename: the hypervisor hostname (the API's ``OS-EXT-SRV-ATTR:hypervisor_hostname``).
        availability_zone: the service's zone (``nova`` by default).
        service_disabled: the admin disabled the compute service.
        service_up: heartbeat within ``service_down_time`` and not forced down.
        hypervisor_type, hypervisor_version, architecture: what the host runs (``QEMU``,
            ``fake``; architecture None when unknown).
        vcpus, memory_mb, local_gb: physical totals (MiB, GiB).
        vcpus_used, memory_mb_used, local_gb_used, running_vms: what is claimed.
        cpu_allocation_ratio, ram_allocation_ratio, disk_allocation_ratio: overcommit factors.
        reserved_host_memory_mb: RAM the host keeps for itself (MiB).
        provider_uuid: the host's Placement resource provider (None outside the scheduler).
    """

    host: str
    nodename: str
    availability_zone: str = "nova"
    service_disabled: bool = False
    service_up: bool = True
    hypervisor_type: str = ""
    hypervisor_version: int = 0
    architecture: str | None = None
    vcpus: int = 0
    memory_mb: int = 0
    local_gb: int = 0
    vcpus_used: int = 0
    memory_mb_used: int = 0
    local_gb_used: int = 0
    running_vms: int = 0
    cpu_allocation_ratio: float = 1.0
    ram_allocation_ratio: float = 1.0
    disk_allocation_ratio: float = 1.0
    reserved_host_memory_mb: int = 0
    provider_uuid: str | None = None

    @property
    def free_ram_mb(self) -> float:
        """RAM still claimable (MiB): ``memory_mb * ratio - reserved - used``."""
        return (
            self.memory_mb * self.ram_allocation_ratio
            - self.reserved_host_memory_mb
            - self.memory_mb_used
        )

    @property
    def free_vcpus(self) -> float:
        """vCPUs still claimable: ``vcpus * ratio - used``."""
        return self.vcpus * self.cpu_allocation_ratio - self.vcpus_used

    @property
    def free_disk_gb(self) -> float:
        """Disk still claimable (GiB): ``local_gb * ratio - used``."""
        return self.local_gb * self.disk_allocation_ratio - self.local_gb_used

    def __str__(self) -> str:
        return f"({self.host}, {self.nodename})"
