"""Server tags (API reference "Server tags (servers, tags)", microversion 2.26): list,
replace and delete all tags of a server, check, add and delete one. Before 2.26 these
routes do not exist (404, as Nova's versioned routes). Replace's body is checked against
``schemas.TAGS_REPLACE`` before the handler runs."""

from __future__ import annotations

import re
from typing import Any

from pocketstack.common import errors, policy
from pocketstack.common.http import ApiRequest, ApiResponse
from pocketstack.compute.api.microversion import at_least
from pocketstack.compute.tags import MAX_TAGS

_TAG = re.compile(r"^[^,/]{1,60}\Z")


def _since_2_26(req: ApiRequest) -> None:
    if not at_least(req, 2, 26):
        raise errors.NotFound("The resource could not be found.")


def _tag(req: ApiRequest) -> str:
    tag = req.params["tag"]
    if not _TAG.match(tag):
        raise errors.BadRequest(
            f"Invalid input for field/attribute tag. Value: {tag[:64]}. "
            "A tag is 1..60 characters without '/' or ','."
        )
    return tag


def list_tags(req: ApiRequest) -> dict[str, Any]:
    """``GET /servers/{server_id}/tags`` → ``{"tags": [...]}``."""
    _since_2_26(req)
    policy.enforce(req.ctx, "compute:servers:show")
    return {"tags": req.cloud.compute.tags.list(req.ctx, req.params["server_id"])}


def replace_tags(req: ApiRequest) -> dict[str, Any]:
    """``PUT /servers/{server_id}/tags`` {"tags": [...]} → 200 ``{"tags": [...]}``; 400
    beyond ``MAX_TAGS``."""
    _since_2_26(req)
    policy.enforce(req.ctx, "compute:servers:update")
    tags = req.body["tags"]
    if len(set(tags)) > MAX_TAGS:
        raise errors.BadRequest(f"The number of tags exceeded the per-server limit {MAX_TAGS}")
    return {"tags": req.cloud.compute.tags.replace(req.ctx, req.params["server_id"], tags)}


def delete_tags(req: ApiRequest) -> ApiResponse:
    """``DELETE /servers/{server_id}/tags`` → 204."""
    _since_2_26(req)
    policy.enforce(req.ctx, "compute:servers:update")
    req.cloud.compute.tags.delete_all(req.ctx, req.params["server_id"])
    return ApiResponse(status=204)


def check_tag(req: ApiRequest) -> ApiResponse:
    """``GET /servers/{server_id}/tags/{tag}`` → 204, or 404 when the server lacks it."""
    _since_2_26(req)
    policy.enforce(req.ctx, "compute:servers:show")
    tag = _tag(req)
    if not req.cloud.compute.tags.has(req.ctx, req.params["server_id"], tag):
        raise errors.NotFound(f"Tag {tag} could not be found.")
    return ApiResponse(status=204)


def add_tag(req: ApiRequest) -> ApiResponse:
    """``PUT /servers/{server_id}/tags/{tag}`` → 201 with ``Location`` (new) or 204
    (already there); 400 beyond ``MAX_TAGS``."""
    _since_2_26(req)
    policy.enforce(req.ctx, "compute:servers:update")
    tag = _tag(req)
    server_id = req.params["server_id"]
    created = req.cloud.compute.tags.add(req.ctx, server_id, tag)
    location = f"{req.base_url}/v2.1/servers/{server_id}/tags/{tag}"
    return ApiResponse(status=201 if created else 204, headers={"Location": location})


def delete_tag(req: ApiRequest) -> ApiResponse:
    """``DELETE /servers/{server_id}/tags/{tag}`` → 204, or 404 when the server lacks it."""
    _since_2_26(req)
    policy.enforce(req.ctx, "compute:servers:update")
    tag = _tag(req)
    if not req.cloud.compute.tags.delete(req.ctx, req.params["server_id"], tag):
        raise errors.NotFound(f"Tag {tag} could not be found.")
    return ApiResponse(status=204)
