"""Callers of the image tests: two projects, a reader and an admin; a PostgreSQL database."""

from __future__ import annotations

import pytest

from pocketstack.common.auth import RequestContext
from tests.helpers import pg_database

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
    """A PostgreSQL database created for this test (tables by ``create_all``), then dropped
    (``tests.helpers.pg_database``: fails in CI, skips elsewhere when the server is down)."""
    with pg_database("image_test") as database:
        yield database


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request):
    """The test's SQLite database, then a PostgreSQL one: SQL that differs per dialect
    (JSON filters, row locks) runs on both."""
    if request.param == "sqlite":
        return request.getfixturevalue("db")
    return request.getfixturevalue("pg_db")
