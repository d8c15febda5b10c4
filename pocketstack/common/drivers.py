"""Pluggable backends loaded by name from configuration (as Nova loads ``compute_driver``).

Each kind of backend has one ``Registry`` here: the option that names the backend, the
abstract base every implementation derives from, and ``name -> "module:Class"`` of every
implementation, as plain data. Nothing is imported until a backend is loaded, so a base
module (``compute/drivers/base.py``...) never imports a concrete driver, a driver imports only
its base, and there is no import cycle between them.

Why a table here rather than Python entry points: every backend lives in this repository, and
a table in the source is what runs from a checkout, with no ``pip install -e .`` to refresh
package metadata (a stale install silently hides a new driver) and no other installed package
able to register or shadow a name. Out-of-tree backends, if they ever come, can be merged into
``Registry.entries`` from ``importlib.metadata.entry_points`` in this one place.

Adding a backend: write the class (deriving from the kind's base), add one line to its
registry below; the kind's contract suite in ``tests/contract/`` then runs against it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:  # types only: importing these at run time is what this module avoids
    from pocketstack.compute.drivers.base import ComputeDriver
    from pocketstack.image.stores.base import ImageStore
    from pocketstack.network.drivers.base import NetworkDriver
    from pocketstack.volume.drivers.base import VolumeDriver

T = TypeVar("T")


class UnknownDriver(ValueError):
    """A configured backend name that no registry entry has (a startup error)."""


@dataclass(frozen=True)
class Registry(Generic[T]):
    """The implementations of one kind of backend, by name.

    Attributes:
        option: the configuration option naming the backend (``compute_driver``).
        base: ``"module:Class"`` of the abstract base every implementation derives from.
        entries: ``name -> "module:Class"`` of every implementation.
    """

    option: str
    base: str
    entries: Mapping[str, str]

    @property
    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self.entries)

    def check(self, name: str) -> None:
        """Check that ``name`` is registered, without importing anything.

        Raises:
            UnknownDriver: ``name`` is not registered; the message lists the known names.
        """
        if name not in self.entries:
            known = ", ".join(self.names)
            raise UnknownDriver(f"unknown {self.option} {name!r}: known are {known}")

    def load_class(self, name: str) -> type[T]:
        """Import and return the class registered under ``name``.

        Raises:
            UnknownDriver: ``name`` is not registered.
            TypeError: the registered class does not derive from ``base`` (a registry bug).
            ImportError: its module cannot be imported.
        """
        self.check(name)
        cls = _import(self.entries[name])
        base = _import(self.base)
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise TypeError(f"{self.option} {name!r}: {self.entries[name]} is not a {self.base}")
        return cls

    def load(self, name: str, *args: Any, **kwargs: Any) -> T:
        """An instance of the class registered under ``name``, built with ``args``/``kwargs``.

        Raises:
            UnknownDriver, TypeError, ImportError: as ``load_class``; whatever the class's
            constructor raises.
        """
        return self.load_class(name)(*args, **kwargs)


def _import(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


#: hypervisor drivers (``pocketstack.compute.drivers.base``), built with ``(conf)``.
COMPUTE_DRIVERS: Registry[ComputeDriver] = Registry(
    option="compute_driver",
    base="pocketstack.compute.drivers.base:ComputeDriver",
    entries={
        "fake": "pocketstack.compute.drivers.fake:FakeDriver",
        "qemu": "pocketstack.compute.drivers.qemu:QemuDriver",
    },
)

#: network data-plane drivers (``pocketstack.network.drivers.base``), built with ``(conf)``.
NETWORK_DRIVERS: Registry[NetworkDriver] = Registry(
    option="network_driver",
    base="pocketstack.network.drivers.base:NetworkDriver",
    entries={
        "fake": "pocketstack.network.drivers.fake:FakeDriver",
        "linuxbridge": "pocketstack.network.drivers.linuxbridge:LinuxBridgeDriver",
        "noop": "pocketstack.network.drivers.noop:NoopDriver",
    },
)

#: the other parts of the network agent of each network driver that has agents
#: (``NetworkDriver.has_agents``): ``"module:Class"`` of its security group, DHCP and router
#: roles, each built with ``(conf, netns=...)`` and offering ``sync(...)``
#: (docs/network-dataplane.md, "Drivers").
NETWORK_AGENT_PARTS: Mapping[str, Mapping[str, str]] = {
    "linuxbridge": {
        "firewall": "pocketstack.network.drivers.firewall:NftablesFirewall",
        "dhcp": "pocketstack.network.drivers.dhcp:DnsmasqDhcp",
        "l3": "pocketstack.network.drivers.l3:RouterNamespaces",
    },
    "fake": {
        "firewall": "pocketstack.network.drivers.fake:FakeFirewall",
        "dhcp": "pocketstack.network.drivers.fake:FakeDhcp",
        "l3": "pocketstack.network.drivers.fake:FakeL3",
    },
}


def load_network_agent_part(driver: str, part: str, *args: Any, **kwargs: Any) -> Any:
    """An instance of the ``part`` (``firewall``, ``dhcp`` or ``l3``) of the network agent of
    ``driver``, built with ``args``/``kwargs``.

    Raises:
        UnknownDriver: ``driver`` has no agent parts. ImportError: its module is missing.
    """
    parts = NETWORK_AGENT_PARTS.get(driver)
    if parts is None or part not in parts:
        raise UnknownDriver(f"network_driver {driver!r} has no network agent {part!r} part")
    return _import(parts[part])(*args, **kwargs)


#: image data stores (``pocketstack.image.stores.base``), built with ``Class.from_conf(conf)``.
IMAGE_STORES: Registry[ImageStore] = Registry(
    option="image_store",
    base="pocketstack.image.stores.base:ImageStore",
    entries={
        "file": "pocketstack.image.stores.file:FileStore",
        "swift": "pocketstack.image.stores.swift:SwiftStore",
    },
)

#: volume drivers of the storage hosts (``pocketstack.volume.drivers.base``), built with
#: ``(conf, pool_dir)`` (docs/block-storage.md, "The driver contract").
VOLUME_DRIVERS: Registry[VolumeDriver] = Registry(
    option="volume_driver",
    base="pocketstack.volume.drivers.base:VolumeDriver",
    entries={
        "fake": "pocketstack.volume.drivers.fake:FakeVolumeDriver",
        "file": "pocketstack.volume.drivers.file:FileDriver",
    },
)

REGISTRIES: tuple[Registry[Any], ...] = (
    COMPUTE_DRIVERS,
    NETWORK_DRIVERS,
    IMAGE_STORES,
    VOLUME_DRIVERS,
)


def check_config(conf: Any) -> None:
    """Check every backend option of ``conf`` names a registered backend (run at startup,
    before anything is built; imports no backend).

    Raises:
        UnknownDriver: the first option naming an unknown backend, with the known names.
    """
    for registry in REGISTRIES:
        registry.check(getattr(conf, registry.option))
