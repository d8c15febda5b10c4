"""Scheduler filters: one small class per module, each dropping hosts that cannot take a request.

A filter answers ``host_passes(host_state, spec)`` for one host; ``filter_all`` applies it to a
list. ``spec`` is the request dict of ``SchedulerManager.select_destination`` (``vcpus``,
``memory_mb``, ``disk_gb``, ``availability_zone``, ``image_properties``...). The enabled filters
and their order are the ``FILTERS`` list of ``pocketstack.compute.scheduler.manager``.
"""

from __future__ import annotations

from typing import Any

from pocketstack.compute.scheduler.host_state import HostState


class BaseHostFilter:
    """Base of every host filter (Nova's ``BaseHostFilter``)."""

    @property
    def name(self) -> str:
        """The class name, used in logs and the NoValidHost summary."""
        return type(self).__name__

    def host_passes(self, host_state: HostState, spec: dict[str, Any]) -> bool:
        """True when ``host_state`` can take the request ``spec``."""
        raise NotImplementedError

    def filter_all(self, hosts: list[HostState], spec: dict[str, Any]) -> list[HostState]:
        """The hosts of ``hosts`` that pass, in the same order."""
        return [h for h in hosts if self.host_passes(h, spec)]
