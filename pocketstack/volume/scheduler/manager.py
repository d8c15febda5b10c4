"""``VolumeScheduler`` (``cloud.volume.scheduler``): Cinder's FilterScheduler in small.

``select(session, size, zone, extra_specs)`` builds a ``BackendState`` per ``cinder-volume``
service that is up and enabled (capabilities from its last ``report_state``, provisioned
and pending GiB counted from the ``volumes`` table in the caller's write transaction, so
two creates in a row see each other), runs ``FILTERS`` then ``WEIGHERS`` and returns the
winner's Cinder host string ``<host>@<backend>#<pool>``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.db import utcnow
from pocketstack.volume import exceptions as exc
from pocketstack.volume.models import Volume, VolumeService
from pocketstack.volume.scheduler.backend_state import BackendState, VolumeRequest
from pocketstack.volume.scheduler.filters import BaseBackendFilter
from pocketstack.volume.scheduler.filters.availability_zone import AvailabilityZoneFilter
from pocketstack.volume.scheduler.filters.capacity import CapacityFilter
from pocketstack.volume.scheduler.filters.volume_type import VolumeTypeFilter
from pocketstack.volume.scheduler.weighers import BaseBackendWeigher
from pocketstack.volume.scheduler.weighers.capacity import CapacityWeigher

if TYPE_CHECKING:
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)


class VolumeScheduler:
    """Picks the backend of a new volume (see the module docstring)."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        ratio = float(cloud.conf.max_over_subscription_ratio)
        self.filters: list[BaseBackendFilter] = [
            AvailabilityZoneFilter(),
            VolumeTypeFilter(),
            CapacityFilter(ratio),
        ]
        self.weighers: list[BaseBackendWeigher] = [CapacityWeigher(ratio)]

    def backends(self, s: Session) -> list[BackendState]:
        """The states of the ``cinder-volume`` backends that are up and enabled."""
        down_time = float(self.cloud.conf.volume_service_down_time)
        now = utcnow()
        rows = s.scalars(
            sa.select(VolumeService).where(
                VolumeService.binary == "cinder-volume", VolumeService.disabled.is_(False)
            )
        )
        found = []
        for row in rows:
            if (now - row.updated_at).total_seconds() > down_time:
                continue
            caps = dict(row.capabilities or {})
            backend = row.backend or f"{row.host}@file"
            pool = str(caps.get("pool_name") or caps.get("volume_backend_name") or "file")
            state = BackendState(row.host, backend, pool, row.availability_zone, caps)
            state.provisioned_gb, state.pending_gb = self._placed(s, backend)
            found.append(state)
        return found

    @staticmethod
    def _placed(s: Session, backend: str) -> tuple[float, float]:
        """``(provisioned, creating)`` GiB of the volumes on ``backend``."""
        on = sa.and_(Volume.host.like(f"{backend}#%"), Volume.deleted.is_(False))
        total = s.scalar(sa.select(sa.func.coalesce(sa.func.sum(Volume.size), 0)).where(on))
        pending = s.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Volume.size), 0)).where(
                on, Volume.status == "creating"
            )
        )
        return float(total or 0), float(pending or 0)

    def select(
        self, s: Session, size: int, zone: str | None, extra_specs: Mapping[str, str]
    ) -> str:
        """The Cinder host string of the best backend for a volume of ``size`` GiB.

        Raises:
            NoValidBackend: no backend is up, or none passes the filters (the message
            names the filter that left none).
        """
        spec = VolumeRequest(size, zone, dict(extra_specs or {}))
        candidates = self.backends(s)
        if not candidates:
            raise exc.NoValidBackend("No volume service is up and enabled.")
        for flt in self.filters:
            candidates = flt.filter_all(candidates, spec)
            if not candidates:
                raise exc.NoValidBackend(
                    f"No backend passed the {flt.name} for a volume of {size} GiB"
                    f"{f' in zone {zone}' if zone else ''}."
                )
        best = max(candidates, key=lambda b: sum(w.weigh(b, spec) for w in self.weighers))
        LOG.info("volume of %d GiB placed on %s", size, best)
        return best.cinder_host
