"""A user's application credentials (Identity API v3 "Application Credentials")."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse, route
from pocketstack.identity.api import schemas, views
from pocketstack.identity.api.parsing import field, owner, query
from pocketstack.identity.exceptions import ValidationError

_AC = "/v3/users/{user_id}/application_credentials"


def _expiry(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"Invalid expires_at {value!r}: expected ISO 8601.") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def create_application_credential(req: ApiRequest) -> ApiResponse:
    """POST /v3/users/{user_id}/application_credentials (201; ``secret`` shown once)"""
    policy.enforce(req.ctx, "identity:create_application_credential", owner(req))
    b = req.require_body("application_credential")
    cred, secret, roles = req.cloud.identity.application_credentials.create(
        req.ctx,
        req.params["user_id"],
        field(b, "name", required=True),
        field(b, "secret"),
        field(b, "description"),
        b.get("roles"),
        _expiry(b.get("expires_at")),
        field(b, "unrestricted", bool, default=False),
    )
    return ApiResponse(
        201, {"application_credential": views.application_credential(req, cred, roles, secret)}
    )


def list_application_credentials(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/users/{user_id}/application_credentials?name="""
    policy.enforce(req.ctx, "identity:list_application_credentials", owner(req))
    rows = req.cloud.identity.application_credentials.list(
        req.ctx, req.params["user_id"], query(req, "name")
    )
    return views.collection(
        req,
        "application_credentials",
        [views.application_credential(req, c, r) for c, r in rows],
        f"users/{req.params['user_id']}/application_credentials",
    )


def get_application_credential(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/users/{user_id}/application_credentials/{cred_id}"""
    policy.enforce(req.ctx, "identity:get_application_credential", owner(req))
    cred, roles = req.cloud.identity.application_credentials.get(
        req.ctx, req.params["user_id"], req.params["cred_id"]
    )
    return {"application_credential": views.application_credential(req, cred, roles)}


def delete_application_credential(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/users/{user_id}/application_credentials/{cred_id} (204; revokes tokens)"""
    policy.enforce(req.ctx, "identity:delete_application_credential", owner(req))
    req.cloud.identity.application_credentials.delete(
        req.ctx, req.params["user_id"], req.params["cred_id"]
    )
    return ApiResponse(204)


ROUTES = [
    route("GET", _AC, list_application_credentials),
    route("POST", _AC, create_application_credential, schema=schemas.APPLICATION_CREDENTIAL_CREATE),
    route("GET", _AC + "/{cred_id}", get_application_credential),
    route("DELETE", _AC + "/{cred_id}", delete_application_credential),
]
