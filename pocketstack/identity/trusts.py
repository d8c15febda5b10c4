"""Trusts (Identity API v3 OS-TRUST, "Trusts"): a trustor delegates some of its roles on
one project to a trustee, who then gets tokens scoped to the trust.

Rules, as Keystone's: only the trustor creates a trust (403 otherwise), and only with roles
it holds on the project (403); the trustee must exist (404); ``remaining_uses`` is a
positive integer or null (unlimited), ``expires_at`` a future time or null. A trust-scoped
token (and a restricted application credential's) may not create or delete trusts
(redelegation is not supported). The trustor, the trustee and admins see a trust; the
trustor and admins delete it, which makes its tokens invalid at once. An expired trust is
not found (404), as in Keystone. Tokens: see ``auth.Auth`` (``OS-TRUST:trust`` scope) and
``tokens.TokenProvider`` (roles = the trust's roles, with those they imply, that the
trustor still holds on the project).
"""

from __future__ import annotations

import builtins
import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import utcnow
from pocketstack.common.errors import Forbidden
from pocketstack.identity import exceptions as exc
from pocketstack.identity.assignment import effective_roles
from pocketstack.identity.models import Project, Role, Trust, User

if TYPE_CHECKING:
    from pocketstack.identity.manager import IdentityManager


class TrustNotFound(exc.NotFound):
    """404: no such trust (or it expired)."""


class TrustUseLimitReached(Forbidden):
    """403: the trust has no uses left (Keystone's ``TrustUseLimitReached``)."""


def live_trust(s: Session, trust_id: str) -> Trust:
    """The trust, unexpired; raises ``TrustNotFound``."""
    trust = s.get(Trust, trust_id)
    if trust is None or (trust.expires_at is not None and trust.expires_at <= utcnow()):
        raise TrustNotFound(f"Could not find trust: {trust_id}.")
    return trust


def trust_roles(s: Session, trust: Trust) -> list[Role]:
    """The trust's delegated roles (not their implied ones), sorted by name."""
    ids = list(trust.roles or [])
    return list(s.scalars(sa.select(Role).where(Role.id.in_(ids)).order_by(Role.name)))


def _resolve_roles(s: Session, asked: Any, trustor_id: str, project_id: str | None) -> list[str]:
    """Role ids of ``[{id}|{name}]``; each must be held (possibly implied) by the trustor
    on the project. Raises ValidationError (400) for none, RoleNotFound (404) for an unknown
    role, ForbiddenAction (403) for one the trustor does not hold."""
    if not asked:
        raise exc.ValidationError("At least one role should be specified.")
    held = (
        {r.id for r in effective_roles(s, trustor_id, "project", project_id)}
        if project_id
        else set()
    )
    out = []
    for ref in asked:
        if ref.get("id"):
            role = s.get(Role, ref["id"])
        else:
            role = s.scalar(sa.select(Role).where(Role.name == ref.get("name")))
        if role is None:
            raise exc.RoleNotFound(f"Could not find role: {ref.get('id') or ref.get('name')}.")
        if role.id not in held:
            raise exc.ForbiddenAction(
                f"The trustor does not hold the role {role.name} on the project."
            )
        out.append(role.id)
    return sorted(set(out))


class Trusts:
    """Trusts (``cloud.identity.trusts``)."""

    def __init__(self, identity: IdentityManager):
        self.identity = identity
        self.db = identity.db

    def _no_redelegation(self, ctx: RequestContext) -> None:
        if not ctx.may_delegate:
            raise exc.ForbiddenAction(
                "A token from a restricted application credential cannot manage trusts."
            )
        if ctx.auth_token and self.identity.tokens.inspect(ctx.auth_token).payload.trust_id:
            raise exc.ForbiddenAction("Redelegation of a trust is not supported.")

    def create(
        self,
        ctx: RequestContext,
        trustor_id: str,
        trustee_id: str,
        project_id: str | None,
        impersonation: bool,
        roles: Any,
        expires_at: dt.datetime | None = None,
        remaining_uses: int | None = None,
    ) -> tuple[Trust, builtins.list[Role]]:
        """A new trust and its roles (POST /v3/OS-TRUST/trusts).

        Raises:
            ForbiddenAction (403): the caller is not the trustor, holds not a role asked
                for, or calls with a trust-scoped token.
            UserNotFound, ProjectNotFound, RoleNotFound (404).
            ValidationError (400): no roles, ``remaining_uses`` below 1, a past expiry.
        """
        if ctx.user_id != trustor_id:
            raise exc.ForbiddenAction("Only the trustor may create a trust.")
        self._no_redelegation(ctx)
        if remaining_uses is not None and remaining_uses < 1:
            raise exc.ValidationError("remaining_uses must be a positive integer or null.")
        if expires_at is not None and expires_at <= utcnow():
            raise exc.ValidationError("The trust's expires_at must be in the future.")
        with self.db.transaction() as s:
            if s.get(User, trustee_id) is None:
                raise exc.UserNotFound(f"Could not find user: {trustee_id}.")
            if project_id is not None and s.get(Project, project_id) is None:
                raise exc.ProjectNotFound(f"Could not find project: {project_id}.")
            ids = _resolve_roles(s, roles, trustor_id, project_id)
            trust = Trust(
                trustor_user_id=trustor_id,
                trustee_user_id=trustee_id,
                project_id=project_id,
                impersonation=impersonation,
                roles=ids,
                expires_at=expires_at,
                remaining_uses=remaining_uses,
            )
            s.add(trust)
            s.flush()
            return trust, trust_roles(s, trust)

    def _visible(self, ctx: RequestContext, trust: Trust) -> None:
        if ctx.is_admin or ctx.system_scope:
            return
        if ctx.user_id not in (trust.trustor_user_id, trust.trustee_user_id):
            raise exc.ForbiddenAction("Only the trustor or the trustee may see this trust.")

    def get(self, ctx: RequestContext, trust_id: str) -> tuple[Trust, builtins.list[Role]]:
        """One trust and its roles; raises ``TrustNotFound`` (404), ForbiddenAction (403)
        for a caller neither admin, trustor nor trustee."""
        with self.db.reader() as s:
            trust = live_trust(s, trust_id)
            self._visible(ctx, trust)
            return trust, trust_roles(s, trust)

    def list(
        self, ctx: RequestContext, trustor_id: str | None, trustee_id: str | None
    ) -> builtins.list[tuple[Trust, builtins.list[Role]]]:
        """Unexpired trusts, filtered by trustor and/or trustee. A caller neither admin nor
        system reader must filter on itself (403 otherwise, as Keystone)."""
        if not (ctx.is_admin or ctx.system_scope) and ctx.user_id not in (trustor_id, trustee_id):
            raise exc.ForbiddenAction("A user may list only the trusts it is a party to.")
        q = sa.select(Trust).order_by(Trust.created_at)
        if trustor_id:
            q = q.where(Trust.trustor_user_id == trustor_id)
        if trustee_id:
            q = q.where(Trust.trustee_user_id == trustee_id)
        now = utcnow()
        with self.db.reader() as s:
            return [
                (t, trust_roles(s, t))
                for t in s.scalars(q)
                if t.expires_at is None or t.expires_at > now
            ]

    def delete(self, ctx: RequestContext, trust_id: str) -> None:
        """Delete a trust (its tokens stop working at once); raises ``TrustNotFound``,
        ForbiddenAction (403) for a caller neither admin nor trustor."""
        with self.db.transaction() as s:
            trust = live_trust(s, trust_id)
            if not ctx.is_admin and ctx.user_id != trust.trustor_user_id:
                raise exc.ForbiddenAction("Only the trustor may delete a trust.")
            self._no_redelegation(ctx)
            s.delete(trust)
        self.identity.tokens.invalidate()

    def get_role(self, ctx: RequestContext, trust_id: str, role_id: str) -> Role:
        """One role of a trust; raises ``TrustNotFound``, ``RoleNotFound`` (404 also for a
        role the trust does not delegate)."""
        _trust, roles = self.get(ctx, trust_id)
        for role in roles:
            if role.id == role_id:
                return role
        raise exc.RoleNotFound(f"Could not find role: {role_id}.")

    def consume(self, trust_id: str) -> None:
        """Use the trust once (a token is being issued): decrement ``remaining_uses``
        atomically. Raises ``TrustUseLimitReached`` (403) when none are left."""
        with self.db.transaction() as s:
            done = s.execute(
                sa.update(Trust)
                .where(Trust.id == trust_id, Trust.remaining_uses > 0)
                .values(remaining_uses=Trust.remaining_uses - 1)
            )
            if done.rowcount == 0:  # type: ignore[attr-defined]
                trust = s.get(Trust, trust_id)
                if trust is not None and trust.remaining_uses is not None:
                    raise TrustUseLimitReached("The trust has no remaining uses.")
