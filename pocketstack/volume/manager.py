"""The Block Storage service's manager (``cloud.volume``): one object per resource family.

- ``volumes`` (``volumes.Volumes``) and ``volume_actions`` (``volume_actions.VolumeActions``:
  extend, bootable, image metadata, upload to image, reset status, force delete),
  ``snapshots``, ``types``, ``attachments`` (what Nova's attach flow calls in-process:
  ``create``/``update``/``complete``/``delete``), ``quotas``, ``services`` (and zones).
- ``scheduler`` (``scheduler.manager.VolumeScheduler``): picks a new volume's backend.
- ``agent_reports`` (``agent_reports.VolumeAgentReports``): the controller's side of the
  bus (topic ``volume_server``), served by ``service.Controller``.
- ``start``/``stop``: the controller's periodic task (this controller's
  ``cinder-scheduler`` heartbeat).
- ``bootstrap``: the default volume type.

- ``backups`` (``backups.Backups``): volume backups (create, restore, delete, the agent's
  ``backup_finished``); the data side is ``volume/backup/`` on the storage host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pocketstack.common.periodic import PeriodicTasks
from pocketstack.volume import policies as _policies  # noqa: F401  (registers the rules)
from pocketstack.volume.agent_reports import VolumeAgentReports
from pocketstack.volume.attachments import Attachments
from pocketstack.volume.backups import Backups
from pocketstack.volume.quotas import Quotas
from pocketstack.volume.scheduler.manager import VolumeScheduler
from pocketstack.volume.services import Services
from pocketstack.volume.snapshots import Snapshots
from pocketstack.volume.types import Types
from pocketstack.volume.volume_actions import VolumeActions
from pocketstack.volume.volumes import Volumes

if TYPE_CHECKING:
    from pocketstack.service import Cloud


class VolumeManager:
    """Entry point of the Block Storage service for the API layer and other services."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.types = Types(cloud)
        self.services = Services(cloud)
        self.scheduler = VolumeScheduler(cloud)
        self.quotas = Quotas(cloud)
        self.volumes = Volumes(cloud)
        self.volume_actions = VolumeActions(cloud)
        self.snapshots = Snapshots(cloud)
        self.attachments = Attachments(cloud)
        self.backups = Backups(cloud)
        self.agent_reports = VolumeAgentReports(cloud)
        self._periodic = PeriodicTasks(
            "volume-periodic",
            float(cloud.conf.periodic_interval),
            [self.services.heartbeat_scheduler],
        )

    def start(self) -> None:
        """Record this controller's ``cinder-scheduler`` now, then every
        ``periodic_interval`` seconds."""
        self._periodic.run_once()
        self._periodic.start()

    def stop(self) -> None:
        """Stop the periodic task."""
        self._periodic.stop()

    def bootstrap(self) -> None:
        """The default volume type (``[volume] default_volume_type``,
        ``volume_backend_name = file``); idempotent."""
        self.types.ensure_default()
