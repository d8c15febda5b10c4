"""Users (Identity API v3 "Users").

Passwords are bcrypt-hashed (``hashing``) and never returned. Deleting or disabling a user
and changing its password revoke its tokens. Who may call what (a user shows itself and
changes its own password; everything else is admin's) is the policy's (``policies.py``),
enforced by the API with the path's user as target.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.auth import RequestContext
from pocketstack.identity import exceptions as exc
from pocketstack.identity.assignment import delete_inherited_of
from pocketstack.identity.domains import get_domain
from pocketstack.identity.hashing import hash_secret
from pocketstack.identity.models import (
    ApplicationCredential,
    Group,
    GroupMembership,
    RoleAssignment,
    User,
)

if TYPE_CHECKING:
    from pocketstack.identity.manager import IdentityManager


def get_user(s: Session, user_id: str) -> User:
    """A user by id; raises ``UserNotFound``."""
    user = s.get(User, user_id)
    if user is None:
        raise exc.UserNotFound(f"Could not find user: {user_id}.")
    return user


class Users:
    """Users (``cloud.identity.users``)."""

    def __init__(self, identity: IdentityManager):
        self.identity = identity
        self._rounds = int(identity.conf.password_hash_rounds)
        self.db = identity.db

    def list(
        self,
        ctx: RequestContext,
        domain_id: str | None = None,
        name: str | None = None,
        enabled: bool | None = None,
    ) -> list[User]:
        """Users matching the filters. Policy admits only admins (403 for others, as
        Keystone's default); should a non-admin context get here, it sees only itself."""
        q = sa.select(User).order_by(User.name)
        for key, value in (("domain_id", domain_id), ("name", name), ("enabled", enabled)):
            if value is not None:
                q = q.where(getattr(User, key) == value)
        if ctx.is_admin or ctx.system_scope:  # a system reader reads all
            pass
        elif ctx.domain_id is not None and ctx.project_id is None:  # a domain reader
            q = q.where(User.domain_id == ctx.domain_id)
        else:
            q = q.where(User.id == ctx.user_id)
        with self.db.reader() as s:
            return list(s.scalars(q))

    def get(self, ctx: RequestContext, user_id: str) -> User:
        """One user; raises ``UserNotFound``."""
        with self.db.reader() as s:
            return get_user(s, user_id)

    def create(
        self,
        ctx: RequestContext,
        name: str,
        domain_id: str = "default",
        password: str | None = None,
        enabled: bool = True,
        default_project_id: str | None = None,
        description: str | None = None,
        email: str | None = None,
        user_id: str | None = None,
    ) -> User:
        """A new user; raises ``DomainNotFound``, ``DuplicateEntry``."""
        hashed = hash_secret(password, self._rounds) if password else None
        with self.db.transaction() as s:
            get_domain(s, domain_id)
            if (
                s.scalar(sa.select(User).where(User.domain_id == domain_id, User.name == name))
                is not None
            ):
                raise exc.DuplicateEntry(
                    f"Duplicate entry found with name {name} in domain {domain_id}."
                )
            user = User(
                name=name,
                domain_id=domain_id,
                password_hash=hashed,
                enabled=enabled,
                default_project_id=default_project_id,
                description=description,
                email=email,
            )
            if user_id:
                user.id = user_id
            s.add(user)
        return user

    def update(self, ctx: RequestContext, user_id: str, changes: dict[str, Any]) -> User:
        """Change fields (``name``, ``enabled``, ``password``, ``default_project_id``,
        ``description``, ``email``). Disabling or a new password revokes its tokens; setting
        the password or ``enabled`` unlocks a locked-out user (``lockout``).
        (PATCH /v3/users/{id}: admin only, as Keystone's ``identity:update_user``.)"""
        hashed = hash_secret(changes["password"], self._rounds) if changes.get("password") else None
        with self.db.transaction() as s:
            user = get_user(s, user_id)
            if "name" in changes and changes["name"] != user.name:
                if s.scalar(
                    sa.select(User).where(
                        User.domain_id == user.domain_id, User.name == changes["name"]
                    )
                ):
                    raise exc.DuplicateEntry(f"Duplicate entry found with name {changes['name']}.")
                user.name = changes["name"]
            for key in ("enabled", "default_project_id", "description", "email"):
                if key in changes:
                    setattr(user, key, changes[key])
            if hashed:
                user.password_hash = hashed
            if hashed or "enabled" in changes:
                user.failed_auth_count, user.failed_auth_at = 0, None
        if hashed or changes.get("enabled") is False:
            self.identity.tokens.revoke_user(user_id)
        return user

    def delete(self, ctx: RequestContext, user_id: str) -> None:
        """Delete a user, its assignments, memberships and application credentials."""
        with self.db.transaction() as s:
            user = get_user(s, user_id)
            s.execute(
                sa.delete(RoleAssignment).where(
                    RoleAssignment.actor_type == "user", RoleAssignment.actor_id == user_id
                )
            )
            delete_inherited_of(s, [user_id])
            s.execute(sa.delete(GroupMembership).where(GroupMembership.user_id == user_id))
            s.execute(
                sa.delete(ApplicationCredential).where(ApplicationCredential.user_id == user_id)
            )
            s.delete(user)
        self.identity.tokens.revoke_user(user_id)

    def change_password(
        self,
        ctx: RequestContext,
        user_id: str,
        original: str,
        password: str,
        source: str | None = None,
    ) -> None:
        """POST /v3/users/{id}/password: a new password, given the current one (the API
        lets only the user itself call it: ``identity:change_password`` is ``owner``). The
        original is checked as a login is: a wrong one counts towards the lockout, so a
        token is no way to guess the password faster.

        Args:
            source: the client's address, logged with a failure.

        Raises:
            UserNotFound; AuthenticationFailed (401) for a wrong original; AccountLocked
            (401) while the user is locked out.
        """
        with self.db.reader() as s:
            user = get_user(s, user_id)
            self.identity.auth.passwords.check(s, user, original, user_id, source)
        hashed = hash_secret(password, self._rounds)
        with self.db.transaction() as s:
            get_user(s, user_id).password_hash = hashed
        self.identity.tokens.revoke_user(user_id)

    def list_groups(self, ctx: RequestContext, user_id: str) -> builtins.list[Group]:
        """GET /v3/users/{id}/groups; raises ``UserNotFound``."""
        with self.db.reader() as s:
            get_user(s, user_id)
            ids = sa.select(GroupMembership.group_id).where(GroupMembership.user_id == user_id)
            return list(s.scalars(sa.select(Group).where(Group.id.in_(ids)).order_by(Group.name)))
