"""Handlers of the v2.0 collections: networks, subnets, ports, security groups and rules.

Every collection has the same five operations (rules have no update), so one small factory
builds them: parse, ``policy.enforce(ctx, "network:<family>:<op>")``, call the family's
function on ``cloud.network.<family>``, render with ``listing``. Status codes follow the
Networking API reference: 201 on create, 204 on delete, 200 otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, RouteSpec, route
from pocketstack.network.api import listing


class Collection:
    """The routes of one collection.

    Args:
        path: collection path (``networks``, ``security-groups``).
        singular: body key of one resource (``network``, ``security_group``).
        family: attribute of ``cloud.network`` (``networks``, ``security_group_rules``).
        updatable: whether PUT exists.
        admin_sees_all: an admin's list holds every project's resources unless
            ``all_projects=false`` (Neutron's behaviour); otherwise only when asked.
    """

    def __init__(
        self,
        path: str,
        singular: str,
        family: str,
        updatable: bool = True,
        admin_sees_all: bool = True,
    ):
        self.path = path
        self.singular = singular
        self.family = family
        self.updatable = updatable
        self.admin_sees_all = admin_sees_all

    def _ops(self, req: ApiRequest) -> Any:
        return getattr(req.cloud.network, self.family)

    def _rule(self, op: str) -> str:
        return f"network:{self.family}:{op}"

    def _one(self, req: ApiRequest, resource: dict[str, Any]) -> dict[str, Any]:
        return {self.singular: listing.select_fields(req, listing.view(req, resource))}

    def index(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2.0/<path>`` with filters, fields, sorting and pagination."""
        policy.enforce(req.ctx, self._rule("list"))
        items = self._ops(req).list(
            req.ctx, all_projects=listing.all_projects(req, self.admin_sees_all)
        )
        return listing.page(
            req, self.path.replace("-", "_"), self.path, [listing.view(req, i) for i in items]
        )

    def show(self, req: ApiRequest) -> dict[str, Any]:
        """``GET /v2.0/<path>/{id}``."""
        policy.enforce(req.ctx, self._rule("show"))
        return self._one(req, self._ops(req).get(req.ctx, req.params["id"]))

    def create(self, req: ApiRequest) -> dict[str, Any]:
        """``POST /v2.0/<path>`` with ``{"<singular>": {...}}``; 201."""
        policy.enforce(req.ctx, self._rule("create"))
        body = req.require_body(self.singular)
        return self._one(req, self._ops(req).create(req.ctx, body))

    def update(self, req: ApiRequest) -> dict[str, Any]:
        """``PUT /v2.0/<path>/{id}`` with ``{"<singular>": {changes}}``."""
        policy.enforce(req.ctx, self._rule("update"))
        body = req.require_body(self.singular)
        return self._one(req, self._ops(req).update(req.ctx, req.params["id"], body))

    def delete(self, req: ApiRequest) -> None:
        """``DELETE /v2.0/<path>/{id}``; 204."""
        policy.enforce(req.ctx, self._rule("delete"))
        self._ops(req).delete(req.ctx, req.params["id"])

    def routes(self) -> list[RouteSpec]:
        """The collection's routes."""
        coll = f"/v2.0/{self.path}"
        item = f"/v2.0/{self.path}/{{id}}"
        handlers: list[tuple[str, str, Callable[[ApiRequest], Any], int]] = [
            ("GET", coll, self.index, 200),
            ("POST", coll, self.create, 201),
            ("GET", item, self.show, 200),
            ("DELETE", item, self.delete, 204),
        ]
        if self.updatable:
            handlers.append(("PUT", item, self.update, 200))
        return [route(m, p, h, status=s) for m, p, h, s in handlers]


COLLECTIONS = (
    Collection("networks", "network", "networks"),
    Collection("subnets", "subnet", "subnets"),
    Collection("ports", "port", "ports"),
    # groups stay per project for admins too, so that ``default`` names one group
    Collection("security-groups", "security_group", "security_groups", admin_sees_all=False),
    Collection(
        "security-group-rules",
        "security_group_rule",
        "security_group_rules",
        updatable=False,
        admin_sees_all=False,
    ),
)
