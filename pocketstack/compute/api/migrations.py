"""Migrations (API reference "Migrations (os-migrations)"), admin only: pocketstack has no
resize or migration yet, so the list is empty, in Nova's shape (``{"migrations": []}``);
the filters Nova takes (``host``, ``status``, ``instance_uuid``, ``migration_type``...) are
accepted."""

from __future__ import annotations

from typing import Any

from pocketstack.common import policy
from pocketstack.common.http import ApiRequest


def list_migrations(req: ApiRequest) -> dict[str, Any]:
    """``GET /os-migrations`` → ``{"migrations": []}`` (admin)."""
    policy.enforce(req.ctx, "compute:os-migrations:index")
    return {"migrations": []}
