"""Quota usage (Image API v2 "Quota usage": ``GET /v2/info/usage``),
``cloud.image.usage``: what the caller's project holds against Glance's four limits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pocketstack.common.auth import RequestContext
from pocketstack.image import states
from pocketstack.image.models import Image

if TYPE_CHECKING:
    from pocketstack.service import Cloud


class Usage:
    """Per-project usage (``cloud.image.usage``)."""

    def __init__(self, cloud: Cloud):
        self.db = cloud.db
        self.quota = cloud.conf.image_user_storage_quota

    def get(self, ctx: RequestContext) -> dict[str, dict[str, int]]:
        """``{"image_size_total", "image_stage_total", "image_count_total",
        "image_count_uploading"}``, each ``{"limit": int, "usage": int}``: bytes of image
        data, bytes staged, images, images being uploaded or imported, of the caller's
        project. Limits are -1 (unlimited) except ``image_size_total``'s, the
        ``image_user_storage_quota`` when set."""
        rows: list[Any]
        with self.db.reader() as s:
            rows = list(
                s.execute(sa.select(Image.status, Image.size).where(Image.owner == ctx.project_id))
            )
        busy = (states.SAVING, states.UPLOADING, states.IMPORTING)
        size = sum(r.size or 0 for r in rows)
        staged = sum(r.size or 0 for r in rows if r.status == states.UPLOADING)
        return {
            "image_size_total": {"limit": self.quota or -1, "usage": size},
            "image_stage_total": {"limit": -1, "usage": staged},
            "image_count_total": {"limit": -1, "usage": len(rows)},
            "image_count_uploading": {
                "limit": -1,
                "usage": sum(1 for r in rows if r.status in busy),
            },
        }
