"""Scheduler weighers: one small class per module, each scoring the hosts that passed the filters.

Every weigher gives a raw value per host (``weigh``); the values of one weigher are normalised
to 0..1 across the candidate hosts (min-max, all 0 when equal, as Nova does), multiplied by the
weigher's multiplier and summed over the weighers. The highest total wins. With the RAM and CPU
weighers a positive multiplier prefers the emptiest host (spread), a negative one the fullest
(pack). The enabled weighers are the ``WEIGHERS`` list of
``pocketstack.compute.scheduler.manager``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pocketstack.compute.scheduler.host_state import HostState


class BaseWeigher:
    """Base of every weigher (Nova's ``BaseHostWeigher``)."""

    @property
    def name(self) -> str:
        """The class name, used in logs."""
        return type(self).__name__

    def multiplier(self, conf: Any) -> float:
        """How much this weigher counts; the default is ``conf.weigher_multiplier``."""
        return float(conf.weigher_multiplier)

    def weigh(self, host_state: HostState, spec: dict[str, Any]) -> float:
        """The raw (not normalised) value of ``host_state`` for the request ``spec``."""
        raise NotImplementedError


def normalize(values: Sequence[float]) -> list[float]:
    """Scale ``values`` to 0..1 (min -> 0, max -> 1); all 0.0 when they are equal."""
    if not values:
        return []
    low, high = min(values), max(values)
    if high == low:
        return [0.0] * len(values)
    return [(v - low) / (high - low) for v in values]


def weigh_hosts(
    hosts: Sequence[HostState], spec: dict[str, Any], weighers: Sequence[BaseWeigher], conf: Any
) -> list[tuple[float, HostState]]:
    """``(total weight, host)`` pairs for ``hosts``, best first (stable for equal weights)."""
    totals = [0.0] * len(hosts)
    for weigher in weighers:
        raw = [weigher.weigh(h, spec) for h in hosts]
        factor = weigher.multiplier(conf)
        for i, value in enumerate(normalize(raw)):
            totals[i] += factor * value
    order = sorted(range(len(hosts)), key=lambda i: -totals[i])
    return [(totals[i], hosts[i]) for i in order]
