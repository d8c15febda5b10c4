"""Keypairs (API reference "Keypairs (keypairs)"), 2.1 shapes: no ``type`` field, create
answers 200 with the keypair (and ``private_key`` when generated), delete answers 202.
The create body is checked against ``schemas.KEYPAIR_CREATE`` before the handler runs."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest
from pocketstack.compute.api.common import paging
from pocketstack.compute.api.views import created_keypair, keypair_view


def _user(req: ApiRequest) -> str | None:
    user_id = req.query.get("user_id")
    if user_id and user_id != req.ctx.user_id:
        policy.enforce(req.ctx, "compute:keypairs:other_user")
    return user_id


def list_keypairs(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-keypairs``: the caller's keypairs (admin: ``?user_id=``)."""
    policy.enforce(req.ctx, "compute:keypairs:index")
    limit, marker = paging(req)
    keypairs = req.cloud.compute.keypairs.list(req.ctx, _user(req), limit=limit, marker=marker)
    return {"keypairs": [{"keypair": keypair_view(kp)} for kp in keypairs]}


def get_keypair(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-keypairs/{name}``; 404 when the user has no such keypair."""
    policy.enforce(req.ctx, "compute:keypairs:show")
    kp = req.cloud.compute.keypairs.get(req.ctx, req.params["name"], _user(req))
    return {"keypair": keypair_view(kp, full=True)}


def create_keypair(req: ApiRequest) -> dict[str, Any]:
    """``POST /os-keypairs`` {"keypair": {"name", "public_key"?}}: import or generate."""
    policy.enforce(req.ctx, "compute:keypairs:create")
    body = req.body["keypair"]
    name, public_key, user_id = body["name"], body.get("public_key"), body.get("user_id")
    if user_id is not None and user_id != req.ctx.user_id:
        policy.enforce(req.ctx, "compute:keypairs:other_user")
    kp, private = req.cloud.compute.keypairs.create(req.ctx, name, public_key, user_id=user_id)
    return {"keypair": created_keypair(kp, private)}


def delete_keypair(req: ApiRequest) -> None:
    """``DELETE /os-keypairs/{name}`` → 202."""
    policy.enforce(req.ctx, "compute:keypairs:delete")
    req.cloud.compute.keypairs.delete(req.ctx, req.params["name"], _user(req))
