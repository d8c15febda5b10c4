"""Handlers of the tag sub-resources (Networking API v2.0 reference, "Tag extension
(tags)"), mounted by ``routes(collection)`` under ``/v2.0/<collection>/{id}/tags`` for each
taggable collection of ``network.tags.RESOURCES``:

- ``GET .../tags`` -> ``{"tags": [...]}``; ``PUT .../tags`` with ``{"tags": [...]}`` replaces
  them all (200, the new list); ``DELETE .../tags`` removes them all (204);
- ``GET .../tags/{tag}`` 204 when present (404 TagNotFound otherwise); ``PUT .../tags/{tag}``
  adds it (201, no body); ``DELETE .../tags/{tag}`` removes it (204; 404 when absent).

Reads need ``network:tags:show``, changes ``network:tags:update``/``delete``; the resource's
own visibility and ownership are checked by ``cloud.network.tags``.
"""

from __future__ import annotations

import functools
from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse, RouteSpec, route
from pocketstack.network.api import schemas


def get_tags(req: ApiRequest, collection: str) -> dict[str, Any]:
    """``GET /v2.0/<collection>/{id}/tags``."""
    policy.enforce(req.ctx, "network:tags:show")
    tags = req.cloud.network.tags.get(req.ctx, collection, req.params["id"])
    return {"tags": tags}


def update_tags(req: ApiRequest, collection: str) -> dict[str, Any]:
    """``PUT /v2.0/<collection>/{id}/tags`` with ``{"tags": [...]}``: replace all."""
    wanted = [str(t) for t in (req.body or {}).get("tags", [])]
    policy.enforce(req.ctx, "network:tags:update")
    tags = req.cloud.network.tags.replace(req.ctx, collection, req.params["id"], wanted)
    return {"tags": tags}


def delete_tags(req: ApiRequest, collection: str) -> None:
    """``DELETE /v2.0/<collection>/{id}/tags``: remove all; 204."""
    policy.enforce(req.ctx, "network:tags:delete")
    req.cloud.network.tags.clear(req.ctx, collection, req.params["id"])


def get_tag(req: ApiRequest, collection: str) -> ApiResponse:
    """``GET /v2.0/<collection>/{id}/tags/{tag}``: 204 when the resource has it."""
    policy.enforce(req.ctx, "network:tags:show")
    req.cloud.network.tags.check(req.ctx, collection, req.params["id"], req.params["tag"])
    return ApiResponse(204)


def add_tag(req: ApiRequest, collection: str) -> ApiResponse:
    """``PUT /v2.0/<collection>/{id}/tags/{tag}``: 201, no body."""
    policy.enforce(req.ctx, "network:tags:update")
    req.cloud.network.tags.add(req.ctx, collection, req.params["id"], req.params["tag"])
    return ApiResponse(201)


def delete_tag(req: ApiRequest, collection: str) -> None:
    """``DELETE /v2.0/<collection>/{id}/tags/{tag}``: 204."""
    policy.enforce(req.ctx, "network:tags:delete")
    req.cloud.network.tags.remove(req.ctx, collection, req.params["id"], req.params["tag"])


def routes(collections: list[str]) -> list[RouteSpec]:
    """The six tag routes of each of ``collections`` (URL collection names, keys of
    ``network.tags.RESOURCES``): ``/v2.0/<collection>/{id}/tags[/{tag}]``."""
    specs = []
    for collection in collections:
        base = f"/v2.0/{collection}/{{id}}/tags"
        one = base + "/{tag}"

        def bound(handler: Any, collection: str = collection) -> Any:
            return functools.partial(handler, collection=collection)

        specs += [
            route("GET", base, bound(get_tags)),
            route("PUT", base, bound(update_tags), schema=schemas.TAGS_UPDATE),
            route("DELETE", base, bound(delete_tags), status=204),
            route("GET", one, bound(get_tag)),
            route("PUT", one, bound(add_tag), status=201, schema=schemas.NO_BODY),
            route("DELETE", one, bound(delete_tag), status=204),
        ]
    return specs
