"""Authentication: POST /v3/auth/tokens (Identity API v3, "Password authentication with
scoped authorization", "Token authentication", "Authenticating with an Application
Credential").

Methods: ``password`` (user by id, or by name with its domain's id or name), ``token``
(rescope an existing token; expiry and audit chain are kept), ``application_credential``
(by id, or by name with its user; the token is scoped to the credential's project),
``oauth1`` (OS-OAUTH1: the request is signed with a consumer's access token; the token is
the authorizing user's, scoped to the access token's project with its delegated roles).
Scopes: project (id, or name with domain), domain (id or name), the system
(``{"system": {"all": true}}``, for a user holding a role on the system), a trust
(``{"OS-TRUST:trust": {"id"}}``, for its trustee: the token is the trustor's with
impersonation, on the trust's project with the trust's roles; each such token uses the
trust once, 403 when no use is left), or none; with
none, a user
whose ``default_project_id`` gives it a role gets a token on that project (as Keystone).
Every failure to identify the caller is the same 401, whichever part was wrong, and costs
one bcrypt verification whether or not the user or credential exists (``lockout``: even
cost, Keystone's lockout, a log line per failure).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common import policy
from pocketstack.common.auth import RequestContext
from pocketstack.common.db import utcnow
from pocketstack.common.errors import Forbidden
from pocketstack.identity import exceptions as exc
from pocketstack.identity.assignment import (
    SYSTEM_ID,
    direct_role_ids,
    projects_of_user,
    target_ids_of_user,
)
from pocketstack.identity.hashing import check_secret
from pocketstack.identity.lockout import PasswordChecker, log_failure
from pocketstack.identity.models import ApplicationCredential, Domain, Project, Trust, User
from pocketstack.identity.oauth1 import SignedRequest
from pocketstack.identity.tokens import TokenInfo, TokenPayload

if TYPE_CHECKING:
    from pocketstack.identity.catalog import CatalogEntry
    from pocketstack.identity.manager import IdentityManager


def _need(obj: Any, key: str, kind: type = dict) -> Any:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind):
        raise exc.ValidationError(
            f"Invalid authentication request: '{key}' is missing "
            f"or not a{'n object' if kind is dict else ' string'}."
        )
    return value


def _domain_id(s: Session, ref: Any) -> str:
    """A domain reference ``{"id"}`` or ``{"name"}`` to its id (401 when unknown)."""
    dom = _find_domain(s, ref)
    if dom is None or not dom.enabled:
        raise exc.AuthenticationFailed()
    return dom.id


def _find_domain(s: Session, ref: Any) -> Domain | None:
    """A domain reference ``{"id"}`` or ``{"name"}``, or None when there is no such domain
    (400 when the reference is not an object)."""
    if not isinstance(ref, dict):
        raise exc.ValidationError("Invalid authentication request: a domain is required.")
    if ref.get("id"):
        return s.get(Domain, ref["id"])
    return s.scalar(sa.select(Domain).where(Domain.name == ref.get("name")))


def lookup_user(s: Session, ref: dict[str, Any]) -> User | None:
    """The user of a reference ``{"id"}`` or ``{"name", "domain": {...}}``, or None when
    there is none (no error, so that the caller spends the same time either way).

    Raises:
        ValidationError (400): neither id nor name, or no domain object with a name.
    """
    if ref.get("id"):
        return s.get(User, ref["id"])
    if not ref.get("name"):
        raise exc.ValidationError("Invalid authentication request: user id or name required.")
    dom = _find_domain(s, ref.get("domain"))
    if dom is None:
        return None
    return s.scalar(sa.select(User).where(User.name == ref["name"], User.domain_id == dom.id))


def _who(ref: dict[str, Any]) -> str:
    """How a request named a user, for the log."""
    if ref.get("id"):
        return str(ref["id"])
    dom = ref.get("domain")
    where = (dom.get("id") or dom.get("name")) if isinstance(dom, dict) else None
    return f"{ref.get('name')}@{where}"


def find_user(s: Session, ref: dict[str, Any]) -> User:
    """A user reference ``{"id"}`` or ``{"name", "domain": {...}}``; 401 when unknown or
    disabled (for a caller already authenticated otherwise: no even cost here)."""
    user = lookup_user(s, ref)
    if user is None or not user.enabled:
        raise exc.AuthenticationFailed()
    dom = s.get(Domain, user.domain_id)
    if dom is None or not dom.enabled:
        raise exc.AuthenticationFailed()
    return user


def _project_id(s: Session, ref: dict[str, Any]) -> str:
    if ref.get("id"):
        project = s.get(Project, ref["id"])
    else:
        project = s.scalar(
            sa.select(Project).where(
                Project.name == ref.get("name"),
                Project.domain_id == _domain_id(s, ref.get("domain")),
            )
        )
    if project is None or not project.enabled:
        which = ref.get("id") or ref.get("name")
        raise exc.AuthenticationFailed(f"Could not find project: {which}.")
    return project.id


def _trust_scope(s: Session, payload: TokenPayload, ref: dict[str, Any], user: User) -> None:
    """Scope ``payload`` to the trust ``ref`` (``{"id"}``) for its trustee ``user``: 401 for
    an unknown or expired trust, 403 for another user than its trustee."""
    trust = s.get(Trust, _need(ref, "id", str))
    if trust is None or (trust.expires_at is not None and trust.expires_at <= utcnow()):
        raise exc.AuthenticationFailed(f"Could not find trust: {ref['id']}.")
    if trust.trustee_user_id != user.id:
        raise Forbidden("The user is not the trustee of this trust.")
    if trust.impersonation:
        payload.user_id = trust.trustor_user_id
    payload.project_id = trust.project_id
    payload.trust_id = trust.id


class Auth:
    """Token issue, validation and revocation, and what a token may scope to
    (``cloud.identity.auth``: the routes under /v3/auth)."""

    def __init__(self, identity: IdentityManager):
        self.identity = identity
        self.db = identity.db
        self.tokens = identity.tokens
        self.passwords = PasswordChecker(identity.conf, identity.db)

    def issue(
        self,
        auth: dict[str, Any],
        with_catalog: bool = True,
        source: str | None = None,
        signed: SignedRequest | None = None,
    ) -> tuple[str, TokenInfo, list[CatalogEntry] | None]:
        """Authenticate ``auth`` (the body's ``auth`` object) and issue a token.

        Args:
            source: the client's address, logged with a failure.
            signed: the HTTP request itself, for the ``oauth1`` method's signature.

        Returns:
            ``(token, info, catalog)``: the ``X-Subject-Token`` value, its validated
            contents and the service catalog (None when not asked for or unscoped).

        Raises:
            ValidationError (400): a malformed request.
            AuthenticationFailed (401): wrong or unknown credentials, no role on the scope.
            AccountLocked (401): the right password of a locked-out user.
            Forbidden (403): rescoping an application credential, OAuth or trust token; a trust
                asked for by another user than its trustee, or with no use left.
        """
        ident = _need(auth, "identity")
        methods = _need(ident, "methods", list)
        with self.db.reader() as s:
            if "oauth1" in methods:
                payload = self._by_oauth(s, signed)
            elif "application_credential" in methods:
                payload = self._by_app_cred(s, _need(ident, "application_credential"), source)
            elif "token" in methods:
                payload = self._by_token(_need(_need(ident, "token"), "id", str), s, auth)
            elif "password" in methods:
                user_ref = _need(_need(ident, "password"), "user")
                payload = self._by_password(s, user_ref, auth, source)
            else:
                raise exc.AuthenticationFailed("Unsupported authentication method.")
        if payload.trust_id:
            self.identity.trusts.consume(payload.trust_id)
        token = self.tokens.issue(payload)
        info = self.tokens.inspect(token)
        return token, info, self._token_catalog(info, with_catalog)

    def _by_password(
        self, s: Session, ref: dict[str, Any], auth: dict[str, Any], source: str | None
    ) -> TokenPayload:
        user = lookup_user(s, ref)
        self.passwords.check(s, user, ref.get("password", ""), _who(ref), source)
        assert user is not None  # check() passes only for a real user
        payload = self.tokens.new_payload(user.id, ["password"])
        self._scope(s, payload, auth.get("scope"), user)
        return payload

    def _by_token(self, token: str, s: Session, auth: dict[str, Any]) -> TokenPayload:
        parent = self.tokens.inspect(token).payload
        if parent.app_cred_id:
            raise Forbidden("A token created with an application credential cannot be rescoped.")
        if parent.trust_id:
            raise Forbidden("A token scoped to a trust cannot be rescoped.")
        if parent.oauth_id:
            raise Forbidden(
                "Using OAuth-scoped token to create another token. "
                "Create a new OAuth-scoped token instead."
            )
        methods = list(dict.fromkeys(["token", *parent.methods]))
        payload = self.tokens.new_payload(parent.user_id, methods)
        payload.expires_at = parent.expires_at
        payload.audit_ids = [payload.audit_ids[0], parent.audit_ids[-1]]
        user = find_user(s, {"id": parent.user_id})
        self._scope(s, payload, auth.get("scope"), user)
        return payload

    def _by_oauth(self, s: Session, signed: SignedRequest | None) -> TokenPayload:
        if signed is None:
            raise exc.AuthenticationFailed("The oauth1 method needs a signed request.")
        access = self.identity.oauth1.authenticate(s, signed)
        find_user(s, {"id": access.authorizing_user_id})
        payload = self.tokens.new_payload(
            access.authorizing_user_id,
            ["oauth1"],
            project_id=access.project_id,
            oauth_id=access.id,
        )
        if access.expires_at is not None:  # the token ends with its access token at the latest
            ends = access.expires_at.replace(tzinfo=dt.UTC).timestamp()
            payload.expires_at = min(payload.expires_at, ends)
        return payload

    def _by_app_cred(self, s: Session, ref: dict[str, Any], source: str | None) -> TokenPayload:
        cred = None
        if ref.get("id"):
            cred = s.get(ApplicationCredential, ref["id"])
            who = str(ref["id"])
        else:
            user_ref = _need(ref, "user")
            user = lookup_user(s, user_ref)
            who = f"{ref.get('name')} of {_who(user_ref)}"
            if user is not None:
                cred = s.scalar(
                    sa.select(ApplicationCredential).where(
                        ApplicationCredential.user_id == user.id,
                        ApplicationCredential.name == ref.get("name"),
                    )
                )
        # one bcrypt verification either way (against a dummy hash when there is no cred)
        rounds = int(self.identity.conf.password_hash_rounds)
        if not check_secret(ref.get("secret", ""), cred.secret_hash if cred else None, rounds):
            reason = "wrong secret" if cred else "unknown application credential"
            log_failure(f"application credential {who}", source, reason)
            raise exc.AuthenticationFailed()
        assert cred is not None
        if cred.expires_at is not None and cred.expires_at <= utcnow():
            raise exc.AuthenticationFailed("The application credential has expired.")
        find_user(s, {"id": cred.user_id})
        return self.tokens.new_payload(
            cred.user_id,
            ["application_credential"],
            project_id=cred.project_id,
            app_cred_id=cred.id,
        )

    def _scope(self, s: Session, payload: TokenPayload, scope: Any, user: User) -> None:
        if isinstance(scope, dict) and isinstance(scope.get("project"), dict):
            payload.project_id = _project_id(s, scope["project"])
            target = ("project", payload.project_id)
        elif isinstance(scope, dict) and isinstance(scope.get("domain"), dict):
            payload.domain_id = _domain_id(s, scope["domain"])
            target = ("domain", payload.domain_id)
        elif isinstance(scope, dict) and isinstance(scope.get("system"), dict):
            if scope["system"].get("all") is not True:
                raise exc.ValidationError("Invalid authentication request: system scope is all.")
            payload.system = True
            target = (SYSTEM_ID, SYSTEM_ID)
        elif isinstance(scope, dict) and isinstance(scope.get("OS-TRUST:trust"), dict):
            _trust_scope(s, payload, scope["OS-TRUST:trust"], user)
            return
        elif scope in (None, "unscoped"):
            default = user.default_project_id
            if default and direct_role_ids(s, user.id, "project", default):
                project = s.get(Project, default)
                if project is not None and project.enabled:
                    payload.project_id = default
            return
        else:
            raise exc.ValidationError("Invalid authentication request: unsupported scope.")
        if not direct_role_ids(s, user.id, *target):
            raise exc.AuthenticationFailed(
                f"User {user.id} has no access to {target[0]} {target[1]}."
            )

    def validate(
        self, ctx: RequestContext, subject_token: str, with_catalog: bool = False
    ) -> tuple[TokenInfo, list[CatalogEntry] | None]:
        """GET /v3/auth/tokens: the subject token's contents (and the catalog if asked).

        Raises:
            TokenNotFound (404): the subject token is invalid (as Keystone).
            PolicyNotAuthorized (403): the caller is neither an admin nor the subject
                token's user (``identity:validate_token``).
        """
        info = self._subject(ctx, subject_token, "identity:validate_token")
        return info, self._token_catalog(info, with_catalog)

    def _token_catalog(self, info: TokenInfo, wanted: bool) -> list[CatalogEntry] | None:
        """The catalog a token body carries: a scoped token's, when asked for (Keystone
        gives an unscoped token none, so it is not loaded for one)."""
        if not wanted or (info.project is None and info.domain is None and not info.system):
            return None
        return self.identity.catalog.list(info.project.id if info.project else None)

    def revoke(self, ctx: RequestContext, subject_token: str) -> None:
        """DELETE /v3/auth/tokens: revoke the subject token; raises as ``validate``
        (``identity:revoke_token``)."""
        self._subject(ctx, subject_token, "identity:revoke_token")
        self.tokens.revoke_token(subject_token)

    def _subject(self, ctx: RequestContext, subject_token: str, rule: str) -> TokenInfo:
        try:
            info = self.tokens.inspect(subject_token)
        except exc.Unauthorized:
            raise exc.TokenNotFound("Could not find token.") from None
        policy.enforce(ctx, rule, {"user_id": info.user.id})
        return info

    def get_catalog(self, ctx: RequestContext) -> list[CatalogEntry]:
        """GET /v3/auth/catalog: the catalog (empty for an unscoped token, as Keystone)."""
        if not ctx.project_id and not ctx.domain_id and not ctx.system_scope:
            return []
        return self.identity.catalog.list(ctx.project_id)

    def list_projects(self, ctx: RequestContext) -> list[Project]:
        """GET /v3/auth/projects: projects where the caller holds a role."""
        if ctx.user_id is None:
            return []
        with self.db.reader() as s:
            return projects_of_user(s, ctx.user_id)

    def has_system_role(self, ctx: RequestContext) -> bool:
        """GET /v3/auth/system: whether the caller (directly or through a group) holds a
        role on the system, so may ask for a system-scoped token."""
        if ctx.user_id is None:
            return False
        with self.db.reader() as s:
            return bool(direct_role_ids(s, ctx.user_id, SYSTEM_ID, SYSTEM_ID))

    def list_domains(self, ctx: RequestContext) -> list[Domain]:
        """GET /v3/auth/domains: domains where the caller holds a role."""
        if ctx.user_id is None:
            return []
        mine = target_ids_of_user(ctx.user_id, "domain")
        with self.db.reader() as s:
            return list(
                s.scalars(sa.select(Domain).where(Domain.id.in_(mine)).order_by(Domain.name))
            )
