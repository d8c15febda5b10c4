"""Host aggregates (API reference "Host aggregates (os-aggregates)"), admin only.

``cloud.compute.aggregates`` (``Aggregates``): named groups of compute hosts with metadata;
an aggregate's availability zone is its ``availability_zone`` metadata key, as in Nova.
Nova's rules: names are unique (409), a host must be a compute host (404) and is in an
aggregate once (409), an aggregate with hosts cannot be deleted (400), removing a host it
does not hold is 404, a metadata value ``null`` removes the key, and a host is in one
availability zone: an aggregate's zone may not differ from another zone its hosts are in
(400).

Adding or removing a host also adds or removes the aggregate (same UUID) on the host's
resource provider in Placement, as nova-api does, so the scheduler can ask Placement for
a zone's hosts (``member_of``; ``scheduler.request_filter``). A Placement failure is
logged; the host aggregate is changed all the same, and the host's reports and the
controller's start-up sync copy it later (``provider_aggregates``).
"""

from __future__ import annotations

import builtins
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.db import utcnow
from pocketstack.compute import provider_aggregates
from pocketstack.compute.models import Aggregate, AggregateHost, Service

if TYPE_CHECKING:
    from pocketstack.service import Cloud

LOG = logging.getLogger(__name__)

AZ_KEY = "availability_zone"


class AggregateNotFound(errors.NotFound):
    """404: no aggregate with that id."""

    @classmethod
    def for_id(cls, aggregate_id: Any) -> AggregateNotFound:
        """The error with Nova's message."""
        return cls(f"Aggregate {aggregate_id} could not be found.")


@dataclass(frozen=True)
class AggregateRecord:
    """An aggregate with its hosts (sorted)."""

    aggregate: Aggregate
    hosts: list[str]

    @property
    def availability_zone(self) -> str | None:
        """The aggregate's zone (its ``availability_zone`` metadata), or None."""
        value = (self.aggregate.metadata_ or {}).get(AZ_KEY)
        return None if value is None else str(value)


class Aggregates:
    """``cloud.compute.aggregates``: list, get, create, update, delete, add_host,
    remove_host, set_metadata."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    @staticmethod
    def _record(s: Session, agg: Aggregate) -> AggregateRecord:
        hosts = s.scalars(
            sa.select(AggregateHost.host)
            .where(AggregateHost.aggregate_id == agg.id)
            .order_by(AggregateHost.host)
        )
        return AggregateRecord(agg, list(hosts))

    @staticmethod
    def _load(s: Session, aggregate_id: str) -> Aggregate:
        agg = None
        # an integer id (ASCII digits within the column's range), else maybe a uuid
        if aggregate_id.isascii() and aggregate_id.isdigit() and int(aggregate_id) < 2**31:
            agg = s.get(Aggregate, int(aggregate_id))
        if agg is None:
            agg = s.scalar(sa.select(Aggregate).where(Aggregate.uuid == aggregate_id))
        if agg is None:
            raise AggregateNotFound.for_id(aggregate_id)
        return agg

    @staticmethod
    def _check_name(s: Session, name: str, own_id: int | None = None) -> None:
        query = sa.select(Aggregate.id).where(Aggregate.name == name)
        if own_id is not None:
            query = query.where(Aggregate.id != own_id)
        if s.scalar(query) is not None:
            raise errors.Conflict(f"Aggregate {name} already exists.")

    @staticmethod
    def _zones_of(s: Session, host: str, other_than: int) -> set[str]:
        """The zones the aggregates holding ``host`` (but ``other_than``) give it."""
        rows = s.scalars(
            sa.select(Aggregate)
            .join(AggregateHost, AggregateHost.aggregate_id == Aggregate.id)
            .where(AggregateHost.host == host, Aggregate.id != other_than)
        )
        return {str(a.metadata_[AZ_KEY]) for a in rows if (a.metadata_ or {}).get(AZ_KEY)}

    def _check_zone(self, s: Session, agg: Aggregate, zone: str | None) -> None:
        """Nova's rule: a host is in one availability zone, so an aggregate's zone may not
        differ from another zone one of its hosts is in.

        Raises:
            errors.BadRequest (400).
        """
        if not zone:
            return
        for host in self._record(s, agg).hosts:
            other = self._zones_of(s, host, agg.id) - {zone}
            if other:
                raise errors.BadRequest(
                    f"Cannot add host {host} to aggregate {agg.id}: host already in "
                    f"availability zone {sorted(other)[0]}; a host is in one zone."
                )

    def list(self, ctx: RequestContext) -> builtins.list[AggregateRecord]:
        """Every aggregate, by id."""
        with self.cloud.db.reader() as s:
            aggs = s.scalars(sa.select(Aggregate).order_by(Aggregate.id))
            return [self._record(s, a) for a in aggs]

    def get(self, ctx: RequestContext, aggregate_id: str) -> AggregateRecord:
        """One aggregate by integer id (or uuid). Raises AggregateNotFound (404)."""
        with self.cloud.db.reader() as s:
            return self._record(s, self._load(s, aggregate_id))

    def create(self, ctx: RequestContext, name: str, zone: str | None) -> AggregateRecord:
        """A new aggregate, in zone ``zone`` when given.

        Raises:
            errors.Conflict (409): the name is taken.
        """
        with self.cloud.db.transaction() as s:
            self._check_name(s, name)
            agg = Aggregate(name=name, metadata_={AZ_KEY: zone} if zone else {})
            s.add(agg)
            s.flush()
            return self._record(s, agg)

    def update(
        self, ctx: RequestContext, aggregate_id: str, name: str | None, zone: str | None
    ) -> AggregateRecord:
        """Rename an aggregate and/or move it to zone ``zone``.

        Raises:
            AggregateNotFound (404); errors.Conflict (409): the name is taken;
            errors.BadRequest (400): a host of it is in another zone.
        """
        with self.cloud.db.transaction() as s:
            agg = self._load(s, aggregate_id)
            if name is not None:
                self._check_name(s, name, agg.id)
                agg.name = name
            if zone is not None:
                self._check_zone(s, agg, zone)
                agg.metadata_ = {**(agg.metadata_ or {}), AZ_KEY: zone}
            agg.updated_at = utcnow()
            s.flush()
            return self._record(s, agg)

    def delete(self, ctx: RequestContext, aggregate_id: str) -> None:
        """Delete an empty aggregate.

        Raises:
            AggregateNotFound (404); errors.BadRequest (400): it still has hosts.
        """
        with self.cloud.db.transaction() as s:
            agg = self._load(s, aggregate_id)
            if self._record(s, agg).hosts:
                raise errors.BadRequest(
                    f"Cannot remove host from aggregate {agg.id}. Reason: Host aggregate "
                    "is not empty."
                )
            s.delete(agg)

    def add_host(self, ctx: RequestContext, aggregate_id: str, host: str) -> AggregateRecord:
        """Put compute host ``host`` in the aggregate.

        Raises:
            AggregateNotFound (404); errors.NotFound (404): no compute service on ``host``;
            errors.Conflict (409): the aggregate has the host already; errors.BadRequest
            (400): the host is in another availability zone.
        """
        with self.cloud.db.transaction() as s:
            agg = self._load(s, aggregate_id)
            known = s.scalar(
                sa.select(Service.id).where(Service.host == host, Service.topic == "compute")
            )
            if known is None:
                raise errors.NotFound(f"Compute host {host} could not be found.")
            if s.get(AggregateHost, (agg.id, host)) is not None:
                raise errors.Conflict(f"Aggregate {agg.id} already has host {host}.")
            s.add(AggregateHost(aggregate_id=agg.id, host=host))
            s.flush()
            self._check_zone(s, agg, (agg.metadata_ or {}).get(AZ_KEY))
            agg.updated_at = utcnow()
            s.flush()
            record = self._record(s, agg)
        self._mirror(host, record.aggregate.uuid, add=True)
        return record

    def remove_host(self, ctx: RequestContext, aggregate_id: str, host: str) -> AggregateRecord:
        """Take ``host`` out of the aggregate.

        Raises:
            AggregateNotFound (404); errors.NotFound (404): the aggregate has no such host.
        """
        with self.cloud.db.transaction() as s:
            agg = self._load(s, aggregate_id)
            row = s.get(AggregateHost, (agg.id, host))
            if row is None:
                raise errors.NotFound(f"Cannot remove host {host} in aggregate {agg.id}")
            s.delete(row)
            agg.updated_at = utcnow()
            s.flush()
            record = self._record(s, agg)
        self._mirror(host, record.aggregate.uuid, add=False)
        return record

    def _mirror(self, host: str, aggregate_uuid: str, add: bool) -> None:
        """Add (or remove) ``aggregate_uuid`` on ``host``'s resource provider (Nova's
        ``aggregate_add_host``/``aggregate_remove_host``), by making the provider carry all
        of the host's aggregates (``provider_aggregates.sync_host``). A host without a
        provider yet, or a failure, is logged: the host's next report or the controller's
        start-up sync copies them."""
        outcome = provider_aggregates.sync_host(self.cloud, host)
        if outcome is None:
            LOG.warning(
                "host %s has no resource provider yet: aggregate %s is copied to it when "
                "it reports",
                host,
                aggregate_uuid,
            )
        elif not outcome:
            LOG.warning(
                "aggregate %s of host %s not %s its resource provider yet: retried by its "
                "reports and the start-up sync",
                aggregate_uuid,
                host,
                "added to" if add else "removed from",
            )

    def set_metadata(
        self, ctx: RequestContext, aggregate_id: str, metadata: dict[str, Any]
    ) -> AggregateRecord:
        """Merge ``metadata`` into the aggregate's (a ``None`` value removes its key).

        Raises:
            AggregateNotFound (404); errors.BadRequest (400): a new zone that a host of it
            is not in.
        """
        with self.cloud.db.transaction() as s:
            agg = self._load(s, aggregate_id)
            merged = dict(agg.metadata_ or {})
            for key, value in metadata.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = str(value)
            if merged.get(AZ_KEY) != (agg.metadata_ or {}).get(AZ_KEY):
                self._check_zone(s, agg, merged.get(AZ_KEY))
            agg.metadata_ = merged
            agg.updated_at = utcnow()
            s.flush()
            return self._record(s, agg)
