"""Image tables of the tasks API (alembic 0020): Glance's ``tasks`` (with its
``task_info`` input, result and message folded in), one row per interoperable import.
Registered in ``common/db.py``'s model list like every service's ``models``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pocketstack.common.db import Base, TimestampMixin, new_id


class Task(TimestampMixin, Base):
    """One asynchronous operation (type ``api_image_import``), status ``pending``,
    ``processing``, ``success`` or ``failure``."""

    __tablename__ = "image_tasks"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(sa.String(30))
    status: Mapped[str] = mapped_column(sa.String(30))
    owner: Mapped[str | None] = mapped_column(sa.String(255), index=True, default=None)
    image_id: Mapped[str | None] = mapped_column(sa.String(36), index=True, default=None)
    user_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    request_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    input: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, default=None)
    message: Mapped[str] = mapped_column(sa.Text, default="")
    expires_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime, default=None)
