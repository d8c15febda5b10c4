"""Compute services, hypervisors and availability zones (Nova ``os-services``,
``os-hypervisors``, ``os-availability-zone``; API reference sections of the same names).

The rows come from the agents' heartbeats (``services``, written by ``compute.liveness``)
and resources (``compute_nodes``, by ``compute.scheduler.host_manager``); this module only
reads them and lets an admin enable, disable, force down or delete a service. An availability
zone exists while an enabled service is in it; ``conf.availability_zone`` (the default zone)
always does.
"""

from __future__ import annotations

import builtins
import dataclasses
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.config import Config
from pocketstack.common.db import Database
from pocketstack.compute.liveness import service_is_up
from pocketstack.compute.models import ComputeNode, Service

if TYPE_CHECKING:
    from pocketstack.service import Cloud


class ServiceNotFound(errors.NotFound):
    """404: no compute service with this id, or host/binary pair."""


class HypervisorNotFound(errors.NotFound):
    """404: no hypervisor with this id."""


class UptimeNotSupported(errors.PocketError):
    """501: the hypervisor's uptime is not reported (Nova answers 501 the same way)."""

    status = 501
    title = "Not Implemented"

    def default_message(self) -> str:
        return "Hypervisor uptime is not supported by this cloud."


def _is_up(service: Service | None, conf: Any) -> bool:
    return service is not None and service_is_up(service, conf)


@dataclasses.dataclass(frozen=True)
class HypervisorStatistics:
    """Resources summed over every hypervisor, and how many there are."""

    vcpus: int
    memory_mb: int
    local_gb: int
    vcpus_used: int
    memory_mb_used: int
    local_gb_used: int
    running_vms: int
    count: int


class Hypervisors:
    """Services, hypervisors and zones; ``cloud.compute.hypervisors``."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.db: Database = cloud.db
        self.conf: Config = cloud.conf

    # services ----------------------------------------------------------------------------

    def list_services(
        self, ctx: RequestContext, *, host: str | None = None, binary: str | None = None
    ) -> list[tuple[Service, bool]]:
        """``(service, is_up)`` pairs, ordered by id, optionally filtered."""
        with self.db.reader() as s:
            query = sa.select(Service).order_by(Service.id)
            if host:
                query = query.where(Service.host == host)
            if binary:
                query = query.where(Service.binary == binary)
            services = list(s.scalars(query))
        return [(svc, _is_up(svc, self.conf)) for svc in services]

    def update_service(
        self,
        ctx: RequestContext,
        *,
        host: str,
        binary: str,
        disabled: bool | None = None,
        disabled_reason: str | None = None,
        forced_down: bool | None = None,
    ) -> Service:
        """Enable/disable (with a reason) or force down the service ``binary`` on ``host``.

        Raises:
            ServiceNotFound: no such service. errors.BadRequest: a reason over 255 chars.
        """
        if disabled_reason is not None and len(disabled_reason) > 255:
            raise errors.BadRequest("disabled_reason is longer than 255 characters.")
        with self.db.transaction() as s:
            svc = s.scalars(
                sa.select(Service).where(Service.host == host, Service.binary == binary)
            ).first()
            if svc is None:
                raise ServiceNotFound(f"Service {binary} on host {host} could not be found.")
            if disabled is not None:
                svc.disabled = disabled
                svc.disabled_reason = disabled_reason if disabled else None
            if forced_down is not None:
                svc.forced_down = forced_down
        from pocketstack.compute.scheduler.host_manager import host_cache

        host_cache(self.db).expire()  # this process's scheduler sees it at its next decision
        return svc

    def delete_service(self, ctx: RequestContext, service_id: str) -> None:
        """Delete a service (by numeric id or uuid) and its compute node.

        Raises:
            ServiceNotFound: unknown id. errors.Conflict: the host still has servers.
        """
        from pocketstack.compute.models import Instance

        with self.db.transaction() as s:
            svc = self._service(s, service_id)
            busy = s.scalar(
                sa.select(sa.func.count())
                .select_from(Instance)
                .where(Instance.host == svc.host, Instance.deleted.is_(False))
            )
            if busy:
                raise errors.Conflict(
                    f"Unable to delete compute service that is hosting instances: {svc.host}."
                )
            s.execute(sa.delete(ComputeNode).where(ComputeNode.host == svc.host))
            s.delete(svc)

    @staticmethod
    def _service(s: Session, service_id: str) -> Service:
        column = Service.id if str(service_id).isdigit() else Service.uuid
        value: Any = int(service_id) if str(service_id).isdigit() else str(service_id)
        svc = s.scalars(sa.select(Service).where(column == value)).first()
        if svc is None:
            raise ServiceNotFound(f"Service {service_id} could not be found.")
        return svc

    # hypervisors -------------------------------------------------------------------------

    def list(
        self, ctx: RequestContext, *, hostname_pattern: str | None = None
    ) -> list[tuple[ComputeNode, Service | None, bool]]:
        """``(node, its compute service, is_up)`` for every hypervisor, ordered by id;
        ``hostname_pattern`` keeps nodes whose hypervisor_hostname contains it."""
        with self.db.reader() as s:
            nodes = list(s.scalars(sa.select(ComputeNode).order_by(ComputeNode.id)))
            services = {
                svc.host: svc
                for svc in s.scalars(sa.select(Service).where(Service.topic == "compute"))
            }
        if hostname_pattern:
            nodes = [n for n in nodes if hostname_pattern in n.hypervisor_hostname]
        result = []
        for node in nodes:
            svc = services.get(node.host)
            result.append((node, svc, _is_up(svc, self.conf)))
        return result

    def get(
        self, ctx: RequestContext, hypervisor_id: str
    ) -> tuple[ComputeNode, Service | None, bool]:
        """One hypervisor by numeric id or uuid. Raises HypervisorNotFound."""
        for node, svc, up in self.list(ctx):
            if str(node.id) == str(hypervisor_id) or node.uuid == hypervisor_id:
                return node, svc, up
        raise HypervisorNotFound(f"Hypervisor with ID {hypervisor_id} could not be found.")

    def uptime(self, ctx: RequestContext, hypervisor_id: str) -> str:
        """The hypervisor's ``uptime`` line.

        Raises:
            HypervisorNotFound: unknown id. UptimeNotSupported: always otherwise (501; the
            controller does not ask compute hosts for their uptime).
        """
        self.get(ctx, hypervisor_id)
        raise UptimeNotSupported()

    def statistics(self, ctx: RequestContext) -> HypervisorStatistics:
        """Sums over all hypervisors (Nova's ``hypervisor_statistics``)."""
        nodes = [n for n, _svc, _up in self.list(ctx)]
        sums = {
            f.name: sum(getattr(n, f.name) for n in nodes)
            for f in dataclasses.fields(HypervisorStatistics)
            if f.name != "count"
        }
        return HypervisorStatistics(count=len(nodes), **sums)

    # availability zones ------------------------------------------------------------------

    def availability_zones(
        self, ctx: RequestContext
    ) -> dict[str, builtins.list[tuple[Service, bool]]]:
        """``{zone: [(service, is_up), ...]}`` for zones with an enabled compute service
        (the default zone is listed even before any service reports)."""
        zones: dict[str, list[tuple[Service, bool]]] = {}
        for svc, up in self.list_services(ctx):
            if svc.topic == "compute" and not svc.disabled:
                zones.setdefault(svc.availability_zone, []).append((svc, up))
        zones.setdefault(self.conf.availability_zone, [])
        return zones

    def availability_zone_exists(self, name: str) -> bool:
        """Whether ``name`` is an availability zone servers may be created in."""
        if name == self.conf.availability_zone:
            return True
        with self.db.reader() as s:
            found = s.scalars(
                sa.select(Service.id).where(
                    Service.availability_zone == name,
                    Service.topic == "compute",
                    Service.disabled.is_(False),
                )
            ).first()
        return found is not None
