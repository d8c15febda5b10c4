"""Data leases: which controller process may touch an image's data, and until when.

A controller killed in the middle of ``PUT /v2/images/{id}/file`` used to leave the image in
``saving`` forever (every new upload a 409) and its partial file in the store. In distributed
mode several controllers share the database, so a starting controller cannot tell such an
upload from one that another controller is streaming right now: the image row has to say who
serves it and until when.

The rule:

- A process moves an image into ``saving``, ``uploading`` or ``importing`` only by taking the
  image's **lease** (``UploadLeases.take``): one conditional ``UPDATE`` (``states.transition``,
  so only a move ``states.TRANSITIONS`` holds) that sets the status,
  ``upload_lease_owner`` (a token naming this process and this piece of work) and
  ``upload_lease_expires_at`` (now + ``ttl``), and matches only while no live lease is held.
- While the work runs, the process's periodic task renews each lease it holds
  (``UploadLeases.renew``, at least three times per ``ttl``), however slowly the client sends.
- The work ends with one ``UPDATE`` that records its outcome (``active``, or back to
  ``queued`` on failure) and clears the lease, conditional on still holding it
  (``UploadLeases.release``). A holder that finds its lease gone stops and writes nothing.
- A lease that nobody renewed for ``ttl`` seconds (its process was killed, hung, or lost the
  database) has lapsed. Any controller's ``Reaper`` takes it over, removes the image's partial
  and unrecorded data on its host and puts the image back to ``queued``, Glance's status for
  an image without data. A live owner is never disturbed: it renews long before ``ttl``.
- Only the holder of an image's live lease creates, replaces or removes that image's data files
  (deleting an image removes its row first, then its files). Partial files carry the image id
  in their name, so each host's reaper also removes the ones whose image has no live lease:
  those another controller's reaper reset, or a crash left before a restart.

Clocks: leases compare the controllers' clocks (naive UTC), like Nova's service heartbeats; keep
them in sync (NTP) and ``ttl`` well above the skew.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from pocketstack.common.db import Database, utcnow
from pocketstack.image import states
from pocketstack.image.models import Image
from pocketstack.image.stores.base import ImageStore

LOG = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class Lease:
    """One held lease: the image and the token written in ``upload_lease_owner``
    (``<process id>/<work id>``, unique per piece of work)."""

    image_id: str
    token: str


class UploadLeases:
    """The data leases of one controller process.

    Args:
        db: the database the images live in.
        ttl: seconds a lease lives without renewal (``image_upload_lease``); > 0.
        process_id: this process's id (default: a new random one; one per ``ImageManager``).
        clock: naive-UTC "now" (tests inject one; nothing here sleeps).
    """

    def __init__(
        self,
        db: Database,
        ttl: float,
        process_id: str | None = None,
        clock: Clock = utcnow,
    ):
        if ttl <= 0:
            raise ValueError(f"image_upload_lease must be > 0 seconds, not {ttl}")
        self.db = db
        self.ttl = dt.timedelta(seconds=ttl)
        self.process_id = process_id or uuid.uuid4().hex
        self.clock = clock
        self._held: dict[str, Lease] = {}
        self._lock = threading.Lock()

    def held(self) -> list[Lease]:
        """The leases this process holds and renews."""
        with self._lock:
            return list(self._held.values())

    def is_free(self, now: dt.datetime) -> sa.ColumnElement[bool]:
        """SQL: the image's lease is free at ``now`` (never taken, released or lapsed)."""
        expires = Image.upload_lease_expires_at
        return sa.or_(expires.is_(None), expires < now)

    def take(
        self, session: Session, image_id: str, old: str, new: str, *where: Any
    ) -> Lease | None:
        """Take the free lease of ``image_id`` and move it ``old -> new``
        (``states.transition``; ``old == new`` keeps the status) in ``session``'s transaction,
        if the row also matches ``where``.

        Returns the lease, now renewed by ``renew`` until ``done``, or ``None`` when the image
        is gone, leased, not in ``old`` or does not match. The caller commits.

        Raises:
            InvalidImageStatus: ``states.TRANSITIONS`` does not hold ``old -> new``.
        """
        now = self.clock()
        lease = Lease(image_id, f"{self.process_id}/{uuid.uuid4().hex[:16]}")
        taken = states.transition(
            session,
            image_id,
            old,
            new,
            self.is_free(now),
            *where,
            upload_lease_owner=lease.token,
            upload_lease_expires_at=now + self.ttl,
        )
        if not taken:
            return None
        with self._lock:
            self._held[image_id] = lease
        return lease

    def release(
        self, session: Session, lease: Lease, old: str, new: str, *where: Any, **values: Any
    ) -> bool:
        """Move the image ``old -> new`` (``states.transition``; ``old == new`` keeps the
        status), set ``values`` (the work's outcome) and clear the lease in ``session``'s
        transaction, if ``lease`` is still held and the row matches ``where``.

        Returns False, having written nothing, when the lease was lost (taken over after it
        lapsed, or the image deleted) or the image is no longer in ``old``.

        Raises:
            InvalidImageStatus: ``states.TRANSITIONS`` does not hold ``old -> new``.
        """
        return states.transition(
            session,
            lease.image_id,
            old,
            new,
            Image.upload_lease_owner == lease.token,
            *where,
            upload_lease_owner=None,
            upload_lease_expires_at=None,
            **values,
        )

    def still_held(self, session: Session, lease: Lease) -> bool:
        """Whether the image's row still names ``lease`` as its holder."""
        owner = session.scalar(
            sa.select(Image.upload_lease_owner).where(Image.id == lease.image_id)
        )
        return owner == lease.token

    def done(self, lease: Lease) -> None:
        """Stop renewing ``lease`` (its work ended, however it ended)."""
        with self._lock:
            if self._held.get(lease.image_id) == lease:
                del self._held[lease.image_id]

    def renew(self) -> list[Lease]:
        """Push every held lease's expiry to now + ``ttl``, one row per transaction (so it
        never waits on one lock while holding another). Returns the leases found lost; they
        are no longer renewed, and their work fails when it tries to record its outcome."""
        lost = []
        for lease in self.held():
            with self.db.transaction() as s:
                renewed = _rowcount(
                    s,
                    sa.update(Image)
                    .where(Image.id == lease.image_id, Image.upload_lease_owner == lease.token)
                    .values(upload_lease_expires_at=self.clock() + self.ttl),
                )
            if renewed != 1:
                LOG.warning("lost the data lease of image %s", lease.image_id)
                self.done(lease)
                lost.append(lease)
        return lost

    def lapsed(self) -> list[tuple[str, str, str]]:
        """``(image id, status, holder's token)`` of the images whose lease has lapsed."""
        with self.db.reader() as s:
            rows = s.execute(
                sa.select(Image.id, Image.status, Image.upload_lease_owner).where(
                    Image.upload_lease_expires_at < self.clock()
                )
            ).all()
        return [(row[0], row[1], row[2] or "") for row in rows]

    def live(self, image_ids: Sequence[str]) -> set[str]:
        """Those of ``image_ids`` whose lease is live (held and not lapsed)."""
        if not image_ids:
            return set()
        with self.db.reader() as s:
            return set(
                s.scalars(
                    sa.select(Image.id).where(
                        Image.id.in_(sorted(set(image_ids))),
                        Image.upload_lease_expires_at >= self.clock(),
                    )
                )
            )


def _rowcount(session: Session, statement: Any) -> int:
    """Rows an ``UPDATE`` matched."""
    return cast(CursorResult[Any], session.execute(statement)).rowcount


class Reaper:
    """Puts images whose lease lapsed back to ``queued`` and removes the partial data nobody
    is writing, on this host. Run at start-up and by the image service's periodic task.

    Args:
        leases: this process's leases (the reaper takes lapsed leases over in its name).
        stores: the stores whose partial data the reaper may remove (the image store and
            this host's staging area; ``ImageStore.partial_files``/``remove_partial``).
    """

    def __init__(self, leases: UploadLeases, stores: Sequence[ImageStore]):
        self.leases = leases
        self.db = leases.db
        self.stores = list(stores)

    def run(self) -> list[str]:
        """One round; returns the ids of the images it put back (for logs and tests).

        Partial files are listed before the database is read, so one whose image has no live
        lease at that read belongs to work that has ended: it is removed.
        """
        partials = [
            (store, image_id, ref)
            for store in self.stores
            for image_id, ref in store.partial_files()
        ]
        reset = [
            image_id
            for image_id, status, token in self.leases.lapsed()
            if self.reset(image_id, status, token)
        ]
        live = self.leases.live([image_id for _store, image_id, _ref in partials])
        for store, image_id, ref in partials:
            if image_id not in live:
                LOG.info("removing partial image data %s (no upload is writing it)", ref)
                store.remove_partial(ref)
        return reset

    def reset(self, image_id: str, status: str, token: str) -> bool:
        """Take over the lapsed lease ``token`` of ``image_id`` (in ``status``), remove the
        image's partial and unrecorded data on this host and give it its
        ``states.RESET_STATUS``.

        Returns False when that lease was renewed, released or taken over meanwhile.
        """
        with self.db.transaction() as s:
            lease = self.leases.take(s, image_id, status, status, Image.upload_lease_owner == token)
        if lease is None:
            return False
        try:
            back = states.RESET_STATUS.get(status)
            if back is not None:  # the data of an in-flight status was never recorded
                for store in self.stores:
                    for partial_id, ref in store.partial_files():
                        if partial_id == image_id:
                            store.remove_partial(ref)
                    store.delete(image_id)
            with self.db.transaction() as s:
                done = self.leases.release(s, lease, status, back or status)
        finally:
            self.leases.done(lease)
        if done and back is not None:
            LOG.warning(
                "image %s was left %s by a controller that stopped serving it; now %s",
                image_id,
                status,
                back,
            )
        return done
