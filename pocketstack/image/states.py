"""Image statuses, the transitions between them, and which action each status allows.

The names and ``TRANSITIONS`` follow Glance's image state machine (Glance docs "Image
statuses"; Image API v2 reference "Images"):

- ``queued``: the record exists, no data yet; ``saving``: data is being uploaded;
- ``uploading``: data staged for an interoperable import, ``importing``: the import runs;
- ``active``: the data is there; ``deactivated``: only admins may download it;
- ``killed``, ``pending_delete``, ``deleted``: Glance's; pocketstack removes a deleted
  image's row instead, so no image is ever written in them today.

pocketstack adds one edge to Glance's table: ``importing -> uploading``, a failed
``glance-direct`` import whose staged data is still there (the client may retry it).

Every status write goes through ``transition``: one conditional ``UPDATE`` (compare and set on
the status the caller saw, as compute's ``actions.update_instance``), refused before any write
when ``TRANSITIONS`` does not hold it. Concurrent writers (two uploads, an upload and the lease
reaper) therefore never overwrite a status they did not see: the loser's ``UPDATE`` matches no
row. ``ACTIONS`` says which status each API action starts from and what it moves to; the API's
"may I do this now" checks read it (``action_target``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from pocketstack.image.exceptions import InvalidImageStatus
from pocketstack.image.models import Image

QUEUED = "queued"
SAVING = "saving"
UPLOADING = "uploading"
IMPORTING = "importing"
ACTIVE = "active"
DEACTIVATED = "deactivated"
KILLED = "killed"
PENDING_DELETE = "pending_delete"
DELETED = "deleted"

#: current status -> the statuses it may move to (Glance's image state machine)
TRANSITIONS: Mapping[str, frozenset[str]] = {
    QUEUED: frozenset({SAVING, UPLOADING, IMPORTING, ACTIVE, DELETED}),
    SAVING: frozenset({ACTIVE, KILLED, QUEUED, DELETED}),
    UPLOADING: frozenset({IMPORTING, QUEUED, DELETED}),
    IMPORTING: frozenset({ACTIVE, QUEUED, UPLOADING, DELETED}),
    ACTIVE: frozenset({DEACTIVATED, PENDING_DELETE, DELETED}),
    DEACTIVATED: frozenset({ACTIVE, DELETED}),
    KILLED: frozenset({DELETED}),
    PENDING_DELETE: frozenset({DELETED}),
    DELETED: frozenset(),
}

#: statuses whose work holds the image's data lease (``uploads``); where each goes back to
#: when that lease lapses (the data was never recorded: the image has none, as Glance)
RESET_STATUS: Mapping[str, str] = {SAVING: QUEUED, UPLOADING: QUEUED, IMPORTING: QUEUED}

#: statuses whose data can be downloaded (``deactivated``: by admins only)
DOWNLOADABLE = (ACTIVE, DEACTIVATED)

#: API action -> {status it may start from: status it leaves the image in}
ACTIONS: Mapping[str, Mapping[str, str]] = {
    "upload": {QUEUED: SAVING},
    "stage": {QUEUED: UPLOADING},
    "import": {UPLOADING: IMPORTING},
    "web-download": {QUEUED: IMPORTING},
    # Glance answers 204 to deactivating a deactivated image (and reactivating an active one)
    "deactivate": {ACTIVE: DEACTIVATED, DEACTIVATED: DEACTIVATED},
    "reactivate": {DEACTIVATED: ACTIVE, ACTIVE: ACTIVE},
}


def allowed(old: str, new: str) -> bool:
    """Whether ``TRANSITIONS`` holds ``old -> new``; staying in a status is always allowed
    (a write that changes other columns on the condition that the status is still ``old``)."""
    return old == new or new in TRANSITIONS.get(old, frozenset())


def check_transition(old: str, new: str) -> None:
    """Refuse ``old -> new`` unless ``allowed``.

    Raises:
        InvalidImageStatus (409): "Image status transition from <old> to <new> is not
            allowed." (Glance's message).
    """
    if not allowed(old, new):
        raise InvalidImageStatus(f"Image status transition from {old} to {new} is not allowed.")


def action_target(action: str, status: str) -> str | None:
    """The status ``action`` (a key of ``ACTIONS``) leaves an image in that is now in
    ``status``, or ``None`` when the action is not allowed in that status."""
    return ACTIONS[action].get(status)


def transition(
    session: Session, image_id: str, old: str, new: str, *where: Any, **values: Any
) -> bool:
    """Move image ``image_id`` from ``old`` to ``new``, setting ``values`` too, in
    ``session``'s transaction (the caller commits): one ``UPDATE ... WHERE id = :id AND
    status = :old AND <where>``.

    Args:
        where: further conditions the row must hold (e.g. its data lease is free).
        values: other columns to set with the status (e.g. ``size``, the lease columns).

    Returns:
        True when the row was changed; False, having written nothing, when the image is gone,
        no longer in ``old`` (another writer moved it first) or fails ``where``.

    Raises:
        InvalidImageStatus (409): ``TRANSITIONS`` does not hold ``old -> new``; nothing is
            written.
    """
    check_transition(old, new)
    result = session.execute(
        sa.update(Image)
        .where(Image.id == image_id, Image.status == old, *where)
        .values(status=new, **values)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount == 1


def _check_actions() -> None:
    """Every action's move is a transition of the table (checked once, on import)."""
    for action, moves in ACTIONS.items():
        for old, new in moves.items():
            if not allowed(old, new):
                raise AssertionError(f"action {action}: {old} -> {new} is not in TRANSITIONS")


_check_actions()
