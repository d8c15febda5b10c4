"""Block storage services (Block Storage API v3 reference, "Services (os-services)") and
availability zones ("Availability zones (os-availability-zone)").

Rows of ``volume_services``: ``cinder-scheduler`` (one per controller, its heartbeat the
controller's periodic task ``heartbeat``), ``cinder-volume`` (one per storage host, written
by the agent's ``report_state`` in ``agent_reports``; shown with Cinder's host form
``<host>@<backend>``), ``cinder-backup``. A service is ``up`` while its last heartbeat is
younger than ``[volume] volume_service_down_time``.
"""

from __future__ import annotations

import builtins
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import utcnow
from pocketstack.volume import exceptions as exc
from pocketstack.volume.models import VolumeService

if TYPE_CHECKING:
    from pocketstack.service import Cloud

SCHEDULER = "cinder-scheduler"
VOLUME = "cinder-volume"
BACKUP = "cinder-backup"
BINARIES = (SCHEDULER, VOLUME, BACKUP)


@dataclass(frozen=True)
class ServiceRecord:
    """One row of ``os-services``: the row and whether it is up."""

    service: VolumeService
    up: bool

    @property
    def shown_host(self) -> str:
        """Cinder's ``host``: ``<host>@<backend>`` for a volume service, else the host."""
        return self.service.backend or self.service.host


class Services:
    """``cloud.volume.services``."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def is_up(self, row: VolumeService, now: dt.datetime | None = None) -> bool:
        """Whether the row's last heartbeat is recent enough."""
        age = ((now or utcnow()) - row.updated_at).total_seconds()
        return age <= float(self.cloud.conf.volume_service_down_time)

    def list(
        self, ctx: RequestContext, host: str | None = None, binary: str | None = None
    ) -> builtins.list[ServiceRecord]:
        """Every service row (filtered by ``host``, plain or ``host@backend``, and
        ``binary``), by binary then host."""
        with self.cloud.db.reader() as s:
            query = sa.select(VolumeService).order_by(VolumeService.binary, VolumeService.host)
            if binary:
                query = query.where(VolumeService.binary == binary)
            if host:
                query = query.where(
                    sa.or_(VolumeService.host == host, VolumeService.backend == host)
                )
            now = utcnow()
            return [ServiceRecord(r, self.is_up(r, now)) for r in s.scalars(query)]

    def set_disabled(
        self,
        ctx: RequestContext,
        host: str,
        binary: str,
        disabled: bool,
        reason: str | None = None,
    ) -> ServiceRecord:
        """``PUT /os-services/enable|disable|disable-log-reason``: a disabled volume
        service takes no new volumes (the scheduler skips it).

        Raises:
            ServiceNotFound (404).
        """
        with self.cloud.db.transaction() as s:
            row = s.scalar(
                sa.select(VolumeService).where(
                    sa.or_(VolumeService.host == host, VolumeService.backend == host),
                    VolumeService.binary == binary,
                )
            )
            if row is None:
                raise exc.ServiceNotFound(host, binary)
            row.disabled = disabled
            row.disabled_reason = reason if disabled else None
            s.flush()
            return ServiceRecord(row, self.is_up(row))

    def heartbeat(
        self,
        host: str,
        binary: str,
        availability_zone: str,
        backend: str | None = None,
        capabilities: dict[str, object] | None = None,
    ) -> bool:
        """Create or refresh the row of ``(host, binary)``; returns whether it was new.
        Capabilities are replaced when given; ``disabled`` stays as an admin set it."""
        for _ in range(2):  # a concurrent first heartbeat: the second round updates
            try:
                return self._upsert(host, binary, availability_zone, backend, capabilities)
            except IntegrityError:
                continue
        return False

    def _upsert(
        self,
        host: str,
        binary: str,
        zone: str,
        backend: str | None,
        capabilities: dict[str, object] | None,
    ) -> bool:
        now = utcnow()
        with self.cloud.db.transaction() as s:
            row = s.scalar(
                sa.select(VolumeService).where(
                    VolumeService.host == host, VolumeService.binary == binary
                )
            )
            if row is None:
                s.add(
                    VolumeService(
                        host=host,
                        binary=binary,
                        availability_zone=zone,
                        backend=backend,
                        capabilities=dict(capabilities or {}),
                        created_at=now,
                        updated_at=now,
                    )
                )
                return True
            row.availability_zone = zone
            row.backend = backend
            if capabilities is not None:
                row.capabilities = dict(capabilities)
            row.updated_at = now
            return False

    def heartbeat_scheduler(self) -> None:
        """The controller's periodic task: this controller's ``cinder-scheduler`` row."""
        conf = self.cloud.conf
        self.heartbeat(conf.hostname, SCHEDULER, conf.storage_availability_zone)

    # -- availability zones ------------------------------------------------------------------
    def zones(self, ctx: RequestContext) -> builtins.list[tuple[str, bool]]:
        """``(zone, available)`` of every zone: the zones of the volume services (available
        when one of its services is up and enabled) and ``storage_availability_zone``."""
        found: dict[str, bool] = {}
        for rec in self.list(ctx, binary=VOLUME):
            zone = rec.service.availability_zone
            found[zone] = found.get(zone, False) or (rec.up and not rec.service.disabled)
        found.setdefault(self.cloud.conf.storage_availability_zone, not found)
        return sorted(found.items())

    def check_zone(self, zone: str) -> None:
        """Raise Cinder's 400 unless ``zone`` is a known zone.

        Raises:
            InvalidInput (400): "Availability zone '<zone>' is invalid."
        """
        known = {z for z, _ in self.zones(RequestContext.system())}
        if zone not in known:
            raise exc.InvalidInput(f"Availability zone '{zone}' is invalid.")
