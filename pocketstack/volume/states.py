"""The statuses of volumes, snapshots, backups and attachments, and the one transition table
each (docs/block-storage.md, "States").

Every status write goes through ``transition(row, status)``, which refuses a change the
table does not hold (``InvalidState``, 409: a stale or duplicated agent result). The API's
"may I do this now" check reads the same table: ``require(row, status, ...)`` raises
Cinder's 400 (``InvalidVolume``: "Invalid volume: Volume status must be available ...")
when ``row.status`` cannot go to ``status``. An admin's ``os-reset_status`` goes around the
table (``reset``), as Cinder's does, but only to a status the table knows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pocketstack.common import errors

CREATING = "creating"
AVAILABLE = "available"
ERROR = "error"
RESERVED = "reserved"
ATTACHING = "attaching"
IN_USE = "in-use"
DETACHING = "detaching"
EXTENDING = "extending"
ERROR_EXTENDING = "error_extending"
BACKING_UP = "backing-up"
RESTORING_BACKUP = "restoring-backup"
ERROR_RESTORING = "error_restoring"
UPLOADING = "uploading"
DELETING = "deleting"
ERROR_DELETING = "error_deleting"
DELETED = "deleted"
RESTORING = "restoring"

#: volume status -> the statuses it may go to
VOLUME: dict[str, frozenset[str]] = {
    CREATING: frozenset({AVAILABLE, ERROR}),
    AVAILABLE: frozenset({RESERVED, EXTENDING, BACKING_UP, RESTORING_BACKUP, UPLOADING, DELETING}),
    RESERVED: frozenset({ATTACHING, IN_USE, AVAILABLE}),
    ATTACHING: frozenset({IN_USE, AVAILABLE}),
    IN_USE: frozenset({DETACHING, EXTENDING, BACKING_UP, UPLOADING, AVAILABLE}),
    DETACHING: frozenset({AVAILABLE, IN_USE}),
    EXTENDING: frozenset({AVAILABLE, IN_USE, ERROR_EXTENDING}),
    ERROR_EXTENDING: frozenset({DELETING}),
    BACKING_UP: frozenset({AVAILABLE, IN_USE}),
    RESTORING_BACKUP: frozenset({AVAILABLE, ERROR_RESTORING}),
    ERROR_RESTORING: frozenset({DELETING}),
    UPLOADING: frozenset({AVAILABLE, IN_USE}),
    ERROR: frozenset({DELETING}),
    DELETING: frozenset({DELETED, ERROR_DELETING}),
    ERROR_DELETING: frozenset({DELETING}),
    DELETED: frozenset(),
}

#: snapshot status -> the statuses it may go to
SNAPSHOT: dict[str, frozenset[str]] = {
    CREATING: frozenset({AVAILABLE, ERROR}),
    AVAILABLE: frozenset({DELETING, BACKING_UP, RESTORING}),
    BACKING_UP: frozenset({AVAILABLE}),
    RESTORING: frozenset({AVAILABLE}),
    ERROR: frozenset({DELETING}),
    DELETING: frozenset({DELETED, ERROR_DELETING}),
    ERROR_DELETING: frozenset({DELETING}),
    DELETED: frozenset(),
}

#: backup status -> the statuses it may go to
BACKUP: dict[str, frozenset[str]] = {
    CREATING: frozenset({AVAILABLE, ERROR}),
    AVAILABLE: frozenset({RESTORING, DELETING}),
    RESTORING: frozenset({AVAILABLE, ERROR}),
    ERROR: frozenset({DELETING}),
    DELETING: frozenset({DELETED, ERROR}),
    DELETED: frozenset(),
}

#: attachment ``attach_status`` -> the statuses it may go to
ATTACHMENT: dict[str, frozenset[str]] = {
    RESERVED: frozenset({ATTACHING, "attached", DETACHING, "detached"}),
    ATTACHING: frozenset({"attached", DETACHING, "detached", "error_attaching"}),
    "attached": frozenset({DETACHING, "detached"}),
    "error_attaching": frozenset({DETACHING, "detached"}),
    DETACHING: frozenset({"detached", "error_detaching"}),
    "error_detaching": frozenset({DETACHING, "detached"}),
    "detached": frozenset(),
}

#: table by kind of row (the row's ``__tablename__``)
TABLES: dict[str, Mapping[str, frozenset[str]]] = {
    "volumes": VOLUME,
    "snapshots": SNAPSHOT,
    "backups": BACKUP,
    "volume_attachments": ATTACHMENT,
}


def _table(row: Any) -> Mapping[str, frozenset[str]]:
    return TABLES[row.__tablename__]


def _status_attr(row: Any) -> str:
    return "attach_status" if row.__tablename__ == "volume_attachments" else "status"


def can(row: Any, status: str) -> bool:
    """Whether ``row`` (a volume, snapshot, backup or attachment) may go to ``status`` now
    (staying put always may)."""
    current = getattr(row, _status_attr(row))
    return status == current or status in _table(row).get(current, frozenset())


def sources(table: Mapping[str, frozenset[str]], status: str) -> list[str]:
    """The statuses of ``table`` from which ``status`` may be reached, sorted."""
    return sorted(s for s, nexts in table.items() if status in nexts)


def transition(row: Any, status: str) -> None:
    """Move ``row`` to ``status`` (a deleted row also gets ``deleted``/``deleted_at``).

    Raises:
        InvalidState (409): the table does not hold ``row``'s status -> ``status``.
    """
    attr = _status_attr(row)
    current = getattr(row, attr)
    if not can(row, status):
        kind = row.__tablename__.rstrip("s").replace("volume_", "")
        raise errors.InvalidState(f"The {kind} {row.id} cannot go from {current} to {status}.")
    setattr(row, attr, status)
    if status == DELETED:
        from pocketstack.common.db import utcnow

        row.deleted = True
        row.deleted_at = utcnow()


def require(row: Any, status: str, error: type[errors.PocketError], what: str) -> None:
    """The API's check: raise ``error`` (Cinder's 400 ``InvalidVolume``/``InvalidSnapshot``
    ...) unless ``row`` may go to ``status`` now; the message names the statuses the table
    allows, as Cinder's ("Volume status must be available or in-use to extend, currently
    reserved.")."""
    if can(row, status):
        return
    allowed = " or ".join(s for s in sources(_table(row), status))
    current = getattr(row, _status_attr(row))
    raise error(f"{what} status must be {allowed} to {_verb(status)}, currently {current}.")


def _verb(status: str) -> str:
    return {
        DELETING: "delete",
        EXTENDING: "extend",
        RESERVED: "attach",
        BACKING_UP: "back up",
        UPLOADING: "upload to an image",
        RESTORING_BACKUP: "restore a backup",
        RESTORING: "restore",
    }.get(status, f"become {status}")


def reset(row: Any, status: str) -> None:
    """An admin's ``os-reset_status``: set ``status`` whatever the current one (Cinder lets
    an admin mend a stuck row), but only a status of the row's table.

    Raises:
        BadRequest (400): ``status`` is not a status of that kind of row.
    """
    if status not in _table(row) or status == DELETED:
        raise errors.BadRequest(f"Invalid status: {status}.")
    setattr(row, _status_attr(row), status)


def agent_host(host: str | None) -> str | None:
    """The agent's host of a Cinder host string (``node1@file#file`` -> ``node1``)."""
    if not host:
        return None
    return host.split("@", 1)[0].split("#", 1)[0]
