"""Server tags (Compute API microversion 2.26, "Server tags (servers, tags)"): free strings
on a server, set at create (``tags``) or through ``/servers/{id}/tags``, and the list
filters ``tags`` (all of), ``tags-any`` (any of), ``not-tags`` (not all of), ``not-tags-any``
(none of).

A tag is 1..60 characters without ``/`` or ``,`` (the API's schema checks the form); a
server holds at most ``MAX_TAGS`` (more is 400, as Nova).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pocketstack.common import errors
from pocketstack.common.auth import RequestContext
from pocketstack.compute.models import InstanceTag

if TYPE_CHECKING:
    from pocketstack.service import Cloud

#: Nova's ``instance.MAX_TAG_COUNT``
MAX_TAGS = 50


class Tags:
    """``cloud.compute.tags``: read and change the tags of one server; ``for_servers`` reads
    those of a page of servers in one query."""

    def __init__(self, cloud: Cloud):
        self.cloud = cloud
        self.db = cloud.db

    def _server(self, ctx: RequestContext, server_id: str) -> str:
        return self.cloud.compute.servers.get(ctx, server_id).uuid

    def list(self, ctx: RequestContext, server_id: str) -> builtins.list[str]:
        """The server's tags, sorted. Raises ServerNotFound (404)."""
        uuid = self._server(ctx, server_id)
        return self.for_servers([uuid]).get(uuid, [])

    def for_servers(self, uuids: Iterable[str]) -> dict[str, builtins.list[str]]:
        """``{server uuid: [tag, ...]}`` (sorted) for servers that have tags."""
        uuids = builtins.list(uuids)
        if not uuids:
            return {}
        with self.db.reader() as s:
            rows = s.execute(
                sa.select(InstanceTag.instance_uuid, InstanceTag.tag)
                .where(InstanceTag.instance_uuid.in_(uuids))
                .order_by(InstanceTag.tag)
            ).all()
        result: dict[str, builtins.list[str]] = {}
        for uuid, tag in rows:
            result.setdefault(uuid, []).append(tag)
        return result

    def record(self, session: Any, uuid: str, tags: Iterable[str]) -> None:
        """Add ``tags`` to a server being created, in the caller's transaction."""
        for tag in sorted(set(tags)):
            session.add(InstanceTag(instance_uuid=uuid, tag=tag))

    def replace(
        self, ctx: RequestContext, server_id: str, tags: builtins.list[str]
    ) -> builtins.list[str]:
        """``PUT /servers/{id}/tags``: the server's tags become ``tags``.

        Raises:
            ServerNotFound (404); errors.BadRequest: more than ``MAX_TAGS``.
        """
        uuid = self._server(ctx, server_id)
        wanted = sorted(set(tags))
        _check_count(len(wanted))
        with self.db.transaction() as s:
            s.execute(sa.delete(InstanceTag).where(InstanceTag.instance_uuid == uuid))
            self.record(s, uuid, wanted)
        return wanted

    def add(self, ctx: RequestContext, server_id: str, tag: str) -> bool:
        """``PUT /servers/{id}/tags/{tag}``: True when the tag is new (201), False when the
        server had it (204).

        Raises:
            ServerNotFound (404); errors.BadRequest: the server has ``MAX_TAGS`` already.
        """
        uuid = self._server(ctx, server_id)
        with self.db.transaction() as s:
            if s.get(InstanceTag, (uuid, tag)) is not None:
                return False
            count = s.scalar(sa.select(sa.func.count()).where(InstanceTag.instance_uuid == uuid))
            _check_count(int(count or 0) + 1)
            s.add(InstanceTag(instance_uuid=uuid, tag=tag))
        return True

    def has(self, ctx: RequestContext, server_id: str, tag: str) -> bool:
        """True when the server has ``tag``. Raises ServerNotFound (404)."""
        uuid = self._server(ctx, server_id)
        with self.db.reader() as s:
            return s.get(InstanceTag, (uuid, tag)) is not None

    def delete(self, ctx: RequestContext, server_id: str, tag: str) -> bool:
        """Remove one tag; False when the server did not have it. Raises ServerNotFound."""
        uuid = self._server(ctx, server_id)
        with self.db.transaction() as s:
            row = s.get(InstanceTag, (uuid, tag))
            if row is None:
                return False
            s.delete(row)
        return True

    def delete_all(self, ctx: RequestContext, server_id: str) -> None:
        """Remove every tag of the server. Raises ServerNotFound (404)."""
        uuid = self._server(ctx, server_id)
        with self.db.transaction() as s:
            s.execute(sa.delete(InstanceTag).where(InstanceTag.instance_uuid == uuid))


def _check_count(count: int) -> None:
    if count > MAX_TAGS:
        raise errors.BadRequest(f"The number of tags exceeded the per-server limit {MAX_TAGS}")


def tag_filter(column: Any, filters: dict[str, Any]) -> builtins.list[Any]:
    """SQL conditions on the server uuid ``column`` for the 2.26 list filters, each a
    comma-separated list of tags: ``tags`` (the server has all), ``tags-any`` (at least
    one), ``not-tags`` (not all), ``not-tags-any`` (none)."""

    def having(tag: str) -> Any:
        return sa.exists().where(InstanceTag.instance_uuid == column, InstanceTag.tag == tag)

    conditions = []
    for key in ("tags", "tags-any", "not-tags", "not-tags-any"):
        value = filters.get(key)
        if not value:
            continue
        tags = [t for t in str(value).split(",") if t]
        if not tags:
            continue
        each = [having(t) for t in tags]
        if key == "tags":
            conditions.append(sa.and_(*each))
        elif key == "tags-any":
            conditions.append(sa.or_(*each))
        elif key == "not-tags":
            conditions.append(sa.not_(sa.and_(*each)))
        else:
            conditions.append(sa.not_(sa.or_(*each)))
    return conditions
