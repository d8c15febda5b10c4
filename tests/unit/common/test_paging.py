"""Keyset paging in SQL (``common.paging``): walking a list page by page gives exactly the
rows of one sorted read, in the same order, on SQLite and PostgreSQL, NULLs included."""

from __future__ import annotations

import contextlib
import itertools

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pocketstack.common import errors
from pocketstack.common.db import Database
from pocketstack.common.paging import SortSpec, paginate
from tests.helpers import pg_database


class _Base(DeclarativeBase):
    pass


class Thing(_Base):
    __tablename__ = "paging_things"
    id: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    name: Mapped[str | None] = mapped_column(sa.String(8), nullable=True)
    size: Mapped[int] = mapped_column(sa.Integer)


SPEC = SortSpec(
    columns={"name": Thing.name, "size": Thing.size, "id": Thing.id},
    default=[("size", "desc")],
    tie_breaker=Thing.id,
)
ROWS = [
    ("a1", "x", 3),
    ("a2", None, 3),
    ("a3", "y", 1),
    ("a4", "x", 1),
    ("a5", None, 2),
    ("a6", "z", 3),
    ("a7", "x", 2),
]


def _sort_key(key: str, direction: str, row: tuple[str, str | None, int]):
    value = {"name": row[1], "size": row[2], "id": row[0]}[key]
    # NULL first ascending (and so last descending)
    return (value is not None, value if value is not None else 0)


def _expected(keys: list[str], dirs: list[str]) -> list[str]:
    rows = list(ROWS)
    order = list(zip(keys, dirs, strict=True)) + [("id", dirs[-1])]
    for key, direction in reversed(order):
        rows.sort(key=lambda r, k=key, d=direction: _sort_key(k, d, r), reverse=direction == "desc")
    return [r[0] for r in rows]


def _walk(db: Database, keys: list[str], dirs: list[str], limit: int) -> list[str]:
    seen: list[str] = []
    marker = None
    order = SPEC.order(keys, dirs)
    while True:
        with db.reader() as s:
            query = paginate(
                s,
                sa.select(Thing),
                order,
                limit=limit,
                marker=marker,
                marker_row=lambda s, m: s.get(Thing, m),
            )
            page = [t.id for t in s.scalars(query)]
        seen += page
        if len(page) < limit:
            return seen
        marker = page[-1]


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            database = Database(f"sqlite:///{tmp_path}/paging.db")
            stack.callback(database.dispose)
            _Base.metadata.create_all(database.engine)
        else:
            database = stack.enter_context(pg_database("paging_test", _Base.metadata))
        with database.transaction() as s:
            s.add_all(Thing(id=i, name=n, size=z) for i, n, z in ROWS)
        yield database


@pytest.mark.parametrize(
    ("keys", "dirs"),
    [
        (k, list(d))
        for k in (["name"], ["size"], ["name", "size"], ["size", "name"])
        for d in itertools.product(("asc", "desc"), repeat=len(k))
    ],
)
@pytest.mark.parametrize("limit", [1, 2, 3, 100])
def test_pages_concatenate_to_one_sorted_read(db, keys, dirs, limit):
    assert _walk(db, keys, dirs, limit) == _expected(keys, dirs)


def test_default_order_and_missing_direction_takes_the_last_given(db):
    assert _walk(db, [], [], 2) == _expected(["size"], ["desc"])
    assert SPEC.order(["name", "size"], ["asc"]) == [
        (Thing.name, "asc"),
        (Thing.size, "asc"),
        (Thing.id, "asc"),
    ]


def test_unknown_sort_key_or_direction_is_400():
    with pytest.raises(errors.BadRequest, match="Invalid sort key or direction: color asc"):
        SPEC.order(["color"], ["asc"])
    with pytest.raises(errors.BadRequest, match="name sideways"):
        SPEC.order(["name"], ["sideways"])


def test_unknown_marker_raises_the_services_error(db):
    class MarkerNotFound(errors.NotFound):
        pass

    with db.reader() as s, pytest.raises(MarkerNotFound):
        paginate(
            s,
            sa.select(Thing),
            SPEC.order(None, None),
            limit=2,
            marker="nope",
            marker_row=lambda s, m: s.get(Thing, m),
            marker_missing=lambda m: MarkerNotFound(f"marker {m}"),
        )


class Flag(_Base):
    __tablename__ = "paging_flags"
    id: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    on: Mapped[bool] = mapped_column(sa.Boolean)


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_a_boolean_sort_key_pages_past_its_marker(db, direction):
    """Regression: a marker row's Python ``True`` met ``column > True``, which SQLAlchemy
    refuses (the Networking API sorts by ``admin_state_up``)."""
    with db.transaction() as s:
        s.add_all(Flag(id=f"f{i}", on=i % 2 == 0) for i in range(5))
    spec = SortSpec(columns={"on": Flag.on}, default=[("on", direction)], tie_breaker=Flag.id)
    seen: list[str] = []
    marker = None
    while True:
        with db.reader() as s:
            query = paginate(
                s,
                sa.select(Flag),
                spec.order(None, None),
                limit=2,
                marker=marker,
                marker_row=lambda s, m: s.get(Flag, m),
            )
            page = [f.id for f in s.scalars(query)]
        seen += page
        if len(page) < 2:
            break
        marker = page[-1]
    falses, trues = ["f1", "f3"], ["f0", "f2", "f4"]
    expected = falses + trues if direction == "asc" else trues[::-1] + falses[::-1]
    assert seen == expected
