"""Container and account databases: rows merge by timestamp, counts follow, and listings
done in SQL agree with a plain-Python reading of Swift's rules for every mix of prefix,
delimiter, marker, end_marker, limit and reverse."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pocketstack.objectstore.db import AccountBroker, ContainerBroker, RowBatcher
from pocketstack.objectstore.utils import Timestamp


def new_container(root: Path) -> ContainerBroker:
    broker = ContainerBroker(root / "c.db")
    assert broker.initialize(root, "AUTH_a", "c", Timestamp(1))
    return broker


def oracle(names, prefix, delimiter, marker, end_marker, limit, reverse):
    """Swift's listing rules over a sorted list."""
    out: list[str] = []
    for name in sorted(names, reverse=reverse):
        if not name.startswith(prefix):
            continue
        if marker and (name >= marker if reverse else name <= marker):
            continue
        if end_marker and (name <= end_marker if reverse else name >= end_marker):
            continue
        entry = name
        if delimiter:
            cut = name.find(delimiter, len(prefix))
            if cut >= 0:
                entry = name[: cut + 1]
                if entry == marker or (out and out[-1] == entry):
                    continue
        out.append(entry)
        if len(out) == limit:
            break
    return out


def listed(broker: ContainerBroker, **query) -> list[str]:
    limit = query.pop("limit")
    return [r.get("name", r.get("subdir")) for r in broker.list_objects(limit, **query)]


text = st.text(alphabet="ab/-", max_size=4)


@settings(max_examples=60, deadline=None)
@given(
    names=st.sets(st.text(alphabet="ab/-", min_size=1, max_size=4), max_size=10),
    prefix=text,
    delimiter=st.sampled_from(["", "/", "-"]),
    marker=text,
    end_marker=text,
    limit=st.integers(min_value=1, max_value=6),
    reverse=st.booleans(),
)
def test_listings_agree_with_swifts_rules(
    names, prefix, delimiter, marker, end_marker, limit, reverse
):
    with tempfile.TemporaryDirectory() as tmp:
        broker = new_container(Path(tmp))
        for i, name in enumerate(sorted(names)):
            broker.put_object(name, Timestamp(10 + i), 1, "t/t", "e")
        query = dict(
            prefix=prefix,
            delimiter=delimiter,
            marker=marker,
            end_marker=end_marker,
            limit=limit,
            reverse=reverse,
        )
        assert listed(broker, **dict(query)) == oracle(names, **query)


def test_rows_merge_newest_first_and_the_counts_follow(tmp_path):
    broker = new_container(tmp_path)
    assert broker.put_object("o", Timestamp(20), 100, "a/b", "e1")
    assert not broker.put_object("o", Timestamp(10), 5, "a/b", "e0")  # older: ignored
    assert broker.put_object("p", Timestamp(21), 7, "a/b", "e2")
    info = broker.get_info()
    assert (info["object_count"], info["bytes_used"]) == (2, 107)
    assert not broker.delete_object("o", Timestamp(15))  # older than the PUT
    assert broker.delete_object("o", Timestamp(30))
    assert not broker.put_object("o", Timestamp(25), 1, "a/b", "late")  # the tombstone wins
    info = broker.get_info()
    assert (info["object_count"], info["bytes_used"]) == (1, 7)
    assert [r["name"] for r in broker.list_objects(10)] == ["p"]
    assert not broker.is_deleted()
    broker.mark_deleted(Timestamp(40))
    assert not broker.is_deleted()  # still holds p
    broker.delete_object("p", Timestamp(41))
    assert broker.is_deleted()
    broker.update_put_timestamp(Timestamp(50))
    assert not broker.is_deleted()


def test_metadata_merges_per_key_by_timestamp(tmp_path):
    broker = new_container(tmp_path)
    broker.update_metadata({"x-container-meta-a": ("1", Timestamp(5).internal)})
    broker.update_metadata(
        {
            "x-container-meta-a": ("0", Timestamp(4).internal),
            "x-container-meta-b": ("2", Timestamp(4).internal),
        }
    )
    meta = broker.get_info()["metadata"]
    assert {k: v[0] for k, v in meta.items()} == {
        "x-container-meta-a": "1",
        "x-container-meta-b": "2",
    }


def test_account_rows_and_totals(tmp_path):
    broker = AccountBroker(tmp_path / "a.db")
    assert broker.initialize(tmp_path, "AUTH_a", Timestamp(1))
    assert not broker.initialize(tmp_path, "AUTH_a", Timestamp(2))  # exists: left alone
    zero = Timestamp(0).internal
    broker.put_container("c1", Timestamp(10).internal, zero, 3, 30)
    broker.put_container("c2", Timestamp(11).internal, zero, 1, 5)
    broker.put_container("c1", Timestamp(10).internal, zero, 4, 40)  # newer counts
    info = broker.get_info()
    assert (info["container_count"], info["object_count"], info["bytes_used"]) == (2, 5, 45)
    broker.put_container("c2", zero, Timestamp(12).internal, 0, 0)  # deleted
    info = broker.get_info()
    assert (info["container_count"], info["object_count"], info["bytes_used"]) == (1, 4, 40)
    assert [r["name"] for r in broker.list_containers(10)] == ["c1"]


def test_deleted_rows_older_than_the_cutoff_are_reclaimed(tmp_path):
    broker = new_container(tmp_path)
    broker.put_object("old", Timestamp(10), 1, "a/b", "e")
    broker.delete_object("old", Timestamp(20))
    broker.put_object("recent", Timestamp(10), 1, "a/b", "e")
    broker.delete_object("recent", Timestamp(200))
    broker.put_object("live", Timestamp(30), 5, "a/b", "e")
    assert broker.reclaim(Timestamp(100)) == 1
    names = [r["name"] for r in broker.rows_since(-1, 10)]
    assert sorted(names) == ["live", "recent"]
    assert broker.get_info()["object_count"] == 1
    account = AccountBroker(tmp_path / "a.db")
    account.initialize(tmp_path, "AUTH_a", Timestamp(1))
    account.put_container("gone", Timestamp(10).internal, Timestamp(20).internal, 0, 0)
    account.put_container("kept", Timestamp(10).internal, Timestamp(0).internal, 2, 2)
    assert account.reclaim(Timestamp(100)) == 1
    assert [r["name"] for r in account.rows_since(-1, 10)] == ["kept"]


def row(name: str, ts: int) -> dict:
    return {
        "name": name,
        "created_at": Timestamp(ts).internal,
        "size": 1,
        "content_type": "a/b",
        "etag": "e",
        "deleted": 0,
    }


def test_row_batcher_never_writes_through_a_database_moved_away(tmp_path):
    # as the auditor's quarantine and the replicator move or remove a database: its whole
    # hash directory (the WAL goes with it)
    batcher = RowBatcher()
    (tmp_path / "hash").mkdir()
    broker = new_container(tmp_path / "hash")
    batcher.merge(broker, row("o1", 2))  # its connection stays open
    os.replace(tmp_path / "hash", tmp_path / "quarantined")
    with pytest.raises(FileNotFoundError):
        batcher.merge(broker, row("lost", 3))
    (tmp_path / "hash").mkdir()
    broker = new_container(tmp_path / "hash")  # a new database at the same path
    batcher.merge(broker, row("o2", 4))
    batcher.close()
    assert [r["name"] for r in broker.list_objects(10)] == ["o2"]
    moved = ContainerBroker(tmp_path / "quarantined" / "c.db")
    assert [r["name"] for r in moved.list_objects(10)] == ["o1"]


def test_row_batcher_callers_of_a_refused_batch_all_get_its_error(tmp_path):
    batcher = RowBatcher()
    broker = new_container(tmp_path)
    errors: list[BaseException] = []

    def refuse(info: dict) -> None:
        raise LookupError(info["container"])

    def merge(i: int) -> None:
        try:
            batcher.merge(broker, row(f"o{i}", 10 + i), refuse)
        except LookupError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=merge, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.close()
    assert len(errors) == 8
    assert broker.list_objects(10) == []
