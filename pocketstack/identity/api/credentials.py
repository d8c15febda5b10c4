"""Credentials (Identity API v3 "Credentials": /v3/credentials) and EC2 credentials
(Identity API v3 extensions "OS-EC2": /v3/users/{user_id}/credentials/OS-EC2).

The policy target of a call on one credential is its user, so the credential is looked up
(404 when there is none) before the policy says 403 to someone else's.
"""

from __future__ import annotations

import json
from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse, route
from pocketstack.identity.api import schemas, views
from pocketstack.identity.api.parsing import changes, field, owner, query
from pocketstack.identity.credentials import CredentialView
from pocketstack.identity.exceptions import ValidationError

_FIELDS = {"blob": str, "type": str, "project_id": str, "user_id": str}


def _view(req: ApiRequest, c: CredentialView) -> dict[str, Any]:
    return {
        "id": c.id,
        "user_id": c.user_id,
        "project_id": c.project_id,
        "type": c.type,
        "blob": c.blob,
        "links": {"self": f"{req.base_url}/v3/credentials/{c.id}"},
    }


def _ec2_view(req: ApiRequest, c: CredentialView) -> dict[str, Any]:
    blob = json.loads(c.blob)
    return {
        "user_id": c.user_id,
        "tenant_id": c.project_id,
        "access": blob["access"],
        "secret": blob.get("secret"),
        "trust_id": blob.get("trust_id"),
        "links": {
            "self": f"{req.base_url}/v3/users/{c.user_id}/credentials/OS-EC2/{blob['access']}"
        },
    }


def _target(req: ApiRequest) -> dict[str, str]:
    return {"user_id": req.cloud.identity.credentials.owner(req.ctx, req.params["credential_id"])}


def list_credentials(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/credentials?user_id=&type= (a non-admin sees only its own)"""
    policy.enforce(req.ctx, "identity:list_credentials")
    rows = req.cloud.identity.credentials.list(req.ctx, query(req, "user_id"), query(req, "type"))
    return views.collection(req, "credentials", [_view(req, c) for c in rows])


def create_credential(req: ApiRequest) -> ApiResponse:
    """POST /v3/credentials (201)"""
    b = req.require_body("credential")
    user_id = field(b, "user_id", required=True)
    policy.enforce(req.ctx, "identity:create_credential", {"user_id": user_id})
    c = req.cloud.identity.credentials.create(
        req.ctx,
        user_id,
        field(b, "type", required=True),
        field(b, "blob", required=True),
        field(b, "project_id"),
    )
    return ApiResponse(201, {"credential": _view(req, c)})


def get_credential(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/credentials/{credential_id}"""
    policy.enforce(req.ctx, "identity:get_credential", _target(req))
    c = req.cloud.identity.credentials.get(req.ctx, req.params["credential_id"])
    return {"credential": _view(req, c)}


def update_credential(req: ApiRequest) -> dict[str, Any]:
    """PATCH /v3/credentials/{credential_id}"""
    policy.enforce(req.ctx, "identity:update_credential", _target(req))
    c = req.cloud.identity.credentials.update(
        req.ctx, req.params["credential_id"], changes(req.require_body("credential"), _FIELDS)
    )
    return {"credential": _view(req, c)}


def delete_credential(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/credentials/{credential_id} (204)"""
    policy.enforce(req.ctx, "identity:delete_credential", _target(req))
    req.cloud.identity.credentials.delete(req.ctx, req.params["credential_id"])
    return ApiResponse(204)


def ec2_create(req: ApiRequest) -> ApiResponse:
    """POST /v3/users/{user_id}/credentials/OS-EC2 ``{"tenant_id"}`` (201)"""
    policy.enforce(req.ctx, "identity:ec2_create_credential", owner(req))
    body = req.body if isinstance(req.body, dict) else {}
    project_id = body.get("tenant_id") or body.get("project_id") or req.ctx.project_id
    if not isinstance(project_id, str):
        raise ValidationError("tenant_id is required.")
    c = req.cloud.identity.credentials.ec2_create(req.ctx, req.params["user_id"], project_id)
    return ApiResponse(201, {"credential": _ec2_view(req, c)})


def ec2_list(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/users/{user_id}/credentials/OS-EC2"""
    policy.enforce(req.ctx, "identity:ec2_list_credentials", owner(req))
    rows = req.cloud.identity.credentials.ec2_list(req.ctx, req.params["user_id"])
    path = f"users/{req.params['user_id']}/credentials/OS-EC2"
    return views.collection(req, "credentials", [_ec2_view(req, c) for c in rows], path)


def ec2_get(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/users/{user_id}/credentials/OS-EC2/{access}"""
    policy.enforce(req.ctx, "identity:ec2_get_credential", owner(req))
    c = req.cloud.identity.credentials.ec2_get(req.ctx, req.params["user_id"], req.params["access"])
    return {"credential": _ec2_view(req, c)}


def ec2_delete(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/users/{user_id}/credentials/OS-EC2/{access} (204)"""
    policy.enforce(req.ctx, "identity:ec2_delete_credential", owner(req))
    req.cloud.identity.credentials.ec2_delete(req.ctx, req.params["user_id"], req.params["access"])
    return ApiResponse(204)


_EC2 = "/v3/users/{user_id}/credentials/OS-EC2"
ROUTES = [
    route("GET", "/v3/credentials", list_credentials),
    route("POST", "/v3/credentials", create_credential, schema=schemas.CREDENTIAL_CREATE),
    route("GET", "/v3/credentials/{credential_id}", get_credential),
    route(
        "PATCH",
        "/v3/credentials/{credential_id}",
        update_credential,
        schema=schemas.CREDENTIAL_UPDATE,
    ),
    route("DELETE", "/v3/credentials/{credential_id}", delete_credential),
    route("GET", _EC2, ec2_list),
    route("POST", _EC2, ec2_create, schema=schemas.EC2_CREATE),
    route("GET", _EC2 + "/{access}", ec2_get),
    route("DELETE", _EC2 + "/{access}", ec2_delete),
]
