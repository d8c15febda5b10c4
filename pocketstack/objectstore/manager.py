"""The object storage service's entry point (``cloud.objectstore``): the proxy's side.

The proxy keeps no database: accounts, containers and objects live on the storage nodes
(docs/object-storage.md). This manager holds the ring and the node client (``proxy.Backend``)
and one attribute per family: ``accounts``, ``containers``, ``objects``, ``large_objects``,
``bulk``, ``versions``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pocketstack.objectstore.bulk import Bulk
from pocketstack.objectstore.containers import Accounts, Containers
from pocketstack.objectstore.largeobjects import LargeObjects
from pocketstack.objectstore.objects import Objects
from pocketstack.objectstore.proxy import Backend
from pocketstack.objectstore.versions import Versions

if TYPE_CHECKING:
    from pocketstack.service import Cloud


def ring_location(conf: object) -> str:
    """The ring the proxy reads: ``[objectstore] object_ring`` when set (a path or URL),
    else ``<state-dir>/objects/object.ring.gz`` (the embedded nodes' ring)."""
    configured = getattr(conf, "object_ring", "") or ""
    if configured:
        return str(configured)
    return str(Path(getattr(conf, "state_dir", ".")) / "objects" / "object.ring.gz")


class ObjectStoreManager:
    """The proxy's logic: Swift v1 accounts, containers and objects over the ring.

    Args:
        cloud: the ``Cloud`` (only ``conf`` is used: no database, no bus).
        backend: the node client; by default one reading ``ring_location(conf)``.
    """

    def __init__(self, cloud: Cloud, backend: Backend | None = None):
        from pocketstack.objectstore import policies  # noqa: F401  (registers the rules)

        self.conf = cloud.conf
        self.backend = backend or Backend(self._load_ring)
        self.accounts = Accounts(self)
        self.containers = Containers(self)
        self.objects = Objects(self)
        self.large_objects = LargeObjects(self)
        self.bulk = Bulk(self)
        self.versions = Versions(self)

    def _load_ring(self) -> object:
        from pocketstack.objectstore.ring import Ring

        return Ring(ring_location(self.conf))
