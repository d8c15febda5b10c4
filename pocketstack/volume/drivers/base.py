"""The volume driver contract (after Cinder's ``VolumeDriver``), docs/block-storage.md.

A driver stores the volumes and snapshots of one storage host for the volume agent
(``pocketstack.volume.agent``) and exports them to initiators. The agent owns the workflow
and reports to the controller; the driver only touches files and targets. Rules every
driver keeps (checked by ``tests/contract/test_volume_drivers.py`` against every driver):

- sizes are GiB (ints) on the contract, bytes inside;
- an operation that fails cleans up what it made and raises ``VolumeDriverError``;
- deleting what is already gone succeeds (volumes, snapshots, connections);
- backend ids (file names, tids, pids) stay inside the driver: the agent speaks volume,
  snapshot and attachment ids;
- the driver imports neither the database nor another driver.

Drivers are registered by name in ``pocketstack.common.drivers.VOLUME_DRIVERS``, loaded from
the ``volume_driver`` option and built with ``(conf, pool_dir)``.

``connection_info`` (what ``initialize_connection`` returns) is Cinder's::

    {"driver_volume_type": "iscsi",
     "data": {"target_portal": "ip:port", "target_iqn": "iqn.2010-10.org.openstack:volume-<id>",
              "target_lun": 1, "auth_method": "CHAP", "auth_username": "att-<8>",
              "auth_password": "...", "volume_id": "<id>", "access_mode": "rw",
              "encrypted": false}}
    {"driver_volume_type": "nbd",
     "data": {"host": "ip", "port": 10809, "export": "volume-<id>", "volume_id": "<id>",
              "access_mode": "rw"}}
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pocketstack.common.errors import PocketError

GiB = 1024**3


class VolumeDriverError(PocketError):
    """The backend failed an operation; the message becomes the volume's fault."""

    status = 500
    title = "Volume backend error"


class VolumeNotFound(VolumeDriverError):
    """The volume or snapshot an operation needs is not on this backend."""

    status = 404


class VolumeDriver(ABC):
    """One storage backend of a host.

    Args:
        conf: ``Config`` (``volume_format``, ``iscsi_ip``, ``iscsi_port``,
            ``tgt_control_port``, ``netns``).
        pool_dir: the directory the driver owns (``<state_dir>/volumes``).
    """

    #: the driver's registry name (``VOLUME_DRIVERS``: ``file``, ``fake``)
    name = "base"
    #: Cinder's ``volume_backend_name`` of this driver
    backend_name = "file"

    def __init__(self, conf: Any, pool_dir: Path | str):
        self.conf = conf
        self.pool_dir = Path(pool_dir)

    @abstractmethod
    def capabilities(self) -> dict[str, Any]:
        """Cinder's scheduler stats: ``total_capacity_gb``, ``free_capacity_gb``,
        ``provisioned_capacity_gb`` (floats, GiB), ``thin_provisioning_support``,
        ``max_over_subscription_ratio``, ``storage_protocol`` (``iSCSI``/``nbd``),
        ``volume_backend_name``."""

    @abstractmethod
    def create_volume(self, volume_id: str, size_gb: int) -> None:
        """A blank volume of ``size_gb`` GiB (thin). Raises VolumeDriverError."""

    @abstractmethod
    def create_volume_from_snapshot(self, volume_id: str, snapshot_id: str, size_gb: int) -> None:
        """A volume with the snapshot's data, grown to ``size_gb`` (not below the
        snapshot's size). Raises VolumeNotFound (no snapshot), VolumeDriverError."""

    @abstractmethod
    def clone_volume(self, volume_id: str, source_id: str, size_gb: int) -> None:
        """A copy of volume ``source_id`` grown to ``size_gb``. Raises VolumeNotFound,
        VolumeDriverError."""

    @abstractmethod
    def copy_image_to_volume(
        self, volume_id: str, image_path: str, disk_format: str, size_gb: int
    ) -> None:
        """A volume of ``size_gb`` holding the image at ``image_path`` (``disk_format``:
        raw, qcow2, vmdk...; converted). Raises VolumeDriverError (bad image, image larger
        than ``size_gb``)."""

    @abstractmethod
    def copy_volume_to_image(self, volume_id: str, dest_path: str, disk_format: str) -> None:
        """Write the volume's data to ``dest_path`` as ``disk_format``. Raises
        VolumeNotFound, VolumeDriverError."""

    @abstractmethod
    def extend_volume(self, volume_id: str, new_size_gb: int) -> None:
        """Grow the volume (also while exported: the export shows the new size). Raises
        VolumeNotFound, VolumeDriverError (shrinking)."""

    @abstractmethod
    def delete_volume(self, volume_id: str) -> None:
        """Remove the volume and its export; gone already: succeeds."""

    @abstractmethod
    def create_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        """A point-in-time copy of the volume. Raises VolumeNotFound, VolumeDriverError."""

    @abstractmethod
    def delete_snapshot(self, snapshot_id: str, volume_id: str | None = None) -> None:
        """Remove the snapshot (volumes made from it keep their data); gone: succeeds."""

    @abstractmethod
    def volume_path(self, volume_id: str) -> str:
        """The volume's file (for backups); it may not exist."""

    @abstractmethod
    def list_volumes(self) -> dict[str, int]:
        """``{volume_id: size_gb}`` of every volume on the backend."""

    @abstractmethod
    def list_snapshots(self) -> list[str]:
        """The ids of every snapshot on the backend."""

    @abstractmethod
    def initialize_connection(
        self,
        volume_id: str,
        attachment_id: str,
        connector: dict[str, Any],
        auth_password: str | None = None,
    ) -> dict[str, Any]:
        """Export the volume for one attachment and return ``connection_info`` (module
        docstring); ``auth_password`` restores an export with its stored secret. Raises
        VolumeNotFound, VolumeDriverError (the target failed)."""

    @abstractmethod
    def terminate_connection(self, volume_id: str, attachment_id: str) -> None:
        """End the attachment's access (the export goes with its last attachment); gone
        already: succeeds."""

    @abstractmethod
    def list_exports(self) -> dict[str, list[str]]:
        """``{volume_id: [CHAP user or attachment id of each access]}`` of live exports."""

    @contextlib.contextmanager
    def raw_volume(self, volume_id: str, write: bool = False) -> Iterator[str]:
        """A raw file of the volume's data for the block-level readers and writers
        (backups): the volume's own file here; a driver of another format yields a raw
        copy, written back into the volume after the block when ``write``.

        Raises:
            VolumeNotFound, VolumeDriverError.
        """
        yield self.volume_path(volume_id)

    def remove_export(self, volume_id: str) -> None:  # noqa: B027 - optional
        """Remove every access to the volume's export (gone: succeeds)."""

    def stop(self) -> None:  # noqa: B027 - optional
        """Stop the export daemons (tgtd, NBD): only when told, guests lose their disks."""
