"""Groups and their members (Identity API v3 "Groups"); admin only (policy). A change of
membership or a deleted group reaches tokens at once (``TokenProvider.invalidate``).
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
from pocketstack.identity.models import (
    Group,
    GroupMembership,
    RoleAssignment,
    User,
)
from pocketstack.identity.users import get_user

if TYPE_CHECKING:
    from pocketstack.identity.manager import IdentityManager


def get_group(s: Session, group_id: str) -> Group:
    """A group by id; raises ``GroupNotFound``."""
    group = s.get(Group, group_id)
    if group is None:
        raise exc.GroupNotFound(f"Could not find group: {group_id}.")
    return group


class Groups:
    """Groups and their members (``cloud.identity.groups``); admin only (policy)."""

    def __init__(self, identity: IdentityManager):
        self.identity = identity
        self.db = identity.db

    def list(
        self, ctx: RequestContext, domain_id: str | None = None, name: str | None = None
    ) -> list[Group]:
        """Groups matching the filters."""
        q = sa.select(Group).order_by(Group.name)
        if domain_id is not None:
            q = q.where(Group.domain_id == domain_id)
        if name is not None:
            q = q.where(Group.name == name)
        with self.db.reader() as s:
            return list(s.scalars(q))

    def get(self, ctx: RequestContext, group_id: str) -> Group:
        """One group; raises ``GroupNotFound``."""
        with self.db.reader() as s:
            return get_group(s, group_id)

    def create(
        self, ctx: RequestContext, name: str, domain_id: str = "default", description: str = ""
    ) -> Group:
        """A new group; raises ``DomainNotFound``, ``DuplicateEntry``."""
        with self.db.transaction() as s:
            get_domain(s, domain_id)
            if (
                s.scalar(sa.select(Group).where(Group.domain_id == domain_id, Group.name == name))
                is not None
            ):
                raise exc.DuplicateEntry(f"Duplicate entry found with name {name}.")
            group = Group(name=name, domain_id=domain_id, description=description or "")
            s.add(group)
        return group

    def update(self, ctx: RequestContext, group_id: str, changes: dict[str, Any]) -> Group:
        """Change ``name``/``description`` (null clears it); raises ``GroupNotFound``,
        ``DuplicateEntry`` (409) when another group of its domain has that name."""
        with self.db.transaction() as s:
            group = get_group(s, group_id)
            name = changes.get("name", group.name)
            if name != group.name and s.scalar(
                sa.select(Group).where(Group.domain_id == group.domain_id, Group.name == name)
            ):
                raise exc.DuplicateEntry(
                    "Conflict occurred attempting to store group - "
                    f"Duplicate entry found with name {name}."
                )
            group.name = name
            if "description" in changes:
                group.description = changes["description"] or ""
        return group

    def delete(self, ctx: RequestContext, group_id: str) -> None:
        """Delete a group, its memberships and assignments (its members' tokens lose the
        group's roles at once)."""
        with self.db.transaction() as s:
            group = get_group(s, group_id)
            s.execute(
                sa.delete(RoleAssignment).where(
                    RoleAssignment.actor_type == "group", RoleAssignment.actor_id == group_id
                )
            )
            delete_inherited_of(s, [group_id])
            s.execute(sa.delete(GroupMembership).where(GroupMembership.group_id == group_id))
            s.delete(group)
        self.identity.tokens.invalidate()

    def add_member(self, ctx: RequestContext, group_id: str, user_id: str) -> None:
        """PUT /v3/groups/{g}/users/{u} (idempotent)."""
        with self.db.transaction() as s:
            get_group(s, group_id)
            get_user(s, user_id)
            if s.get(GroupMembership, (group_id, user_id)) is None:
                s.add(GroupMembership(group_id=group_id, user_id=user_id))
        self.identity.tokens.invalidate()

    def check_member(self, ctx: RequestContext, group_id: str, user_id: str) -> None:
        """HEAD /v3/groups/{g}/users/{u}; raises ``MembershipNotFound``."""
        with self.db.reader() as s:
            get_group(s, group_id)
            get_user(s, user_id)
            if s.get(GroupMembership, (group_id, user_id)) is None:
                raise exc.MembershipNotFound(f"User {user_id} is not a member of group {group_id}.")

    def remove_member(self, ctx: RequestContext, group_id: str, user_id: str) -> None:
        """DELETE /v3/groups/{g}/users/{u} (the user's tokens lose the group's roles at
        once); raises ``MembershipNotFound``."""
        self.check_member(ctx, group_id, user_id)
        with self.db.transaction() as s:
            s.execute(
                sa.delete(GroupMembership).where(
                    GroupMembership.group_id == group_id, GroupMembership.user_id == user_id
                )
            )
        self.identity.tokens.invalidate()

    def list_members(self, ctx: RequestContext, group_id: str) -> builtins.list[User]:
        """GET /v3/groups/{g}/users."""
        with self.db.reader() as s:
            get_group(s, group_id)
            ids = sa.select(GroupMembership.user_id).where(GroupMembership.group_id == group_id)
            return list(s.scalars(sa.select(User).where(User.id.in_(ids)).order_by(User.name)))
