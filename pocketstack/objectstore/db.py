"""Container and account listings: one SQLite database per container and per account, as
Swift's ``ContainerBroker`` and ``AccountBroker`` (swift.container.backend,
swift.account.backend).

A container database holds one row per object name (``name, created_at, size, content_type,
etag, deleted``; a delete keeps the row as a tombstone so a late older PUT loses), the
per-policy totals kept by triggers, and the container's timestamps and metadata. An account
database holds one row per container with its counts. Rows merge by timestamp: newer wins.
Listings (prefix, delimiter, marker, end_marker, limit, reverse) are SQL range queries.

Files: ``<device>/containers/<part>/<suffix>/<hash>/<hash>.db`` (``accounts/`` likewise),
created in the device's ``tmp/`` and renamed into place, so a half-made database is never
seen.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pocketstack.objectstore.utils import Timestamp

ZERO = Timestamp(0).internal

_CONTAINER_SCHEMA = """
CREATE TABLE object (
    ROWID INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    content_type TEXT NOT NULL DEFAULT '',
    etag TEXT NOT NULL DEFAULT '',
    deleted INTEGER NOT NULL DEFAULT 0,
    storage_policy_index INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_object_deleted_name ON object (deleted, name);
CREATE TABLE policy_stat (
    storage_policy_index INTEGER PRIMARY KEY,
    object_count INTEGER NOT NULL DEFAULT 0,
    bytes_used INTEGER NOT NULL DEFAULT 0
);
CREATE TRIGGER object_insert AFTER INSERT ON object BEGIN
    INSERT OR IGNORE INTO policy_stat (storage_policy_index) VALUES (new.storage_policy_index);
    UPDATE policy_stat
       SET object_count = object_count + (1 - new.deleted),
           bytes_used = bytes_used + (1 - new.deleted) * new.size
     WHERE storage_policy_index = new.storage_policy_index;
END;
CREATE TRIGGER object_delete AFTER DELETE ON object BEGIN
    UPDATE policy_stat
       SET object_count = object_count - (1 - old.deleted),
           bytes_used = bytes_used - (1 - old.deleted) * old.size
     WHERE storage_policy_index = old.storage_policy_index;
END;
CREATE TABLE info (
    account TEXT NOT NULL,
    container TEXT NOT NULL,
    id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    put_timestamp TEXT NOT NULL,
    delete_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    status_changed_at TEXT NOT NULL,
    storage_policy_index INTEGER NOT NULL DEFAULT 0,
    metadata TEXT NOT NULL DEFAULT '{}',
    reported_put_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    reported_delete_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    reported_object_count INTEGER NOT NULL DEFAULT -1,
    reported_bytes_used INTEGER NOT NULL DEFAULT -1
);
"""

_ACCOUNT_SCHEMA = """
CREATE TABLE container (
    ROWID INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    put_timestamp TEXT NOT NULL,
    delete_timestamp TEXT NOT NULL,
    object_count INTEGER NOT NULL DEFAULT 0,
    bytes_used INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    storage_policy_index INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_container_deleted_name ON container (deleted, name);
CREATE TABLE info (
    account TEXT NOT NULL,
    container TEXT NOT NULL DEFAULT '',
    id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    put_timestamp TEXT NOT NULL,
    delete_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    status_changed_at TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    container_count INTEGER NOT NULL DEFAULT 0,
    object_count INTEGER NOT NULL DEFAULT 0,
    bytes_used INTEGER NOT NULL DEFAULT 0
);
CREATE TRIGGER container_insert AFTER INSERT ON container BEGIN
    UPDATE info SET container_count = container_count + (1 - new.deleted),
                    object_count = object_count + new.object_count,
                    bytes_used = bytes_used + new.bytes_used;
END;
CREATE TRIGGER container_delete AFTER DELETE ON container BEGIN
    UPDATE info SET container_count = container_count - (1 - old.deleted),
                    object_count = object_count - old.object_count,
                    bytes_used = bytes_used - old.bytes_used;
END;
"""


class DatabaseAlreadyExists(Exception):
    """``initialize`` found the database made already (by a concurrent request)."""


class ReplicationMixin:
    """Database replication (Swift's usync): rows are sent in ROWID order from the point
    the other replica last acknowledged; each database remembers, per sender id, how far
    it has merged (``incoming_sync``)."""

    TABLE = ""
    COLUMNS: tuple[str, ...] = ()

    def connect(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """A connection to the database (the broker's)."""
        raise NotImplementedError

    def merge_row(self, conn: sqlite3.Connection, row: dict[str, Any]) -> bool:
        """Merge one row inside the caller's transaction (the broker's)."""
        raise NotImplementedError

    def info_on(self, conn: sqlite3.Connection) -> dict[str, Any]:
        """The info row read on ``conn`` (the broker's)."""
        raise NotImplementedError

    def _sync_table(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS incoming_sync "
            "(remote_id TEXT PRIMARY KEY, sync_point INTEGER NOT NULL)"
        )

    def sync_point(self, remote_id: str) -> int:
        """How far (ROWID) rows of database ``remote_id`` were merged here; -1: never."""
        with self.connect() as conn:
            self._sync_table(conn)
            row = conn.execute(
                "SELECT sync_point FROM incoming_sync WHERE remote_id = ?", (remote_id,)
            ).fetchone()
        return -1 if row is None else int(row[0])

    def rows_since(self, point: int, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` rows (deleted ones too) with ROWID > ``point``, in ROWID order,
        each with its ``ROWID``."""
        cols = ", ".join(("ROWID",) + self.COLUMNS)
        with self.connect() as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute(
                f"SELECT {cols} FROM {self.TABLE} WHERE ROWID > ? ORDER BY ROWID LIMIT ?",
                (point, limit),
            ).fetchall()
        return [dict(r) for r in rows]

    def reclaim(self, cutoff: Timestamp) -> int:
        """Drop deleted rows whose deletion is older than ``cutoff`` (every replica has had
        them for the reclaim age); returns how many."""
        column = "created_at" if self.TABLE == "object" else "delete_timestamp"
        with self.connect() as conn:
            cur = conn.execute(
                f"DELETE FROM {self.TABLE} WHERE deleted = 1 AND {column} < ?",
                (cutoff.internal,),
            )
            return cur.rowcount

    def merge_batch(self, rows: list[dict[str, Any]]) -> int:
        """Merge rows in one transaction; returns how many changed something."""
        with self.connect() as conn:
            return self.merge_on(conn, rows)

    def merge_on(
        self,
        conn: sqlite3.Connection,
        rows: list[dict[str, Any]],
        check: Callable[[dict[str, Any]], None] | None = None,
    ) -> int:
        """Merge rows in one transaction on ``conn``; ``check(info)`` (``get_info``'s dict,
        read in that transaction) first, which may raise to merge nothing. Returns how many
        rows changed something."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            if check is not None:
                check(self.info_on(conn))
            changed = sum(self.merge_row(conn, row) for row in rows)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return changed

    def merge_rows(self, rows: list[dict[str, Any]], remote_id: str, point: int) -> int:
        """Merge rows sent by database ``remote_id`` in one transaction and remember
        ``point``; returns how many changed something."""
        with self.connect() as conn:
            self._sync_table(conn)
            conn.execute("BEGIN IMMEDIATE")
            changed = sum(self.merge_row(conn, row) for row in rows)
            conn.execute(
                "INSERT OR REPLACE INTO incoming_sync (remote_id, sync_point) VALUES (?, ?)",
                (remote_id, point),
            )
            conn.execute("COMMIT")
        return changed


class Broker(ReplicationMixin):
    """What container and account databases share: creation, connections, timestamps,
    metadata and listings (Swift's DatabaseBroker)."""

    SCHEMA = ""
    TABLE = ""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def exists(self) -> bool:
        """The database file exists."""
        return self.path.exists()

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode; ``with conn:`` groups statements."""
        conn = self.open_connection()
        try:
            yield conn
        finally:
            conn.close()

    def open_connection(self, check_same_thread: bool = True) -> sqlite3.Connection:
        """A new connection in autocommit mode (the caller closes it)."""
        conn = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=check_same_thread
        )
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _create(self, tmp_dir: Path, info: dict[str, Any]) -> None:
        """Build the database in ``tmp_dir`` and rename it into place.

        Raises:
            DatabaseAlreadyExists: it appeared meanwhile (the caller then updates it).
        """
        tmp = tmp_dir / f"{uuid.uuid4().hex}.db"
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript("BEGIN;" + self.SCHEMA + "COMMIT;")
            cols = ", ".join(info)
            marks = ", ".join("?" for _ in info)
            conn.execute(f"INSERT INTO info ({cols}) VALUES ({marks})", list(info.values()))
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(tmp, self.path)  # fails if it exists: never replace a live database
        except FileExistsError:
            raise DatabaseAlreadyExists(str(self.path)) from None
        finally:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{tmp}{suffix}")

    def get_info(self) -> dict[str, Any]:
        """The info row (timestamps, counts, metadata as a dict)."""
        with self.connect() as conn:
            return self.info_on(conn)

    def info_on(self, conn: sqlite3.Connection) -> dict[str, Any]:
        """``get_info`` on an open connection (in the caller's transaction, if any)."""
        cur = conn.cursor()
        cur.row_factory = sqlite3.Row
        row = dict(cur.execute("SELECT * FROM info").fetchone())
        row.update(self._stats(conn))
        row["metadata"] = json.loads(row["metadata"])
        return row

    def _stats(self, conn: sqlite3.Connection) -> dict[str, Any]:
        return {}

    def is_deleted(self, info: dict[str, Any] | None = None) -> bool:
        """Deleted: the delete timestamp is newer than the put and nothing is left in it
        (Swift's rule); a missing database counts as deleted."""
        if not self.exists():
            return True
        info = info or self.get_info()
        return (
            Timestamp(info["delete_timestamp"]) > Timestamp(info["put_timestamp"])
            and info["object_count"] == 0
        )

    def update_put_timestamp(self, timestamp: Timestamp) -> None:
        """Record a PUT of the account/container itself when it is newer."""
        with self.connect() as conn:
            conn.execute(
                "UPDATE info SET put_timestamp = ?, status_changed_at = ? WHERE put_timestamp < ?",
                (timestamp.internal, timestamp.internal, timestamp.internal),
            )

    def mark_deleted(self, timestamp: Timestamp) -> None:
        """Record a DELETE of the account/container itself when it is newer."""
        with self.connect() as conn:
            conn.execute(
                "UPDATE info SET delete_timestamp = ?, status_changed_at = ? "
                "WHERE delete_timestamp < ?",
                (timestamp.internal, timestamp.internal, timestamp.internal),
            )

    def update_metadata(self, updates: dict[str, tuple[str, str]]) -> None:
        """Merge ``{header: (value, timestamp)}``: per key the newer timestamp wins; an
        empty value is kept as a deletion marker (hidden by :func:`live_metadata`)."""
        if not updates:
            return
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            current = json.loads(conn.execute("SELECT metadata FROM info").fetchone()[0])
            for key, (value, ts) in updates.items():
                if key not in current or Timestamp(current[key][1]) < Timestamp(ts):
                    current[key] = [value, ts]
            conn.execute("UPDATE info SET metadata = ?", (json.dumps(current),))
            conn.execute("COMMIT")

    def list_rows(
        self,
        columns: str,
        limit: int,
        marker: str = "",
        end_marker: str = "",
        prefix: str = "",
        delimiter: str = "",
        reverse: bool = False,
    ) -> list[tuple]:
        """Live rows (``columns``, name first) in name order, or a ``(subdir,)`` 1-tuple per
        common prefix when ``delimiter`` is given (Swift's list_objects_iter): one range
        query per run of names, re-queried past each subdirectory."""
        results: list[tuple] = []
        orig_marker = marker
        gte = False
        with self.connect() as conn:
            while len(results) < limit:
                want = limit - len(results)
                sql, args = self._listing_sql(
                    columns, want, marker, end_marker, prefix, reverse, gte
                )
                rows = conn.execute(sql, args).fetchall()
                if not rows:
                    break
                gte = False
                restart = False
                for row in rows:
                    name = row[0]
                    marker = name
                    end = name.find(delimiter, len(prefix)) if delimiter else -1
                    if end >= 0:
                        dir_name = name[: end + len(delimiter)]
                        if reverse:
                            marker = dir_name
                        else:
                            marker = name[:end] + chr(ord(delimiter[-1]) + 1)
                            gte = True
                        if dir_name != orig_marker:
                            results.append((dir_name,))
                        restart = True
                        break
                    results.append(tuple(row))
                    if len(results) >= limit:
                        break
                if not restart and len(rows) < want:
                    break
        return results

    def _listing_sql(
        self,
        columns: str,
        limit: int,
        marker: str,
        end_marker: str,
        prefix: str,
        reverse: bool,
        gte: bool,
    ) -> tuple[str, list[Any]]:
        where = ["deleted = 0"]
        args: list[Any] = []
        low, high = (end_marker, marker) if reverse else (marker, end_marker)
        if low:
            where.append("name >= ?" if gte and not reverse else "name > ?")
            args.append(low)
        if high:
            where.append("name < ?")
            args.append(high)
        if prefix:
            where.append("name >= ?")
            args.append(prefix)
            where.append("name < ?")
            args.append(prefix[:-1] + chr(ord(prefix[-1]) + 1))
        order = "DESC" if reverse else "ASC"
        sql = (
            f"SELECT {columns} FROM {self.TABLE} WHERE {' AND '.join(where)} "
            f"ORDER BY name {order} LIMIT ?"
        )
        return sql, [*args, limit]


class RowBatcher:
    """Group commit of row updates: concurrent updates of one database are merged in one
    transaction by whichever caller holds its lock, instead of each waiting in SQLite's
    busy-retry sleeps (Swift batches them through a ``.pending`` file for the same reason).
    Each caller returns once a transaction holding its row has committed, or raises what
    made that transaction fail.

    The connections of the ``KEEP_OPEN`` databases updated last stay open between batches
    until :meth:`close` (the updater's next pass): opening a database and closing its last
    connection (which checkpoints the WAL into the database file) cost more than the update
    itself. A kept connection is used again
    only while the path still names the file it opened (same inode), so a database moved
    away (the auditor's quarantine and the replicator move or remove its whole hash
    directory, WAL included) is never written through it.
    """

    STRIPES = 256
    KEEP_OPEN = 64

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks = [threading.Lock() for _ in range(self.STRIPES)]
        self._queues: dict[str, list[_Pending]] = {}
        self._open: OrderedDict[str, tuple[sqlite3.Connection, int]] = OrderedDict()

    def merge(
        self,
        broker: Broker,
        row: dict[str, Any],
        check: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """Merge ``row`` (a ``merge_row`` dict) into ``broker``'s database. ``check(info)``
        runs in the transaction before the rows merge and may raise to refuse the whole
        batch (every caller of one database must pass the same check).

        Raises:
            FileNotFoundError: the database does not exist.
            sqlite3.Error, or what ``check`` raised.
        """
        key = str(broker.path)
        pending = _Pending(row)
        with self._guard:
            self._queues.setdefault(key, []).append(pending)
        with self._locks[hash(key) % self.STRIPES]:
            with self._guard:
                batch = self._queues.pop(key, [])
            if batch:
                try:
                    self._commit(broker, key, [p.row for p in batch], check)
                except BaseException as exc:
                    for p in batch:
                        p.error = exc
        if pending.error is not None:
            raise pending.error

    def _commit(
        self,
        broker: Broker,
        key: str,
        rows: list[dict[str, Any]],
        check: Callable[[dict[str, Any]], None] | None,
    ) -> None:
        inode = os.stat(key).st_ino
        with self._guard:
            kept = self._open.pop(key, None)
        if kept is not None and kept[1] != inode:
            kept[0].close()
            kept = None
        conn = kept[0] if kept is not None else broker.open_connection(check_same_thread=False)
        try:
            broker.merge_on(conn, rows, check)
        except sqlite3.Error:
            conn.close()
            raise
        except BaseException:
            self._keep(key, conn, inode)
            raise
        self._keep(key, conn, inode)

    def _keep(self, key: str, conn: sqlite3.Connection, inode: int) -> None:
        with self._guard:
            self._open[key] = (conn, inode)
            oldest = self._open.popitem(last=False) if len(self._open) > self.KEEP_OPEN else None
        if oldest is not None:
            oldest[1][0].close()

    def close(self) -> None:
        """Close the connections kept open (not those in use). The last connection of a
        database to close checkpoints its WAL into the database file: the node's updater
        calls this at every pass, so rows live only in a WAL for one pass at most and the
        auditor's ``quick_check`` reads them from the file itself."""
        with self._guard:
            kept, self._open = list(self._open.values()), OrderedDict()
        for conn, _inode in kept:
            conn.close()


class _Pending:
    """One caller's row in a :class:`RowBatcher` queue, and the error of its batch."""

    __slots__ = ("error", "row")

    def __init__(self, row: dict[str, Any]):
        self.row = row
        self.error: BaseException | None = None


def live_metadata(stored: dict[str, list[str]]) -> dict[str, str]:
    """``{header: value}`` of stored metadata, without deleted (empty) keys."""
    return {k: v[0] for k, v in stored.items() if v[0] != ""}


class ContainerBroker(Broker):
    """One container's database (Swift's ContainerBroker)."""

    SCHEMA = _CONTAINER_SCHEMA
    TABLE = "object"
    COLUMNS = (
        "name",
        "created_at",
        "size",
        "content_type",
        "etag",
        "deleted",
        "storage_policy_index",
    )

    def initialize(
        self, tmp_dir: Path, account: str, container: str, put_timestamp: Timestamp
    ) -> bool:
        """Create the database; False when it existed already (nothing changed)."""
        now = Timestamp.now().internal
        info = {
            "account": account,
            "container": container,
            "id": str(uuid.uuid4()),
            "created_at": now,
            "put_timestamp": put_timestamp.internal,
            "status_changed_at": put_timestamp.internal,
        }
        try:
            self._create(tmp_dir, info)
        except DatabaseAlreadyExists:
            return False
        return True

    def _stats(self, conn: sqlite3.Connection) -> dict[str, Any]:
        row = conn.execute(
            "SELECT COALESCE(SUM(object_count), 0), COALESCE(SUM(bytes_used), 0) FROM policy_stat"
        ).fetchone()
        return {"object_count": row[0], "bytes_used": row[1]}

    def put_object(
        self,
        name: str,
        timestamp: Timestamp,
        size: int,
        content_type: str,
        etag: str,
        deleted: bool = False,
        policy_index: int = 0,
    ) -> bool:
        """Merge an object row: replaces the name's row when ``timestamp`` is newer.
        Returns whether it changed anything."""
        row = {
            "name": name,
            "created_at": timestamp.internal,
            "size": 0 if deleted else size,
            "content_type": content_type,
            "etag": etag,
            "deleted": int(deleted),
            "storage_policy_index": policy_index,
        }
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            changed = self.merge_row(conn, row)
            conn.execute("COMMIT")
        return changed

    def merge_row(self, conn: sqlite3.Connection, row: dict[str, Any]) -> bool:
        """Merge one object row (a dict of the table's columns) inside the caller's
        transaction: replaces the name's row when its ``created_at`` is newer."""
        old = conn.execute(
            "SELECT created_at FROM object WHERE name = ?", (row["name"],)
        ).fetchone()
        if old is not None and Timestamp(old[0]) >= Timestamp(row["created_at"]):
            return False
        conn.execute("DELETE FROM object WHERE name = ?", (row["name"],))
        conn.execute(
            "INSERT INTO object (name, created_at, size, content_type, etag, deleted, "
            "storage_policy_index) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                row["name"],
                row["created_at"],
                row["size"],
                row["content_type"],
                row["etag"],
                row["deleted"],
                row.get("storage_policy_index", 0),
            ),
        )
        return True

    def delete_object(self, name: str, timestamp: Timestamp) -> bool:
        """Merge a tombstone row for ``name``."""
        return self.put_object(name, timestamp, 0, "", "", deleted=True)

    def list_objects(self, limit: int, **query: Any) -> list[dict[str, Any]]:
        """Swift's JSON container listing: ``{"name", "hash", "bytes", "content_type",
        "last_modified"}`` or ``{"subdir"}`` (see :meth:`Broker.list_rows`)."""
        rows = self.list_rows("name, created_at, size, content_type, etag", limit, **query)
        out: list[dict[str, Any]] = []
        for row in rows:
            if len(row) == 1:
                out.append({"subdir": row[0]})
                continue
            name, created_at, size, content_type, etag = row
            out.append(
                {
                    "name": name,
                    "hash": etag,
                    "bytes": size,
                    "content_type": content_type,
                    "last_modified": Timestamp(created_at).isoformat,
                }
            )
        return out

    def set_reported(self, put_ts: str, delete_ts: str, count: int, used: int) -> None:
        """Remember what was last sent to the account (the updater sends only changes)."""
        with self.connect() as conn:
            conn.execute(
                "UPDATE info SET reported_put_timestamp = ?, reported_delete_timestamp = ?, "
                "reported_object_count = ?, reported_bytes_used = ?",
                (put_ts, delete_ts, count, used),
            )


class AccountBroker(Broker):
    """One account's database (Swift's AccountBroker)."""

    SCHEMA = _ACCOUNT_SCHEMA
    TABLE = "container"
    COLUMNS = ("name", "put_timestamp", "delete_timestamp", "object_count", "bytes_used")

    def initialize(self, tmp_dir: Path, account: str, put_timestamp: Timestamp) -> bool:
        """Create the database; False when it existed already."""
        info = {
            "account": account,
            "id": str(uuid.uuid4()),
            "created_at": Timestamp.now().internal,
            "put_timestamp": put_timestamp.internal,
            "status_changed_at": put_timestamp.internal,
        }
        try:
            self._create(tmp_dir, info)
        except DatabaseAlreadyExists:
            return False
        return True

    def is_deleted(self, info: dict[str, Any] | None = None) -> bool:
        """Deleted when the delete timestamp is newer than the put (accounts are emptied
        by a reaper, not refused a delete)."""
        if not self.exists():
            return True
        info = info or self.get_info()
        return Timestamp(info["delete_timestamp"]) > Timestamp(info["put_timestamp"])

    def put_container(
        self, name: str, put_ts: str, delete_ts: str, object_count: int, bytes_used: int
    ) -> None:
        """Merge a container's row: timestamps take the newer of each, counts come from the
        update (the container is their authority); deleted when the delete is newer."""
        row = {
            "name": name,
            "put_timestamp": put_ts,
            "delete_timestamp": delete_ts,
            "object_count": object_count,
            "bytes_used": bytes_used,
        }
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            self.merge_row(conn, row)
            conn.execute("COMMIT")

    def merge_row(self, conn: sqlite3.Connection, row: dict[str, Any]) -> bool:
        """Merge one container row inside the caller's transaction (see
        :meth:`put_container`); an update that changes nothing leaves the row (and its
        ROWID, which replication syncs by) alone."""
        name, put_ts, delete_ts = row["name"], row["put_timestamp"], row["delete_timestamp"]
        count, used = int(row["object_count"]), int(row["bytes_used"])
        old = conn.execute(
            "SELECT put_timestamp, delete_timestamp, object_count, bytes_used "
            "FROM container WHERE name = ?",
            (name,),
        ).fetchone()
        if old is not None:
            put_ts = max(put_ts, old[0], key=Timestamp)
            delete_ts = max(delete_ts, old[1], key=Timestamp)
        deleted = Timestamp(delete_ts) > Timestamp(put_ts)
        if deleted:
            count = used = 0
        if old is not None and (put_ts, delete_ts, count, used) == tuple(old):
            return False
        conn.execute("DELETE FROM container WHERE name = ?", (name,))
        conn.execute(
            "INSERT INTO container (name, put_timestamp, delete_timestamp, object_count, "
            "bytes_used, deleted) VALUES (?, ?, ?, ?, ?, ?)",
            (name, put_ts, delete_ts, count, used, int(deleted)),
        )
        return True

    def list_containers(self, limit: int, **query: Any) -> list[dict[str, Any]]:
        """Swift's JSON account listing: ``{"name", "count", "bytes", "last_modified"}`` or
        ``{"subdir"}``."""
        rows = self.list_rows("name, object_count, bytes_used, put_timestamp", limit, **query)
        out: list[dict[str, Any]] = []
        for row in rows:
            if len(row) == 1:
                out.append({"subdir": row[0]})
                continue
            name, count, used, put_ts = row
            out.append(
                {
                    "name": name,
                    "count": count,
                    "bytes": used,
                    "last_modified": Timestamp(put_ts).isoformat,
                }
            )
        return out
