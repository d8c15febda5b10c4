"""``network``: the Network service driven in-process the way its API handlers drive it;
``pg_cloud``: a Cloud over a fresh PostgreSQL database.

Each family takes a request body (``{"name": ...}``), parses it with the handler module's
``parse_create``/``parse_update`` (``network/api/<family>.py``), calls the manager
(``cloud.network.<family>``) and renders the result with ``network/api/views.py``, every
attribute shown (no admin-only redaction). The manager's errors propagate as they are, so
tests assert the logic's exceptions; anything else (``validate_networks``, ``bootstrap``...)
is the manager's own.

``sandbox``: throwaway namespaces, bridges and guests for the kernel tests
(``tests/unit/network/drivers/sandbox.py``), deleted after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pocketstack.common.auth import RequestContext
from pocketstack.common.bus import InProcessBus
from pocketstack.network.api import (
    networks,
    ports,
    security_group_rules,
    security_groups,
    subnets,
    views,
)
from pocketstack.network.lists import ListQuery
from tests.helpers import pg_database
from tests.unit.network.drivers.sandbox import Sandbox


class Family:
    """One family: bodies in, rendered dicts out."""

    def __init__(
        self,
        family: Any,
        render: Callable[[Any], dict[str, Any]],
        parse_create: Callable[[dict[str, Any]], Any],
        parse_update: Callable[[dict[str, Any]], Any] | None = None,
    ):
        self.family = family
        self.render = render
        self.parse_create = parse_create
        self.parse_update = parse_update

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        return self.render(self.family.create(ctx, self.parse_create(body)))

    def get(self, ctx: RequestContext, resource_id: str) -> dict[str, Any]:
        return self.render(self.family.get(ctx, resource_id))

    def list(self, ctx: RequestContext, **query: Any) -> list[dict[str, Any]]:
        return [self.render(r) for r in self.family.list(ctx, ListQuery(**query)).items]

    def update(self, ctx: RequestContext, resource_id: str, body: dict[str, Any]) -> dict[str, Any]:
        assert self.parse_update is not None
        return self.render(self.family.update(ctx, resource_id, self.parse_update(body)))

    def delete(self, ctx: RequestContext, resource_id: str) -> None:
        self.family.delete(ctx, resource_id)


class InProcessNetwork:
    """``cloud.network`` with its families behind ``Family`` (the rest passes through)."""

    def __init__(self, manager: Any):
        self.manager = manager
        self.networks = Family(
            manager.networks, views.network, networks.parse_create, networks.parse_update
        )
        self.subnets = Family(
            manager.subnets, views.subnet, subnets.parse_create, subnets.parse_update
        )
        self.ports = Family(manager.ports, views.port, ports.parse_create, ports.parse_update)
        self.security_groups = Family(
            manager.security_groups,
            views.security_group,
            security_groups.parse_create,
            security_groups.parse_update,
        )
        self.security_group_rules = Family(
            manager.security_group_rules,
            views.security_group_rule,
            security_group_rules.parse_create,
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.manager, name)


@pytest.fixture
def network(cloud):
    """The cloud's Network service, driven through parse -> manager -> view."""
    return InProcessNetwork(cloud.network)


@pytest.fixture
def in_process():
    """``InProcessNetwork``, for a test with a cloud of its own (``in_process(c.network)``)."""
    return InProcessNetwork


@pytest.fixture
def pg_cloud(conf):
    """A Cloud over a fresh PostgreSQL database (dropped afterwards)."""
    from pocketstack.service import Cloud

    with pg_database("pocketstack_network") as database:
        bus = InProcessBus(workers=2)
        try:
            yield Cloud(conf.replace(database=database.url), database, bus)
        finally:
            bus.stop()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A ``Sandbox`` for one test; its namespaces (and so their devices) go afterwards."""
    box = Sandbox(tmp_path)
    yield box
    box.close()
