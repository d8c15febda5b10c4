"""Policies (Identity API v3 "Policies"): opaque policy blobs Keystone stores for other
services, ``cloud.identity.policies``. The module is not named ``policies`` because
``identity/policies.py`` is the table of who may call what.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pocketstack.common.auth import RequestContext
from pocketstack.common.errors import NotFound
from pocketstack.identity.ext_models import Policy

if TYPE_CHECKING:
    from pocketstack.identity.manager import IdentityManager


class PolicyNotFound(NotFound):
    """404: no policy with this id."""


class Policies:
    """Policy blobs (``cloud.identity.policies``)."""

    def __init__(self, identity: IdentityManager):
        self.db = identity.db

    def list(self, ctx: RequestContext, type: str | None = None) -> list[Policy]:
        """Every policy, optionally only those of MIME ``type``."""
        q = sa.select(Policy).order_by(Policy.created_at, Policy.id)
        if type is not None:
            q = q.where(Policy.type == type)
        with self.db.reader() as s:
            return list(s.scalars(q))

    def get(self, ctx: RequestContext, policy_id: str) -> Policy:
        """One policy; raises ``PolicyNotFound``."""
        with self.db.reader() as s:
            return _get(s, policy_id)

    def create(self, ctx: RequestContext, type: str, blob: str, extra: dict[str, Any]) -> Policy:
        """A new policy; ``extra`` holds the body's other attributes (Keystone keeps and
        returns them)."""
        with self.db.transaction() as s:
            row = Policy(type=type, blob=blob, extra=dict(extra))
            s.add(row)
        return row

    def update(self, ctx: RequestContext, policy_id: str, changes: dict[str, Any]) -> Policy:
        """Change ``type``, ``blob`` and extra attributes; raises ``PolicyNotFound``."""
        with self.db.transaction() as s:
            row = _get(s, policy_id)
            extra = dict(row.extra or {})
            for key, value in changes.items():
                if key in ("type", "blob"):
                    setattr(row, key, value)
                elif key not in ("id", "links"):
                    extra[key] = value
            row.extra = extra
        return row

    def delete(self, ctx: RequestContext, policy_id: str) -> None:
        """Delete a policy; raises ``PolicyNotFound``."""
        with self.db.transaction() as s:
            s.delete(_get(s, policy_id))


def _get(s: Any, policy_id: str) -> Policy:
    row = s.get(Policy, policy_id)
    if row is None:
        raise PolicyNotFound(f"Could not find policy: {policy_id}.")
    return row
