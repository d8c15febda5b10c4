"""Handlers of the v2.0 collections: networks, subnets, ports, security groups and rules.

Every collection has the same five operations (rules have no update), so one small factory
builds them: parse, ``policy.enforce(ctx, "network:<family>:<op>")``, call the family's
function on ``cloud.network.<family>``, render with ``listing``. Status codes follow the
Networking API reference: 201 on create, 204 on delete, 200 otherwise. The create and update
bodies are declared in ``schemas`` and checked by the HTTP layer before a handler runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, RouteSpec, route
from pocketstack.common.schema_types import Schema
from pocketstack.network.api import listing, schemas


class Collection:
    """The routes of one collection.

    Args:
        path: collection path (``networks``, ``security-groups``).
        singular: body key of one resource (``network``, ``security_group``).
        family: attribute of ``cloud.network`` (``networks``, ``security_group_rules``).
        create_schema: JSON schema of the ``POST`` body (``schemas``).
        update_schema: JSON schema of the ``PUT`` body; None when the collection has no
            update (rules), so every PUT route has a schema.
        admin_sees_all: an admin's list holds every project's resources unless
            ``all_projects=false`` (Neutron's behaviour); otherwise only when asked.
    """

    def __init__(
        self,
        path: str,
        singular: str,
        family: str,
        create_schema: Schema,
        update_schema: Schema | None,
        admin_sees_all: bool = True,
    ):
        self.path = path
        self.singular = singular
        self.family = family
        self.create_schema = create_schema
        self.update_schema = update_schema
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
        handlers: list[tuple[str, str, Callable[[ApiRequest], Any], int, Schema | None]] = [
            ("GET", coll, self.index, 200, None),
            ("POST", coll, self.create, 201, self.create_schema),
            ("GET", item, self.show, 200, None),
            ("DELETE", item, self.delete, 204, None),
        ]
        if self.update_schema is not None:
            handlers.append(("PUT", item, self.update, 200, self.update_schema))
        return [route(m, p, h, status=s, schema=b) for m, p, h, s, b in handlers]


COLLECTIONS = (
    Collection("networks", "network", "networks", schemas.NETWORK_CREATE, schemas.NETWORK_UPDATE),
    Collection("subnets", "subnet", "subnets", schemas.SUBNET_CREATE, schemas.SUBNET_UPDATE),
    Collection("ports", "port", "ports", schemas.PORT_CREATE, schemas.PORT_UPDATE),
    # groups stay per project for admins too, so that ``default`` names one group
    Collection(
        "security-groups",
        "security_group",
        "security_groups",
        schemas.SECURITY_GROUP_CREATE,
        schemas.SECURITY_GROUP_UPDATE,
        admin_sees_all=False,
    ),
    Collection(
        "security-group-rules",
        "security_group_rule",
        "security_group_rules",
        schemas.SECURITY_GROUP_RULE_CREATE,
        None,
        admin_sees_all=False,
    ),
)
