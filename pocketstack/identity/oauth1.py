"""Delegated authentication with OAuth 1.0a (Identity API v3 extension "OS-OAUTH1").

The flow, as Keystone's: an admin registers a *consumer* (id and secret; the secret is shown
once). The consumer asks for a *request token* for one project (POST .../request_token,
signed with its secret, header ``Requested-Project-Id``); a user holding roles on that
project *authorizes* it with some of them and gets an ``oauth_verifier``; the consumer
exchanges request token and verifier for an *access token* (signed with both secrets); with
it the consumer gets Keystone tokens (``POST /v3/auth/tokens``, method ``oauth1``) scoped to
the project, carrying the delegated roles the user still holds.

Signatures (HMAC-SHA1, or HMAC-SHA256/512) are checked by ``oauthlib``'s endpoints with a
``RequestValidator`` over our tables (as Keystone's ``oauth1/validator.py``); nonces are not
remembered (as Keystone): oauthlib refuses timestamps more than ten minutes off, and a
replayed signed request only gives another token of the same delegation.

Secrets are stored encrypted with the credential keys (``credentials.Credentials``). Request
tokens last ``request_token_duration`` seconds, access tokens ``access_token_duration``
(``[oauth1]``, 0: no expiry). Deleting a consumer deletes its request and access tokens,
and deleting an access token (or its consumer) makes its Keystone tokens invalid at once
(``tokens.TokenProvider`` checks the access token at validation).
"""

from __future__ import annotations

import builtins
import datetime as dt
import secrets
import string
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from oauthlib import oauth1
from oauthlib.oauth1.rfc5849 import errors as oauth_errors
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import utcnow
from pocketstack.identity import exceptions as exc
from pocketstack.identity.assignment import effective_roles
from pocketstack.identity.models import Project, Role
from pocketstack.identity.oauth1_models import AccessToken, Consumer, RequestToken
from pocketstack.identity.tokens import KeyRing
from pocketstack.identity.users import get_user

if TYPE_CHECKING:
    from pocketstack.identity.manager import IdentityManager

#: Characters of an ``oauth_verifier`` (Keystone: 8 of letters and digits).
VERIFIER_CHARS = string.ascii_letters + string.digits
_HEX = set("0123456789abcdef")


class ConsumerNotFound(exc.NotFound):
    """404: no such consumer."""


class RequestTokenNotFound(exc.NotFound):
    """404: no such request token."""


class AccessTokenNotFound(exc.NotFound):
    """404: no such access token (or it is another user's)."""


@dataclass(frozen=True)
class IssuedToken:
    """A request or access token as the consumer receives it once: key, secret, expiry."""

    key: str
    secret: str
    expires_at: dt.datetime | None


@dataclass(frozen=True)
class SignedRequest:
    """What oauthlib needs of an HTTP request: the URL the client signed, the method, the
    headers (``Authorization: OAuth ...``) and the body (form parameters, or None)."""

    url: str
    method: str
    headers: Mapping[str, str]
    body: str | None = None


def _expiry(seconds: int) -> dt.datetime | None:
    return utcnow() + dt.timedelta(seconds=seconds) if seconds > 0 else None


def _expired(when: dt.datetime | None) -> bool:
    return when is not None and when <= utcnow()


def _bad_signature() -> exc.AuthenticationFailed:
    return exc.AuthenticationFailed("Invalid signature.")


class _Validator(oauth1.RequestValidator):
    """oauthlib's view of our consumers and tokens (Keystone's ``OAuthValidator``): ids are
    32 hex characters, verifiers 8 letters or digits, secrets decrypted on demand."""

    def __init__(self, owner: OAuth1, session: Session):
        super().__init__()
        self.owner = owner
        self.s = session

    enforce_ssl = False  # type: ignore[assignment]
    allowed_signature_methods = (  # type: ignore[assignment]
        oauth1.SIGNATURE_HMAC_SHA1,
        oauth1.SIGNATURE_HMAC_SHA256,
        oauth1.SIGNATURE_HMAC_SHA512,
    )
    dummy_client = "0" * 32  # type: ignore[assignment]
    dummy_request_token = "0" * 32  # type: ignore[assignment]
    dummy_access_token = "0" * 32  # type: ignore[assignment]

    @staticmethod
    def _hex32(value: str) -> bool:
        return len(value) == 32 and set(value) <= _HEX

    def check_client_key(self, client_key: str) -> bool:
        return self._hex32(client_key)

    def check_request_token(self, request_token: str) -> bool:
        return self._hex32(request_token)

    def check_access_token(self, request_token: str) -> bool:
        return self._hex32(request_token)

    def check_nonce(self, nonce: str) -> bool:
        return 0 < len(nonce) <= 64 and nonce.isalnum()

    def check_verifier(self, verifier: str) -> bool:
        return len(verifier) == 8 and all(c in VERIFIER_CHARS for c in verifier)

    def _secret(self, row: Any) -> str:
        return self.owner.keys.decrypt(row.encrypted_secret).decode()

    def get_client_secret(self, client_key: str, request: Any) -> str:
        row = self.s.get(Consumer, client_key)
        return self._secret(row) if row is not None else "dummy"

    def get_request_token_secret(self, client_key: str, token: str, request: Any) -> str:
        row = self.s.get(RequestToken, token)
        return self._secret(row) if row is not None else "dummy"

    def get_access_token_secret(self, client_key: str, token: str, request: Any) -> str:
        row = self.s.get(AccessToken, token)
        return self._secret(row) if row is not None else "dummy"

    def get_default_realms(self, client_key: str, request: Any) -> list[str]:
        return []

    def get_realms(self, token: str, request: Any) -> list[str]:
        return []

    def get_redirect_uri(self, token: str, request: Any) -> str:
        return "oob"

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        return self.s.get(Consumer, client_key) is not None

    def validate_request_token(self, client_key: str, token: str, request: Any) -> bool:
        row = self.s.get(RequestToken, token)
        return row is not None and row.consumer_id == client_key

    def validate_access_token(self, client_key: str, token: str, request: Any) -> bool:
        row = self.s.get(AccessToken, token)
        return row is not None and row.consumer_id == client_key

    def validate_timestamp_and_nonce(self, *args: Any, **kwargs: Any) -> bool:
        return True  # see the module doc

    def validate_redirect_uri(self, client_key: str, redirect_uri: str, request: Any) -> bool:
        return True

    def validate_requested_realms(self, client_key: str, realms: Any, request: Any) -> bool:
        return True

    def validate_realms(self, *args: Any, **kwargs: Any) -> bool:
        return True

    def validate_verifier(self, client_key: str, token: str, verifier: str, request: Any) -> bool:
        row = self.s.get(RequestToken, token)
        return (
            row is not None
            and row.verifier is not None
            and secrets.compare_digest(row.verifier, verifier)
        )


class OAuth1:
    """``cloud.identity.oauth1``: consumers, request and access tokens (OS-OAUTH1)."""

    def __init__(self, identity: IdentityManager):
        self.identity = identity
        self.db = identity.db
        self.conf = identity.conf
        # the credential keys (``<state_dir>/credential-keys``), as credentials' blobs
        self.keys = KeyRing(Path(identity.conf.state_dir, "credential-keys"))

    # -- consumers -------------------------------------------------------------------------
    def create_consumer(
        self, ctx: RequestContext, description: str | None, extra: dict[str, Any]
    ) -> tuple[Consumer, str]:
        """A new consumer and its secret (shown only now; POST /v3/OS-OAUTH1/consumers)."""
        secret = uuid.uuid4().hex
        with self.db.transaction() as s:
            row = Consumer(
                description=description,
                encrypted_secret=self.keys.encrypt(secret.encode()),
                extra=extra,
            )
            s.add(row)
        return row, secret

    def list_consumers(self, ctx: RequestContext) -> builtins.list[Consumer]:
        """Every consumer, oldest first."""
        with self.db.reader() as s:
            return list(s.scalars(sa.select(Consumer).order_by(Consumer.created_at, Consumer.id)))

    def get_consumer(self, ctx: RequestContext, consumer_id: str) -> Consumer:
        """One consumer; raises ``ConsumerNotFound`` (404)."""
        with self.db.reader() as s:
            return _consumer(s, consumer_id)

    def update_consumer(
        self, ctx: RequestContext, consumer_id: str, changes: dict[str, Any]
    ) -> Consumer:
        """Change a consumer's description and extra attributes (PATCH). Raises
        ``ConsumerNotFound``; ValidationError (400) for ``secret`` or another ``id``
        (Keystone: the secret cannot change)."""
        if "secret" in changes:
            raise exc.ValidationError("Cannot change consumer secret.")
        if changes.get("id", consumer_id) != consumer_id:
            raise exc.ValidationError("Cannot change consumer id.")
        with self.db.transaction() as s:
            row = _consumer(s, consumer_id)
            if "description" in changes:
                row.description = changes["description"]
            extra = {k: v for k, v in changes.items() if k not in ("id", "description")}
            if extra:
                row.extra = {**(row.extra or {}), **extra}
        return row

    def delete_consumer(self, ctx: RequestContext, consumer_id: str) -> None:
        """Delete a consumer, its request and access tokens; the Keystone tokens got with
        them stop working at once. Raises ``ConsumerNotFound``."""
        with self.db.transaction() as s:
            row = _consumer(s, consumer_id)
            for model in (RequestToken, AccessToken):
                s.execute(sa.delete(model).where(model.consumer_id == consumer_id))
            s.delete(row)
        self.identity.tokens.invalidate()

    # -- the delegation flow ---------------------------------------------------------------
    def _verify(self, s: Session, kind: str, req: SignedRequest) -> Any:
        """Run oauthlib's check of ``kind`` (request, access, resource) on ``req``; the
        oauthlib request when valid, else AuthenticationFailed (401)."""
        validator = _Validator(self, s)
        try:
            if kind == "request":
                endpoint: Any = oauth1.RequestTokenEndpoint(validator)
                valid, r = endpoint.validate_request_token_request(
                    endpoint._create_request(req.url, req.method, req.body, dict(req.headers))
                )
            elif kind == "access":
                endpoint = oauth1.AccessTokenEndpoint(validator)
                valid, r = endpoint.validate_access_token_request(
                    endpoint._create_request(req.url, req.method, req.body, dict(req.headers))
                )
            else:
                endpoint = oauth1.ResourceEndpoint(validator)
                valid, r = endpoint.validate_protected_resource_request(
                    req.url, req.method, req.body, dict(req.headers)
                )
        except (oauth_errors.OAuth1Error, ValueError) as err:
            raise exc.AuthenticationFailed(f"Invalid OAuth request: {_describe(err)}") from None
        if not valid:
            raise _bad_signature()
        return r

    def create_request_token(self, req: SignedRequest, project_id: str | None) -> IssuedToken:
        """POST /v3/OS-OAUTH1/request_token: a request token of the signing consumer for
        ``project_id`` (the ``Requested-Project-Id`` header).

        Raises:
            ValidationError (400): no project given.
            AuthenticationFailed (401): unknown consumer, bad or missing signature (checked
                before the project).
            ProjectNotFound (404): a signed request for a project that does not exist.
        """
        if not project_id:
            raise exc.ValidationError("Requested-Project-Id header is required.")
        secret = uuid.uuid4().hex
        with self.db.transaction() as s:
            # the signature first: an unsigned caller learns nothing of which projects exist
            r = self._verify(s, "request", req)
            if s.get(Project, project_id) is None:
                raise exc.ProjectNotFound(f"Could not find project: {project_id}.")
            row = RequestToken(
                consumer_id=r.client_key,
                encrypted_secret=self.keys.encrypt(secret.encode()),
                requested_project_id=project_id,
                expires_at=_expiry(int(self.conf.request_token_duration)),
            )
            s.add(row)
            s.flush()
            return IssuedToken(row.id, secret, row.expires_at)

    def authorize(self, ctx: RequestContext, request_token_id: str, roles: Any) -> str:
        """PUT /v3/OS-OAUTH1/authorize/{request_token_id}: the caller delegates ``roles``
        (``[{"id"}|{"name"}]``) on the token's project; returns the ``oauth_verifier``.

        Raises:
            RequestTokenNotFound, RoleNotFound (404).
            AuthenticationFailed (401): the request token expired or was already
                authorized, or the caller does not hold a role on the project (Keystone:
                "authorizing user does not have role required").
            ForbiddenAction (403): the caller's token itself comes from a delegation (trust,
                OAuth, application credential), as Keystone refuses.
        """
        self._not_delegated(ctx)
        verifier = "".join(secrets.choice(VERIFIER_CHARS) for _ in range(8))
        with self.db.transaction() as s:
            row = s.get(RequestToken, request_token_id)
            if row is None:
                raise RequestTokenNotFound(f"Could not find request token: {request_token_id}.")
            if _expired(row.expires_at):
                raise exc.AuthenticationFailed("Request token is expired.")
            if row.authorizing_user_id is not None:
                raise exc.AuthenticationFailed("Request token has already been authorized.")
            wanted = _role_ids(s, roles)
            project_id = row.requested_project_id
            held = {r.id for r in effective_roles(s, ctx.user_id or "", "project", project_id)}
            if not wanted <= held:
                raise exc.AuthenticationFailed("Authorizing user does not have role required.")
            row.authorizing_user_id = ctx.user_id
            row.role_ids = sorted(wanted)
            row.verifier = verifier
        return verifier

    def _not_delegated(self, ctx: RequestContext) -> None:
        payload = self.identity.tokens.inspect(ctx.auth_token).payload if ctx.auth_token else None
        if not ctx.may_delegate or (payload and payload.trust_id):
            raise exc.ForbiddenAction(
                "Cannot authorize a request token with a token issued via delegation."
            )

    def create_access_token(self, req: SignedRequest) -> IssuedToken:
        """POST /v3/OS-OAUTH1/access_token: exchange an authorized request token (signed by
        its consumer, with ``oauth_verifier``) for an access token; the request token is
        used up.

        Raises:
            AuthenticationFailed (401): bad signature, unknown or expired request token,
                one not authorized yet, a wrong verifier.
        """
        secret = uuid.uuid4().hex
        with self.db.transaction() as s:
            r = self._verify(s, "access", req)
            rt = s.get(RequestToken, r.resource_owner_key)
            if rt is None or rt.consumer_id != r.client_key:
                raise _bad_signature()
            if _expired(rt.expires_at):
                raise exc.AuthenticationFailed("Request token is expired.")
            if rt.authorizing_user_id is None or rt.role_ids is None:
                raise exc.AuthenticationFailed("Request token is not authorized.")
            row = AccessToken(
                consumer_id=rt.consumer_id,
                encrypted_secret=self.keys.encrypt(secret.encode()),
                authorizing_user_id=rt.authorizing_user_id,
                project_id=rt.requested_project_id,
                role_ids=list(rt.role_ids),
                expires_at=_expiry(int(self.conf.access_token_duration)),
            )
            s.add(row)
            s.delete(rt)
            s.flush()
            return IssuedToken(row.id, secret, row.expires_at)

    def authenticate(self, s: Session, req: SignedRequest) -> AccessToken:
        """The access token of a request signed with it (``POST /v3/auth/tokens`` method
        ``oauth1``). Raises AuthenticationFailed (401): bad signature, unknown or expired
        access token."""
        r = self._verify(s, "resource", req)
        row = s.get(AccessToken, r.resource_owner_key)
        if row is None:
            raise _bad_signature()
        if _expired(row.expires_at):
            raise exc.AuthenticationFailed("Access token is expired.")
        return row

    # -- a user's access tokens -------------------------------------------------------------
    def list_access_tokens(self, ctx: RequestContext, user_id: str) -> builtins.list[AccessToken]:
        """The user's unexpired access tokens; raises ``UserNotFound``."""
        with self.db.reader() as s:
            get_user(s, user_id)
            rows = s.scalars(
                sa.select(AccessToken)
                .where(AccessToken.authorizing_user_id == user_id)
                .order_by(AccessToken.id)
            )
            return [r for r in rows if not _expired(r.expires_at)]

    def get_access_token(
        self, ctx: RequestContext, user_id: str, access_token_id: str
    ) -> tuple[AccessToken, builtins.list[Role]]:
        """One of the user's access tokens and its roles; raises ``AccessTokenNotFound``
        (also for another user's, as Keystone)."""
        with self.db.reader() as s:
            row = _access_token(s, user_id, access_token_id)
            ids = list(row.role_ids or [])
            roles = list(s.scalars(sa.select(Role).where(Role.id.in_(ids)).order_by(Role.name)))
            return row, roles

    def get_access_token_role(
        self, ctx: RequestContext, user_id: str, access_token_id: str, role_id: str
    ) -> Role:
        """One role of an access token; raises ``AccessTokenNotFound``, ``RoleNotFound``."""
        for role in self.get_access_token(ctx, user_id, access_token_id)[1]:
            if role.id == role_id:
                return role
        raise exc.RoleNotFound(f"Could not find role: {role_id}.")

    def delete_access_token(self, ctx: RequestContext, user_id: str, access_token_id: str) -> None:
        """Delete (revoke) one of the user's access tokens and the tokens got with it."""
        with self.db.transaction() as s:
            s.delete(_access_token(s, user_id, access_token_id))
        self.identity.tokens.invalidate()


def _consumer(s: Session, consumer_id: str) -> Consumer:
    row = s.get(Consumer, consumer_id)
    if row is None:
        raise ConsumerNotFound(f"Could not find consumer: {consumer_id}.")
    return row


def _access_token(s: Session, user_id: str, access_token_id: str) -> AccessToken:
    get_user(s, user_id)
    row = s.get(AccessToken, access_token_id)
    if row is None or row.authorizing_user_id != user_id or _expired(row.expires_at):
        raise AccessTokenNotFound(f"Could not find access token: {access_token_id}.")
    return row


def _role_ids(s: Session, refs: Any) -> set[str]:
    """Role ids of ``[{"id"}|{"name"}]``: 400 when empty, ``RoleNotFound`` (404) for an
    unknown role."""
    if not isinstance(refs, list) or not refs:
        raise exc.ValidationError("At least one role should be specified.")
    out = set()
    for ref in refs:
        if ref.get("id"):
            role = s.get(Role, ref["id"])
        else:
            role = s.scalar(sa.select(Role).where(Role.name == ref.get("name")))
        if role is None:
            raise exc.RoleNotFound(f"Could not find role: {ref.get('id') or ref.get('name')}.")
        out.add(role.id)
    return out


def _describe(err: Exception) -> str:
    if isinstance(err, oauth_errors.OAuth1Error):
        return str(err.description or err.error)
    return str(err)
