"""Handlers of ``/v2/images/{image_id}/members`` (Image API v2 "Image members")."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse


def _members(req: ApiRequest) -> Any:
    return req.cloud.image.members


def list_members(req: ApiRequest) -> dict[str, Any]:
    """GET .../members: ``{"members": [...], "schema": "/v2/schemas/members"}``."""
    policy.enforce(req.ctx, "image:get_members")
    members = _members(req).list_members(req.ctx, req.params["image_id"])
    return {"members": members, "schema": "/v2/schemas/members"}


def add_member(req: ApiRequest) -> dict[str, Any]:
    """POST .../members ``{"member": "<project id>"}`` (``schemas.MEMBER_CREATE``): 200 with
    the member (pending)."""
    policy.enforce(req.ctx, "image:add_member")
    return _members(req).add_member(req.ctx, req.params["image_id"], req.body["member"])


def show_member(req: ApiRequest) -> dict[str, Any]:
    """GET .../members/{member_id}."""
    policy.enforce(req.ctx, "image:get_member")
    return _members(req).get_member(req.ctx, req.params["image_id"], req.params["member_id"])


def update_member(req: ApiRequest) -> dict[str, Any]:
    """PUT .../members/{member_id} ``{"status": "accepted"}`` (``schemas.MEMBER_UPDATE``; by
    the member itself)."""
    policy.enforce(req.ctx, "image:modify_member")
    return _members(req).update_member(
        req.ctx, req.params["image_id"], req.params["member_id"], req.body["status"]
    )


def delete_member(req: ApiRequest) -> ApiResponse:
    """DELETE .../members/{member_id} (by the owner): 204."""
    policy.enforce(req.ctx, "image:delete_member")
    _members(req).delete_member(req.ctx, req.params["image_id"], req.params["member_id"])
    return ApiResponse(204)
