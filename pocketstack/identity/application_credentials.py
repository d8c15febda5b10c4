"""Application credentials (Identity API v3 "Application Credentials").

A user delegates a subset of its roles on one project (the project of the token used to
create it) to a secret. The secret is returned once at creation (generated when not given)
and stored as a bcrypt hash. Authenticating with it gives a token scoped to that project
with those roles (intersected with what the user still holds). Deleting it revokes its
tokens. Only the user itself (or an admin, except for creation) manages its credentials: the
policy's ``owner`` checks on the path's user (``policies.py``); a credential is found only
under its own user's path (404 under another's). A token obtained from a restricted
credential may not create or delete credentials.
"""

from __future__ import annotations

import builtins
import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import utcnow
from pocketstack.identity import exceptions as exc
from pocketstack.identity.assignment import effective_roles
from pocketstack.identity.hashing import generate_secret, hash_secret
from pocketstack.identity.models import ApplicationCredential, Role
from pocketstack.identity.users import get_user

if TYPE_CHECKING:
    from pocketstack.identity.manager import IdentityManager


def _may_delegate(ctx: RequestContext) -> None:
    """ForbiddenAction (403) for a token from a restricted application credential: it may
    not create or delete application credentials (Keystone's rule: a credential it made
    could outlive, or outrank, its own)."""
    if not ctx.may_delegate:
        raise exc.ForbiddenAction(
            "A token from a restricted application credential cannot create or delete "
            "application credentials."
        )


def roles_of(s: Session, role_ids: list[str]) -> list[Role]:
    """The credential's roles (by their ids), sorted by name."""
    return list(s.scalars(sa.select(Role).where(Role.id.in_(role_ids)).order_by(Role.name)))


def _resolve_roles(s: Session, asked: Any, ctx: RequestContext) -> list[str]:
    """Role ids for a new credential: those asked for, each of which the caller's token
    must carry (as Keystone: a token from a credential with fewer roles cannot mint one
    with more), or all of the token's roles when none are asked for.

    Raises:
        ValidationError (400): not a list of ``{id}``/``{name}``, or a role the token
            does not carry.
    """
    assert ctx.user_id is not None and ctx.project_id is not None
    held = {
        r.id: r
        for r in effective_roles(s, ctx.user_id, "project", ctx.project_id)
        if r.name in ctx.roles
    }
    if not asked:  # none or an empty list: all the token's roles (Keystone)
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
            raise exc.ValidationError(
                f"Cannot create an application credential with role {ref!r}: "
                "the token used does not carry it."
            )
        out.append(match[0].id)
    return sorted(set(out))


class ApplicationCredentials:
    """Application credentials (``cloud.identity.application_credentials``)."""

    def __init__(self, identity: IdentityManager):
        self.identity = identity
        self.db = identity.db
        self._rounds = int(identity.conf.password_hash_rounds)

    def create(
        self,
        ctx: RequestContext,
        user_id: str,
        name: str,
        secret: str | None = None,
        description: str | None = None,
        roles: Any = None,
        expires_at: dt.datetime | None = None,
        unrestricted: bool = False,
    ) -> tuple[ApplicationCredential, str, list[Role]]:
        """Create a credential for the caller's current project.

        Returns:
            ``(credential, secret, roles)``: the secret in clear (shown only now) and
            the roles it delegates.

        Raises:
            ForbiddenAction: for another user than the caller, or from a restricted
                application credential's token.
            ValidationError: no project scope, bad expiry, a role the token does not
                carry.
            DuplicateEntry: the name is taken.
        """
        if ctx.user_id != user_id:  # policy's "owner" already; the credential is the caller's
            raise exc.ForbiddenAction("Cannot create an application credential for another user.")
        _may_delegate(ctx)
        if not ctx.project_id:
            raise exc.ValidationError("An application credential needs a project-scoped token.")
        if expires_at is not None and expires_at <= utcnow():
            raise exc.ValidationError("expires_at must be in the future.")
        secret = secret or generate_secret()
        hashed = hash_secret(secret, self._rounds)
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
            role_ids = _resolve_roles(s, roles, ctx)
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
            roles_held = roles_of(s, role_ids)
        return cred, secret, roles_held

    def list(
        self, ctx: RequestContext, user_id: str, name: str | None = None
    ) -> list[tuple[ApplicationCredential, list[Role]]]:
        """The user's credentials with their roles; raises ``UserNotFound``."""
        q = sa.select(ApplicationCredential).where(ApplicationCredential.user_id == user_id)
        if name is not None:
            q = q.where(ApplicationCredential.name == name)
        with self.db.reader() as s:
            get_user(s, user_id)
            return [
                (c, roles_of(s, c.roles)) for c in s.scalars(q.order_by(ApplicationCredential.name))
            ]

    def get(
        self, ctx: RequestContext, user_id: str, cred_id: str
    ) -> tuple[ApplicationCredential, builtins.list[Role]]:
        """One credential of ``user_id``; raises ``ApplicationCredentialNotFound`` when
        there is none with that id, or it belongs to another user."""
        with self.db.reader() as s:
            cred = s.get(ApplicationCredential, cred_id)
            if cred is None or cred.user_id != user_id:
                raise exc.ApplicationCredentialNotFound(
                    f"Could not find Application Credential: {cred_id}."
                )
            return cred, roles_of(s, cred.roles)

    def delete(self, ctx: RequestContext, user_id: str, cred_id: str) -> None:
        """Delete a credential and revoke the tokens issued with it.

        Raises:
            ApplicationCredentialNotFound; ForbiddenAction from a restricted application
            credential's token.
        """
        _may_delegate(ctx)
        self.get(ctx, user_id, cred_id)
        with self.db.transaction() as s:
            s.execute(sa.delete(ApplicationCredential).where(ApplicationCredential.id == cred_id))
        self.identity.tokens.revoke_app_cred(cred_id)
