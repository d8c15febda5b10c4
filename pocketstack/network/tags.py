"""Tags of network resources (Neutron's ``standard-attr-tag`` extension; Networking API v2.0
reference, "Tag extension (tags)"), one implementation for every taggable collection.

``RESOURCES`` maps a URL collection (``networks``, ``security-groups``...) to the model that
holds its ``tags`` JSON list and the family of ``cloud.network`` whose ``get(ctx, id)``
decides what the caller sees (its 404 is the resource's own: NetworkNotFound...). Adding a
taggable collection is one line there; the API mounts the tag routes of every collection
that has its own routes.

Reading needs only visibility; changing needs the resource's owner or an admin, as
updating the resource does. A change bumps the resource's revision number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pocketstack.common.auth import RequestContext
from pocketstack.network import common, models
from pocketstack.network import exceptions as exc

if TYPE_CHECKING:
    from pocketstack.service import Cloud

#: URL collection -> (model name in ``network.models``, family attribute of ``cloud.network``,
#: the resource's name in a TagNotFound message).
RESOURCES: dict[str, tuple[str, str, str]] = {
    "networks": ("Network", "networks", "network"),
    "subnets": ("Subnet", "subnets", "subnet"),
    "ports": ("Port", "ports", "port"),
    "security-groups": ("SecurityGroup", "security_groups", "security_group"),
    "routers": ("Router", "routers", "router"),
    "floatingips": ("FloatingIP", "floating_ips", "floatingip"),
    "subnetpools": ("SubnetPool", "subnetpools", "subnetpool"),
}


def _unique(tags: list[str]) -> list[str]:
    """``tags`` without repeats, in their first order."""
    return list(dict.fromkeys(tags))


class Tags:
    """The tags of ``cloud.network`` (``cloud.network.tags``). Each method takes the URL
    collection (a key of ``RESOURCES``) and the resource id.

    Raises (every method): the family's NotFound (404) for a resource the caller cannot
    see; NotAuthorized (403) for a change by neither the owner nor an admin.
    """

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    def _check_visible(self, ctx: RequestContext, collection: str, resource_id: str) -> None:
        family = getattr(self.cloud.network, RESOURCES[collection][1])
        family.get(ctx, resource_id)

    def _change(
        self, ctx: RequestContext, collection: str, resource_id: str, change: Any
    ) -> list[str]:
        """Apply ``change(tags) -> new tags`` to the resource's tags in one transaction."""
        self._check_visible(ctx, collection, resource_id)
        model = getattr(models, RESOURCES[collection][0])
        with self.cloud.db.transaction() as s:
            row = s.get(model, resource_id)
            if row is None:  # deleted since the check
                raise exc.errors.NotFound(f"{RESOURCES[collection][2]} {resource_id} not found.")
            if not common.check_project_scope(ctx, row.project_id):
                raise exc.NotAuthorized(f"Only the owner of {resource_id} may change its tags.")
            new = _unique(change(list(row.tags or [])))
            if new != list(row.tags or []):
                row.tags = new
                common.touch(row)
            return new

    def get(self, ctx: RequestContext, collection: str, resource_id: str) -> list[str]:
        """The resource's tags."""
        self._check_visible(ctx, collection, resource_id)
        model = getattr(models, RESOURCES[collection][0])
        with self.cloud.db.reader() as s:
            row = s.get(model, resource_id)
            return list(row.tags or []) if row is not None else []

    def check(self, ctx: RequestContext, collection: str, resource_id: str, tag: str) -> None:
        """Nothing when the resource has ``tag``. Raises TagNotFound (404) otherwise."""
        if tag not in self.get(ctx, collection, resource_id):
            raise exc.TagNotFound(RESOURCES[collection][2], resource_id, tag)

    def replace(
        self, ctx: RequestContext, collection: str, resource_id: str, tags: list[str]
    ) -> list[str]:
        """Make ``tags`` the resource's tags (repeats dropped); returns them."""
        return self._change(ctx, collection, resource_id, lambda _old: tags)

    def add(self, ctx: RequestContext, collection: str, resource_id: str, tag: str) -> None:
        """Add ``tag`` (nothing when present)."""
        self._change(ctx, collection, resource_id, lambda old: [*old, tag])

    def remove(self, ctx: RequestContext, collection: str, resource_id: str, tag: str) -> None:
        """Remove ``tag``. Raises TagNotFound (404) when the resource lacks it."""

        def without(old: list[str]) -> list[str]:
            if tag not in old:
                raise exc.TagNotFound(RESOURCES[collection][2], resource_id, tag)
            return [t for t in old if t != tag]

        self._change(ctx, collection, resource_id, without)

    def clear(self, ctx: RequestContext, collection: str, resource_id: str) -> None:
        """Remove every tag."""
        self._change(ctx, collection, resource_id, lambda _old: [])
