"""Application credentials (Identity API v3 "Application Credentials").

A user delegates a subset of its roles on one project (the project of the token used to
create it) to a secret. The secret is returned once at creation (generated when not given)
and stored as a bcrypt hash. Authenticating with it gives a token scoped to that project
with those roles (intersected with what the user still holds). Deleting it revokes its
tokens. Only the user itself (or an admin) manages its credentials; others get 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import utcnow
from pocketstack.identity import exceptions as exc
from pocketstack.identity.assignment import effective_roles
from pocketstack.identity.hashing import generate_secret, hash_secret
from pocketstack.identity.models import ApplicationCredential, Role
from pocketstack.identity.users import get_user


def _owner_check(ctx: RequestContext, user_id: str) -> None:
    if not ctx.is_admin and ctx.user_id != user_id:
        raise exc.UserNotFound(f"Could not find user: {user_id}.")


def _not_restricted(identity: Any, ctx: RequestContext) -> None:
    """A token from a restricted application credential may not create or delete
    application credentials (Keystone's rule: it could otherwise outlive its own)."""
    if not ctx.auth_token:
        return
    app_cred = identity.tokens.inspect(ctx.auth_token).app_cred
    if app_cred is not None and app_cred["restricted"]:
        raise exc.ForbiddenAction(
            "A restricted application credential may not manage application credentials."
        )


def role_refs(s: Session, role_ids: list[str]) -> list[dict[str, Any]]:
    """``[{"id", "name", "domain_id": None}]`` for the credential's role ids."""
    roles = s.scalars(sa.select(Role).where(Role.id.in_(role_ids)).order_by(Role.name))
    return [{"id": r.id, "name": r.name, "domain_id": None} for r in roles]


def _resolve_roles(s: Session, asked: Any, user_id: str, project_id: str) -> list[str]:
    held = {r.id: r for r in effective_roles(s, user_id, "project", project_id)}
    if not asked:  # none or an empty list: all the roles the user holds there (Keystone)
        return sorted(held)
    if not isinstance(asked, list):
        raise exc.ValidationError("'roles' must be a list of {id} or {name} objects.")
    out = []
    for ref in asked:
        match = [
            r
            for r in held.values()
            if isinstance(ref, dict) and (r.id == ref.get("id") or r.name == ref.get("name"))
        ]
        if not match:
            raise exc.ForbiddenAction(
                f"You may not delegate role {ref!r}: you do not hold it on the project."
            )
        out.append(match[0].id)
    return sorted(set(out))


class AppCredManager:
    """Application credentials (``cloud.identity.app_creds``)."""

    def __init__(self, identity: Any):
        self.identity = identity
        self.db = identity.db

    def create_app_cred(
        self,
        ctx: RequestContext,
        user_id: str,
        name: str,
        secret: str | None = None,
        description: str | None = None,
        roles: Any = None,
        expires_at: dt.datetime | None = None,
        unrestricted: bool = False,
    ) -> tuple[ApplicationCredential, str, list[dict[str, Any]]]:
        """Create a credential for the caller's current project.

        Returns:
            ``(credential, secret, roles)``: the secret in clear (shown only now) and
            ``[{"id", "name", "domain_id"}]``.

        Raises:
            UserNotFound (another user), ValidationError (no project scope, bad expiry),
            ForbiddenAction (a role the user does not hold), DuplicateEntry (name taken).
        """
        if ctx.user_id != user_id:
            raise exc.UserNotFound(f"Could not find user: {user_id}.")
        _not_restricted(self.identity, ctx)
        if not ctx.project_id:
            raise exc.ValidationError("An application credential needs a project-scoped token.")
        if expires_at is not None and expires_at <= utcnow():
            raise exc.ValidationError("expires_at must be in the future.")
        secret = secret or generate_secret()
        hashed = hash_secret(secret)
        with self.db.transaction() as s:
            get_user(s, user_id)
            if (
                s.scalar(
                    sa.select(ApplicationCredential).where(
                        ApplicationCredential.user_id == user_id, ApplicationCredential.name == name
                    )
                )
                is not None
            ):
                raise exc.DuplicateEntry(f"Duplicate entry found with name {name}.")
            role_ids = _resolve_roles(s, roles, user_id, ctx.project_id)
            cred = ApplicationCredential(
                name=name,
                user_id=user_id,
                project_id=ctx.project_id,
                description=description,
                secret_hash=hashed,
                roles=role_ids,
                unrestricted=bool(unrestricted),
                expires_at=expires_at,
            )
            s.add(cred)
            s.flush()
            refs = role_refs(s, role_ids)
        return cred, secret, refs

    def list_app_creds(
        self, ctx: RequestContext, user_id: str, name: str | None = None
    ) -> list[tuple[ApplicationCredential, list[dict[str, Any]]]]:
        """The user's credentials with their role refs (self or admin)."""
        _owner_check(ctx, user_id)
        q = sa.select(ApplicationCredential).where(ApplicationCredential.user_id == user_id)
        if name is not None:
            q = q.where(ApplicationCredential.name == name)
        with self.db.reader() as s:
            get_user(s, user_id)
            return [
                (c, role_refs(s, c.roles))
                for c in s.scalars(q.order_by(ApplicationCredential.name))
            ]

    def get_app_cred(
        self, ctx: RequestContext, user_id: str, cred_id: str
    ) -> tuple[ApplicationCredential, list[dict[str, Any]]]:
        """One credential; raises ``ApplicationCredentialNotFound``."""
        _owner_check(ctx, user_id)
        with self.db.reader() as s:
            cred = s.get(ApplicationCredential, cred_id)
            if cred is None or cred.user_id != user_id:
                raise exc.ApplicationCredentialNotFound(
                    f"Could not find Application Credential: {cred_id}."
                )
            return cred, role_refs(s, cred.roles)

    def delete_app_cred(self, ctx: RequestContext, user_id: str, cred_id: str) -> None:
        """Delete a credential and revoke the tokens issued with it."""
        self.get_app_cred(ctx, user_id, cred_id)
        _not_restricted(self.identity, ctx)
        with self.db.transaction() as s:
            s.execute(sa.delete(ApplicationCredential).where(ApplicationCredential.id == cred_id))
        self.identity.tokens.revoke_app_cred(cred_id)
