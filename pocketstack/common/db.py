"""Database access: SQLAlchemy 2 ORM, Alembic migrations, one ``Database`` per process.

Every service declares its tables in ``<service>/models.py`` on ``Base``. Managers open a unit
of work with ``db.transaction()`` (writes) or ``db.reader()`` (reads only)::

    with db.transaction() as s:
        s.add(Server(...))

The same code runs on SQLite (embedded default), PostgreSQL and MySQL. On SQLite, write
transactions start with ``BEGIN IMMEDIATE`` so concurrent writers queue on the busy timeout
instead of failing on a lock upgrade, and the file runs in WAL mode so readers never block.

Atomic resource claims use conditional ``UPDATE ... WHERE used + n <= limit`` statements, which
are atomic on every backend (PostgreSQL re-checks the condition on the locked row).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

#: Modules whose import registers tables on ``Base`` (Alembic and ``create_all`` need them all).
MODEL_MODULES = (
    "pocketstack.identity.models",
    "pocketstack.identity.ext_models",
    "pocketstack.identity.oauth1_models",
    "pocketstack.image.models",
    "pocketstack.image.task_models",
    "pocketstack.image.metadef_models",
    "pocketstack.network.models",
    "pocketstack.compute.models",
    "pocketstack.volume.models",
    "pocketstack.placement.models",
)


def utcnow() -> dt.datetime:
    """Naive UTC now (the form every table stores)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def new_id() -> str:
    """A new resource id: a UUID4 in its 36-character hyphenated form."""
    return str(uuid.uuid4())


def isotime(value: dt.datetime | None) -> str | None:
    """Render a stored timestamp the way OpenStack APIs do: ``2026-11-21T05:19:00Z``."""
    if value is None:
        return None
    return value.replace(microsecond=0).isoformat() + "Z"


def json_contains(session: Session, column: Any, value: str) -> Any:
    """SQL condition: the JSON list in ``column`` holds the string ``value``.

    ``json_each`` on SQLite, ``json_array_elements_text`` on PostgreSQL (the columns are
    ``JSON``, not ``JSONB``, so ``@>`` does not apply), ``JSON_CONTAINS`` on MySQL.
    """
    if "\x00" in value:  # no row holds NUL (PostgreSQL refuses it in a query)
        return sa.false()
    name = session.get_bind().dialect.name
    if name == "mysql":
        return sa.func.json_contains(column, sa.func.json_array(value)) == 1
    function = sa.func.json_array_elements_text if name == "postgresql" else sa.func.json_each
    elements = function(column).table_valued("value").alias()
    return sa.exists(sa.select(1).select_from(elements).where(elements.c.value == value))


def json_has_item(session: Session, column: Any, key: str, value: str) -> Any:
    """SQL condition: the JSON object in ``column`` maps ``key`` to the string ``value``.

    SQLite: ``EXISTS`` over ``json_each`` (string members only); PostgreSQL: ``@>`` on the
    column cast to ``JSONB``; MySQL: ``JSON_CONTAINS``.
    """
    if "\x00" in key or "\x00" in value:  # as json_contains
        return sa.false()
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return sa.cast(column, JSONB).op("@>")(sa.func.jsonb_build_object(key, value))
    if name == "mysql":
        return sa.func.json_contains(column, sa.func.json_object(key, value)) == 1
    each = sa.func.json_each(column).table_valued("key", "value", "type")
    return (
        sa.exists()
        .select_from(each)
        .where(each.c.key == key, each.c.value == value, each.c.type == "text")
    )


def normalize_url(url: str) -> str:
    """Pick the installed driver for a plain ``postgresql://`` or ``mysql://`` URL.

    SQLAlchemy 2.1 maps ``postgresql://`` to psycopg 3; pocketstack ships psycopg2 (binary
    wheels), so the URL names it explicitly. URLs that name a driver are left alone.
    """
    if url.startswith("postgresql://"):
        return "postgresql+psycopg2://" + url[len("postgresql://") :]
    if url.startswith("mysql://"):
        return "mysql+pymysql://" + url[len("mysql://") :]
    return url


#: Files SQLite keeps beside a database file while it is open.
SQLITE_SIBLINGS = ("-wal", "-shm", "-journal")


def private_sqlite_file(path: Path) -> None:
    """Make the SQLite file ``path`` readable by its owner only, whatever the umask.

    The database holds password hashes and user data. A new file is created empty with mode
    0600 (its directory, when missing, 0700) before SQLite opens it; SQLite then gives the
    ``-wal``, ``-shm`` and ``-journal`` files it makes the database file's mode. An existing
    file, and those siblings when present, lose their group and other bits.
    """
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    for name in ("", *SQLITE_SIBLINGS):
        sibling = path.with_name(path.name + name)
        try:
            mode = stat.S_IMODE(sibling.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            sibling.chmod(mode & ~0o077)


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map = {dict: sa.JSON, list: sa.JSON}


class TimestampMixin:
    """``created_at``/``updated_at`` columns kept by the ORM."""

    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(
        sa.DateTime, default=utcnow, onupdate=utcnow
    )


def import_all_models() -> None:
    """Import every service's models so ``Base.metadata`` holds all tables."""
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real import error inside the module
                raise


class Database:
    """Engines and sessions for one database URL.

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:////var/lib/pocketstack/pocketstack.db`` or
            ``postgresql://postgres@127.0.0.1/pocketstack``.
    """

    def __init__(self, url: str):
        url = normalize_url(url)
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split("///", 1)[1] if "///" in url else ""
            if path and path != ":memory:":
                private_sqlite_file(Path(path.split("?", 1)[0]))
            self._write_engine = self._sqlite_engine(url, immediate=True)
            self._read_engine = self._sqlite_engine(url, immediate=False)
        else:
            self._write_engine = sa.create_engine(
                url, pool_size=10, max_overflow=40, pool_pre_ping=True
            )
            self._read_engine = self._write_engine
        self._writer = sessionmaker(self._write_engine, expire_on_commit=False)
        self._reader = sessionmaker(self._read_engine, expire_on_commit=False)

    @staticmethod
    def _sqlite_engine(url: str, immediate: bool) -> sa.Engine:
        engine = sa.create_engine(
            url,
            connect_args={"timeout": 60, "check_same_thread": False},
            pool_size=20,
            max_overflow=40,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    @property
    def engine(self) -> sa.Engine:
        """The engine writes go through (what migrations and tests use)."""
        return self._write_engine

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write unit of work: commits on success, rolls back on any exception."""
        session = self._writer()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextlib.contextmanager
    def reader(self) -> Iterator[Session]:
        """A read-only unit of work (never blocks writers on SQLite).

        Objects loaded here stay readable after the block (detached with their loaded
        attributes): they are expunged before the rollback, which would otherwise expire them.
        """
        session = self._reader()
        try:
            yield session
        finally:
            session.expunge_all()
            session.rollback()
            session.close()

    def upgrade(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent)."""
        from alembic import command

        command.upgrade(alembic_config(self.url), "head")

    def dispose(self) -> None:
        """Close pooled connections (before exit or fork)."""
        self._write_engine.dispose()
        if self._read_engine is not self._write_engine:
            self._read_engine.dispose()


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    """An Alembic ``Config`` pointing at ``pocketstack/migrations`` for ``url``."""
    from alembic.config import Config as AlembicConfig

    here = os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations")
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", here)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg
