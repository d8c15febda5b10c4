"""The file backup store: atomic puts, listing, deletes, names that cannot escape."""

from __future__ import annotations

import os

import pytest

from pocketstack.volume.backup.stores import BackupObjectNotFound, FileBackupStore


@pytest.fixture
def store(tmp_path):
    return FileBackupStore(tmp_path / "backups")


def test_put_get_list_delete(store):
    store.put_object("c", "volume_v/1_backup_b/backup_00001", b"one")
    store.put_object("c", "volume_v/1_backup_b/metadata", b"{}")
    store.put_object("c", "volume_w/2_backup_x/metadata", b"{}")

    assert store.get_object("c", "volume_v/1_backup_b/backup_00001") == b"one"
    assert store.list("c", "volume_v/") == [
        "volume_v/1_backup_b/backup_00001",
        "volume_v/1_backup_b/metadata",
    ]
    assert store.list("missing") == []

    store.delete_object("c", "volume_v/1_backup_b/backup_00001")
    store.delete_object("c", "volume_v/1_backup_b/metadata")
    store.delete_object("c", "volume_v/1_backup_b/metadata")  # gone: still fine
    with pytest.raises(BackupObjectNotFound):
        store.get_object("c", "volume_v/1_backup_b/metadata")
    # emptied directories go, the container stays
    assert not (store.root / "c" / "volume_v").exists()
    assert store.list("c") == ["volume_w/2_backup_x/metadata"]


def test_a_failed_write_keeps_the_old_object_and_leaves_no_partial_file(store, monkeypatch):
    store.put_object("c", "a/obj", b"old")

    def broken_fsync(fd):
        raise OSError("I/O error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="I/O error"):
        store.put_object("c", "a/obj", b"new data")
    monkeypatch.undo()

    assert store.get_object("c", "a/obj") == b"old"
    assert os.listdir(store.root / "c" / "a") == ["obj"]


def test_partial_files_of_a_dead_writer_are_not_listed(store):
    store.put_object("c", "a/obj", b"x")
    (store.root / "c" / "a" / ".partial-abc").write_bytes(b"half")
    assert store.list("c") == ["a/obj"]


@pytest.mark.parametrize(
    "container, name",
    [("c", "../x"), ("c", "/etc/passwd"), ("c", "a//b"), ("c", ""), ("..", "x"), ("a/b", "x")],
)
def test_names_that_could_escape_are_refused(store, container, name):
    with pytest.raises(ValueError):
        store.put_object(container, name, b"x")
