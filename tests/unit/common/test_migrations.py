"""The Alembic migrations build exactly the schema the models declare, on SQLite and
PostgreSQL (a model change without a migration fails here)."""

from __future__ import annotations

import subprocess
import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pocketstack.common.db import Base, Database, import_all_models
from tests.helpers import PG_ADMIN_URL as PG
from tests.helpers import backend_unavailable


def _diff(db: Database) -> list:
    import_all_models()
    with db.engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), Base.metadata)


def test_sqlite_upgrade_matches_models(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/m.db")
    db.upgrade()
    db.upgrade()  # idempotent
    assert _diff(db) == []
    db.dispose()


def test_postgresql_upgrade_matches_models():
    name = f"pstest_mig_{uuid.uuid4().hex[:8]}"
    created = subprocess.run(
        ["psql", f"{PG}/postgres", "-c", f"CREATE DATABASE {name}"], capture_output=True, text=True
    )
    if created.returncode != 0:
        backend_unavailable("PostgreSQL", created.stderr.strip())
    try:
        db = Database(f"{PG}/{name}")
        db.upgrade()
        assert _diff(db) == []
        db.dispose()
    finally:
        subprocess.run(
            ["psql", f"{PG}/postgres", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
            capture_output=True,
        )


def test_the_revisions_form_one_line_with_one_head():
    from alembic.script import ScriptDirectory

    from pocketstack.common.db import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, script.get_heads()
    revisions = list(script.walk_revisions())  # newest first, each naming its one parent
    assert all(r.down_revision is None or isinstance(r.down_revision, str) for r in revisions)
    numbers = [r.revision for r in reversed(revisions)]
    assert numbers == sorted(numbers), "a revision's number is below its parent's"
