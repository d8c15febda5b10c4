"""Handlers of ``/v2/images/{image_id}/members`` (Image API v2 "Image members"): parse,
authorize, call one ``cloud.image.members`` (``ImageMembers``) method, render."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse
from pocketstack.image.api import views
from pocketstack.image.members import ImageMembers


def _members(req: ApiRequest) -> ImageMembers:
    return req.cloud.image.members


def list_members(req: ApiRequest) -> dict[str, Any]:
    """GET .../members: ``{"members": [...], "schema": "/v2/schemas/members"}``."""
    policy.enforce(req.ctx, "image:get_members")
    return views.members_view(_members(req).list(req.ctx, req.params["image_id"]))


def create_member(req: ApiRequest) -> dict[str, Any]:
    """POST .../members ``{"member": "<project id>"}`` (``schemas.MEMBER_CREATE``): 200 with
    the member (pending)."""
    policy.enforce(req.ctx, "image:add_member")
    member = _members(req).create(req.ctx, req.params["image_id"], req.body["member"])
    return views.member_view(member)


def get_member(req: ApiRequest) -> dict[str, Any]:
    """GET .../members/{member_id}."""
    policy.enforce(req.ctx, "image:get_member")
    member = _members(req).get(req.ctx, req.params["image_id"], req.params["member_id"])
    return views.member_view(member)


def update_member(req: ApiRequest) -> dict[str, Any]:
    """PUT .../members/{member_id} ``{"status": "accepted"}`` (``schemas.MEMBER_UPDATE``; by
    the member itself)."""
    policy.enforce(req.ctx, "image:modify_member")
    member = _members(req).update(
        req.ctx, req.params["image_id"], req.params["member_id"], req.body["status"]
    )
    return views.member_view(member)


def delete_member(req: ApiRequest) -> ApiResponse:
    """DELETE .../members/{member_id} (by the owner): 204."""
    policy.enforce(req.ctx, "image:delete_member")
    _members(req).delete(req.ctx, req.params["image_id"], req.params["member_id"])
    return ApiResponse(204)
