"""Server rows for compute tests: one builder instead of a hand-written ``Instance(...)`` in
every test module."""

from __future__ import annotations

from typing import Any

from pocketstack.compute.models import Instance


def instance(**fields: Any) -> Instance:
    """An unsaved ``Instance``: an active 1-vCPU, 256 MB, 1 GB server named ``vm1`` of
    project ``p-demo`` (``hostname`` defaults to the name); ``fields`` override any column."""
    values: dict[str, Any] = {
        "name": "vm1",
        "project_id": "p-demo",
        "user_id": "u",
        "flavor": {"id": "1"},
        "vcpus": 1,
        "memory_mb": 256,
        "root_gb": 1,
        "vm_state": "active",
        **fields,
    }
    values.setdefault("hostname", values["name"])
    return Instance(**values)


def plant(db: Any, **fields: Any) -> str:
    """``instance(**fields)`` committed to ``db`` (a ``Database``); its uuid."""
    row = instance(**fields)
    with db.transaction() as s:
        s.add(row)
    return row.uuid
