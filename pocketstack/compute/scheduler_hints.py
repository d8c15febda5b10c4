"""What the scheduler needs of a boot request beyond its resources: the ``same_host`` and
``different_host`` hints and the aggregate requirements of the flavor.

``parse(body)`` reads the hints of a ``POST /servers`` body (``os:scheduler_hints``, API
reference "Create Server"); they travel in the request spec's ``scheduler_hints``.
``spec_extras(cloud, flavor, request)`` is what the conductor adds to the scheduler's
``spec``::

    {"same_host": [host] | None, "different_host": [host] | None,
     "flavor_extra_specs": {key: value},
     "aggregate_metadata": {host: {key: [value, one per aggregate]}}}

read by ``SameHostFilter``, ``DifferentHostFilter`` and
``AggregateInstanceExtraSpecsFilter``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pocketstack.compute.models import Aggregate, AggregateHost, Instance

if TYPE_CHECKING:
    from pocketstack.service import Cloud

HINTS = ("same_host", "different_host")


def parse(body: dict[str, Any]) -> dict[str, list[str]]:
    """``{"same_host": [uuid], "different_host": [uuid]}`` (only the hints given) of a create
    body the schema checked (each a uuid or a list of them)."""
    hints = body.get("os:scheduler_hints") or body.get("OS-SCH-HNT:scheduler_hints") or {}
    out: dict[str, list[str]] = {}
    for name in HINTS:
        value = hints.get(name)
        if value is not None:
            out[name] = [str(v) for v in (value if isinstance(value, list) else [value])]
    return out


def _hosts_of(cloud: Cloud, uuids: list[str]) -> list[str]:
    """The hosts the live servers ``uuids`` are on."""
    if not uuids:
        return []
    with cloud.db.reader() as s:
        rows = s.scalars(
            sa.select(Instance.host).where(
                Instance.uuid.in_(uuids), Instance.deleted.is_(False), Instance.host.is_not(None)
            )
        )
        return sorted({h for h in rows if h})


def aggregate_metadata(cloud: Cloud) -> dict[str, dict[str, list[str]]]:
    """``{host: {key: [value per aggregate of the host holding the key]}}``."""
    out: dict[str, dict[str, list[str]]] = {}
    with cloud.db.reader() as s:
        rows = s.execute(
            sa.select(AggregateHost.host, Aggregate.metadata_).join(
                Aggregate, Aggregate.id == AggregateHost.aggregate_id
            )
        )
        for host, metadata in rows:
            for key, value in (metadata or {}).items():
                out.setdefault(host, {}).setdefault(key, []).append(str(value))
    return out


def spec_extras(
    cloud: Cloud, flavor: dict[str, Any] | None, request: Mapping[str, Any]
) -> dict[str, Any]:
    """The scheduler ``spec`` keys of this module (see its docstring) for a server of
    ``flavor`` (the instance's flavor snapshot) and request spec ``request``."""
    hints = request.get("scheduler_hints") or {}
    extra_specs = dict((flavor or {}).get("extra_specs") or {})
    return {
        "same_host": _hosts_of(cloud, hints["same_host"]) if "same_host" in hints else None,
        "different_host": _hosts_of(cloud, hints.get("different_host") or []),
        "flavor_extra_specs": extra_specs,
        "aggregate_metadata": aggregate_metadata(cloud) if extra_specs else {},
    }
