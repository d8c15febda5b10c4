"""Server groups (API reference "Server groups (os-server-groups)").

``cloud.compute.server_groups`` (``ServerGroups``): a project's groups of servers with one
placement policy (``affinity``, ``anti-affinity``, ``soft-affinity``,
``soft-anti-affinity``) and, for ``anti-affinity``, the rule ``max_server_per_host``
(microversion 2.64). A server joins a group at create (``--hint group=<uuid>``) and leaves
it when deleted; the scheduler's group filters read ``hosts_of`` to keep or spread its
members.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.common.db import new_id, utcnow
from pocketstack.compute.models import Instance, InstanceGroup, InstanceGroupMember

if TYPE_CHECKING:
    from pocketstack.service import Cloud

POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")


class ServerGroupNotFound(errors.NotFound):
    """404: no such group visible to the caller."""

    @classmethod
    def for_id(cls, group_id: str) -> ServerGroupNotFound:
        """The error with Nova's message."""
        return cls(f"Instance group {group_id} could not be found.")


class InvalidServerGroup(errors.BadRequest):
    """400: a group hint naming no group of the caller's project."""


@dataclass(frozen=True)
class ServerGroupRecord:
    """A group and the uuids of its live members."""

    group: InstanceGroup
    members: list[str]


class ServerGroups:
    """``cloud.compute.server_groups``: list, get, create, delete; members."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud

    @staticmethod
    def _members(s: Session, uuids: builtins.list[str]) -> dict[str, builtins.list[str]]:
        rows = s.execute(
            sa.select(InstanceGroupMember.group_uuid, InstanceGroupMember.instance_uuid)
            .join(Instance, Instance.uuid == InstanceGroupMember.instance_uuid)
            .where(InstanceGroupMember.group_uuid.in_(uuids), Instance.deleted.is_(False))
            .order_by(Instance.created_at)
        )
        result: dict[str, builtins.list[str]] = {u: [] for u in uuids}
        for group_uuid, instance_uuid in rows:
            result[group_uuid].append(instance_uuid)
        return result

    def list(
        self,
        ctx: RequestContext,
        *,
        all_projects: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> builtins.list[ServerGroupRecord]:
        """The caller's project's groups (every project's for an admin with
        ``all_projects``), oldest first, ``offset``/``limit`` applied."""
        query = sa.select(InstanceGroup).order_by(InstanceGroup.created_at, InstanceGroup.uuid)
        if not (all_projects and ctx.is_admin):
            query = query.where(InstanceGroup.project_id == ctx.project_id)
        query = query.offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with self.cloud.db.reader() as s:
            groups = list(s.scalars(query))
            members = self._members(s, [g.uuid for g in groups])
        return [ServerGroupRecord(g, members[g.uuid]) for g in groups]

    def _load(self, s: Session, ctx: RequestContext, group_id: str) -> InstanceGroup:
        group = s.get(InstanceGroup, group_id)
        if group is None or not (ctx.is_admin or ctx.owns(group.project_id)):
            raise ServerGroupNotFound.for_id(group_id)
        return group

    def get(self, ctx: RequestContext, group_id: str) -> ServerGroupRecord:
        """One group. Raises ServerGroupNotFound (404)."""
        with self.cloud.db.reader() as s:
            group = self._load(s, ctx, group_id)
            return ServerGroupRecord(group, self._members(s, [group.uuid])[group.uuid])

    def create(
        self, ctx: RequestContext, name: str, policy: str, rules: dict[str, Any] | None = None
    ) -> ServerGroupRecord:
        """A new group of the caller's project with ``policy`` (one of ``POLICIES``) and
        ``rules`` (``max_server_per_host``: anti-affinity only, a positive integer).

        Raises:
            errors.BadRequest (400): an unknown policy, or rules with another policy;
            errors.Forbidden (403): a token without a project.
        """
        if policy not in POLICIES:
            raise errors.BadRequest(f"Invalid input: policy {policy!r} is not supported")
        rules = dict(rules or {})
        if "max_server_per_host" in rules:  # the schema let through 1.. or its digits
            rules["max_server_per_host"] = int(rules["max_server_per_host"])
        if rules and policy != "anti-affinity":
            raise errors.BadRequest("Only anti-affinity policy supports rules.")
        if ctx.project_id is None:
            raise errors.Forbidden("A project-scoped token is required to create server groups.")
        group = InstanceGroup(
            uuid=new_id(),
            name=name,
            project_id=ctx.project_id,
            user_id=ctx.user_id,
            policy=policy,
            rules=rules,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        with self.cloud.db.transaction() as s:
            s.add(group)
        return ServerGroupRecord(group, [])

    def delete(self, ctx: RequestContext, group_id: str) -> None:
        """Delete a group (its members stay, ungrouped). Raises ServerGroupNotFound."""
        with self.cloud.db.transaction() as s:
            group = self._load(s, ctx, group_id)
            s.execute(
                sa.delete(InstanceGroupMember).where(InstanceGroupMember.group_uuid == group.uuid)
            )
            s.delete(group)

    def check_hint(self, ctx: RequestContext, group_id: str) -> InstanceGroup:
        """The group a create's ``group`` hint names (before anything is written).

        Raises:
            InvalidServerGroup (400): no such group in the caller's project.
        """
        with self.cloud.db.reader() as s:
            group = s.get(InstanceGroup, group_id)
        if group is None or not (ctx.is_admin or ctx.owns(group.project_id)):
            raise InvalidServerGroup(f"Invalid server group {group_id}: it could not be found.")
        return group

    @staticmethod
    def add_members(s: Session, group_id: str, instance_uuids: builtins.list[str]) -> None:
        """Record new servers as members of ``group_id`` in the create's transaction."""
        s.add_all(InstanceGroupMember(instance_uuid=u, group_uuid=group_id) for u in instance_uuids)

    def group_of(self, instance_uuid: str) -> InstanceGroup | None:
        """The group a server belongs to, or None."""
        with self.cloud.db.reader() as s:
            member = s.get(InstanceGroupMember, instance_uuid)
            return None if member is None else s.get(InstanceGroup, member.group_uuid)

    def scheduling(self, instance_uuid: str) -> dict[str, Any] | None:
        """What the scheduler's group filters need of a server's group: ``{"policy",
        "hosts" (one entry per other placed member), "max_server_per_host"}``; None when
        the server is in no group."""
        group = self.group_of(instance_uuid)
        if group is None:
            return None
        return {
            "policy": group.policy,
            "hosts": self.hosts_of(group.uuid, exclude=instance_uuid),
            "max_server_per_host": (group.rules or {}).get("max_server_per_host"),
        }

    def hosts_of(self, group_id: str, exclude: str | None = None) -> builtins.list[str]:
        """Hosts of the group's live members (one entry per member with a host, so a host
        appears as often as it holds members), the server ``exclude`` left out."""
        with self.cloud.db.reader() as s:
            query = (
                sa.select(Instance.host)
                .join(InstanceGroupMember, InstanceGroupMember.instance_uuid == Instance.uuid)
                .where(
                    InstanceGroupMember.group_uuid == group_id,
                    Instance.deleted.is_(False),
                    Instance.host.is_not(None),
                )
            )
            if exclude:
                query = query.where(Instance.uuid != exclude)
            return [h for h in s.scalars(query) if h]
