"""What the scheduler asks Placement besides resources: Nova's request filters
(``nova/scheduler/request_filter.py``) and its ``ResourceRequest`` traits, turned into the
``ProviderFilters`` of ``GET /allocation_candidates``.

- **Traits**: a flavor's extra specs ``trait:<NAME>=required`` / ``trait:<NAME>=forbidden``
  and an image's properties ``trait:<NAME>=required`` become ``required=`` and
  ``forbidden=`` (``!<NAME>``); the database drops the hosts without (or with) the trait.
  Other values are ignored, as Nova ignores them.
- **Availability zone** (Nova's ``map_az_to_placement_aggregate`` prefilter): a request
  for zone Z asks for providers in any aggregate whose ``availability_zone`` metadata is Z
  (``member_of=in:<uuids>``; ``aggregates.add_host`` mirrors a host aggregate onto its
  host's provider, as nova-api does, and ``provider_aggregates`` copies what it could
  not at the host's reports and the controller's start). When no aggregate has Z (the
  default zone, ``nova``) Placement is not restricted and ``AvailabilityZoneFilter``
  alone decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from pocketstack.common.db import Database
from pocketstack.compute.models import Aggregate
from pocketstack.placement.resource_providers import ProviderFilters

TRAIT_PREFIX = "trait:"
REQUIRED, FORBIDDEN = "required", "forbidden"


def traits_of(
    extra_specs: Mapping[str, Any] | None, image_properties: Mapping[str, Any] | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(required, forbidden)`` trait names (sorted) of a flavor's ``extra_specs`` and an
    image's ``image_properties`` (an image can only require, as in Nova). A trait both
    required and forbidden stays in both: Placement then finds no host, as Nova's would."""
    required: set[str] = set()
    forbidden: set[str] = set()
    for source, allowed in (
        (extra_specs or {}, (REQUIRED, FORBIDDEN)),
        (image_properties or {}, (REQUIRED,)),
    ):
        for key, value in source.items():
            if not str(key).startswith(TRAIT_PREFIX):
                continue
            name = str(key)[len(TRAIT_PREFIX) :]
            wanted = str(value).strip().lower()
            if not name or wanted not in allowed:
                continue
            (required if wanted == REQUIRED else forbidden).add(name)
    return tuple(sorted(required)), tuple(sorted(forbidden))


def zone_aggregates(db: Database, zone: str) -> tuple[str, ...]:
    """The UUIDs (sorted) of the host aggregates whose availability zone is ``zone``."""
    with db.reader() as s:
        rows = s.execute(sa.select(Aggregate.uuid, Aggregate.metadata_)).all()
    return tuple(
        sorted(uuid for uuid, meta in rows if (meta or {}).get("availability_zone") == zone)
    )


def provider_filters(db: Database, spec: Mapping[str, Any]) -> ProviderFilters:
    """The ``ProviderFilters`` of a scheduler request ``spec`` (its
    ``flavor_extra_specs``, ``image_properties`` and ``availability_zone``)."""
    required, forbidden = traits_of(spec.get("flavor_extra_specs"), spec.get("image_properties"))
    zone = spec.get("availability_zone")
    member_of: tuple[tuple[str, ...], ...] = ()
    if zone:
        aggregates = zone_aggregates(db, str(zone))
        if aggregates:
            member_of = (aggregates,)
    return ProviderFilters(member_of=member_of, required=required, forbidden=forbidden)
