"""OS-OAUTH1 (Identity API v3 extension "OS-OAUTH1"): consumers, request tokens, their
authorization, access tokens, and the access tokens a user granted
(``/v3/users/{user_id}/OS-OAUTH1/access_tokens``). Getting a Keystone token with an access
token is POST /v3/auth/tokens, method ``oauth1`` (``api/auth.py``).

The request and access token calls carry no Keystone token: the consumer signs them (OAuth
1.0a, ``Authorization: OAuth ...``) and gets ``application/x-www-form-urlencoded`` bodies
(``oauth_token``, ``oauth_token_secret``, ``oauth_expires_at``), as Keystone answers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest, ApiResponse, route
from pocketstack.identity.api import schemas, views
from pocketstack.identity.api.parsing import signed_request
from pocketstack.identity.models import Role
from pocketstack.identity.oauth1 import IssuedToken
from pocketstack.identity.oauth1_models import AccessToken, Consumer

_O = "/v3/OS-OAUTH1"
_AT = "/v3/users/{user_id}/OS-OAUTH1/access_tokens"


def _time(when: dt.datetime | None) -> str | None:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if when else None


def _consumer(req: ApiRequest, c: Consumer, secret: str | None = None) -> dict[str, Any]:
    """A consumer (Keystone's view: extra attributes, id, description, links)."""
    body = {
        **(c.extra or {}),
        "id": c.id,
        "description": c.description,
        "links": {"self": f"{req.base_url}/v3/OS-OAUTH1/consumers/{c.id}"},
    }
    if secret is not None:
        body["secret"] = secret
    return body


def _access_token(req: ApiRequest, a: AccessToken) -> dict[str, Any]:
    """An access token as its user sees it (no secret, no role ids: they have a link)."""
    path = f"{req.base_url}/v3/users/{a.authorizing_user_id}/OS-OAUTH1/access_tokens/{a.id}"
    return {
        "id": a.id,
        "consumer_id": a.consumer_id,
        "project_id": a.project_id,
        "authorizing_user_id": a.authorizing_user_id,
        "expires_at": _time(a.expires_at),
        "links": {"self": path, "roles": path + "/roles"},
    }


def _form(token: IssuedToken) -> Response:
    """201 ``oauth_token=...&oauth_token_secret=...[&oauth_expires_at=...]``."""
    fields = {"oauth_token": token.key, "oauth_token_secret": token.secret}
    if token.expires_at is not None:
        fields["oauth_expires_at"] = _time(token.expires_at) or ""
    return Response(urlencode(fields), 201, media_type="application/x-www-form-urlencoded")


# -- consumers -----------------------------------------------------------------------------
def create_consumer(req: ApiRequest) -> ApiResponse:
    """POST /v3/OS-OAUTH1/consumers (201; the secret is shown only here)"""
    policy.enforce(req.ctx, "identity:create_consumer")
    b = dict(req.require_body("consumer"))
    description = b.pop("description", None)
    b.pop("id", None)
    row, secret = req.cloud.identity.oauth1.create_consumer(req.ctx, description, b)
    return ApiResponse(201, {"consumer": _consumer(req, row, secret)})


def list_consumers(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/OS-OAUTH1/consumers"""
    policy.enforce(req.ctx, "identity:list_consumers")
    rows = req.cloud.identity.oauth1.list_consumers(req.ctx)
    return views.collection(
        req, "consumers", [_consumer(req, c) for c in rows], "OS-OAUTH1/consumers"
    )


def get_consumer(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/OS-OAUTH1/consumers/{consumer_id}"""
    policy.enforce(req.ctx, "identity:get_consumer")
    row = req.cloud.identity.oauth1.get_consumer(req.ctx, req.params["consumer_id"])
    return {"consumer": _consumer(req, row)}


def update_consumer(req: ApiRequest) -> dict[str, Any]:
    """PATCH /v3/OS-OAUTH1/consumers/{consumer_id}"""
    policy.enforce(req.ctx, "identity:update_consumer")
    row = req.cloud.identity.oauth1.update_consumer(
        req.ctx, req.params["consumer_id"], req.require_body("consumer")
    )
    return {"consumer": _consumer(req, row)}


def delete_consumer(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/OS-OAUTH1/consumers/{consumer_id} (204; its tokens are revoked)"""
    policy.enforce(req.ctx, "identity:delete_consumer")
    req.cloud.identity.oauth1.delete_consumer(req.ctx, req.params["consumer_id"])
    return ApiResponse(204)


# -- the delegation flow -------------------------------------------------------------------
def create_request_token(req: ApiRequest) -> Response:
    """POST /v3/OS-OAUTH1/request_token (signed by the consumer; ``Requested-Project-Id``)"""
    token = req.cloud.identity.oauth1.create_request_token(
        signed_request(req, "/v3/OS-OAUTH1/request_token"),
        req.headers.get("requested-project-id"),
    )
    return _form(token)


def authorize_request_token(req: ApiRequest) -> dict[str, Any]:
    """PUT /v3/OS-OAUTH1/authorize/{request_token_id} ``{"roles": [...]}`` (200)"""
    policy.enforce(req.ctx, "identity:authorize_request_token")
    verifier = req.cloud.identity.oauth1.authorize(
        req.ctx, req.params["request_token_id"], req.body["roles"]
    )
    return {"token": {"oauth_verifier": verifier}}


def create_access_token(req: ApiRequest) -> Response:
    """POST /v3/OS-OAUTH1/access_token (signed with the request token and its verifier)"""
    token = req.cloud.identity.oauth1.create_access_token(
        signed_request(req, "/v3/OS-OAUTH1/access_token")
    )
    return _form(token)


# -- a user's access tokens ----------------------------------------------------------------
def _target(req: ApiRequest) -> dict[str, str]:
    return {"user_id": req.params["user_id"]}


def list_access_tokens(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/users/{user_id}/OS-OAUTH1/access_tokens"""
    policy.enforce(req.ctx, "identity:list_access_tokens", _target(req))
    user_id = req.params["user_id"]
    rows = req.cloud.identity.oauth1.list_access_tokens(req.ctx, user_id)
    path = f"users/{user_id}/OS-OAUTH1/access_tokens"
    return views.collection(req, "access_tokens", [_access_token(req, a) for a in rows], path)


def _get(req: ApiRequest) -> tuple[AccessToken, list[Role]]:
    return req.cloud.identity.oauth1.get_access_token(
        req.ctx, req.params["user_id"], req.params["access_token_id"]
    )


def get_access_token(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}"""
    policy.enforce(req.ctx, "identity:get_access_token", _target(req))
    return {"access_token": _access_token(req, _get(req)[0])}


def delete_access_token(req: ApiRequest) -> ApiResponse:
    """DELETE /v3/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id} (204)"""
    policy.enforce(req.ctx, "identity:delete_access_token", _target(req))
    req.cloud.identity.oauth1.delete_access_token(
        req.ctx, req.params["user_id"], req.params["access_token_id"]
    )
    return ApiResponse(204)


def list_access_token_roles(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}/roles"""
    policy.enforce(req.ctx, "identity:list_access_token_roles", _target(req))
    roles = _get(req)[1]
    path = (
        f"users/{req.params['user_id']}/OS-OAUTH1/access_tokens/"
        f"{req.params['access_token_id']}/roles"
    )
    return views.collection(req, "roles", [views.role(req, r) for r in roles], path)


def get_access_token_role(req: ApiRequest) -> dict[str, Any]:
    """GET /v3/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}/roles/{role_id}"""
    policy.enforce(req.ctx, "identity:get_access_token_role", _target(req))
    role = req.cloud.identity.oauth1.get_access_token_role(
        req.ctx, req.params["user_id"], req.params["access_token_id"], req.params["role_id"]
    )
    return {"role": views.role(req, role)}


ROUTES = [
    route("POST", _O + "/consumers", create_consumer, schema=schemas.CONSUMER_CREATE),
    route("GET", _O + "/consumers", list_consumers),
    route("GET", _O + "/consumers/{consumer_id}", get_consumer),
    route(
        "PATCH",
        _O + "/consumers/{consumer_id}",
        update_consumer,
        schema=schemas.CONSUMER_UPDATE,
    ),
    route("DELETE", _O + "/consumers/{consumer_id}", delete_consumer),
    route(
        "POST",
        _O + "/request_token",
        create_request_token,
        auth=False,
        schema=schemas.OAUTH1_SIGNED,
    ),
    route(
        "PUT",
        _O + "/authorize/{request_token_id}",
        authorize_request_token,
        schema=schemas.OAUTH1_AUTHORIZE,
    ),
    route(
        "POST", _O + "/access_token", create_access_token, auth=False, schema=schemas.OAUTH1_SIGNED
    ),
    route("GET", _AT, list_access_tokens),
    route("GET", _AT + "/{access_token_id}", get_access_token),
    route("DELETE", _AT + "/{access_token_id}", delete_access_token),
    route("GET", _AT + "/{access_token_id}/roles", list_access_token_roles),
    route("GET", _AT + "/{access_token_id}/roles/{role_id}", get_access_token_role),
]
