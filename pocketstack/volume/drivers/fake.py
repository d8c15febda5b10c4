"""The reference volume driver: volumes, snapshots and exports in dicts, nothing on disk.

Fast (for the agent's and the API's tests) and strict: it keeps the contract of
``base.VolumeDriver`` exactly as the ``file`` driver does (the one contract suite runs on
both). ``fail`` makes the next call of an operation raise (``fail["create_volume"] = 1``).
State is per instance; ``FakeVolumeDriver.shared`` lets a restarted agent in a test find the
volumes of the one it replaces (same pool directory, same dicts).
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import Any, ClassVar

from pocketstack.volume.drivers.base import GiB, VolumeDriver, VolumeDriverError, VolumeNotFound
from pocketstack.volume.targets import chap_user, iqn


class FakeVolumeDriver(VolumeDriver):
    """Dicts for a pool: ``volumes`` (id -> size GiB), ``snapshots`` (id -> (volume id,
    size)), ``exports`` (volume id -> {CHAP user: password})."""

    name = "fake"
    backend_name = "fake"
    #: state by pool directory, so an agent restarted on the same pool finds it again
    shared: ClassVar[dict[str, dict[str, Any]]] = {}
    TOTAL_GB = 1000.0

    def __init__(self, conf: Any, pool_dir: Path | str):
        super().__init__(conf, pool_dir)
        state = self.shared.setdefault(
            str(self.pool_dir), {"volumes": {}, "snapshots": {}, "exports": {}}
        )
        self.volumes: dict[str, int] = state["volumes"]
        self.snapshots: dict[str, tuple[str, int]] = state["snapshots"]
        self.exports: dict[str, dict[str, str]] = state["exports"]
        self.fail: dict[str, int] = {}
        self._lock = threading.Lock()

    def _maybe_fail(self, operation: str) -> None:
        if self.fail.get(operation):
            self.fail[operation] -= 1
            raise VolumeDriverError(f"fake {operation} failed")

    def _volume(self, volume_id: str) -> int:
        if volume_id not in self.volumes:
            raise VolumeNotFound(f"Volume {volume_id} could not be found.")
        return self.volumes[volume_id]

    def capabilities(self) -> dict[str, Any]:
        provisioned = float(sum(self.volumes.values()))
        return {
            "total_capacity_gb": self.TOTAL_GB,
            "free_capacity_gb": self.TOTAL_GB - provisioned,
            "provisioned_capacity_gb": provisioned,
            "thin_provisioning_support": True,
            "max_over_subscription_ratio": 20.0,
            "storage_protocol": "iSCSI",
            "volume_backend_name": self.backend_name,
        }

    def create_volume(self, volume_id: str, size_gb: int) -> None:
        self._maybe_fail("create_volume")
        with self._lock:
            self.volumes[volume_id] = int(size_gb)

    def create_volume_from_snapshot(self, volume_id: str, snapshot_id: str, size_gb: int) -> None:
        self._maybe_fail("create_volume_from_snapshot")
        if snapshot_id not in self.snapshots:
            raise VolumeNotFound(f"Snapshot {snapshot_id} could not be found.")
        self.volumes[volume_id] = max(int(size_gb), self.snapshots[snapshot_id][1])

    def clone_volume(self, volume_id: str, source_id: str, size_gb: int) -> None:
        self._maybe_fail("clone_volume")
        self.volumes[volume_id] = max(int(size_gb), self._volume(source_id))

    def copy_image_to_volume(
        self, volume_id: str, image_path: str, disk_format: str, size_gb: int
    ) -> None:
        self._maybe_fail("copy_image_to_volume")
        if not Path(image_path).exists():
            raise VolumeDriverError(f"Image file {image_path} does not exist.")
        if Path(image_path).stat().st_size > int(size_gb) * GiB:
            raise VolumeDriverError(f"Image is larger than the volume ({size_gb} GiB).")
        self.volumes[volume_id] = int(size_gb)

    def copy_volume_to_image(self, volume_id: str, dest_path: str, disk_format: str) -> None:
        self._maybe_fail("copy_volume_to_image")
        self._volume(volume_id)
        Path(dest_path).write_bytes(f"fake {disk_format} of {volume_id}\n".encode())

    def extend_volume(self, volume_id: str, new_size_gb: int) -> None:
        self._maybe_fail("extend_volume")
        if int(new_size_gb) < self._volume(volume_id):
            raise VolumeDriverError("A volume cannot shrink.")
        self.volumes[volume_id] = int(new_size_gb)

    def delete_volume(self, volume_id: str) -> None:
        self._maybe_fail("delete_volume")
        self.exports.pop(volume_id, None)
        self.volumes.pop(volume_id, None)

    def create_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        self._maybe_fail("create_snapshot")
        self.snapshots[snapshot_id] = (volume_id, self._volume(volume_id))

    def delete_snapshot(self, snapshot_id: str, volume_id: str | None = None) -> None:
        self._maybe_fail("delete_snapshot")
        self.snapshots.pop(snapshot_id, None)

    def volume_path(self, volume_id: str) -> str:
        return str(self.pool_dir / f"volume-{volume_id}")

    def list_volumes(self) -> dict[str, int]:
        return dict(self.volumes)

    def list_snapshots(self) -> list[str]:
        return list(self.snapshots)

    def initialize_connection(
        self,
        volume_id: str,
        attachment_id: str,
        connector: dict[str, Any],
        auth_password: str | None = None,
    ) -> dict[str, Any]:
        self._maybe_fail("initialize_connection")
        self._volume(volume_id)
        user, password = chap_user(attachment_id), auth_password or secrets.token_hex(10)
        self.exports.setdefault(volume_id, {})[user] = password
        portal = f"{self.conf.iscsi_ip}:{self.conf.iscsi_port}"
        return {
            "driver_volume_type": "iscsi",
            "data": {
                "target_portal": portal,
                "target_iqn": iqn(volume_id),
                "target_lun": 1,
                "auth_method": "CHAP",
                "auth_username": user,
                "auth_password": password,
                "volume_id": volume_id,
                "access_mode": "rw",
                "encrypted": False,
            },
        }

    def terminate_connection(self, volume_id: str, attachment_id: str) -> None:
        accounts = self.exports.get(volume_id, {})
        accounts.pop(chap_user(attachment_id), None)
        if not accounts:
            self.exports.pop(volume_id, None)

    def list_exports(self) -> dict[str, list[str]]:
        return {volume_id: list(users) for volume_id, users in self.exports.items()}

    def remove_export(self, volume_id: str) -> None:
        self.exports.pop(volume_id, None)
