"""The Placement API under ``/placement`` (Placement API reference).

``GET /placement/`` is the version document (no token); every other route is admin or
service only (``policies``), answers ``OpenStack-API-Version: placement 1.x``
(``microversions``), and renders errors as Placement's ``{"errors": [...]}``
(``errors``). Routes added by a later microversion are 404 below it.
"""

from __future__ import annotations

from starlette.responses import Response

from pocketstack.common.http import RouteSpec, ServiceAPI, route
from pocketstack.placement import policies as _policies  # noqa: F401  (registers the rules)
from pocketstack.placement.api import (
    allocation_candidates,
    allocations,
    inventories,
    microversions,
    resource_classes,
    resource_providers,
    schemas,
    traits,
    versions,
)
from pocketstack.placement.api.errors import RENDERERS
from pocketstack.placement.api.microversions import placement_route as r

RP = "/resource_providers/{uuid}"
INV = RP + "/inventories"

ROUTES: list[RouteSpec] = [
    route("GET", "/", versions.list_versions, auth=False),
    # resource providers
    r("GET", "/resource_providers", resource_providers.list_resource_providers),
    r(
        "POST",
        "/resource_providers",
        resource_providers.create_resource_provider,
        schema=schemas.PROVIDER_CREATE,
    ),
    r("GET", RP, resource_providers.get_resource_provider),
    r("PUT", RP, resource_providers.update_resource_provider, schema=schemas.PROVIDER_UPDATE),
    r("DELETE", RP, resource_providers.delete_resource_provider),
    # inventories
    r("GET", INV, inventories.list_inventories),
    r("PUT", INV, inventories.replace_inventories, schema=schemas.INVENTORIES),
    r("POST", INV, inventories.create_inventory, schema=schemas.INVENTORY_CREATE),
    r("DELETE", INV, inventories.delete_inventories),
    r("GET", INV + "/{resource_class}", inventories.get_inventory),
    r(
        "PUT",
        INV + "/{resource_class}",
        inventories.update_inventory,
        schema=schemas.INVENTORY_UPDATE,
    ),
    r("DELETE", INV + "/{resource_class}", inventories.delete_inventory),
    # aggregates (1.1), traits (1.6), allocations and usages of a provider
    r("GET", RP + "/aggregates", resource_providers.list_aggregates, since=1),
    r(
        "PUT",
        RP + "/aggregates",
        resource_providers.update_aggregates,
        schema=schemas.AGGREGATES,
        since=1,
    ),
    r("GET", RP + "/traits", resource_providers.list_provider_traits, since=6),
    r(
        "PUT",
        RP + "/traits",
        resource_providers.update_provider_traits,
        schema=schemas.PROVIDER_TRAITS,
        since=6,
    ),
    r("DELETE", RP + "/traits", resource_providers.delete_provider_traits, since=6),
    r("GET", RP + "/allocations", allocations.list_provider_allocations),
    r("GET", RP + "/usages", allocations.get_provider_usages),
    # resource classes (1.2)
    r("GET", "/resource_classes", resource_classes.list_resource_classes, since=2),
    r(
        "POST",
        "/resource_classes",
        resource_classes.create_resource_class,
        schema=schemas.RESOURCE_CLASS,
        since=2,
    ),
    r("GET", "/resource_classes/{name}", resource_classes.get_resource_class, since=2),
    r(
        "PUT",
        "/resource_classes/{name}",
        resource_classes.update_resource_class,
        schema=schemas.RESOURCE_CLASS_UPDATE,
        since=2,
    ),
    r("DELETE", "/resource_classes/{name}", resource_classes.delete_resource_class, since=2),
    # traits (1.6)
    r("GET", "/traits", traits.list_traits, since=6),
    r("GET", "/traits/{name}", traits.get_trait, since=6),
    r("PUT", "/traits/{name}", traits.update_trait, schema=schemas.NO_BODY, since=6),
    r("DELETE", "/traits/{name}", traits.delete_trait, since=6),
    # allocations, usages (1.9), allocation candidates (1.10)
    r(
        "POST",
        "/allocations",
        allocations.manage_allocations,
        schema=schemas.ALLOCATIONS_MANY,
        since=13,
    ),
    r("GET", "/allocations/{consumer_uuid}", allocations.get_allocations),
    r(
        "PUT",
        "/allocations/{consumer_uuid}",
        allocations.update_allocations,
        schema=schemas.CONSUMER,
    ),
    r("DELETE", "/allocations/{consumer_uuid}", allocations.delete_allocations),
    r("GET", "/usages", allocations.get_usages, since=9),
    r("GET", "/allocation_candidates", allocation_candidates.list_allocation_candidates, since=10),
]


class PlacementAPI(ServiceAPI):
    """``ServiceAPI`` whose every error names the request's id in its body, as
    Placement's ``errors`` entries do (``api/errors.py``), those raised before a handler
    (authentication, body validation) included."""

    def _error_response(self, exc: Exception, request_id: str) -> Response:
        exc.request_id = request_id  # type: ignore[attr-defined]
        return super()._error_response(exc, request_id)


API = PlacementAPI(
    "placement", "/placement", RENDERERS, ROUTES, response_headers=microversions.response_headers
)
