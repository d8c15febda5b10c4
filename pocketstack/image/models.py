"""Image tables: images (Glance v2 image records) and their members (sharing with projects).

Extra properties (``os_distro``, ``hw_disk_bus``...) live in one JSON column, tags in another;
lists filter on them in SQL too (``images._json_filters``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pocketstack.common.db import Base, TimestampMixin, new_id


class Image(TimestampMixin, Base):
    """One image. ``status``: queued, saving, uploading, importing, active, deactivated
    (``states``; every change of it goes through ``states.transition``).

    ``size``/``virtual_size`` are bytes; ``checksum`` is the MD5 hex digest of the data and
    ``os_hash_value`` its SHA-512 hex digest (``os_hash_algo`` = ``sha512``).

    ``upload_lease_owner``/``upload_lease_expires_at``: the controller process that holds the
    image's data lease (it is uploading, staging, importing or cleaning up the image's files)
    and the naive-UTC time the lease lapses unless renewed; both NULL when nobody holds it.
    See ``pocketstack.image.uploads``.
    """

    __tablename__ = "images"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    name: Mapped[str | None] = mapped_column(sa.String(255), default=None, index=True)
    status: Mapped[str] = mapped_column(sa.String(30), default="queued", index=True)
    visibility: Mapped[str] = mapped_column(sa.String(20), default="shared", index=True)
    owner: Mapped[str | None] = mapped_column(sa.String(255), default=None, index=True)
    disk_format: Mapped[str | None] = mapped_column(sa.String(20), default=None)
    container_format: Mapped[str | None] = mapped_column(sa.String(20), default=None)
    size: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    virtual_size: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    checksum: Mapped[str | None] = mapped_column(sa.String(32), default=None)
    os_hash_algo: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    os_hash_value: Mapped[str | None] = mapped_column(sa.String(128), default=None)
    min_disk: Mapped[int] = mapped_column(default=0)
    min_ram: Mapped[int] = mapped_column(default=0)
    protected: Mapped[bool] = mapped_column(default=False)
    os_hidden: Mapped[bool] = mapped_column(default=False)
    #: extra string properties, shown as top-level keys of the API view
    properties: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    tags: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    upload_lease_owner: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    upload_lease_expires_at: Mapped[dt.datetime | None] = mapped_column(
        sa.DateTime, default=None, index=True
    )


class ImageMember(TimestampMixin, Base):
    """A project an image is shared with; ``status``: pending, accepted or rejected."""

    __tablename__ = "image_members"
    __table_args__ = (sa.UniqueConstraint("image_id", "member_id"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    image_id: Mapped[str] = mapped_column(
        sa.ForeignKey("images.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[str] = mapped_column(sa.String(255), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
