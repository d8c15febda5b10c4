"""Keypairs (API reference "Keypairs (keypairs)") at the request's microversion: ``type``
from 2.2 (create takes it; create answers 201 from 2.2, 200 before, with the keypair and
``private_key`` when generated; delete answers 204 from 2.2, 202 before); from 2.92 a
``public_key`` is required (Nova no longer generates keys). An admin names another user
(``user_id`` in the create body, ``?user_id=`` on list, show and delete) from 2.10: before,
the body's ``user_id`` is refused (400) and the query's ignored, as Nova's 2.1 schema does.
The create body is checked against ``schemas.KEYPAIR_CREATE`` before the handler runs."""

from __future__ import annotations

from typing import Any

from pocketstack.common import errors, policy
from pocketstack.common.http import ApiRequest, ApiResponse
from pocketstack.compute.api.common import paging
from pocketstack.compute.api.microversion import at_least, refuse_newer
from pocketstack.compute.api.views import created_keypair, keypair_view


def _user(req: ApiRequest) -> str | None:
    """The ``?user_id=`` of an admin from 2.10 (None before: the caller's keypairs)."""
    if not at_least(req, 2, 10):
        return None
    user_id = req.query.get("user_id")
    if user_id and user_id != req.ctx.user_id:
        policy.enforce(req.ctx, "compute:keypairs:other_user")
    return user_id


def list_keypairs(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-keypairs``: the caller's keypairs (admin: ``?user_id=``)."""
    policy.enforce(req.ctx, "compute:keypairs:index")
    limit, marker = paging(req)
    keypairs = req.cloud.compute.keypairs.list(req.ctx, _user(req), limit=limit, marker=marker)
    return {"keypairs": [{"keypair": keypair_view(req, kp)} for kp in keypairs]}


def get_keypair(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-keypairs/{name}``; 404 when the user has no such keypair."""
    policy.enforce(req.ctx, "compute:keypairs:show")
    kp = req.cloud.compute.keypairs.get(req.ctx, req.params["name"], _user(req))
    return {"keypair": keypair_view(req, kp, full=True)}


def create_keypair(req: ApiRequest) -> ApiResponse:
    """``POST /os-keypairs`` {"keypair": {"name", "public_key"?, "type"? (2.2),
    "user_id"?}}: import or (before 2.92) generate.

    Raises:
        errors.BadRequest: ``type`` before 2.2, ``user_id`` before 2.10; no ``public_key``
            from 2.92.
    """
    policy.enforce(req.ctx, "compute:keypairs:create")
    body = req.body["keypair"]
    refuse_newer(req, body, {"type": (2, 2), "user_id": (2, 10)}, "keypair")
    if at_least(req, 2, 92) and body.get("public_key") is None:
        raise errors.BadRequest(
            f"Invalid input for field/attribute keypair. Value: {dict(body)!r}. "
            "'public_key' is a required property"
        )
    name, public_key, user_id = body["name"], body.get("public_key"), body.get("user_id")
    if user_id is not None and user_id != req.ctx.user_id:
        policy.enforce(req.ctx, "compute:keypairs:other_user")
    kp, private = req.cloud.compute.keypairs.create(
        req.ctx, name, public_key, user_id=user_id, key_type=body.get("type", "ssh")
    )
    return ApiResponse(
        status=201 if at_least(req, 2, 2) else 200,
        body={"keypair": created_keypair(req, kp, private)},
    )


def delete_keypair(req: ApiRequest) -> ApiResponse:
    """``DELETE /os-keypairs/{name}`` → 202 (204 from 2.2)."""
    policy.enforce(req.ctx, "compute:keypairs:delete")
    req.cloud.compute.keypairs.delete(req.ctx, req.params["name"], _user(req))
    return ApiResponse(status=204 if at_least(req, 2, 2) else 202)
