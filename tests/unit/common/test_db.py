"""The SQLite file of pocketstack.common.db is its owner's only, whatever the umask."""

from __future__ import annotations

import os
import stat

import sqlalchemy as sa

from pocketstack.common.db import Database, private_sqlite_file


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_database_and_its_wal_and_shm_are_0600_under_umask_022(tmp_path):
    path = tmp_path / "new" / "pocketstack.db"
    previous = os.umask(0o022)
    try:
        db = Database(f"sqlite:///{path}")
        with db.transaction() as s:
            s.execute(sa.text("CREATE TABLE t (x INTEGER)"))
            s.execute(sa.text("INSERT INTO t VALUES (1)"))
        try:
            assert (tmp_path / "new" / "pocketstack.db-wal").exists()  # WAL mode, still open
            for name in ("pocketstack.db", "pocketstack.db-wal", "pocketstack.db-shm"):
                assert _mode(tmp_path / "new" / name) == 0o600, name
            assert _mode(tmp_path / "new") == 0o700
        finally:
            db.dispose()
    finally:
        os.umask(previous)


def test_an_existing_database_and_siblings_are_narrowed(tmp_path):
    path = tmp_path / "pocketstack.db"
    for name, mode in (("pocketstack.db", 0o644), ("pocketstack.db-journal", 0o666)):
        (tmp_path / name).write_bytes(b"")
        os.chmod(tmp_path / name, mode)
    private_sqlite_file(path)
    assert _mode(path) == 0o600
    assert _mode(tmp_path / "pocketstack.db-journal") == 0o600
    assert not (tmp_path / "pocketstack.db-wal").exists()  # absent siblings stay absent
