"""Callers of the image tests: two projects, a reader and an admin; a PostgreSQL database."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from pocketstack.common.auth import RequestContext
from pocketstack.common.db import Base, Database, import_all_models, normalize_url
from tests.helpers import PG_ADMIN_URL, backend_unavailable

ROLES = {
    "admin": ("admin", "member", "reader"),
    "member": ("member", "reader"),
    "reader": ("reader",),
}


def make_ctx(project: str, role: str = "member") -> RequestContext:
    return RequestContext(user_id=f"user-{project}-{role}", project_id=project, roles=ROLES[role])


@pytest.fixture
def demo():
    return make_ctx("p-demo")


@pytest.fixture
def alt():
    return make_ctx("p-alt")


@pytest.fixture
def admin():
    return make_ctx("p-admin", "admin")


@pytest.fixture
def images(cloud):
    """The image record manager (``cloud.image.images``)."""
    return cloud.image.images


@pytest.fixture
def pg_db():
    """A PostgreSQL database created for this test (tables by ``create_all``), then dropped.

    When the local PostgreSQL server (trust auth, user postgres) is unreachable: fails in
    CI, skips elsewhere.
    """
    name = f"image_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(
        normalize_url(PG_ADMIN_URL + "/postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as c:
            c.exec_driver_sql(f"CREATE DATABASE {name}")
    except Exception as exc:  # noqa: BLE001 - any connection failure means "no server here"
        admin.dispose()
        backend_unavailable(f"PostgreSQL at {PG_ADMIN_URL}", exc.__class__.__name__)
    import_all_models()
    database = Database(f"{PG_ADMIN_URL}/{name}")
    try:
        Base.metadata.create_all(database.engine)
        yield database
    finally:
        database.dispose()
        with admin.connect() as c:
            c.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request):
    """The test's SQLite database, then a PostgreSQL one: SQL that differs per dialect
    (JSON filters, row locks) runs on both."""
    if request.param == "sqlite":
        return request.getfixturevalue("db")
    return request.getfixturevalue("pg_db")
