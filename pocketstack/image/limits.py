"""Limits on image data: Glance's ``image_size_cap`` and ``user_storage_quota``.

- ``image_size_cap`` (bytes): the largest image data an upload or a stage may carry.
- ``image_user_storage_quota`` (bytes, 0 = unlimited): the total size of the image data a
  project owns; an upload may add at most what is left. The project is the image's owner
  (Glance counts the caller's project; they differ only when an admin uploads to another
  project's image, whose storage then grows).

Both answer 413 ``Request Entity Too Large`` in Glance's error body. They are checked three
times: against ``Content-Length`` before the image leaves ``queued`` (nothing is read), while
the data streams (``LimitedReader`` stops at the limit, whatever the headers said, so a chunked
body is never read further than the limit + 1 byte), and once more when the upload is recorded,
with the owner's image rows locked, so uploads that ran concurrently cannot together pass the
quota. A refused upload keeps nothing (see ``data.ImageData``).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from pocketstack.common.errors import RequestTooLarge
from pocketstack.image.exceptions import ImageSizeLimitExceeded, StorageQuotaFull
from pocketstack.image.models import Image
from pocketstack.image.stores.base import Readable


@dataclass(frozen=True)
class Allowance:
    """How much data one upload may write.

    Attributes:
        cap: ``image_size_cap`` in bytes (``None``: no cap, for local files of the operator).
        quota: the owner's ``image_user_storage_quota`` in bytes (``None``: unlimited).
        used: bytes of image data the owner has besides this image (0 without a quota).
    """

    cap: int | None
    quota: int | None = None
    used: int = 0

    @property
    def remaining(self) -> int | None:
        """Quota bytes left (may be <= 0), or ``None`` when unlimited."""
        return None if self.quota is None else self.quota - self.used

    @property
    def limit(self) -> int | None:
        """The most bytes the upload may have, or ``None`` when unlimited."""
        bounds = [b for b in (self.cap, self.remaining) if b is not None]
        return max(0, min(bounds)) if bounds else None

    def check(self, size: int | None) -> None:
        """Refuse an upload of ``size`` bytes (``None``: not known yet) before reading it.

        Raises:
            ImageSizeLimitExceeded: ``size`` is over the cap.
            StorageQuotaFull: ``size`` is over the quota left, or (size unknown) nothing is
                left at all.
        """
        if size is not None and self.cap is not None and size > self.cap:
            raise self.too_large(size)
        remaining = self.remaining
        if remaining is None:
            return
        if (size is None and remaining <= 0) or (size is not None and size > remaining):
            raise self.too_large(size)

    def too_large(self, size: int | None) -> RequestTooLarge:
        """The 413 for data of ``size`` bytes (``None``: more than ``limit`` streamed)."""
        over_cap = self.cap is not None and (
            (size is not None and size > self.cap) or (size is None and self.limit == self.cap)
        )
        if over_cap:
            return ImageSizeLimitExceeded(
                f"The incoming image is too large: image data is limited to {self.cap} bytes."
            )
        remaining = max(0, self.remaining or 0)
        data = f"{size} bytes" if size is not None else f"more than {remaining} bytes"
        return StorageQuotaFull(
            f"Image exceeds the storage quota: {data} of data would exceed the project's "
            f"limit of {self.quota} bytes; {remaining} bytes remaining."
        )


class LimitedReader:
    """A read-only stream over ``stream`` that raises ``allowance.too_large(None)`` as soon as
    more than ``allowance.limit`` bytes arrive. It never asks ``stream`` for more than one byte
    past the limit."""

    def __init__(self, stream: Readable, allowance: Allowance):
        self.stream = stream
        self.allowance = allowance
        self.limit = allowance.limit
        self.received = 0

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (``-1``: to the end), ``b""`` at the end of the data.

        Raises:
            ImageSizeLimitExceeded, StorageQuotaFull: past the limit.
        """
        if self.limit is not None:
            room = self.limit - self.received + 1
            size = room if size is None or size < 0 else min(size, room)
        chunk = self.stream.read(size)
        self.received += len(chunk)
        if self.limit is not None and self.received > self.limit:
            raise self.allowance.too_large(None)
        return chunk


class ImageLimits:
    """The configured cap and quota (bytes; a quota of 0 means unlimited)."""

    def __init__(self, size_cap: int, user_storage_quota: int):
        self.size_cap = size_cap
        self.quota = user_storage_quota if user_storage_quota > 0 else None

    def allowance(self, session: Session, image: Image) -> Allowance:
        """What an upload to ``image`` may write now, given its owner's other images."""
        used = 0 if self.quota is None else self.usage(session, image.id, image.owner)
        return Allowance(self.size_cap, self.quota, used)

    def usage(self, session: Session, image_id: str, owner: str | None, lock: bool = False) -> int:
        """Bytes of image data ``owner`` has besides ``image_id``. With ``lock``, the owner's
        image rows stay locked (``SELECT ... FOR UPDATE``, in id order) until the transaction
        ends, which serialises concurrent quota checks of one project on PostgreSQL (SQLite
        serialises write transactions anyway)."""
        query = sa.select(Image.id, Image.size).where(
            Image.owner.is_(None) if owner is None else Image.owner == owner
        )
        if lock:
            query = query.order_by(Image.id).with_for_update()
        return sum(size or 0 for row_id, size in session.execute(query) if row_id != image_id)

    def check_recorded(self, session: Session, image_id: str, owner: str | None, size: int) -> None:
        """Final check as ``size`` bytes are recorded for ``image_id``, with the owner's rows
        locked.

        Raises:
            ImageSizeLimitExceeded, StorageQuotaFull.
        """
        if self.quota is None:
            Allowance(self.size_cap).check(size)
            return
        used = self.usage(session, image_id, owner, lock=True)
        Allowance(self.size_cap, self.quota, used).check(size)
